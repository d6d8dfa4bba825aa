//! The output contract of an EPCIS input: validity, findings and one summary per event
//! with its Event Hash ID.

use serde::Serialize;

use crate::model::{EpcisEvent, Issue, Node, codes};
use crate::vocab::Vocabulary;
use crate::{Document, hash, validate};

/// A quantity of a class of objects.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Quantity {
    /// The EPC class (`urn:epc:class:lgtin:…` or a GS1 Digital Link).
    #[serde(rename = "epcClass")]
    pub epc_class: String,
    /// The quantity, as written (a decimal number).
    pub quantity: Option<String>,
    /// UN/CEFACT Rec 20 unit, if any.
    pub uom: Option<String>,
}

/// A typed reference (business transaction, source, destination).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Typed {
    /// The type (the CBV bare word for standard values, else the URI), if any.
    #[serde(rename = "type")]
    pub ty: Option<String>,
    /// The identifier.
    pub id: String,
}

/// One event of the document, as the output shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventSummary {
    /// Position in the document (0-based).
    pub index: usize,
    /// The event type.
    #[serde(rename = "type")]
    pub ty: String,
    /// The `eventID` as given.
    #[serde(rename = "eventID")]
    pub event_id: Option<String>,
    /// The Event Hash ID (`ni:///sha-256;…?ver=CBV2.0`).
    pub hash: String,
    /// `ADD`, `OBSERVE` or `DELETE`.
    pub action: Option<String>,
    /// The business step: the CBV bare word (`shipping`) for standard values, else the URI.
    #[serde(rename = "bizStep")]
    pub biz_step: Option<String>,
    /// The disposition, like `bizStep`.
    pub disposition: Option<String>,
    /// The event time as given.
    #[serde(rename = "eventTime")]
    pub event_time: Option<String>,
    /// The read point id.
    #[serde(rename = "readPoint")]
    pub read_point: Option<String>,
    /// The business location id.
    #[serde(rename = "bizLocation")]
    pub biz_location: Option<String>,
    /// `parentID`, if any.
    #[serde(rename = "parentID", skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    /// Every EPC the event names (epcList, childEPCs, inputEPCList, outputEPCList).
    pub epcs: Vec<String>,
    /// Every quantity element (quantityList, childQuantityList, input/outputQuantityList).
    pub quantities: Vec<Quantity>,
    /// Sources.
    pub sources: Vec<Typed>,
    /// Destinations.
    pub destinations: Vec<Typed>,
    /// Business transactions.
    #[serde(rename = "bizTransactions")]
    pub biz_transactions: Vec<Typed>,
}

/// The report: the `data` of `weft.epcis.validated` / `weft.epcis.invalid`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Whether the document and all its events are valid.
    pub valid: bool,
    /// `json` or `xml` (`unknown` when the data is neither).
    pub format: &'static str,
    /// Errors.
    pub errors: Vec<Issue>,
    /// Warnings.
    pub warnings: Vec<Issue>,
    /// The events in document order.
    pub events: Vec<EventSummary>,
}

fn vocab_term(vocab: Vocabulary, v: Option<&str>) -> Option<String> {
    let v = v?.trim();
    Some(
        vocab
            .standard_term(v)
            .map_or_else(|| v.to_string(), str::to_string),
    )
}

fn typed(list: Option<&Node>, item: &str, vocab: Vocabulary) -> Vec<Typed> {
    list.map(|l| {
        l.children_named(item)
            .map(|c| Typed {
                ty: vocab_term(vocab, c.child_value("type")),
                id: c.value.clone().unwrap_or_default().trim().to_string(),
            })
            .collect()
    })
    .unwrap_or_default()
}

/// The summary of one event.
pub fn summarize(index: usize, event: &EpcisEvent, hash: String) -> EventSummary {
    let mut epcs = Vec::new();
    for list in ["epcList", "childEPCs", "inputEPCList", "outputEPCList"] {
        if let Some(l) = event.field(list) {
            epcs.extend(
                l.children
                    .iter()
                    .filter_map(|c| c.value.as_ref().map(|v| v.trim().to_string())),
            );
        }
    }
    let mut quantities = Vec::new();
    for list in [
        "quantityList",
        "childQuantityList",
        "inputQuantityList",
        "outputQuantityList",
    ] {
        if let Some(l) = event.field(list) {
            for q in &l.children {
                quantities.push(Quantity {
                    epc_class: q.child_value("epcClass").unwrap_or("").trim().to_string(),
                    quantity: q.child_value("quantity").map(|s| s.trim().to_string()),
                    uom: q.child_value("uom").map(|s| s.trim().to_string()),
                });
            }
        }
    }
    let location = |name: &str| {
        event
            .field(name)
            .and_then(|n| n.child_value("id"))
            .map(|s| s.trim().to_string())
    };
    EventSummary {
        index,
        ty: event.event_type.clone(),
        event_id: event.value("eventID").map(|s| s.trim().to_string()),
        hash,
        action: event.value("action").map(|s| s.trim().to_string()),
        biz_step: vocab_term(Vocabulary::BizStep, event.value("bizStep")),
        disposition: vocab_term(Vocabulary::Disposition, event.value("disposition")),
        event_time: event.value("eventTime").map(|s| s.trim().to_string()),
        read_point: location("readPoint"),
        biz_location: location("bizLocation"),
        parent_id: event.value("parentID").map(|s| s.trim().to_string()),
        epcs,
        quantities,
        sources: typed(
            event.field("sourceList"),
            "source",
            Vocabulary::SourceDestType,
        ),
        destinations: typed(
            event.field("destinationList"),
            "destination",
            Vocabulary::SourceDestType,
        ),
        biz_transactions: typed(
            event.field("bizTransactionList"),
            "bizTransaction",
            Vocabulary::BizTransactionType,
        ),
    }
}

/// Validates and hashes every event of a read document and builds the report.
pub fn build(doc: Document) -> Report {
    let Document {
        format,
        events,
        prefixes,
        mut errors,
        mut warnings,
        ..
    } = doc;
    let mut summaries = Vec::with_capacity(events.len());
    for (i, event) in events.iter().enumerate() {
        let findings = validate::validate_event(event);
        errors.extend(findings.errors);
        warnings.extend(findings.warnings);
        let h = hash::event_hash(event, &prefixes);
        if let Some(id) = event.value("eventID") {
            let id = id.trim();
            if id.starts_with("ni:///") && id != h {
                warnings.push(Issue::new(
                    codes::EVENT_ID,
                    format!("eventID {id} is an Event Hash ID but not this event's ({h})"),
                    event
                        .field("eventID")
                        .map_or_else(|| event.path.clone(), |n| n.path.clone()),
                ));
            }
        }
        summaries.push(summarize(i, event, h));
    }
    Report {
        valid: errors.is_empty(),
        format: format.name(),
        errors,
        warnings,
        events: summaries,
    }
}
