//! IRIs of the ODRL 2.2 vocabulary, the Compliance Report Model and the state-of-the-world
//! terms, and the action hierarchy of the ODRL 2.2 vocabulary (`odrl:includedIn`,
//! `skos:exactMatch`).

/// The ODRL namespace.
pub const ODRL: &str = "http://www.w3.org/ns/odrl/2/";
/// The Compliance Report Model namespace.
pub const REPORT: &str = "https://w3id.org/force/compliance-report#";
/// The state-of-the-world namespace used by ODRL evaluation requests.
pub const SOTW: &str = "https://w3id.org/force/sotw#";
/// Dublin Core terms.
pub const DCT: &str = "http://purl.org/dc/terms/";
/// `skos:` namespace.
pub const SKOS: &str = "http://www.w3.org/2004/02/skos/core#";
/// The node whose `dct:issued` is the current time in a state of the world.
pub const CURRENT_TIME: &str = "http://example.com/request/currentTime";

/// `odrl:<local>`.
pub fn odrl(local: &str) -> String {
    format!("{ODRL}{local}")
}

/// `report:<local>`.
pub fn report(local: &str) -> String {
    format!("{REPORT}{local}")
}

/// `sotw:<local>`.
pub fn sotw(local: &str) -> String {
    format!("{SOTW}{local}")
}

/// `odrl:includedIn` of the ODRL 2.2 vocabulary (action, broader action), ODRL local names.
pub const INCLUDED_IN: &[(&str, &str)] = &[
    ("grantUse", "use"),
    ("compensate", "use"),
    ("acceptTracking", "use"),
    ("aggregate", "use"),
    ("annotate", "use"),
    ("anonymize", "use"),
    ("archive", "use"),
    ("attribute", "use"),
    ("concurrentUse", "use"),
    ("delete", "use"),
    ("derive", "use"),
    ("digitize", "use"),
    ("display", "play"),
    ("distribute", "use"),
    ("ensureExclusivity", "use"),
    ("execute", "use"),
    ("extract", "reproduce"),
    ("give", "transfer"),
    ("include", "use"),
    ("index", "use"),
    ("inform", "use"),
    ("install", "use"),
    ("modify", "use"),
    ("move", "use"),
    ("nextPolicy", "use"),
    ("obtainConsent", "use"),
    ("play", "use"),
    ("present", "use"),
    ("print", "use"),
    ("read", "use"),
    ("reproduce", "use"),
    ("reviewPolicy", "use"),
    ("sell", "transfer"),
    ("stream", "use"),
    ("synchronize", "use"),
    ("textToSpeech", "use"),
    ("transform", "use"),
    ("translate", "use"),
    ("uninstall", "use"),
    ("watermark", "use"),
];

/// `skos:exactMatch` of deprecated ODRL actions (ODRL local name, full IRI).
pub const EXACT_MATCH: &[(&str, &str)] = &[
    ("append", "http://www.w3.org/ns/odrl/2/modify"),
    ("appendTo", "http://www.w3.org/ns/odrl/2/modify"),
    ("copy", "http://www.w3.org/ns/odrl/2/reproduce"),
    ("export", "http://www.w3.org/ns/odrl/2/transform"),
    ("license", "http://www.w3.org/ns/odrl/2/grantUse"),
    ("pay", "http://www.w3.org/ns/odrl/2/compensate"),
    ("write", "http://www.w3.org/ns/odrl/2/modify"),
    ("writeTo", "http://www.w3.org/ns/odrl/2/modify"),
    ("attachPolicy", "http://creativecommons.org/ns#Notice"),
    ("attachSource", "http://creativecommons.org/ns#SourceCode"),
    ("shareAlike", "http://creativecommons.org/ns#ShareAlike"),
    (
        "commercialize",
        "http://creativecommons.org/ns#CommercialUse",
    ),
    ("share", "http://creativecommons.org/ns#Sharing"),
];

/// The ODRL constraint operators (local names). `neg` is accepted too: the published
/// ODRL JSON-LD context maps `neq` to it.
pub const OPERATORS: &[&str] = &[
    "eq", "neq", "lt", "lteq", "gt", "gteq", "isA", "hasPart", "isPartOf", "isAllOf", "isAnyOf",
    "isNoneOf",
];

/// The ODRL logical constraint operators (local names).
pub const LOGICAL_OPERATORS: &[&str] = &["and", "or", "xone", "andSequence"];

/// Policy classes of ODRL 2.2 (local names).
pub const POLICY_CLASSES: &[&str] = &[
    "Policy",
    "Set",
    "Offer",
    "Agreement",
    "Assertion",
    "Privacy",
    "Ticket",
];
