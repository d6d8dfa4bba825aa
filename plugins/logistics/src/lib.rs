//! weft logistics plugin: GS1 EPCIS 2.0 validation with Event Hash IDs (JSON/JSON-LD and
//! XML), shipment milestones, ISO 14083 transport emissions and WBCSD PACT v3 product
//! footprints.
//!
//! An EPCIS input (an `EPCISDocument`, `EPCISQueryDocument` or a bare event as JSON,
//! JSON-LD or XML) gives exactly one output event, `weft.epcis.validated` or
//! `weft.epcis.invalid`, with the same `subject` and `data`:
//!
//! ```json
//! {"valid": true, "format": "json", "errors": [], "warnings": [],
//!  "events": [{"index": 0, "type": "ObjectEvent", "eventID": null,
//!              "hash": "ni:///sha-256;…?ver=CBV2.0", "action": "OBSERVE", "bizStep": "shipping",
//!              "disposition": "in_transit", "eventTime": "…", "readPoint": "…", "bizLocation": null,
//!              "epcs": ["…"], "quantities": [], "sources": [], "destinations": [], "bizTransactions": []}]}
//! ```
//!
//! With `milestones = true`, each valid event that marks a shipment step also gives a
//! `weft.logistics.milestone` event. A `weft.logistics.leg` input gives
//! `weft.logistics.emissions` ([`emissions`]) and adds the leg to its shipment's totals in
//! KV state; the closing event (`close_type`, default `weft.logistics.shipment.closed`)
//! turns those totals into a PACT v3 `ProductFootprint` ([`pact`]).
//!
//! ```
//! use weft_sdk::{Event, testing::TestHost};
//! let doc = r#"{"type": "ObjectEvent", "eventTime": "2024-03-01T10:00:00+01:00",
//!   "eventTimeZoneOffset": "+01:00", "action": "OBSERVE", "bizStep": "shipping",
//!   "epcList": ["urn:epc:id:sgtin:0614141.107346.2017"]}"#;
//! let event = Event::new("1", "/wms", "epcis").with_data("application/json", doc);
//! let out = TestHost::new().call(weft_plugin_logistics::handle, event).unwrap();
//! assert_eq!(out[0].ty, "weft.epcis.validated");
//! ```

pub mod canon;
pub mod digital_link;
pub mod emissions;
pub mod fields;
pub mod hash;
pub mod header;
pub mod json;
pub mod milestone;
pub mod model;
pub mod pact;
pub mod report;
pub mod sample;
pub mod validate;
pub mod vocab;
pub mod xml;

use weft_sdk::{Event, Failure, HandlerResult};

pub use model::{EpcisEvent, Issue, Node};
pub use report::{EventSummary, Report};

/// Output type of a valid EPCIS input.
pub const TYPE_VALIDATED: &str = "weft.epcis.validated";
/// Output type of an invalid EPCIS input.
pub const TYPE_INVALID: &str = "weft.epcis.invalid";
/// Input type of a transport leg.
pub const TYPE_LEG: &str = "weft.logistics.leg";
/// Output type of a leg's emissions.
pub const TYPE_EMISSIONS: &str = "weft.logistics.emissions";
/// Output type of a milestone.
pub const TYPE_MILESTONE: &str = "weft.logistics.milestone";
/// Output type of a PACT footprint.
pub const TYPE_FOOTPRINT: &str = "weft.pact.footprint";
/// Version of the bundled factor table (`data/factors.json`).
pub const FACTOR_TABLE_VERSION: &str = "2026-12";
/// Default type of the event that closes a shipment (or product) and emits its footprint.
pub const DEFAULT_CLOSE_TYPE: &str = "weft.logistics.shipment.closed";

/// The syntax of an EPCIS document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JSON or JSON-LD.
    Json,
    /// XML.
    Xml,
    /// Neither could be recognised.
    Unknown,
}

impl Format {
    /// `json`, `xml` or `unknown`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Xml => "xml",
            Format::Unknown => "unknown",
        }
    }
}

