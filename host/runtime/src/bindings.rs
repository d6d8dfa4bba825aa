//! The one `bindgen!` site: host bindings for the `weft:plugin/plugin` world.
//!
//! `wasi:io` and `wasi:http` come from wasmtime-wasi / wasmtime-wasi-http; `wasi:logging`,
//! `wasi:config` and `wasi:keyvalue` are generated here and implemented in [`crate::host`].
#![allow(missing_docs)]

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "weft:plugin/plugin",
    imports: { default: async | trappable },
    exports: { default: async },
    // the event passed to `handle` is lowered from borrowed fields: no host-side copy
    ownership: Borrowing { duplicate_if_necessary: true },
    with: {
        "wasi:io": wasmtime_wasi::p2::bindings::io,
        "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
        "wasi:http": wasmtime_wasi_http::p2::bindings::http,
        "wasi:keyvalue/store.bucket": crate::resources::BucketHandle,
    },
});
