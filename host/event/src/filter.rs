//! Route filters on CloudEvents attributes: exact / prefix / suffix on `type`, `source`
//! and `subject`. Every given condition must hold; an empty filter matches everything.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Event;

/// How one attribute must look. In TOML: `type = { prefix = "com.example." }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum Match {
    /// The attribute equals this string.
    Exact(String),
    /// The attribute starts with this string.
    Prefix(String),
    /// The attribute ends with this string.
    Suffix(String),
}

impl Match {
    /// Whether `value` (absent = no match) satisfies the condition.
    pub fn matches(&self, value: Option<&str>) -> bool {
        let Some(value) = value else { return false };
        match self {
            Match::Exact(s) => value == s,
            Match::Prefix(s) => value.starts_with(s.as_str()),
            Match::Suffix(s) => value.ends_with(s.as_str()),
        }
    }
}

/// A route's filter. Every condition given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    /// Condition on the event `type`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub ty: Option<Match>,
    /// Condition on the event `source`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Match>,
    /// Condition on the event `subject` (an event without a subject does not match).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Match>,
}

impl Filter {
    /// Whether the event passes the filter.
    pub fn matches(&self, event: &Event) -> bool {
        self.ty.as_ref().is_none_or(|m| m.matches(Some(&event.ty)))
            && self
                .source
                .as_ref()
                .is_none_or(|m| m.matches(Some(&event.source)))
            && self
                .subject
                .as_ref()
                .is_none_or(|m| m.matches(event.subject.as_deref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_conditions_must_hold() {
        let mut e = Event::new("1", "/erp/eu", "com.acme.order.created");
        let f = Filter {
            ty: Some(Match::Prefix("com.acme.".into())),
            source: Some(Match::Suffix("/eu".into())),
            subject: None,
        };
        assert!(f.matches(&e));
        e.source = "/erp/us".into();
        assert!(!f.matches(&e));
        let f = Filter {
            subject: Some(Match::Exact("x".into())),
            ..Filter::default()
        };
        assert!(!f.matches(&e), "absent subject never matches");
        e.subject = Some("x".into());
        assert!(f.matches(&e));
        assert!(Filter::default().matches(&e));
    }
}
