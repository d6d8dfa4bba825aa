//! Shipment milestones (work in progress).

use weft_sdk::Event;

use crate::Report;

/// The milestone events of a valid report.
pub fn milestones(_input: &Event, _report: &Report) -> Vec<Event> {
    Vec::new()
}
