//! The webhook sink: `POST` each event to a URL in CloudEvents HTTP binary mode.
//!
//! 2xx confirms; 5xx, 408, 429, timeouts and connection errors are transient (retried by
//! the route); other 4xx are permanent (dead letter). With a `secret`, requests carry
//! Standard Webhooks signatures (`webhook-id`, `webhook-timestamp`,
//! `webhook-signature: v1,<base64 HMAC-SHA256>`) and the event goes in CloudEvents
//! *structured* mode (`content-type: application/cloudevents+json`, every attribute in the
//! signed body), so no attribute travels outside the signature. Without a secret, binary
//! mode (`ce-*` headers). An event's trace context also goes out
//! as the W3C `traceparent`/`tracestate` headers.

use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

use weft_connector::redact::redact_url;
use weft_connector::{
    BuildContext, ConnectorError, Finding, Guarantee, Sink, SinkConnector, SinkError,
};
use weft_event::{Event, binary};

/// `[sinks.NAME] type = "webhook"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Target URL (`http://` or `https://`).
    pub url: String,
    /// Request timeout in milliseconds.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Extra headers, e.g. `{ authorization = "Bearer ${TOKEN}" }`.
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
    /// Standard Webhooks signing secret: `whsec_<base64 of 24 to 64 bytes>` (as the Standard
    /// Webhooks libraries make them) or raw text of at least 16 bytes. A `whsec_` value
    /// that is not valid base64 is a configuration error. Unset or empty: unsigned, binary
    /// mode.
    #[serde(default)]
    pub secret: Option<String>,
    /// The request method: `POST` (the default), `PUT` or `PATCH`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
}

/// The most of a webhook's response body that is read (the status decides the outcome).
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

fn default_timeout_ms() -> u64 {
    10_000
}

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Posts events to a URL.
pub struct WebhookSink {
    config: WebhookConfig,
    uri: http::Uri,
    method: http::Method,
    client: HttpsClient,
    key: Option<Vec<u8>>,
}

/// Builds the shared HTTPS-capable client.
fn client() -> HttpsClient {
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .build();
    Client::builder(TokioExecutor::new()).build(https)
}

impl WebhookSink {
    /// Checks the config and builds the sink.
    pub fn new(config: WebhookConfig) -> Result<WebhookSink, SinkError> {
        let uri: http::Uri = config.url.parse().map_err(|e| {
            SinkError::Permanent(format!(
                "invalid webhook url `{}`: {e}",
                redact_url(&config.url)
            ))
        })?;
        match uri.scheme_str() {
            Some("http") | Some("https") => {}
            _ => {
                return Err(SinkError::Permanent(format!(
                    "webhook url `{}` must start with http:// or https://",
                    redact_url(&config.url)
                )));
            }
        }
        let method = match config.method.as_deref().unwrap_or("POST") {
            "POST" => http::Method::POST,
            "PUT" => http::Method::PUT,
            "PATCH" => http::Method::PATCH,
            other => {
                return Err(SinkError::Permanent(format!(
                    "webhook method `{other}` is not supported: use POST, PUT or PATCH"
                )));
            }
        };
        let key = match config.secret.as_deref() {
            None | Some("") => None,
            Some(secret) => Some(signing_key(secret).map_err(SinkError::Permanent)?),
        };
        Ok(WebhookSink {
            config,
            uri,
            method,
            client: client(),
            key,
        })
    }
}

#[async_trait]
impl SinkConnector for WebhookConfig {
    fn guarantee(&self) -> Guarantee {
        Guarantee::AtLeastOnce
    }

    fn check(&self) -> Vec<Finding> {
        if let Some(secret) = self.secret.as_deref().filter(|s| !s.is_empty())
            && let Err(e) = signing_key(secret)
        {
            return vec![Finding::error("secret", e)];
        }
        match WebhookSink::new(self.clone()) {
            Ok(_) => Vec::new(),
            Err(e) => vec![Finding::error("url", e.to_string())],
        }
    }

    async fn build(&self, _context: &BuildContext) -> Result<Arc<dyn Sink>, ConnectorError> {
        WebhookSink::new(self.clone())
            .map(|sink| Arc::new(sink) as Arc<dyn Sink>)
            .map_err(|e| ConnectorError::Config(e.to_string()))
    }
}

/// The HMAC key of a `secret` value: the bytes of `whsec_<base64>`, else the text itself.
fn signing_key(secret: &str) -> Result<Vec<u8>, String> {
    match secret.strip_prefix("whsec_") {
        Some(b64) => {
            let key = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|_| {
                    "webhook secret starts with `whsec_` but the rest is not valid base64 (a Standard Webhooks secret is whsec_ followed by the base64 of the key)".to_string()
                })?;
            if key.len() < 16 {
                return Err(format!(
                    "webhook secret's key is {} bytes; at least 16 (Standard Webhooks secrets are 24 to 64)",
                    key.len()
                ));
            }
            Ok(key)
        }
        None if secret.len() < 16 => Err(format!(
            "webhook secret is {} bytes; at least 16 (or use a whsec_ secret)",
            secret.len()
        )),
        None => Ok(secret.as_bytes().to_vec()),
    }
}

