//! Subscription filters: the six dialects every implementation of the CloudEvents
//! Subscriptions API supports (`exact`, `prefix`, `suffix`, `all`, `any`, `not`) and the
//! optional `sql` dialect (CESQL v1), parsed and checked once when a subscription is
//! created or updated, then evaluated per event.
//!
//! Semantics (Subscriptions API §3.2.4): the `filters` array passes when every entry
//! passes (empty: everything passes). `exact`/`prefix`/`suffix` name attributes and
//! string values; all named attributes must be present and match (case sensitive). `sql`
//! passes only when the expression evaluates to `TRUE` without an error. The `types` and
//! `source` properties of a subscription are conditions too (`type` one of `types`;
//! `source` equal).

use serde_json::Value;
use weft_event::Event;

/// One compiled filter expression.
#[derive(Debug, Clone)]
pub enum Filter {
    /// Every named attribute equals its value.
    Exact(Vec<(String, String)>),
    /// Every named attribute starts with its value.
    Prefix(Vec<(String, String)>),
    /// Every named attribute ends with its value.
    Suffix(Vec<(String, String)>),
    /// Every nested filter passes.
    All(Vec<Filter>),
    /// At least one nested filter passes.
    Any(Vec<Filter>),
    /// The nested filter does not pass.
    Not(Box<Filter>),
    /// A CESQL v1 expression that must evaluate to `TRUE` without an error.
    Sql(weft_cesql::Expression),
}

/// A problem in a filter, with the JSON path of the offending part
/// (e.g. `filters[1].all[0].exact`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    /// Where: the path in the request body.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

fn error(field: &str, message: impl Into<String>) -> FilterError {
    FilterError {
        field: field.to_string(),
        message: message.into(),
    }
}

/// The dialects this subscription manager supports.
pub const DIALECTS: [&str; 7] = ["exact", "prefix", "suffix", "all", "any", "not", "sql"];

impl Filter {
    /// Parses one filter object `{ "<dialect>": <dialect-specific value> }` found at `at`.
    pub fn parse(value: &Value, at: &str) -> Result<Filter, FilterError> {
        let Some(object) = value.as_object() else {
            return Err(error(
                at,
                "a filter is an object with one dialect, e.g. {\"exact\": {\"type\": \"com.example.created\"}}",
            ));
        };
        let mut entries = object.iter();
        let (Some((dialect, inner)), None) = (entries.next(), entries.next()) else {
            return Err(error(
                at,
                format!(
                    "a filter names exactly one dialect (found {}): one of {}",
                    object.len(),
                    DIALECTS.join(", ")
                ),
            ));
        };
        let here = format!("{at}.{dialect}");
        match dialect.as_str() {
            "exact" => Ok(Filter::Exact(attribute_values(inner, &here)?)),
            "prefix" => Ok(Filter::Prefix(attribute_values(inner, &here)?)),
            "suffix" => Ok(Filter::Suffix(attribute_values(inner, &here)?)),
            "all" => Ok(Filter::All(nested(inner, &here)?)),
            "any" => Ok(Filter::Any(nested(inner, &here)?)),
            "not" => Ok(Filter::Not(Box::new(Filter::parse(inner, &here)?))),
            "sql" => {
                let Some(sql) = inner.as_str() else {
                    return Err(error(
                        &here,
                        "the sql dialect's value is a string: a CESQL v1 expression",
                    ));
                };
                weft_cesql::Expression::parse(sql)
                    .map(Filter::Sql)
                    .map_err(|e| error(&here, format!("invalid CESQL expression `{sql}`: {e}")))
            }
            other => Err(error(
                at,
                format!(
                    "unsupported filter dialect `{other}`: use one of {}",
                    DIALECTS.join(", ")
                ),
            )),
        }
    }

