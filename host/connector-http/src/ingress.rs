//! HTTP ingress: `POST /v1/events/{topic}` in the CloudEvents HTTP binding's structured,
//! batch and binary modes, plus `/healthz`, `/readyz` and `/metrics`.
//!
//! `202 Accepted` is returned only after the events are durably in the embedded log.
//! Problems get `400` (or `413`, `404`, `415`) with an `application/problem+json` body
//! (RFC 9457) whose `detail` names what is wrong; nothing of a rejected request is stored.
//!
//! Every request but `/healthz` and `/readyz` passes the [`Authorizer`] (`401`/`403`).
//! The server is bounded by [`HttpLimits`]: a request head must arrive within
//! `header_timeout` (counted from the connection's start or the end of its previous
//! response, so it is also the keep-alive idle limit), a body within `body_timeout`
//! (`408`); connections beyond `max_connections` get an immediate `503` and are closed;
//! accept errors (e.g. EMFILE) back off up to 1 s; shutdown waits at most
//! `shutdown_timeout` for open connections. HTTP/1.1 only (no h2c).

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::auth::{Authorizer, Scope};
use crate::tls::TlsServer;
use tokio_util::either::Either;

/// Runs `f` when dropped (the open-connections gauge on every way out of a connection).
fn scopeguard(f: impl FnOnce()) -> impl Drop {
    struct Guard<F: FnOnce()>(Option<F>);
    impl<F: FnOnce()> Drop for Guard<F> {
        fn drop(&mut self) {
            if let Some(f) = self.0.take() {
                f()
            }
        }
    }
    Guard(Some(f))
}
use weft_connector::{EventStore, StoreError};
use weft_event::{Event, EventError, binary, json};

/// Renders the Prometheus text exposition for `/metrics`.
pub type MetricsRenderer = Arc<dyn Fn() -> String + Send + Sync>;

/// What the ingress needs.
#[derive(Clone)]
pub struct Ingress {
    /// Where accepted events are stored (the embedded log).
    pub store: Arc<dyn EventStore>,
    /// Topics that may be posted to; empty = any valid topic name.
    pub topics: Arc<HashSet<String>>,
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// `/readyz` answers 200 only while this is set.
    pub ready: Arc<AtomicBool>,
    /// `/metrics` body.
    pub metrics: MetricsRenderer,
    /// Who may call what (`[auth]`).
    pub auth: Arc<Authorizer>,
    /// Timeouts and caps of the server.
    pub limits: HttpLimits,
    /// Server-sent events (`GET /v1/topics/{topic}/events`); `None`: not served (404).
    pub sse: Option<crate::sse::SseSettings>,
    /// The Subscriptions API (`/v1/subscriptions`); `None`: not served (404).
    pub subscriptions: Option<Arc<dyn crate::SubscriptionApi>>,
}

/// Bounds of the HTTP server (`[hub]` keys in weft's config).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpLimits {
    /// Time to receive a complete request head, from the connection's start or the end of
    /// its previous response (so also the keep-alive idle limit); then the connection is
    /// closed.
    pub header_timeout: Duration,
    /// Time to receive a request body once its head is in (`408`).
    pub body_timeout: Duration,
    /// Connections served at once; more get `503` and are closed at once.
    pub max_connections: usize,
    /// How long shutdown waits for open connections to finish their requests.
    pub shutdown_timeout: Duration,
    /// Most events in one batch request (`413`).
    pub max_batch_events: usize,
    /// Largest request head (request line and headers), in bytes (`431`).
    pub max_header_bytes: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            max_connections: 1024,
            shutdown_timeout: Duration::from_secs(10),
            max_batch_events: 1000,
            max_header_bytes: 16 * 1024,
        }
    }
}

/// Sent to a connection beyond `max_connections` before it is closed.
const BUSY_RESPONSE: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/problem+json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: 114\r\n\r\n{\"type\":\"about:blank\",\"title\":\"too many connections\",\"status\":503,\"detail\":\"the server is at hub.max_connections\"}";

type Body = Full<Bytes>;

fn problem(
    status: StatusCode,
    title: &str,
    detail: impl Into<String>,
    extra: Option<(&str, serde_json::Value)>,
) -> Response<Body> {
    let mut body = serde_json::json!({
        "type": "about:blank",
        "title": title,
        "status": status.as_u16(),
        "detail": detail.into(),
    });
    if let Some((k, v)) = extra {
        body[k] = v;
    }
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/problem+json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap_or_default()
}

fn text(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, content_type)
        .body(Full::new(body.into()))
        .unwrap_or_default()
}

