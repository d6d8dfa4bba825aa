//! weft e-invoicing plugin: validates EN 16931 invoices (UBL 2.1 `Invoice`/`CreditNote`,
//! UN/CEFACT CII `CrossIndustryInvoice`) against the official EN 16931 and Peppol BIS
//! Billing 3.0 Schematron rules, and China's fully digitalized e-invoice (`EInvoice`)
//! against its structural, identifier and total rules, without a JVM.
//!
//! Each input event (`data` = the XML document) gives exactly one output event:
//! `weft.einvoice.validated` when no fatal rule failed, else `weft.einvoice.invalid`, with
//! `data`:
//!
//! ```json
//! { "valid": false, "syntax": "ubl-invoice", "rulesets": ["en16931"],
//!   "errors":   [{"rule": "BR-CO-10", "message": "…", "location": "/Invoice/cac:LegalMonetaryTotal"}],
//!   "warnings": [{"rule": "UBL-CR-001", "message": "…", "location": "/Invoice"}],
//!   "invoice":  { "invoice_number": "…", "seller": { … }, "invoice_line": [ … ] } }
//! ```
//!
//! A document that is not XML, or XML of another kind, is a permanent `reject` failure.
//! Configuration: `rulesets` (comma-separated: `en16931`, `peppol`; default `en16931`) and
//! `on_invalid` (`emit` or `reject`; default `emit`).
//!
//! ```
//! use weft_sdk::{Event, testing::TestHost};
//! let xml = weft_plugin_einvoice::sample::ubl_invoice(2);
//! let event = Event::new("1", "/erp", "invoice.received").with_data("application/xml", xml);
//! let out = TestHost::new().call(weft_plugin_einvoice::handle, event).unwrap();
//! assert_eq!(out[0].ty, "weft.einvoice.validated");
//! ```
//!
//! The rules are the Schematron files under `rules/`, compiled at build time into static
//! tables (see `build/`) and evaluated by a small XPath 2.0 engine ([`xpath`]) with exact
//! decimal arithmetic ([`decimal`]).

pub mod decimal;
pub mod model;
pub mod regex;
pub mod sample;
pub mod schematron;
pub mod validate;
pub mod xpath;

use serde::Serialize;
use weft_sdk::{Event, Failure, HandlerResult};

use crate::schematron::Flag;
use crate::validate::{Rulesets, Syntax};

/// Output event type when no fatal rule failed.
pub const TYPE_VALIDATED: &str = "weft.einvoice.validated";
/// Output event type when a fatal rule failed.
pub const TYPE_INVALID: &str = "weft.einvoice.invalid";

/// One failed rule in the output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Issue {
    /// Rule id, e.g. `BR-CO-10`.
    pub rule: &'static str,
    /// The rule's message.
    pub message: String,
    /// XPath of the node the rule was checked at.
    pub location: String,
}

/// The validation report: the `data` of the output event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Whether no fatal rule failed.
    pub valid: bool,
    /// `ubl-invoice`, `ubl-creditnote`, `cii` or `cn-einvoice`.
    pub syntax: &'static str,
    /// The rule sets that were applied.
    pub rulesets: Vec<&'static str>,
    /// Failed fatal rules.
    pub errors: Vec<Issue>,
    /// Failed warning (and information) rules.
    pub warnings: Vec<Issue>,
    /// The EN 16931 semantic model of the invoice.
    pub invoice: model::Invoice,
}

/// Validates an XML document and builds its report. Errors are documents that cannot be
/// validated at all (not XML, not an e-invoice).
pub fn validate_xml(xml: &str, rulesets: Rulesets) -> Result<Report, String> {
    let doc = validate::parse(xml)?;
    let x = xpath::XDoc::new(&doc, &schematron::PROGRAM);
    let outcome = validate::run_indexed(&x, rulesets)?;
    let root = doc.root_element();
    let invoice = match outcome.syntax {
        Syntax::UblInvoice => model::from_ubl_indexed(&x, false),
        Syntax::UblCreditNote => model::from_ubl_indexed(&x, true),
        Syntax::Cii => model::from_cii_indexed(&x),
        Syntax::CnEInvoice => model::from_cn(root),
    };
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    for f in outcome.findings {
        let issue = Issue {
            rule: f.id,
            message: f.message,
            location: f.location,
        };
        match f.flag {
            Flag::Fatal => errors.push(issue),
            Flag::Warning | Flag::Information => warnings.push(issue),
        }
    }
    Ok(Report {
        valid: errors.is_empty(),
        syntax: outcome.syntax.name(),
        rulesets: outcome.rulesets,
        errors,
        warnings,
        invoice,
    })
}