    /// Whether `event` passes.
    pub fn matches(&self, event: &Event) -> bool {
        let each = |pairs: &[(String, String)], test: fn(&str, &str) -> bool| {
            pairs
                .iter()
                .all(|(name, value)| event.attribute(name).is_some_and(|v| test(v, value)))
        };
        match self {
            Filter::Exact(pairs) => each(pairs, |v, want| v == want),
            Filter::Prefix(pairs) => each(pairs, |v, want| v.starts_with(want)),
            Filter::Suffix(pairs) => each(pairs, |v, want| v.ends_with(want)),
            Filter::All(filters) => filters.iter().all(|f| f.matches(event)),
            Filter::Any(filters) => filters.iter().any(|f| f.matches(event)),
            Filter::Not(filter) => !filter.matches(event),
            Filter::Sql(expression) => expression.matches(event),
        }
    }
}

/// `{ "<attribute>": "<value>", … }`: at least one pair; names are CloudEvents attribute
/// names; names and values are non-empty strings.
fn attribute_values(value: &Value, at: &str) -> Result<Vec<(String, String)>, FilterError> {
    let Some(object) = value.as_object() else {
        return Err(error(
            at,
            "an object of attribute names and string values, e.g. {\"type\": \"com.example.created\"}",
        ));
    };
    if object.is_empty() {
        return Err(error(at, "names no attribute: give at least one"));
    }
    object
        .iter()
        .map(|(name, v)| {
            let here = format!("{at}.{name}");
            if !weft_event::is_valid_attribute_name(name) {
                return Err(error(
                    &here,
                    "not a CloudEvents attribute name (lower-case letters and digits)",
                ));
            }
            match v.as_str() {
                Some("") => Err(error(&here, "the value must not be empty")),
                Some(s) => Ok((name.clone(), s.to_string())),
                None => Err(error(&here, "the value must be a string")),
            }
        })
        .collect()
}

/// `[ <filter>, … ]` with at least one entry.
fn nested(value: &Value, at: &str) -> Result<Vec<Filter>, FilterError> {
    let Some(items) = value.as_array() else {
        return Err(error(at, "an array of filters"));
    };
    if items.is_empty() {
        return Err(error(at, "needs at least one filter"));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, f)| Filter::parse(f, &format!("{at}[{i}]")))
        .collect()
}

/// Everything an event must pass for one subscription: `types`, `source` and `filters`.
#[derive(Debug, Clone, Default)]
pub struct Conditions {
    /// The event's `type` is one of these (empty: any type).
    pub types: Vec<String>,
    /// The event's `source` equals this.
    pub source: Option<String>,
    /// Every filter passes.
    pub filters: Vec<Filter>,
}

