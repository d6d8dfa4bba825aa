//! A route's filter: the attribute conditions of [`weft_event::Filter`] (exact / prefix /
//! suffix on `type`, `source`, `subject`) and an optional CESQL v1 expression
//! (`filter = { sql = "…" }`), compiled once when the configuration is read.
//!
//! Every condition given must hold. The expression follows the spec's filter semantics
//! (CESQL v1 §1.2): an event passes only when it evaluates to `true` without an error; an
//! evaluation error yields the spec's default value (so the event does not pass), is
//! counted in `weft_route_filter_errors_total{route, kind}` and logged (a warning the
//! first time per route, then at debug level).

use std::sync::atomic::{AtomicBool, Ordering};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use weft_cesql::Expression;
use weft_event::{Event, Filter, Match};

/// A route's filter. In TOML:
/// `filter = { type = { prefix = "com.acme." }, sql = "EXISTS subject AND sequence > 5" }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteFilter {
    /// Condition on the event `type`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub ty: Option<Match>,
    /// Condition on the event `source`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Match>,
    /// Condition on the event `subject` (an event without a subject does not match).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Match>,
    /// A CESQL v1 expression (e.g. `type LIKE 'com.acme.%' AND EXISTS subject`); the event
    /// passes when it evaluates to `true` without an error. Compiled once, when the
    /// configuration is read (a syntax error is a configuration error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub sql: Option<Expression>,
}

impl From<Filter> for RouteFilter {
    fn from(f: Filter) -> Self {
        RouteFilter {
            ty: f.ty,
            source: f.source,
            subject: f.subject,
            sql: None,
        }
    }
}

impl From<Expression> for RouteFilter {
    fn from(sql: Expression) -> Self {
        RouteFilter {
            sql: Some(sql),
            ..RouteFilter::default()
        }
    }
}

/// Whether a route's filter-error warning was already logged.
#[derive(Debug, Default)]
pub(crate) struct FilterWarned(AtomicBool);

impl RouteFilter {
    /// Whether `event` passes the attribute conditions and the expression. An evaluation
    /// error of the expression is returned as `Err` (the event does not pass).
    pub fn check(&self, event: &Event) -> Result<bool, weft_cesql::Error> {
        let attributes = self.ty.as_ref().is_none_or(|m| m.matches(Some(&event.ty)))
            && self
                .source
                .as_ref()
                .is_none_or(|m| m.matches(Some(&event.source)))
            && self
                .subject
                .as_ref()
                .is_none_or(|m| m.matches(event.subject.as_deref()));
        if !attributes {
            return Ok(false);
        }
        let Some(sql) = &self.sql else {
            return Ok(true);
        };
        if sql.matches(event) {
            return Ok(true);
        }
        // not `true`: evaluate again only to learn whether an error caused it (rare path;
        // `matches` allocates nothing)
        match sql.eval(event).error {
            Some(e) => Err(e),
            None => Ok(false),
        }
    }

    /// Whether `event` passes; an evaluation error counts as "does not pass".
    pub fn matches(&self, event: &Event) -> bool {
        self.check(event).unwrap_or(false)
    }

    /// [`RouteFilter::check`] for route `route`, counting and logging evaluation errors.
    pub(crate) fn matches_on_route(
        &self,
        route: &str,
        warned: &FilterWarned,
        event: &Event,
    ) -> bool {
        match self.check(event) {
            Ok(pass) => pass,
            Err(e) => {
                metrics::counter!(
                    "weft_route_filter_errors_total",
                    "route" => route.to_string(),
                    "kind" => e.kind.as_str()
                )
                .increment(1);
                if warned.0.swap(true, Ordering::Relaxed) {
                    tracing::debug!(route, event_id = %event.id, kind = %e.kind, error = %e.message,
                        "route filter: evaluation error, event skipped");
                } else {
                    tracing::warn!(route, event_id = %event.id, kind = %e.kind, error = %e.message,
                        "route filter: evaluation error, event skipped (the spec's default value; further errors of this route are logged at debug level and counted in weft_route_filter_errors_total)");
                }
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_text: &str) -> Result<RouteFilter, String> {
        #[derive(Deserialize)]
        struct Doc {
            filter: RouteFilter,
        }
        toml::from_str::<Doc>(toml_text)
            .map(|d| d.filter)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn sql_and_attributes_must_both_hold() {
        let f =
            parse(r#"filter = { type = { prefix = "com.acme." }, sql = "subject LIKE 'eu-%'" }"#)
                .unwrap();
        let mut e = Event::new("1", "/erp", "com.acme.order");
        e.subject = Some("eu-1".into());
        assert!(f.matches(&e));
        e.subject = Some("us-1".into());
        assert!(!f.matches(&e));
        e.subject = Some("eu-1".into());
        e.ty = "org.other".into();
        assert!(!f.matches(&e));
    }

    #[test]
    fn an_evaluation_error_does_not_pass_and_is_reported() {
        let f = parse(r#"filter = { sql = "sequence > 5" }"#).unwrap();
        let mut e = Event::new("1", "/erp", "t");
        let err = f.check(&e).unwrap_err();
        assert_eq!(err.kind, weft_cesql::ErrorKind::MissingAttribute);
        e.extensions.insert("sequence".into(), "10".into());
        assert_eq!(f.check(&e), Ok(true));
        e.extensions.insert("sequence".into(), "ten".into());
        assert_eq!(
            f.check(&e).unwrap_err().kind,
            weft_cesql::ErrorKind::Cast,
            "a string that is not an integer fails the cast"
        );
        // `FALSE` without an error is a plain no
        let f = parse(r#"filter = { sql = "sequence = 11" }"#).unwrap();
        e.extensions.insert("sequence".into(), "10".into());
        assert_eq!(f.check(&e), Ok(false));
    }

    #[test]
    fn a_syntax_error_is_a_configuration_error_naming_the_expression() {
        let err = parse(r#"filter = { sql = "type = " }"#).unwrap_err();
        assert!(err.contains("invalid CESQL expression `type = `"), "{err}");
        let err = parse(r#"filter = { sqll = "true" }"#).unwrap_err();
        assert!(err.contains("unknown field `sqll`"), "{err}");
    }

    #[test]
    fn round_trips_as_its_source_text() {
        let f = parse(r#"filter = { sql = "EXISTS subject" }"#).unwrap();
        let v = serde_json::to_value(&f).unwrap();
        assert_eq!(v, serde_json::json!({"sql": "EXISTS subject"}));
    }
}