/// A document as read by [`json::read`] or [`xml::read`]: its events in the neutral
/// model and what the reader found wrong.
#[derive(Debug, Clone)]
pub struct Document {
    /// The syntax.
    pub format: Format,
    /// `EPCISDocument`, `EPCISQueryDocument` or `event`.
    pub kind: &'static str,
    /// The events, in document order.
    pub events: Vec<EpcisEvent>,
    /// Events that could not be read at all (unknown type).
    pub skipped_events: usize,
    /// Namespace prefixes the document declares (`@context` or `xmlns:`).
    pub prefixes: Vec<(String, String)>,
    /// Errors.
    pub errors: Vec<Issue>,
    /// Warnings.
    pub warnings: Vec<Issue>,
    /// Whether a JSON `@context` includes the EPCIS 2.0 context.
    pub has_epcis_context: bool,
}

impl Document {
    /// An empty document of a format.
    pub fn new(format: Format) -> Document {
        Document {
            format,
            kind: "document",
            events: Vec::new(),
            skipped_events: 0,
            prefixes: Vec::new(),
            errors: Vec::new(),
            warnings: Vec::new(),
            has_epcis_context: false,
        }
    }

    /// Records an error.
    pub fn error(
        &mut self,
        code: &'static str,
        message: impl Into<String>,
        path: impl Into<String>,
    ) {
        self.errors.push(Issue::new(code, message, path));
    }

    /// Records a warning.
    pub fn warning(
        &mut self,
        code: &'static str,
        message: impl Into<String>,
        path: impl Into<String>,
    ) {
        self.warnings.push(Issue::new(code, message, path));
    }

    /// The namespace of a declared prefix.
    pub fn prefix(&self, prefix: &str) -> Option<&str> {
        self.prefixes
            .iter()
            .rev()
            .find(|(p, _)| p == prefix)
            .map(|(_, ns)| ns.as_str())
    }
}

/// Which syntax to read: from the content type, else from the first character.
pub fn detect_format(data: &[u8], content_type: Option<&str>) -> Format {
    let ct = content_type.unwrap_or("").to_ascii_lowercase();
    if ct.contains("json") {
        return Format::Json;
    }
    if ct.contains("xml") {
        return Format::Xml;
    }
    let first = data
        .iter()
        .copied()
        .find(|b| !b.is_ascii_whitespace() && *b != 0xEF && *b != 0xBB && *b != 0xBF);
    match first {
        Some(b'{') | Some(b'[') => Format::Json,
        Some(b'<') => Format::Xml,
        _ => Format::Unknown,
    }
}

/// Reads, validates and hashes an EPCIS document (JSON/JSON-LD or XML). Never fails:
/// unreadable input is a report with `valid: false` and a parse error.
pub fn validate_document(data: &[u8], content_type: Option<&str>) -> Report {
    let format = detect_format(data, content_type);
    let text = match std::str::from_utf8(data) {
        Ok(t) => t,
        Err(e) => {
            let mut doc = Document::new(format);
            doc.error(model::codes::PARSE, format!("data is not UTF-8: {e}"), "");
            return report::build(doc);
        }
    };
    let doc = match format {
        Format::Json => json::read(text),
        Format::Xml => xml::read(text),
        Format::Unknown => {
            let mut doc = Document::new(Format::Unknown);
            let preview: String = text.chars().take(40).collect();
            doc.error(
                model::codes::PARSE,
                format!(
                    "data is neither JSON nor XML (starts with {preview:?}); datacontenttype {}",
                    content_type.map_or("absent".to_string(), |c| format!("`{c}`"))
                ),
                "",
            );
            doc
        }
    };
    report::build(doc)
}

/// The plugin configuration (keys read through `weft_sdk::config`).
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `milestones`: emit `weft.logistics.milestone` events (default false).
    pub milestones: bool,
    /// `close_type`: the event type that closes a shipment and emits its footprint.
    pub close_type: String,
    /// `factors`: a JSON factor table replacing or extending the bundled one.
    pub factors: Option<String>,
    /// `kv_bucket`: the KV bucket for shipment totals (default `logistics`).
    pub kv_bucket: String,
    /// `company_name`, `company_ids` (comma-separated URNs): the PCF data owner.
    pub company_name: Option<String>,
    /// See `company_name`.
    pub company_ids: Vec<String>,
    /// `ipcc`: the IPCC assessment report of the factors' GWPs (default `AR4`).
    pub ipcc: String,
}

