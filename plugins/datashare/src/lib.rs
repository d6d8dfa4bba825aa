//! weft data-sharing plugin: ODRL 2.2 policy evaluation with compliance reports,
//! policy-gated sharing, and masking or pseudonymising personal information.
//!
//! - **Conformance mode**: a `weft.odrl.evaluate` event (data `{"policy", "request",
//!   "sotw"}`, Turtle or JSON-LD) gives one `weft.odrl.report` event whose data is the
//!   compliance report (ODRL Compliance Report Model) in Turtle ([`conformance`]).
//! - **Policy-gated sharing** when `policy` is configured ([`share`]): every other event
//!   is a request to share it, permitted or denied by the policy.
//! - **PII masking** when `mask.*` keys are configured ([`mask`]): resident identity
//!   numbers, credit codes, mobiles, card numbers, e-mail, named fields; the
//!   `piimasked` extension reports what was treated, never the values.
//!
//! ```
//! use weft_sdk::{Event, testing::TestHost};
//! let host = TestHost::new().with_config("mask.detect", "all");
//! let e = Event::new("1", "/crm", "customer.updated")
//!     .with_json(&serde_json::json!({"id": "11010519491231002X"}));
//! let out = host.call(weft_plugin_datashare::handle, e).unwrap();
//! assert_eq!(out[0].data_json::<serde_json::Value>().unwrap()["id"], "**************002X");
//! ```

pub mod checks;
pub mod conformance;
pub mod mask;
pub mod odrl;
pub mod pii;
pub mod rdf;
pub mod sample;
pub mod share;

use std::cell::RefCell;
use std::rc::Rc;

use weft_sdk::{Event, Failure, HandlerResult};

/// Extension attribute carrying the masking report (counts and pointers, never values).
pub const EXT_MASKED: &str = "piimasked";

/// The parsed configuration of this instance.
pub struct Config {
    /// Masking.
    pub mask: mask::MaskConfig,
    /// Sharing, when a policy is configured.
    pub share: Option<share::ShareConfig>,
    /// Whether reports carry performance and deontic states (`report_states`).
    pub report_states: bool,
}

impl Config {
    /// Parses the configuration from a key lookup.
    pub fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Result<Config, String> {
        Ok(Config {
            mask: mask::MaskConfig::from_lookup(get)?,
            share: share::ShareConfig::from_lookup(get)?,
            report_states: get("report_states").is_none_or(|v| v.trim() != "false"),
        })
    }
}

type Cached = (Vec<(String, String)>, Rc<Config>);

thread_local! {
    /// The configuration parsed once per instance (policies are parsed once, not per
    /// event), re-parsed only when the configuration differs.
    static CONFIG: RefCell<Option<Cached>> = const { RefCell::new(None) };
}

/// The instance's parsed configuration.
pub fn config() -> Result<Rc<Config>, Failure> {
    // A component instance's configuration is fixed for its lifetime: once parsed, the
    // instance skips fetching it again (natively, tests change it between calls).
    #[cfg(target_arch = "wasm32")]
    if let Some(cfg) = CONFIG.with(|c| c.borrow().as_ref().map(|(_, cfg)| cfg.clone())) {
        return Ok(cfg);
    }
    let mut all = weft_sdk::config::all();
    all.sort();
    CONFIG.with(|c| {
        if let Some((raw, cfg)) = &*c.borrow()
            && *raw == all
        {
            return Ok(cfg.clone());
        }
        let map: std::collections::BTreeMap<String, String> = all.iter().cloned().collect();
        let cfg = Rc::new(
            Config::from_lookup(&|k| map.get(k).cloned())
                .map_err(|e| Failure::reject(format!("configuration: {e}")))?,
        );
        *c.borrow_mut() = Some((all, cfg.clone()));
        Ok(cfg)
    })
}

/// Masks the JSON data of `event` and records the report in the `piimasked` extension.
pub fn mask_event(event: &mut Event, config: &mask::MaskConfig) -> Result<(), Failure> {
    if event.data.is_none() {
        return Ok(());
    }
    let mut data: serde_json::Value = event
        .data_json()
        .map_err(|e| Failure::reject(format!("masking needs JSON data: {e}")))?;
    let report = mask::Masker::new(config).apply(&mut data);
    if !report.is_empty() {
        event.set_extension(EXT_MASKED, report.to_extension(config.mode));
        let ct = event.datacontenttype.take();
        *event = std::mem::take(event).with_json(&data);
        if ct.is_some() {
            event.datacontenttype = ct;
        }
    }
    Ok(())
}

/// Handles one event: conformance evaluation, policy-gated sharing, masking.
pub fn handle(mut event: Event) -> HandlerResult {
    let config = config()?;
    if event.ty == conformance::TYPE_EVALUATE {
        let options = odrl::report::TurtleOptions {
            states: config.report_states,
        };
        return Ok(vec![conformance::handle_evaluate(&event, options)?]);
    }
    if let Some(share) = &config.share {
        return Ok(share::share(share, &config.mask, event)?.events);
    }
    if config.mask.is_active() {
        mask_event(&mut event, &config.mask)?;
    }
    Ok(vec![event])
}

weft_sdk::export_handler!(handle);
