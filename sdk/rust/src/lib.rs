//! `weft-sdk`: write weft plugins in Rust.
//!
//! A plugin is one function from an [`Event`] to the events to pass on, exported with
//! [`export_handler!`]. The WebAssembly bindings stay hidden; host capabilities are plain
//! functions: [`config`], [`kv`], [`http`], [`log`]. The same code runs natively in unit
//! tests against an in-process host ([`testing`]).
//!
//! ```
//! use weft_sdk::{Event, Failure};
//!
//! /// Upper-cases the `name` field of JSON events.
//! fn handle(event: Event) -> Result<Vec<Event>, Failure> {
//!     let mut data: serde_json::Value = event.data_json().map_err(Failure::reject)?;
//!     if let Some(name) = data["name"].as_str() {
//!         data["name"] = name.to_uppercase().into();
//!     }
//!     Ok(vec![event.with_json(&data)])
//! }
//! weft_sdk::export_handler!(handle);
//!
//! let host = weft_sdk::testing::TestHost::new();
//! let out = host.call(handle, Event::new("1", "/test", "demo").with_json(&serde_json::json!({"name": "ada"}))).unwrap();
//! assert_eq!(out[0].data_json::<serde_json::Value>().unwrap()["name"], "ADA");
//! ```

mod event;
pub mod testing;

pub mod config;
pub mod http;
pub mod kv;
pub mod log;

pub use event::{Event, Failure};
pub use serde_json as json;

/// What a handler returns: the events to pass on, or why not.
pub type HandlerResult = Result<Vec<Event>, Failure>;

/// The generated WebAssembly bindings. Internal: use the functions of this crate instead.
#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
#[allow(missing_docs, unsafe_code, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "weft:plugin/plugin",
        pub_export_macro: true,
        default_bindings_module: "weft_sdk::bindings",
        export_macro_name: "__export_plugin",
        generate_all,
    });
}

/// Internal glue used by [`export_handler!`].
#[doc(hidden)]
pub mod __private {
    #[cfg(target_arch = "wasm32")]
    pub use crate::event::wit::call;
}

/// Exports a handler function `fn(Event) -> Result<Vec<Event>, Failure>` as the plugin's
/// `weft:plugin/handler` implementation. Use it once per plugin crate.
///
/// On non-WebAssembly targets it expands to nothing, so the crate still builds natively
/// for unit tests (see [`testing`]).
#[macro_export]
macro_rules! export_handler {
    ($handler:path) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct WeftPlugin;
            impl $crate::bindings::exports::weft::plugin::handler::Guest for WeftPlugin {
                fn handle(
                    event: $crate::bindings::weft::plugin::types::Event,
                ) -> ::core::result::Result<
                    ::std::vec::Vec<$crate::bindings::weft::plugin::types::Event>,
                    $crate::bindings::weft::plugin::types::Failure,
                > {
                    $crate::__private::call($handler, event)
                }
            }
    $crate::bindings::__export_plugin!(WeftPlugin with_types_in $crate::bindings);
        };
    };
}