impl Config {
    /// Reads the configuration.
    pub fn load() -> Result<Config, String> {
        let milestones = match weft_sdk::config::get("milestones")
            .as_deref()
            .map(str::trim)
        {
            None | Some("") | Some("false") | Some("off") => false,
            Some("true") | Some("on") => true,
            Some(other) => {
                return Err(format!(
                    "configuration: milestones must be true or false, not `{other}`"
                ));
            }
        };
        Ok(Config {
            milestones,
            close_type: weft_sdk::config::get_or("close_type", DEFAULT_CLOSE_TYPE),
            factors: weft_sdk::config::get("factors").filter(|s| !s.trim().is_empty()),
            kv_bucket: weft_sdk::config::get_or("kv_bucket", "logistics"),
            company_name: weft_sdk::config::get("company_name"),
            company_ids: weft_sdk::config::get("company_ids")
                .map(|s| {
                    s.split(',')
                        .map(|x| x.trim().to_string())
                        .filter(|x| !x.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            ipcc: weft_sdk::config::get_or("ipcc", "AR4"),
        })
    }
}

/// Reads the `milestones` key.
fn milestones_enabled() -> Result<bool, String> {
    match weft_sdk::config::get("milestones")
        .as_deref()
        .map(str::trim)
    {
        None | Some("") | Some("false") | Some("off") => Ok(false),
        Some("true") | Some("on") => Ok(true),
        Some(other) => Err(format!(
            "configuration: milestones must be true or false, not `{other}`"
        )),
    }
}

/// The two keys every event needs: `close_type` and `milestones` (or its error).
type HotConfig = (String, Result<bool, String>);

thread_local! {
    /// [`HotConfig`], read once per WebAssembly instance: an instance's configuration is
    /// fixed for its lifetime (natively, tests change it between calls, so it is read
    /// every time there).
    static HOT_CONFIG: std::cell::RefCell<Option<std::rc::Rc<HotConfig>>> =
        const { std::cell::RefCell::new(None) };
}

fn hot_config() -> std::rc::Rc<HotConfig> {
    #[cfg(target_arch = "wasm32")]
    if let Some(h) = HOT_CONFIG.with(|c| c.borrow().clone()) {
        return h;
    }
    let h = std::rc::Rc::new((
        weft_sdk::config::get_or("close_type", DEFAULT_CLOSE_TYPE),
        milestones_enabled(),
    ));
    HOT_CONFIG.with(|c| *c.borrow_mut() = Some(h.clone()));
    h
}

/// Handles one event: a transport leg, a closing event, or an EPCIS document.
pub fn handle(event: Event) -> HandlerResult {
    // EPCIS documents, the hot path, read only the two keys they need (once per instance
    // in wasm)
    let hot = hot_config();
    let (close_type, milestones) = (&hot.0, &hot.1);
    if event.ty == TYPE_LEG || event.ty == *close_type {
        let config = Config::load().map_err(Failure::reject)?;
        return if event.ty == TYPE_LEG {
            emissions::handle_leg(&event, &config)
        } else {
            pact::handle_close(&event, &config)
        };
    }
    let milestones = milestones.clone().map_err(Failure::reject)?;
    let data = event.data.as_deref().unwrap_or(&[]);
    let report = if event.data.is_none() {
        let mut doc = Document::new(detect_format(&[], event.datacontenttype.as_deref()));
        doc.error(model::codes::PARSE, "the event has no data", "");
        report::build(doc)
    } else {
        validate_document(data, event.datacontenttype.as_deref())
    };
    let ty = if report.valid {
        TYPE_VALIDATED
    } else {
        TYPE_INVALID
    };
    let mut out = vec![event.derive(ty).with_json(&report)];
    if milestones && report.valid {
        out.extend(milestone::milestones(&event, &report));
    }
    Ok(out)
}

weft_sdk::export_handler!(handle);
