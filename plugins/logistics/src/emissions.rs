//! ISO 14083 transport emissions (work in progress).

use weft_sdk::{Event, HandlerResult};

use crate::Config;

/// Handles a `weft.logistics.leg` event.
pub fn handle_leg(_event: &Event, _config: &Config) -> HandlerResult {
    Ok(vec![])
}