/// Serves the ingress on `listener` until `shutdown`; in-flight requests finish first
/// (for at most `limits.shutdown_timeout`).
pub async fn serve(
    listener: TcpListener,
    ingress: Ingress,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    serve_with(listener, ingress, None, shutdown).await
}

/// [`serve`] over TLS ([`crate::tls`]): the handshake must complete within
/// `limits.header_timeout`; a verified client certificate that an `[[auth.tokens]]` entry
/// names is that token's credential. The certificate files are watched for changes
/// until `shutdown`.
pub async fn serve_tls(
    listener: TcpListener,
    ingress: Ingress,
    tls: Arc<TlsServer>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    tokio::spawn(tls.clone().watch(shutdown.clone()));
    serve_with(listener, ingress, Some(tls), shutdown).await
}

async fn serve_with(
    listener: TcpListener,
    ingress: Ingress,
    tls: Option<Arc<TlsServer>>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let tracker = tokio_util::task::TaskTracker::new();
    let limits = ingress.limits.clone();
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let force = CancellationToken::new();
    let mut backoff = Duration::ZERO;
    loop {
        let (stream, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            r = listener.accept() => match r {
                Ok(x) => {
                    backoff = Duration::ZERO;
                    x
                }
                Err(e) => {
                    // EMFILE, ENFILE, ENOBUFS, …: retrying at once would spin; wait a
                    // little longer each time (up to 1 s) for descriptors to free up
                    backoff = (backoff * 2).clamp(Duration::from_millis(5), Duration::from_secs(1));
                    metrics::counter!("weft_http_accept_errors_total").increment(1);
                    tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "accepting an HTTP connection failed");
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(backoff) => continue,
                    }
                }
            },
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            // over the cap: say so without waiting on the client, and close
            metrics::counter!("weft_http_connections_refused_total").increment(1);
            let _ = stream.try_write(BUSY_RESPONSE);
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let ingress = ingress.clone();
        let shutdown = shutdown.clone();
        let force = force.clone();
        let limits = limits.clone();
        let tls = tls.clone();
        tracker.spawn(async move {
            let _permit = permit;
            metrics::gauge!("weft_http_connections_open").increment(1.0);
            let _open = scopeguard(|| {
                metrics::gauge!("weft_http_connections_open").decrement(1.0);
            });
            let (io, client_cert) = match tls {
                None => (Either::Left(stream), None),
                Some(tls) => {
                    let handshake = tokio::time::timeout(
                        limits.header_timeout,
                        tls.acceptor().accept(stream),
                    );
                    let done = tokio::select! {
                        _ = shutdown.cancelled() => return,
                        done = handshake => done,
                    };
                    match done {
                        Ok(Ok(stream)) => {
                            let client_cert = stream
                                .get_ref()
                                .1
                                .peer_certificates()
                                .and_then(|chain| chain.first())
                                .and_then(|der| ingress.auth.identify_client_cert(der));
                            (Either::Right(stream), client_cert)
                        }
                        Ok(Err(e)) => {
                            metrics::counter!("weft_http_tls_handshake_failures_total").increment(1);
                            tracing::debug!(%peer, error = %e, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            metrics::counter!("weft_http_tls_handshake_failures_total").increment(1);
                            metrics::counter!("weft_http_header_timeouts_total").increment(1);
                            tracing::debug!(%peer, "TLS handshake not complete within hub.header_timeout_ms");
                            return;
                        }
                    }
                }
            };
            let sse_stop = shutdown.clone();
            let service = service_fn(move |mut req: Request<Incoming>| {
                let ingress = ingress.clone();
                let sse_stop = sse_stop.clone();
                if let Some(identity) = client_cert {
                    req.extensions_mut().insert(identity);
                }
                async move {
                    // `GET /v1/topics/{topic}/events` streams (sse.rs); the rest answers at once
                    let response = match crate::sse::topic_of(req.uri().path()) {
                        Some(_) => crate::sse::respond(&ingress, req, sse_stop).await,
                        None => handle(&ingress, req, peer)
                            .await
                            .map(http_body_util::Either::Left),
                    };
                    Ok::<_, std::convert::Infallible>(response)
                }
            });
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .max_buf_size(limits.max_header_bytes.max(8192));
            let conn = builder.serve_connection(TokioIo::new(io), service);
            tokio::pin!(conn);
            tokio::select! {
                r = conn.as_mut() => if let Err(e) = r {
                    if e.is_timeout() {
                        metrics::counter!("weft_http_header_timeouts_total").increment(1);
                    }
                    tracing::debug!(error = %e, "HTTP connection ended with an error");
                },
                _ = shutdown.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    tokio::select! {
                        _ = conn.as_mut() => {}
                        _ = force.cancelled() => {}
                    }
                }
            }
        });
    }
    drop(listener);
    tracker.close();
    if tokio::time::timeout(limits.shutdown_timeout, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            connections = tracker.len(),
            timeout_ms = limits.shutdown_timeout.as_millis() as u64,
            "closing HTTP connections still open at the shutdown deadline (hub.shutdown_timeout_ms)"
        );
        force.cancel();
        tracker.wait().await;
    }
    Ok(())
}

