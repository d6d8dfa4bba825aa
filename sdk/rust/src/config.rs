//! The plugin's configuration (`wasi:config/store`): only the keys the hub's config gives
//! this plugin, with `${ENV}` secrets already substituted by the host.

/// The value of one configuration key, if set.
pub fn get(key: &str) -> Option<String> {
    imp::get(key)
}

/// The value of a key, or `default` when unset.
pub fn get_or(key: &str, default: &str) -> String {
    get(key).unwrap_or_else(|| default.to_string())
}

/// All of the plugin's configuration keys and values.
pub fn all() -> Vec<(String, String)> {
    imp::all()
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use crate::bindings::wasi::config::store;
    pub fn get(key: &str) -> Option<String> {
        store::get(key).ok().flatten()
    }
    pub fn all() -> Vec<(String, String)> {
        store::get_all().unwrap_or_default()
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use crate::testing::with_host;
    pub fn get(key: &str) -> Option<String> {
        with_host(|h| h.config.get(key).cloned())
    }
    pub fn all() -> Vec<(String, String)> {
        with_host(|h| {
            h.config
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
    }
}
