//! HTTP for weft: the ingress (CloudEvents HTTP binding into the embedded log, plus health,
//! readiness and Prometheus metrics) and the webhook sink.
//!
//! ```no_run
//! # async fn demo(log: std::sync::Arc<dyn weft_connector::EventStore>) -> std::io::Result<()> {
//! use std::sync::{Arc, atomic::AtomicBool};
//! let ingress = weft_connector_http::Ingress {
//!     store: log,
//!     topics: Arc::default(),
//!     max_body_bytes: 1 << 20,
//!     ready: Arc::new(AtomicBool::new(true)),
//!     metrics: Arc::new(String::new),
//!     auth: Arc::new(weft_connector_http::auth::Authorizer::open()),
//!     limits: Default::default(),
//!     sse: None,
//!     subscriptions: None,
//! };
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! weft_connector_http::serve(listener, ingress, Default::default()).await
//! # }
//! ```

pub mod auth;
mod ingress;
mod sse;
mod subscription_api;
pub mod tls;
mod webhook;

pub use auth::{AuthConfig, Authorizer};
pub use ingress::{HttpLimits, Ingress, MetricsRenderer, serve, serve_tls};
pub use sse::{SseBody, SseSettings, resolve_start};
pub use subscription_api::{SUBSCRIPTIONS_PATH, SubscriptionApi};
pub use tls::{TlsConfig, TlsServer};
pub use webhook::{WebhookConfig, WebhookSink, sign};
