//! Conformance mode: a `weft.odrl.evaluate` event carries a policy, a request and a state
//! of the world; the plugin answers with one `weft.odrl.report` event whose data is the
//! compliance report in Turtle.

use serde::Deserialize;
use weft_sdk::{Event, Failure};

use crate::odrl::{self, report::TurtleOptions};

/// Input event type.
pub const TYPE_EVALUATE: &str = "weft.odrl.evaluate";
/// Output event type.
pub const TYPE_REPORT: &str = "weft.odrl.report";

/// The data of a `weft.odrl.evaluate` event.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluateData {
    /// The ODRL policy (Turtle or JSON-LD).
    pub policy: String,
    /// The `odrl:Request` (or `sotw:EvaluationRequest`), Turtle or JSON-LD.
    pub request: String,
    /// The state of the world (Turtle or JSON-LD); may be empty.
    #[serde(default)]
    pub sotw: String,
}

/// Evaluates the event's documents into a `weft.odrl.report` event. Malformed input is a
/// `reject` naming the document and the parse error.
pub fn handle_evaluate(event: &Event, options: TurtleOptions) -> Result<Event, Failure> {
    let data: EvaluateData = event.data_json().map_err(|e| {
        Failure::reject(format!(
            "{TYPE_EVALUATE}: {e} (expected {{\"policy\": TURTLE, \"request\": TURTLE, \"sotw\": TURTLE}})"
        ))
    })?;
    let turtle = odrl::evaluate_documents(&data.policy, &data.request, &data.sotw, options)
        .map_err(|e| Failure::reject(format!("{TYPE_EVALUATE}: {e}")))?;
    Ok(event
        .derive(TYPE_REPORT)
        .with_data("text/turtle", turtle.into_bytes()))
}
