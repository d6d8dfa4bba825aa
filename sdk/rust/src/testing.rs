//! Run handlers natively in unit tests, against an in-process host with configuration,
//! key-value state, an HTTP responder and captured logs.
//!
//! ```
//! use weft_sdk::{Event, HandlerResult, testing::TestHost};
//! fn handle(e: Event) -> HandlerResult {
//!     let n = weft_sdk::kv::increment("seen", 1).map_err(weft_sdk::Failure::retry)?;
//!     Ok(vec![e.with_subject(n.to_string())])
//! }
//! let host = TestHost::new().with_config("greeting", "hi");
//! host.call(handle, Event::new("1", "/s", "t")).unwrap();
//! let out = host.call(handle, Event::new("2", "/s", "t")).unwrap();
//! assert_eq!(out[0].subject.as_deref(), Some("2"));
//! ```
#![cfg_attr(target_arch = "wasm32", allow(dead_code))]

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use crate::http::{Request, Response};
use crate::log::Level;
use crate::{Event, HandlerResult};

/// Answers HTTP requests in tests.
pub type HttpResponder = Rc<dyn Fn(&Request) -> Result<Response, String>>;

/// The state behind a [`TestHost`].
#[derive(Default)]
pub(crate) struct HostState {
    pub config: BTreeMap<String, String>,
    pub kv: BTreeMap<(String, String), Vec<u8>>,
    pub http: Option<HttpResponder>,
    pub logs: Vec<(Level, String)>,
}

thread_local! {
    static CURRENT: RefCell<Rc<RefCell<HostState>>> = RefCell::new(Rc::new(RefCell::new(HostState::default())));
}

pub(crate) fn with_host<R>(f: impl FnOnce(&mut HostState) -> R) -> R {
    CURRENT.with(|c| f(&mut c.borrow().borrow_mut()))
}

/// An in-process host for one test thread. Creating one makes it the current host of the
/// thread; `kv`, `config`, `http` and `log` calls from handlers go to it.
pub struct TestHost {
    state: Rc<RefCell<HostState>>,
}

impl Default for TestHost {
    fn default() -> Self {
        Self::new()
    }
}

impl TestHost {
    /// A fresh host with no config, empty KV, no HTTP grant.
    pub fn new() -> Self {
        let state = Rc::new(RefCell::new(HostState::default()));
        CURRENT.with(|c| *c.borrow_mut() = state.clone());
        TestHost { state }
    }

    /// Sets a configuration key.
    pub fn with_config(self, key: &str, value: &str) -> Self {
        self.state
            .borrow_mut()
            .config
            .insert(key.to_string(), value.to_string());
        self
    }

    /// Answers the handler's HTTP requests with `responder`.
    pub fn with_http(
        self,
        responder: impl Fn(&Request) -> Result<Response, String> + 'static,
    ) -> Self {
        self.state.borrow_mut().http = Some(Rc::new(responder));
        self
    }

    /// Calls the handler with `event` on this host.
    pub fn call(&self, handler: fn(Event) -> HandlerResult, event: Event) -> HandlerResult {
        CURRENT.with(|c| *c.borrow_mut() = self.state.clone());
        handler(event)
    }

    /// A KV value in `bucket`.
    pub fn kv(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        self.state
            .borrow()
            .kv
            .get(&(bucket.to_string(), key.to_string()))
            .cloned()
    }

    /// Sets a KV value in `bucket` (e.g. state left by earlier events).
    pub fn set_kv(&self, bucket: &str, key: &str, value: &[u8]) {
        self.state
            .borrow_mut()
            .kv
            .insert((bucket.to_string(), key.to_string()), value.to_vec());
    }

    /// The messages logged so far.
    pub fn logs(&self) -> Vec<(Level, String)> {
        self.state.borrow().logs.clone()
    }
}

/// A JSON event for tests: id `test-1`, source `/test`, the given type and data.
pub fn json_event(ty: &str, data: serde_json::Value) -> Event {
    Event::new("test-1", "/test", ty).with_json(&data)
}
