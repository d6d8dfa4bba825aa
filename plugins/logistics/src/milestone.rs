//! Shipment milestones: each valid EPCIS event whose business step (or, without one, its
//! disposition) marks a step of a shipment becomes a `weft.logistics.milestone` event
//! keyed by the shipment (a business transaction: bill of lading, despatch advice, ...)
//! and the identified objects, so platforms can follow shipments without reading EPCIS.

use serde::Serialize;
use weft_sdk::Event;

use crate::report::{EventSummary, Typed};
use crate::{Report, TYPE_MILESTONE};

/// The milestone a business step marks (CBV 2.0 §7.1 terms).
pub fn for_biz_step(step: &str) -> Option<&'static str> {
    Some(match step {
        "shipping" => "shipped",
        "receiving" => "received",
        "departing" => "departed",
        "arriving" => "arrived",
        "loading" => "loaded",
        "unloading" => "unloaded",
        "storing" => "in_storage",
        "accepting" => "accepted",
        "transporting" => "in_transit",
        "packing" => "packed",
        "unpacking" => "unpacked",
        "picking" => "picked",
        "staging_outbound" => "staged",
        "collecting" => "collected",
        "consigning" => "consigned",
        "holding" => "on_hold",
        "void_shipping" => "shipment_voided",
        "entering_exiting" => "gate_passed",
        _ => return None,
    })
}

/// The milestone a disposition marks when the business step marks none (CBV 2.0 §7.2).
pub fn for_disposition(disposition: &str) -> Option<&'static str> {
    Some(match disposition {
        "in_transit" => "in_transit",
        "damaged" => "damaged",
        "stolen" => "stolen",
        "destroyed" => "destroyed",
        "returned" => "returned",
        "recalled" => "recalled",
        "expired" => "expired",
        _ => return None,
    })
}

/// The data of a milestone event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Milestone {
    /// `shipped`, `received`, `departed`, `arrived`, `loaded`, `unloaded`, `in_storage`, ...
    pub milestone: &'static str,
    /// The shipment key: the preferred business transaction (bol, desadv, then any), else
    /// the parent (SSCC, ...), else the first object.
    pub shipment: Option<String>,
    /// All business transactions of the event.
    #[serde(rename = "bizTransactions")]
    pub biz_transactions: Vec<Typed>,
    /// Identified objects: EPCs, the parent, quantity classes.
    pub objects: Vec<String>,
    /// When.
    #[serde(rename = "eventTime")]
    pub event_time: Option<String>,
    /// Where: the business location, else the read point.
    pub location: Option<String>,
    /// Sources.
    pub sources: Vec<Typed>,
    /// Destinations.
    pub destinations: Vec<Typed>,
    /// The EPCIS business step and disposition.
    #[serde(rename = "bizStep")]
    pub biz_step: Option<String>,
    /// See `bizStep`.
    pub disposition: Option<String>,
    /// The EPCIS event's type, `eventID` and Event Hash ID.
    #[serde(rename = "eventType")]
    pub event_type: String,
    /// See `eventType`.
    #[serde(rename = "eventID")]
    pub event_id: Option<String>,
    /// See `eventType`.
    #[serde(rename = "eventHash")]
    pub event_hash: String,
}

fn shipment_key(e: &EventSummary) -> Option<String> {
    let by_type = |t: &str| {
        e.biz_transactions
            .iter()
            .find(|b| b.ty.as_deref() == Some(t))
            .map(|b| b.id.clone())
    };
    by_type("bol")
        .or_else(|| by_type("desadv"))
        .or_else(|| e.biz_transactions.first().map(|b| b.id.clone()))
        .or_else(|| e.parent_id.clone())
        .or_else(|| e.epcs.first().cloned())
}

/// The milestone of one event summary, if it marks one.
pub fn milestone_of(e: &EventSummary) -> Option<Milestone> {
    let m = e
        .biz_step
        .as_deref()
        .and_then(for_biz_step)
        .or_else(|| e.disposition.as_deref().and_then(for_disposition))?;
    let mut objects = e.epcs.clone();
    objects.extend(e.parent_id.iter().cloned());
    objects.extend(e.quantities.iter().map(|q| q.epc_class.clone()));
    Some(Milestone {
        milestone: m,
        shipment: shipment_key(e),
        biz_transactions: e.biz_transactions.clone(),
        objects,
        event_time: e.event_time.clone(),
        location: e.biz_location.clone().or_else(|| e.read_point.clone()),
        sources: e.sources.clone(),
        destinations: e.destinations.clone(),
        biz_step: e.biz_step.clone(),
        disposition: e.disposition.clone(),
        event_type: e.ty.clone(),
        event_id: e.event_id.clone(),
        event_hash: e.hash.clone(),
    })
}

/// The milestone events of a valid report: one per event that marks a milestone, in
/// document order, subject = the shipment key, id `<input id>.weft.logistics.milestone.<index>`.
pub fn milestones(input: &Event, report: &Report) -> Vec<Event> {
    report
        .events
        .iter()
        .filter_map(|e| milestone_of(e).map(|m| (e.index, m)))
        .map(|(i, m)| {
            let mut out = input.derive(TYPE_MILESTONE);
            out.id = format!("{}.{i}", out.id);
            if let Some(s) = &m.shipment {
                out.subject = Some(s.clone());
            }
            out.with_json(&m)
        })
        .collect()
}
