//! PACT v3 product footprints (work in progress).

use weft_sdk::{Event, HandlerResult};

use crate::Config;

/// Handles a closing event.
pub fn handle_close(_event: &Event, _config: &Config) -> HandlerResult {
    Ok(vec![])
}