async fn handle(ingress: &Ingress, req: Request<Incoming>, _peer: SocketAddr) -> Response<Body> {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    match (method, path.as_str()) {
        (Method::GET, "/healthz") => text(StatusCode::OK, "text/plain", "ok\n"),
        (Method::GET, "/readyz") => {
            if ingress.ready.load(Ordering::Relaxed) {
                text(StatusCode::OK, "text/plain", "ready\n")
            } else {
                text(StatusCode::SERVICE_UNAVAILABLE, "text/plain", "not ready\n")
            }
        }
        (Method::GET, "/metrics") => match ingress.auth.check_request(&req, Scope::Metrics) {
            Ok(_) => text(
                StatusCode::OK,
                "text/plain; version=0.0.4; charset=utf-8",
                (ingress.metrics)(),
            ),
            Err(e) => e.response(),
        },
        (Method::POST, p) if p.starts_with("/v1/events/") => {
            let topic = p["/v1/events/".len()..].to_string();
            let response = match ingress.auth.check_request(&req, Scope::Publish(&topic)) {
                Ok(_) => post_events(ingress, &topic, req).await,
                Err(e) => e.response(),
            };
            metrics::counter!("weft_http_requests_total", "status" => response.status().as_u16().to_string())
                .increment(1);
            response
        }
        (_, p) if crate::subscription_api::subscription_path(p).is_some() => {
            let id = crate::subscription_api::subscription_path(p)
                .flatten()
                .map(str::to_string);
            let response = match ingress.subscriptions.clone() {
                None => problem(
                    StatusCode::NOT_FOUND,
                    "not found",
                    "subscriptions are not served by this hub ([subscriptions] enabled = false)",
                    None,
                ),
                Some(api) => match read_body(ingress, req).await {
                    Ok((parts, body)) => {
                        api.handle(&parts, id.as_deref(), body, &ingress.auth).await
                    }
                    Err(response) => response,
                },
            };
            metrics::counter!("weft_http_requests_total", "status" => response.status().as_u16().to_string())
                .increment(1);
            response
        }
        (_, p) if p.starts_with("/v1/events/") => {
            let mut r = problem(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed",
                "use POST to publish events",
                None,
            );
            r.headers_mut()
                .insert(header::ALLOW, http::HeaderValue::from_static("POST"));
            r
        }
        _ => problem(
            StatusCode::NOT_FOUND,
            "not found",
            format!("no endpoint at {path}"),
            None,
        ),
    }
}

async fn post_events(ingress: &Ingress, topic: &str, req: Request<Incoming>) -> Response<Body> {
    if let Err(e) = ingress.store.check_topic(topic) {
        return problem(
            StatusCode::BAD_REQUEST,
            "invalid topic",
            e.to_string(),
            None,
        );
    }
    if !ingress.topics.is_empty() && !ingress.topics.contains(topic) {
        return problem(
            StatusCode::NOT_FOUND,
            "unknown topic",
            format!("no route reads topic `{topic}`"),
            None,
        );
    }
    let (parts, bytes) = match read_body(ingress, req).await {
        Ok(read) => read,
        Err(response) => return response,
    };
    let events = match decode(&parts.headers, bytes) {
        Ok(events) => events,
        Err(r) => return *r,
    };
    if events.is_empty() {
        return problem(
            StatusCode::BAD_REQUEST,
            "empty batch",
            "the batch holds no events",
            None,
        );
    }
    if events.len() > ingress.limits.max_batch_events {
        return problem(
            StatusCode::PAYLOAD_TOO_LARGE,
            "batch too large",
            format!(
                "the batch holds {} events; the limit is {} (hub.max_batch_events)",
                events.len(),
                ingress.limits.max_batch_events
            ),
            None,
        );
    }
    match ingress.store.append(topic, &events).await {
        Ok(offsets) => {
            metrics::counter!("weft_http_events_accepted_total", "topic" => topic.to_string())
                .increment(events.len() as u64);
            let body =
                serde_json::json!({"accepted": events.len(), "topic": topic, "offsets": offsets});
            text(StatusCode::ACCEPTED, "application/json", body.to_string())
        }
        Err(StoreError::InvalidTopic(e)) => {
            problem(StatusCode::BAD_REQUEST, "invalid topic", e, None)
        }
        Err(full @ StoreError::Full { .. }) => {
            let retry_after = match &full {
                StoreError::Full {
                    retry_after_secs, ..
                } => *retry_after_secs,
                _ => 1,
            };
            let mut response = problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "topic full",
                full.to_string(),
                None,
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, http::HeaderValue::from(retry_after));
            response
        }
        Err(e) => {
            tracing::error!(topic, error = %e, "storing accepted events failed");
            problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage unavailable",
                e.to_string(),
                None,
            )
        }
    }
}

