//! Validation entry point: parse, detect the syntax, run the rule sets.

use crate::schematron::{self, Finding};
use crate::xpath::XDoc;

/// The kinds of document the plugin understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Syntax {
    /// UBL 2.1 `Invoice`.
    UblInvoice,
    /// UBL 2.1 `CreditNote`.
    UblCreditNote,
    /// UN/CEFACT `CrossIndustryInvoice`.
    Cii,
    /// China fully digitalized e-invoice (`EInvoice`).
    CnEInvoice,
}

impl Syntax {
    /// The name used in the output (`ubl-invoice`, `ubl-creditnote`, `cii`, `cn-einvoice`).
    pub fn name(self) -> &'static str {
        match self {
            Syntax::UblInvoice => "ubl-invoice",
            Syntax::UblCreditNote => "ubl-creditnote",
            Syntax::Cii => "cii",
            Syntax::CnEInvoice => "cn-einvoice",
        }
    }
}

/// UBL Invoice namespace.
pub const NS_UBL_INVOICE: &str = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2";
/// UBL CreditNote namespace.
pub const NS_UBL_CREDITNOTE: &str = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2";
/// CII root namespace.
pub const NS_CII: &str = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100";
/// The Peppol BIS Billing 3.0 specification identifier (BT-24) prefix.
pub const PEPPOL_CUSTOMIZATION: &str =
    "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0";

/// Which rule sets to run.
#[derive(Clone, Copy, Debug, Default)]
pub struct Rulesets {
    /// EN 16931 (model, syntax bindings, code lists).
    pub en16931: bool,
    /// Peppol BIS Billing 3.0 (always on for documents with the Peppol CustomizationID).
    pub peppol: bool,
}

/// Detects the syntax from the root element.
pub fn detect(doc: &roxmltree::Document<'_>) -> Result<Syntax, String> {
    let root = doc.root_element();
    let tn = root.tag_name();
    match (tn.namespace().unwrap_or(""), tn.name()) {
        (NS_UBL_INVOICE, "Invoice") => Ok(Syntax::UblInvoice),
        (NS_UBL_CREDITNOTE, "CreditNote") => Ok(Syntax::UblCreditNote),
        (NS_CII, "CrossIndustryInvoice") => Ok(Syntax::Cii),
        (_, "EInvoice") => Ok(Syntax::CnEInvoice),
        (ns, name) => Err(if ns.is_empty() {
            format!(
                "not an e-invoice: root element <{name}> is not a UBL Invoice/CreditNote, a CII CrossIndustryInvoice or a China EInvoice"
            )
        } else {
            format!(
                "not an e-invoice: root element {{{ns}}}{name} is not a UBL Invoice/CreditNote, a CII CrossIndustryInvoice or a China EInvoice"
            )
        }),
    }
}

/// Parses XML text with the limits the plugin uses (no DTDs).
pub fn parse(text: &str) -> Result<roxmltree::Document<'_>, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let opts = roxmltree::ParsingOptions {
        allow_dtd: false,
        nodes_limit: 4_000_000,
        ..roxmltree::ParsingOptions::default()
    };
    roxmltree::Document::parse_with_options(text, opts)
        .map_err(|e| format!("not well-formed XML: {e}"))
}

/// The result of running the rule sets.
#[derive(Debug)]
pub struct Outcome {
    /// Detected syntax.
    pub syntax: Syntax,
    /// Rule sets that ran.
    pub rulesets: Vec<&'static str>,
    /// Findings, in rule-set, pattern and document order.
    pub findings: Vec<Finding>,
}

/// Runs the rule sets that apply to `doc`.
pub fn run(doc: &roxmltree::Document<'_>, requested: Rulesets) -> Result<Outcome, String> {
    run_indexed(&XDoc::new(doc, &schematron::PROGRAM), requested)
}

/// [`run`] on a document already indexed for [`schematron::PROGRAM`].
pub fn run_indexed(x: &XDoc<'_, '_>, requested: Rulesets) -> Result<Outcome, String> {
    let doc = x.doc;
    let syntax = detect(doc)?;
    let mut findings = Vec::new();
    let mut rulesets = Vec::new();
    let go = |name: &str, out: &mut Vec<Finding>| {
        if let Some(s) = schematron::schema(name) {
            schematron::run(x, s, out);
        }
    };
    match syntax {
        Syntax::UblInvoice | Syntax::UblCreditNote => {
            if requested.en16931 {
                go("en16931-ubl", &mut findings);
                rulesets.push("en16931");
            }
            let customization = doc
                .root_element()
                .children()
                .find(|c| c.is_element() && c.tag_name().name() == "CustomizationID")
                .and_then(|c| c.text())
                .unwrap_or("");
            if requested.peppol || customization.trim().starts_with(PEPPOL_CUSTOMIZATION) {
                go("peppol-ubl", &mut findings);
                rulesets.push("peppol");
            }
        }
        Syntax::Cii => {
            if requested.en16931 {
                go("en16931-cii", &mut findings);
                rulesets.push("en16931");
            }
        }
        Syntax::CnEInvoice => {
            go("cn-einvoice", &mut findings);
            rulesets.push("cn");
        }
    }
    Ok(Outcome {
        syntax,
        rulesets,
        findings,
    })
}
