//! weft data-sharing plugin: ODRL 2.2 policy evaluation with compliance reports,
//! policy-gated sharing, and masking or pseudonymising personal information.

pub mod checks;
pub mod conformance;
pub mod mask;
pub mod odrl;
pub mod pii;
pub mod rdf;

use weft_sdk::{Event, Failure, HandlerResult};

/// Extension attribute carrying the masking report (counts and pointers, never values).
pub const EXT_MASKED: &str = "piimasked";

/// Handles one event.
pub fn handle(mut event: Event) -> HandlerResult {
    if event.ty == conformance::TYPE_EVALUATE {
        let states = weft_sdk::config::get("report_states").is_none_or(|v| v.trim() != "false");
        let options = odrl::report::TurtleOptions { states };
        return Ok(vec![conformance::handle_evaluate(&event, options)?]);
    }
    let config = mask::MaskConfig::from_lookup(&weft_sdk::config::get).map_err(Failure::reject)?;
    if config.is_active() {
        let mut data: serde_json::Value = event.data_json().map_err(Failure::reject)?;
        let report = mask::Masker::new(&config).apply(&mut data);
        if !report.is_empty() {
            event.set_extension(EXT_MASKED, report.to_extension(config.mode));
        }
        event = event.with_json(&data);
    }
    Ok(vec![event])
}

weft_sdk::export_handler!(handle);
