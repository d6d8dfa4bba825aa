//! The example plugins compiled into weft, as WebAssembly components: a config names them
//! with `path = "bundled:NAME"`, `weft run` without a config uses them, and `weft-bench`
//! times the trivial one. The build script compiles them from `plugins/` for
//! `wasm32-wasip2` (skipped with `WEFT_SKIP_BUNDLED=1`, in which case [`get`] reports them
//! missing).
//!
//! ```
//! assert!(weft_bundled::NAMES.contains(&"dedupe"));
//! assert!(weft_bundled::get("no-such-plugin").is_err());
//! ```

/// The names a config may use after `bundled:`.
pub const NAMES: [&str; 4] = ["json-map", "dedupe", "passthrough", "http-enrich"];

/// The prefix of a bundled plugin's path in a config.
pub const PREFIX: &str = "bundled:";

const JSON_MAP: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/weft_plugin_json_map.wasm"));
const DEDUPE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/weft_plugin_dedupe.wasm"));
const PASSTHROUGH: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/weft_plugin_passthrough.wasm"));
const HTTP_ENRICH: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/weft_plugin_http_enrich.wasm"));

/// The component of bundled plugin `name` (without the `bundled:` prefix).
pub fn get(name: &str) -> Result<&'static [u8], String> {
    let bytes = match name {
        "json-map" => JSON_MAP,
        "dedupe" => DEDUPE,
        "passthrough" => PASSTHROUGH,
        "http-enrich" => HTTP_ENRICH,
        _ => {
            return Err(format!(
                "no bundled plugin `{name}` (bundled: {})",
                NAMES.join(", ")
            ));
        }
    };
    if bytes.is_empty() {
        return Err(format!(
            "this weft binary was built without its bundled plugins (missing `{name}`): install the wasm32-wasip2 target (`rustup target add wasm32-wasip2`) and rebuild"
        ));
    }
    Ok(bytes)
}

/// The bundled plugin a config path names, if it is a `bundled:NAME` path.
pub fn for_path(path: &std::path::Path) -> Option<Result<&'static [u8], String>> {
    let name = path.to_str()?.strip_prefix(PREFIX)?;
    Some(get(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_resolves_to_a_component() {
        for name in NAMES {
            let bytes = get(name).expect(name);
            // a WebAssembly component: magic, then the component-model layer
            assert_eq!(&bytes[..4], b"\0asm", "{name}");
        }
        assert!(for_path(std::path::Path::new("bundled:dedupe")).is_some());
        assert!(for_path(std::path::Path::new("plugins/x.wasm")).is_none());
        let unknown = for_path(std::path::Path::new("bundled:nope")).unwrap();
        assert!(unknown.unwrap_err().contains("json-map"));
    }
}