/// Reads a request body: at most `hub.max_body_bytes`, within `hub.body_timeout_ms`.
async fn read_body(
    ingress: &Ingress,
    req: Request<Incoming>,
) -> Result<(http::request::Parts, Bytes), Response<Body>> {
    let limit = ingress.max_body_bytes;
    if let Some(len) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        && len > limit
    {
        return Err(too_large(len, limit));
    }
    let (parts, body) = req.into_parts();
    let collected = tokio::time::timeout(
        ingress.limits.body_timeout,
        Limited::new(body, limit).collect(),
    )
    .await;
    let bytes = match collected {
        Err(_) => {
            return Err(problem(
                StatusCode::REQUEST_TIMEOUT,
                "request timeout",
                format!(
                    "the request body did not arrive within {} ms (hub.body_timeout_ms)",
                    ingress.limits.body_timeout.as_millis()
                ),
                None,
            ));
        }
        Ok(Ok(b)) => b.to_bytes(),
        Ok(Err(e)) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                return Err(too_large(limit + 1, limit));
            }
            return Err(problem(
                StatusCode::BAD_REQUEST,
                "unreadable body",
                e.to_string(),
                None,
            ));
        }
    };
    Ok((parts, bytes))
}

fn too_large(size: usize, limit: usize) -> Response<Body> {
    problem(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload too large",
        format!(
            "request body of {size} bytes exceeds the limit of {limit} bytes (hub.max_body_bytes)"
        ),
        None,
    )
}

fn invalid(e: &EventError, index: Option<usize>) -> Box<Response<Body>> {
    let detail = match index {
        Some(i) => format!("event at index {i}: {e}"),
        None => e.to_string(),
    };
    Box::new(problem(
        StatusCode::BAD_REQUEST,
        "invalid CloudEvent",
        detail,
        index.map(|i| ("index", serde_json::json!(i))),
    ))
}

/// Decodes a request into events by content mode.
fn decode(headers: &HeaderMap, body: Bytes) -> Result<Vec<Event>, Box<Response<Body>>> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let essence = content_type.as_deref().map(|c| {
        c.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    });
    match essence.as_deref() {
        Some("application/cloudevents+json") => Event::from_json_slice(&body)
            .map(|e| vec![e])
            .map_err(|e| invalid(&e, None)),
        Some("application/cloudevents-batch+json") => {
            json::parse_batch(&body).map_err(|(i, e)| invalid(&e, i))
        }
        Some(ct) if ct.starts_with("application/cloudevents") => Err(Box::new(problem(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported event format",
            format!(
                "`{ct}`: weft reads the JSON event format (application/cloudevents+json, application/cloudevents-batch+json)"
            ),
            None,
        ))),
        _ => {
            if !headers.contains_key("ce-specversion") {
                return Err(Box::new(problem(
                    StatusCode::BAD_REQUEST,
                    "invalid CloudEvent",
                    "not a CloudEvent: binary mode needs ce-specversion, ce-id, ce-source and ce-type headers; structured mode needs content-type application/cloudevents+json",
                    None,
                )));
            }
            let mut attrs = Vec::new();
            for (name, value) in headers {
                if let Some(attr) = name.as_str().strip_prefix("ce-") {
                    let value = value.to_str().map_err(|_| {
                        invalid(
                            &EventError::AttributeValue {
                                name: attr.to_string(),
                                reason: "header value is not ASCII (percent-encode it)".into(),
                            },
                            None,
                        )
                    })?;
                    attrs.push((attr.to_string(), binary::percent_decode(value)));
                }
            }
            binary::from_attributes(
                attrs.iter().map(|(k, v)| (k.as_str(), v.clone())),
                content_type,
                body.to_vec(),
            )
            .map(|mut e| {
                // the W3C `traceparent` header carries the trace when `ce-traceparent` does not
                let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
                weft_event::trace::adopt_trace_context(
                    &mut e,
                    header("traceparent"),
                    header("tracestate"),
                );
                vec![e]
            })
            .map_err(|e| invalid(&e, None))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_response_content_length_matches_its_body() {
        let text = std::str::from_utf8(BUSY_RESPONSE).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let declared: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(declared, body.len());
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["status"], 503);
    }
}
