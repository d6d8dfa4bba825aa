//! Route configuration: `[[routes]]` in weft's TOML.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::filter::RouteFilter;

/// One route: `from` sources → optional filter → plugins in order → `to` sinks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteSpec {
    /// Unique name, used in logs and metrics.
    pub name: String,
    /// Sources this route reads: names of `[sources.*]`, or `topic:NAME` for an embedded
    /// log topic (what HTTP ingress writes to).
    pub from: Vec<String>,
    /// Only events matching this filter take the route: attribute conditions and/or a
    /// CESQL expression (`sql`).
    #[serde(default)]
    pub filter: Option<RouteFilter>,
    /// Plugins applied in order; each output event of one feeds the next. Empty: pass
    /// events through unchanged.
    #[serde(default)]
    pub plugins: Vec<String>,
    /// Sinks every resulting event is delivered to: names of `[sinks.*]`, `topic:NAME`,
    /// or `stdout`.
    pub to: Vec<String>,
    /// How failures are retried before dead-lettering.
    #[serde(default)]
    pub retry: RetryPolicy,
    /// Where events go after the last failed attempt: a sink name or `topic:NAME`.
    /// Default: the hub's `dead_letter` (`topic:deadletter` unless configured).
    #[serde(default)]
    pub dead_letter: Option<String>,
    /// Most events the route's plugins may produce, all together, for one delivery (the
    /// fan-out bound of the whole chain: each plugin's `max_output_events` multiplies
    /// along it). Exceeding it fails the event for good (dead letter).
    #[serde(default = "default_max_fanout")]
    pub max_fanout: usize,
    /// Most bytes of events the route's plugins may produce, all together, for one
    /// delivery.
    #[serde(default = "default_max_fanout_bytes")]
    pub max_fanout_bytes: usize,
}

fn default_max_fanout() -> usize {
    FanoutLimit::default().events
}
fn default_max_fanout_bytes() -> usize {
    FanoutLimit::default().bytes
}

/// The fan-out bound of a route's plugin chain for one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FanoutLimit {
    /// Events produced by all plugins together.
    pub events: usize,
    /// Bytes of those events.
    pub bytes: usize,
}

impl Default for FanoutLimit {
    fn default() -> Self {
        FanoutLimit {
            events: 10_000,
            bytes: 64 * 1024 * 1024,
        }
    }
}

impl RouteSpec {
    /// The route's fan-out bound.
    pub fn fanout_limit(&self) -> FanoutLimit {
        FanoutLimit {
            events: self.max_fanout,
            bytes: self.max_fanout_bytes,
        }
    }
}

/// Retry with exponential backoff and jitter (`weft_connector::Backoff`: each delay is drawn
/// from `[d/2, d]`). The default survives real outages: it retries for up to 10 minutes
/// (`max_elapsed_ms`), backing off from 100 ms to 30 s, before dead-lettering.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryPolicy {
    /// Most attempts, the first included (1 = no retry). 0 (the default): no limit by
    /// count, `max_elapsed_ms` decides.
    #[serde(default = "default_attempts")]
    pub attempts: u32,
    /// Longest time to keep retrying one event, from its first attempt, in milliseconds:
    /// no retry is started that would begin later. 0: no limit by time. When both limits
    /// are 0 the route retries until shutdown (the event is then handed back).
    #[serde(default = "default_max_elapsed_ms")]
    pub max_elapsed_ms: u64,
    /// Backoff before the second attempt, in milliseconds.
    #[serde(default = "default_initial_backoff_ms")]
    pub initial_backoff_ms: u64,
    /// Upper bound of the backoff, in milliseconds.
    #[serde(default = "default_max_backoff_ms")]
    pub max_backoff_ms: u64,
    /// Backoff growth factor per attempt.
    #[serde(default = "default_multiplier")]
    pub multiplier: f64,
    /// Randomise each backoff (uniformly in [backoff/2, backoff]) so retries of many
    /// events do not synchronise.
    #[serde(default = "default_jitter")]
    pub jitter: bool,
}

fn default_attempts() -> u32 {
    0
}
fn default_max_elapsed_ms() -> u64 {
    600_000
}
fn default_initial_backoff_ms() -> u64 {
    100
}
fn default_max_backoff_ms() -> u64 {
    30_000
}
fn default_multiplier() -> f64 {
    2.0
}
fn default_jitter() -> bool {
    true
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: default_attempts(),
            max_elapsed_ms: default_max_elapsed_ms(),
            initial_backoff_ms: default_initial_backoff_ms(),
            max_backoff_ms: default_max_backoff_ms(),
            multiplier: default_multiplier(),
            jitter: default_jitter(),
        }
    }
}

impl RetryPolicy {
    /// Whether a route stops retrying after `attempts_made` failed attempts when the
    /// next one would start `elapsed_at_next` after the first.
    pub fn gives_up(&self, attempts_made: u32, elapsed_at_next: std::time::Duration) -> bool {
        (self.attempts > 0 && attempts_made >= self.attempts)
            || (self.max_elapsed_ms > 0
                && elapsed_at_next > std::time::Duration::from_millis(self.max_elapsed_ms))
    }

    /// The delay before attempt `next_attempt` (2 = the first retry).
    pub fn backoff(&self, next_attempt: u32) -> std::time::Duration {
        let backoff = weft_connector::Backoff::new(
            std::time::Duration::from_millis(self.initial_backoff_ms),
            std::time::Duration::from_millis(self.max_backoff_ms),
        )
        .with_multiplier(self.multiplier);
        let backoff = if self.jitter {
            backoff
        } else {
            backoff.without_jitter()
        };
        backoff.delay(next_attempt.saturating_sub(2))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy {
            jitter: false,
            ..RetryPolicy::default()
        };
        assert_eq!(p.backoff(2).as_millis(), 100);
        assert_eq!(p.backoff(3).as_millis(), 200);
        assert_eq!(p.backoff(20).as_millis(), 30_000);
        let j = RetryPolicy::default();
        // the default gives up by time, not by count
        use std::time::Duration;
        assert!(!j.gives_up(1_000, Duration::from_secs(599)));
        assert!(j.gives_up(3, Duration::from_secs(601)));
        let counted = RetryPolicy {
            attempts: 3,
            max_elapsed_ms: 0,
            ..RetryPolicy::default()
        };
        assert!(!counted.gives_up(2, Duration::from_secs(3600)));
        assert!(counted.gives_up(3, Duration::ZERO));
        for _ in 0..100 {
            let d = j.backoff(3).as_millis();
            assert!((100..=200).contains(&d), "{d}");
        }
    }
}
