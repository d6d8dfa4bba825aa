//! weft's subscription manager: the CloudEvents Subscriptions API (`/v1/subscriptions`)
//! and durable, signed, retried delivery of an embedded-log topic to each subscription's
//! HTTP sink.
//!
//! - [`model`]: the subscription object, request checks that name the field, the view
//!   returned by the API (secrets are write-only).
//! - [`filter`]: the filter dialects (`exact`, `prefix`, `suffix`, `all`, `any`, `not`,
//!   `sql`).
//! - [`store`]: where subscriptions live — the data directory or Redis (shared by
//!   replicas).
//! - [`manager`]: one delivery per subscription (a topic reader with its own cursor → a
//!   route with retries → the signed webhook), kept in line with the store.
//! - `api`: the HTTP face ([`weft_connector_http::SubscriptionApi`] for [`Manager`]).
//!
//! Guarantees: every event of the topic after the subscription's start position is
//! delivered to its sink at least once, in order unless `config.concurrency` > 1, or
//! dead-lettered with the reason after `config.max_elapsed_ms` of retries. Positions are
//! committed as deliveries are acknowledged; retention of the topic waits for every
//! subscription, paused ones included. With several replicas sharing a Redis store, each
//! replica delivers the events of its own log, so each event is delivered once per
//! subscription (at least once under faults).

mod api;
pub mod config;
pub mod filter;
pub mod manager;
pub mod model;
pub mod store;

pub use config::{StoreKind, SubscriptionsConfig};
pub use manager::{Manager, Settings};
pub use model::{Defaults, Record};
pub use store::{EmbeddedStore, LocalFile, RedisStore, StoreError, SubscriptionStore};