/// What to do with an invoice that failed a fatal rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnInvalid {
    /// Emit `weft.einvoice.invalid` (the default).
    Emit,
    /// Fail the event permanently, so the route dead-letters it.
    Reject,
}

/// The plugin configuration.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// Rule sets to apply.
    pub rulesets: Rulesets,
    /// Handling of invalid invoices.
    pub on_invalid: OnInvalid,
}

impl Config {
    /// Reads `rulesets` and `on_invalid` through `weft_sdk::config`.
    pub fn load() -> Result<Config, String> {
        Config::parse(
            weft_sdk::config::get("rulesets").as_deref(),
            weft_sdk::config::get("on_invalid").as_deref(),
        )
    }

    /// Parses the two configuration values.
    pub fn parse(rulesets: Option<&str>, on_invalid: Option<&str>) -> Result<Config, String> {
        let mut rs = Rulesets::default();
        for name in rulesets
            .unwrap_or("en16931")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            match name.to_ascii_lowercase().as_str() {
                "en16931" => rs.en16931 = true,
                "peppol" => rs.peppol = true,
                // China rules always apply to China e-invoices; naming them is allowed
                "cn" | "cn-einvoice" => {}
                other => {
                    return Err(format!(
                        "configuration: unknown ruleset `{other}` (known: en16931, peppol, cn)"
                    ));
                }
            }
        }
        let on_invalid = match on_invalid.map(|s| s.trim().to_ascii_lowercase()).as_deref() {
            None | Some("") | Some("emit") => OnInvalid::Emit,
            Some("reject") => OnInvalid::Reject,
            Some(other) => {
                return Err(format!(
                    "configuration: on_invalid must be `emit` or `reject`, not `{other}`"
                ));
            }
        };
        Ok(Config {
            rulesets: rs,
            on_invalid,
        })
    }
}

/// The reason text of a rejected invalid invoice: a JSON object with the report minus
/// the invoice model.
fn reject_reason(report: &Report) -> String {
    #[derive(Serialize)]
    struct Summary<'r> {
        valid: bool,
        syntax: &'r str,
        rulesets: &'r [&'static str],
        invoice_number: Option<&'r str>,
        errors: &'r [Issue],
        warnings: &'r [Issue],
    }
    let summary = Summary {
        valid: report.valid,
        syntax: report.syntax,
        rulesets: &report.rulesets,
        invoice_number: report.invoice.invoice_number.as_deref(),
        errors: &report.errors,
        warnings: &report.warnings,
    };
    format!(
        "invalid e-invoice: {}",
        serde_json::to_string(&summary).unwrap_or_else(|_| "unserializable report".into())
    )
}

/// Handles one event: validates the XML document in `data` and emits the report.
pub fn handle(event: Event) -> HandlerResult {
    let config = Config::load().map_err(Failure::reject)?;
    let text = event.data_text().map_err(Failure::reject)?;
    let report = validate_xml(text, config.rulesets).map_err(|e| {
        match event.datacontenttype.as_deref() {
            Some(ct) if !ct.contains("xml") => Failure::reject(format!(
                "{e} (datacontenttype is {ct}; expected application/xml)"
            )),
            _ => Failure::reject(e),
        }
    })?;
    if !report.valid && config.on_invalid == OnInvalid::Reject {
        return Err(Failure::Reject(reject_reason(&report)));
    }
    let ty = if report.valid {
        TYPE_VALIDATED
    } else {
        TYPE_INVALID
    };
    let mut out = event.derive(ty);
    if out.subject.is_none() {
        out.subject = report.invoice.invoice_number.clone();
    }
    Ok(vec![out.with_json(&report)])
}

weft_sdk::export_handler!(handle);
