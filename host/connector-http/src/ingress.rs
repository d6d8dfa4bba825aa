//! HTTP ingress: `POST /v1/events/{topic}` in the CloudEvents HTTP binding's structured,
//! batch and binary modes, plus `/healthz`, `/readyz` and `/metrics`.
//!
//! `202 Accepted` is returned only after the events are durably in the embedded log.
//! Problems get `400` (or `413`, `404`, `415`) with an `application/problem+json` body
//! (RFC 9457) whose `detail` names what is wrong; nothing of a rejected request is stored.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
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
}

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

/// Serves the ingress on `listener` until `shutdown`; in-flight requests finish first.
pub async fn serve(
    listener: TcpListener,
    ingress: Ingress,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let tracker = tokio_util::task::TaskTracker::new();
    loop {
        let (stream, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "accepting an HTTP connection failed");
                    continue;
                }
            },
        };
        let ingress = ingress.clone();
        let shutdown = shutdown.clone();
        tracker.spawn(async move {
            let service = service_fn(move |req| {
                let ingress = ingress.clone();
                async move { Ok::<_, std::convert::Infallible>(handle(&ingress, req, peer).await) }
            });
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                r = conn.as_mut() => if let Err(e) = r {
                    tracing::debug!(error = %e, "HTTP connection ended with an error");
                },
                _ = shutdown.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
    tracker.close();
    tracker.wait().await;
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
        (Method::GET, "/metrics") => text(
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            (ingress.metrics)(),
        ),
        (Method::POST, p) if p.starts_with("/v1/events/") => {
            let topic = p["/v1/events/".len()..].to_string();
            let response = post_events(ingress, &topic, req).await;
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
            format!("no route reads topic `{topic}`; configured topics: {}", {
                let mut t: Vec<_> = ingress.topics.iter().cloned().collect();
                t.sort();
                t.join(", ")
            }),
            None,
        );
    }
    let limit = ingress.max_body_bytes;
    if let Some(len) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        && len > limit
    {
        return too_large(len, limit);
    }
    let (parts, body) = req.into_parts();
    let bytes = match Limited::new(body, limit).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                return too_large(limit + 1, limit);
            }
            return problem(
                StatusCode::BAD_REQUEST,
                "unreadable body",
                e.to_string(),
                None,
            );
        }
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
            metrics::counter!("weft_http_topic_full_total", "topic" => topic.to_string())
                .increment(1);
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
