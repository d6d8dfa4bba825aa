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
pub mod jsonmask;
pub mod mask;
pub mod odrl;
pub mod pii;
pub mod rdf;
pub mod sample;
pub mod share;
mod swar;

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
    /// Where the policy was read from when it is kept in KV (`policy_kv`).
    pub policy_kv: Option<share::PolicyKv>,
}

impl Config {
    /// Parses the configuration from a key lookup, with the policy inline (`policy`).
    pub fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Result<Config, String> {
        Config::with_policy(get, get("policy"), None)
    }

    /// Parses the configuration with this policy text (inline, or read from KV).
    pub fn with_policy(
        get: &dyn Fn(&str) -> Option<String>,
        policy: Option<String>,
        policy_kv: Option<share::PolicyKv>,
    ) -> Result<Config, String> {
        Ok(Config {
            mask: mask::MaskConfig::from_lookup(get)?,
            share: match policy {
                Some(text) => Some(share::ShareConfig::with_policy(get, &text)?),
                None => None,
            },
            report_states: get("report_states").is_none_or(|v| v.trim() != "false"),
            policy_kv,
        })
    }

    /// Loads the configuration: the policy inline or, with `policy_kv`, from the KV
    /// bucket (a missing policy is a `retry` failure: the event waits for the
    /// administrator to write it).
    pub fn load(get: &dyn Fn(&str) -> Option<String>) -> Result<Config, Failure> {
        let reject = |e: String| Failure::reject(format!("configuration: {e}"));
        match share::PolicyKv::from_lookup(get).map_err(reject)? {
            None => Config::from_lookup(get).map_err(reject),
            Some(mut kv) => {
                let text = kv.read()?.ok_or_else(|| Failure::retry(kv.missing()))?;
                kv.loaded(&text);
                Config::with_policy(get, Some(text), Some(kv)).map_err(reject)
            }
        }
    }
}

type Cached = (Vec<(String, String)>, Rc<Config>);

thread_local! {
    /// The configuration parsed once per instance (policies are parsed once, not per
    /// event), re-parsed only when the configuration (or the policy in KV) differs.
    static CONFIG: RefCell<Option<Cached>> = const { RefCell::new(None) };
}

/// The instance's parsed configuration.
pub fn config() -> Result<Rc<Config>, Failure> {
    let cfg = static_config()?;
    // a policy kept in KV is read again when its refresh interval has passed, and parsed
    // again only when its text changed
    if let Some(kv) = &cfg.policy_kv
        && kv.due()
    {
        match kv.read()? {
            Some(text) if !kv.is(&text) => {
                let raw = CONFIG.with(|c| c.borrow().as_ref().map(|(raw, _)| raw.clone()));
                let map: std::collections::BTreeMap<String, String> =
                    raw.unwrap_or_default().into_iter().collect();
                let get = |k: &str| map.get(k).cloned();
                let mut fresh_kv = kv.clone();
                fresh_kv.loaded(&text);
                let fresh = Rc::new(
                    Config::with_policy(&get, Some(text), Some(fresh_kv)).map_err(|e| {
                        Failure::reject(format!("configuration: the policy in KV: {e}"))
                    })?,
                );
                CONFIG.with(|c| {
                    if let Some((_, cached)) = &mut *c.borrow_mut() {
                        *cached = fresh.clone();
                    }
                });
                return Ok(fresh);
            }
            // unchanged, or removed: the last policy read stays in force
            _ => kv.checked(),
        }
    }
    Ok(cfg)
}

fn static_config() -> Result<Rc<Config>, Failure> {
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
        let cfg = Rc::new(Config::load(&|k| map.get(k).cloned())?);
        *c.borrow_mut() = Some((all, cfg.clone()));
        Ok(cfg)
    })
}

/// Masks the JSON data of `event` and records the report in the `piimasked` extension.
/// The data is rewritten on the JSON text ([`jsonmask`]): untouched bytes are copied
/// through, the content type is kept.
pub fn mask_event(event: &mut Event, config: &mask::MaskConfig) -> Result<(), Failure> {
    let Some(data) = event.data.as_deref() else {
        return Ok(());
    };
    let (out, report) = jsonmask::mask_bytes(data, config)
        .map_err(|e| Failure::reject(format!("masking needs JSON data: {e}")))?;
    if !report.is_empty() {
        event.set_extension(EXT_MASKED, report.to_extension(config.mode));
        if let Some(out) = out {
            event.data = Some(out);
        }
        if event.datacontenttype.is_none() {
            event.datacontenttype = Some("application/json".into());
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