/// Computes the Standard Webhooks signature of `body`.
pub fn sign(key: &[u8], id: &str, timestamp: u64, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}

#[async_trait]
impl Sink for WebhookSink {
    async fn deliver(&self, event: &Event) -> Result<(), SinkError> {
        self.deliver_observed(event).await.0
    }
}

impl WebhookSink {
    /// Delivers `event` as [`Sink::deliver`] does, and also returns the HTTP status the
    /// target answered (`None`: no answer, e.g. a refused connection or a timeout).
    pub async fn deliver_observed(&self, event: &Event) -> (Result<(), SinkError>, Option<u16>) {
        match self.request(event).await {
            Err(e) => (Err(e), None),
            Ok(status) => (classify(&self.config.url, status), Some(status.as_u16())),
        }
    }

    /// Sends the request; `Ok` with the answer's status (read bounded), `Err` when no
    /// answer came.
    async fn request(&self, event: &Event) -> Result<StatusCode, SinkError> {
        let mut req = Request::builder()
            .method(self.method.clone())
            .uri(self.uri.clone());
        let body = if self.key.is_some() {
            // structured mode: every attribute is inside the signed body
            req = req.header(http::header::CONTENT_TYPE, "application/cloudevents+json");
            Bytes::from(event.to_json_string())
        } else {
            for (name, value) in binary::to_attributes(event) {
                req = req.header(format!("ce-{name}"), binary::percent_encode(value));
            }
            if let Some(ct) = &event.datacontenttype {
                req = req.header(http::header::CONTENT_TYPE, ct.as_str());
            }
            Bytes::from(event.data.clone().unwrap_or_default())
        };
        // W3C Trace Context for HTTP servers that do not read `ce-traceparent`
        if let Some(tp) = weft_event::trace::trace_context(event) {
            req = req.header("traceparent", tp);
            if let Some(state) = weft_event::trace::trace_state(event)
                && http::HeaderValue::from_str(state).is_ok()
            {
                req = req.header("tracestate", state);
            }
        }
        for (k, v) in &self.config.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        if let Some(key) = &self.key {
            let ts = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            let id = format!("{}:{}", event.source, event.id);
            req = req
                .header("webhook-id", binary::percent_encode(&id))
                .header("webhook-timestamp", ts.to_string())
                .header(
                    "webhook-signature",
                    sign(key, &binary::percent_encode(&id), ts, &body),
                );
        }
        let req = req
            .body(Full::new(body))
            .map_err(|e| SinkError::Permanent(format!("cannot build request: {e}")))?;
        let timeout = Duration::from_millis(self.config.timeout_ms);
        let response = match tokio::time::timeout(timeout, self.client.request(req)).await {
            Err(_) => {
                return Err(SinkError::Transient(format!(
                    "{}: no response within {} ms",
                    redact_url(&self.config.url),
                    self.config.timeout_ms
                )));
            }
            Ok(Err(e)) => {
                return Err(SinkError::Transient(format!(
                    "{}: {e}",
                    redact_url(&self.config.url)
                )));
            }
            Ok(Ok(r)) => r,
        };
        let status = response.status();
        // read (a bounded part of) the body so the connection can be reused; a larger or
        // slower answer is cut off, never buffered whole
        let _ = tokio::time::timeout(
            timeout,
            http_body_util::Limited::new(response.into_body(), MAX_RESPONSE_BYTES).collect(),
        )
        .await;
        Ok(status)
    }
}

/// The outcome of an answer: 2xx delivered; 5xx, 408 and 429 transient; the rest permanent.
fn classify(url: &str, status: StatusCode) -> Result<(), SinkError> {
    if status.is_success() {
        Ok(())
    } else if status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
    {
        Err(SinkError::Transient(format!(
            "{} answered {status}",
            redact_url(url)
        )))
    } else {
        Err(SinkError::Permanent(format!(
            "{} answered {status}",
            redact_url(url)
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_webhooks_signature_vector() {
        // test vector from the Standard Webhooks specification
        let key = base64::engine::general_purpose::STANDARD
            .decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .unwrap();
        let sig = sign(
            &key,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn invalid_secrets_are_config_errors() {
        let config = |secret: &str| WebhookConfig {
            url: "https://example.com/hook".into(),
            timeout_ms: 1000,
            headers: Default::default(),
            secret: Some(secret.into()),
            method: None,
        };
        for bad in ["whsec_not*base64!", "whsec_c2hvcnQ=", "short"] {
            let found = config(bad).check();
            assert_eq!(found.len(), 1, "{bad}: {found:?}");
            assert_eq!(found[0].field, "secret");
            assert!(!found[0].message.contains(bad), "{found:?}");
            assert!(WebhookSink::new(config(bad)).is_err(), "{bad}");
        }
        for good in [
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "a raw secret of enough bytes",
            "",
        ] {
            assert!(config(good).check().is_empty(), "{good}");
        }
    }
}