impl Conditions {
    /// Whether `event` is for this subscription.
    pub fn matches(&self, event: &Event) -> bool {
        (self.types.is_empty() || self.types.contains(&event.ty))
            && self.source.as_ref().is_none_or(|s| *s == event.source)
            && self.filters.iter().all(|f| f.matches(event))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event() -> Event {
        let mut e = Event::new("e-1", "/sensors/tn-1", "com.github.push");
        e.subject = Some("https://github.com/cloudevents/spec".into());
        e.extensions.insert("region".into(), "eu-west".into());
        e
    }

    fn passes(filter: Value) -> bool {
        Filter::parse(&filter, "filters[0]")
            .unwrap()
            .matches(&event())
    }

    #[test]
    fn spec_examples() {
        // the examples of Subscriptions API §3.2.4.1.1
        assert!(passes(
            json!({"exact": {"type": "com.github.push", "subject": "https://github.com/cloudevents/spec"}})
        ));
        assert!(passes(
            json!({"prefix": {"type": "com.github.", "subject": "https://github.com/cloudevents"}})
        ));
        assert!(passes(
            json!({"suffix": {"type": ".push", "subject": "/cloudevents/spec"}})
        ));
        assert!(passes(json!({"all": [
            {"exact": {"type": "com.github.push"}},
            {"exact": {"subject": "https://github.com/cloudevents/spec"}}
        ]})));
        assert!(passes(json!({"any": [
            {"exact": {"type": "com.github.pull"}},
            {"exact": {"subject": "https://github.com/cloudevents/spec"}}
        ]})));
        assert!(!passes(
            json!({"not": {"exact": {"type": "com.github.push"}}})
        ));
        assert!(passes(json!({"sql": "source LIKE '%tn-%'"})));
    }

    #[test]
    fn every_named_attribute_must_match_and_be_present() {
        assert!(!passes(
            json!({"exact": {"type": "com.github.push", "subject": "other"}})
        ));
        assert!(!passes(json!({"exact": {"dataschema": "x"}})));
        assert!(passes(json!({"exact": {"region": "eu-west"}})));
        assert!(
            !passes(json!({"exact": {"region": "EU-WEST"}})),
            "case sensitive"
        );
        assert!(!passes(json!({"prefix": {"type": "com.gitlab."}})));
        assert!(!passes(json!({"suffix": {"type": ".pull"}})));
        // a missing attribute makes `exact` false, so `not` of it is true
        assert!(passes(json!({"not": {"exact": {"dataschema": "x"}}})));
        assert!(!passes(json!({"all": [
            {"exact": {"type": "com.github.push"}},
            {"exact": {"subject": "nope"}}
        ]})));
        assert!(!passes(json!({"any": [
            {"exact": {"type": "a"}},
            {"exact": {"type": "b"}}
        ]})));
    }

    #[test]
    fn sql_errors_do_not_pass() {
        // a missing attribute is an evaluation error: the filter is false (§3.2.4.1.2)
        assert!(!passes(json!({"sql": "dataschema = 'x'"})));
        assert!(!passes(json!({"sql": "1 + 1"})), "not a boolean");
        assert!(passes(
            json!({"sql": "region = 'eu-west' AND type LIKE 'com.%'"})
        ));
    }

    #[test]
    fn errors_name_the_field() {
        let err = |v: Value| Filter::parse(&v, "filters[2]").unwrap_err();
        let e = err(json!({"regex": {"type": "x"}}));
        assert_eq!(e.field, "filters[2]");
        assert!(
            e.message.contains("unsupported filter dialect `regex`"),
            "{e:?}"
        );
        assert_eq!(err(json!({"exact": {}})).field, "filters[2].exact");
        assert_eq!(
            err(json!({"exact": {"type": ""}})).field,
            "filters[2].exact.type"
        );
        assert_eq!(
            err(json!({"exact": {"Type": "x"}})).field,
            "filters[2].exact.Type"
        );
        assert_eq!(
            err(json!({"exact": {"type": 5}})).field,
            "filters[2].exact.type"
        );
        assert_eq!(err(json!({"all": []})).field, "filters[2].all");
        assert_eq!(
            err(json!({"all": [{"exact": {"type": "a"}}, {"nope": 1}]})).field,
            "filters[2].all[1]"
        );
        assert_eq!(err(json!({"sql": "type = "})).field, "filters[2].sql");
        assert_eq!(err(json!({"sql": 5})).field, "filters[2].sql");
        assert_eq!(
            err(json!({"exact": {"type": "a"}, "prefix": {"type": "b"}})).field,
            "filters[2]"
        );
        assert_eq!(err(json!("type = 'a'")).field, "filters[2]");
    }

    #[test]
    fn conditions_combine_types_source_and_filters() {
        let mut c = Conditions::default();
        assert!(c.matches(&event()));
        c.types = vec!["a".into(), "com.github.push".into()];
        assert!(c.matches(&event()));
        c.source = Some("/sensors/tn-2".into());
        assert!(!c.matches(&event()));
        c.source = Some("/sensors/tn-1".into());
        c.filters = vec![Filter::parse(&json!({"exact": {"region": "eu-north"}}), "f").unwrap()];
        assert!(!c.matches(&event()));
    }
}
