//! OpenTelemetry traces end to end: an event posted with a known `traceparent` travels
//! HTTP → plugin (which makes an outgoing HTTP call) → AMQP → a second weft → webhook. Both
//! hubs export over OTLP/HTTP to a receiver inside this test (hyper, decoding the protobuf
//! export with `opentelemetry-proto`). Every span must be in the posted trace with the
//! right parent, and the plugin's HTTP call and the webhook must receive a `traceparent` of
//! that trace.
//!
//! Also: the same over OTLP/gRPC (a tonic `TraceService` server inside the test), and the
//! producer span of a dead-letter write.
//!
//! The first test needs RabbitMQ on 127.0.0.1:5672 (guest/guest); it fails without it
//! unless `WEFT_SKIP_BROKERS=1`. It declares a uniquely named queue and deletes it.

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message as _;
use serde_json::json;
use support::{Hub, poll};

const AMQP_URI: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID: &str = "00f067aa0ba902b7";

/// One exported span, flattened.
#[derive(Debug, Clone)]
struct Span {
    service: String,
    trace_id: String,
    span_id: String,
    parent_span_id: String,
    name: String,
    kind: SpanKind,
    attributes: BTreeMap<String, String>,
    error: bool,
}

type Spans = Arc<Mutex<Vec<Span>>>;

fn any_to_string(v: &Option<AnyValue>) -> String {
    match v {
        Some(AnyValue::StringValue(s)) => s.clone(),
        Some(AnyValue::IntValue(i)) => i.to_string(),
        Some(AnyValue::DoubleValue(d)) => d.to_string(),
        Some(AnyValue::BoolValue(b)) => b.to_string(),
        other => format!("{other:?}"),
    }
}

/// Decodes one OTLP/HTTP protobuf export into spans.
fn decode_export(body: &[u8]) -> Result<Vec<Span>, String> {
    let request = ExportTraceServiceRequest::decode(body).map_err(|e| e.to_string())?;
    Ok(flatten(request))
}

/// The spans of one export request.
fn flatten(request: ExportTraceServiceRequest) -> Vec<Span> {
    let mut out = Vec::new();
    for rs in request.resource_spans {
        let service = rs
            .resource
            .iter()
            .flat_map(|r| r.attributes.iter())
            .find(|kv| kv.key == "service.name")
            .map(|kv| any_to_string(&kv.value.as_ref().and_then(|v| v.value.clone())))
            .unwrap_or_default();
        for ss in rs.scope_spans {
            for s in ss.spans {
                out.push(Span {
                    service: service.clone(),
                    trace_id: hex::encode(&s.trace_id),
                    span_id: hex::encode(&s.span_id),
                    parent_span_id: hex::encode(&s.parent_span_id),
                    name: s.name.clone(),
                    kind: SpanKind::try_from(s.kind).unwrap_or(SpanKind::Unspecified),
                    attributes: s
                        .attributes
                        .iter()
                        .map(|kv| {
                            (
                                kv.key.clone(),
                                any_to_string(&kv.value.as_ref().and_then(|v| v.value.clone())),
                            )
                        })
                        .collect(),
                    error: s.status.as_ref().is_some_and(|st| st.code == 2),
                });
            }
        }
    }
    out
}

/// The OTLP/gRPC collector: opentelemetry-proto's generated `TraceService` server (tonic),
/// served over HTTP/2 by hyper in its own runtime thread.
struct GrpcCollector(Spans);

#[tonic::async_trait]
impl TraceService for GrpcCollector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.0.lock().unwrap().extend(flatten(request.into_inner()));
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

fn start_grpc_receiver() -> (SocketAddr, Spans) {
    let spans: Spans = Arc::default();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let service = TraceServiceServer::new(GrpcCollector(spans.clone()));
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let service = hyper_util::service::TowerToHyperService::new(service.clone());
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http2::Builder::new(
                        hyper_util::rt::TokioExecutor::new(),
                    )
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
                });
            }
        });
    });
    (addr, spans)
}

/// The OTLP/HTTP receiver: `POST /v1/traces` with a protobuf body, on a hyper server in
/// its own runtime thread.
fn start_otlp_receiver() -> (SocketAddr, Spans) {
    use http_body_util::BodyExt as _;
    let spans: Spans = Arc::default();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let store = spans.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let store = store.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(
                        move |req: hyper::Request<hyper::body::Incoming>| {
                            let store = store.clone();
                            async move {
                                let path = req.uri().path().to_string();
                                let body = req.into_body().collect().await?.to_bytes();
                                let status = match (path.as_str(), decode_export(&body)) {
                                    ("/v1/traces", Ok(decoded)) => {
                                        store.lock().unwrap().extend(decoded);
                                        200
                                    }
                                    (_, Err(e)) => {
                                        eprintln!("OTLP receiver: undecodable export: {e}");
                                        400
                                    }
                                    _ => 404,
                                };
                                Ok::<_, hyper::Error>(
                                    hyper::Response::builder()
                                        .status(status)
                                        .header("content-type", "application/x-protobuf")
                                        .body(http_body_util::Full::new(bytes::Bytes::new()))
                                        .unwrap(),
                                )
                            }
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
    });
    (addr, spans)
}

/// A request the recorder received: method, path, lower-cased headers.
#[derive(Debug, Clone)]
struct Recorded {
    method: String,
    headers: BTreeMap<String, String>,
}

/// An HTTP server answering 200 `{}` to everything and recording each request (the
/// plugin's outgoing call and the webhook).
fn start_recorder() -> (SocketAddr, Arc<Mutex<Vec<Recorded>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen: Arc<Mutex<Vec<Recorded>>> = Arc::default();
    let store = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
                continue;
            }
            let mut headers = BTreeMap::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                let line = line.trim_end();
                if line.is_empty() {
                    break;
                }
                if let Some((k, v)) = line.split_once(':') {
                    headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
                }
            }
            let len: usize = headers
                .get("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0u8; len];
            let _ = reader.read_exact(&mut body);
            store.lock().unwrap().push(Recorded {
                method: request_line
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_string(),
                headers,
            });
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}",
            );
        }
    });
    (addr, seen)
}

/// Declares (and on drop deletes) a uniquely named durable queue.
struct Queue {
    rt: tokio::runtime::Runtime,
    channel: lapin::Channel,
    name: String,
}

impl Queue {
    fn declare(name: String) -> Option<Queue> {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let channel = rt.block_on(async {
            let conn = lapin::Connection::connect(AMQP_URI, lapin::ConnectionProperties::default())
                .await
                .ok()?;
            let channel = conn.create_channel().await.ok()?;
            channel
                .queue_declare(
                    name.as_str().into(),
                    lapin::options::QueueDeclareOptions {
                        durable: true,
                        ..Default::default()
                    },
                    lapin::types::FieldTable::default(),
                )
                .await
                .ok()?;
            Some(channel)
        })?;
        Some(Queue { rt, channel, name })
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        let _ = self.rt.block_on(self.channel.queue_delete(
            self.name.as_str().into(),
            lapin::options::QueueDeleteOptions::default(),
        ));
    }
}

fn addr() -> SocketAddr {
    format!("127.0.0.1:{}", support::free_port())
        .parse()
        .unwrap()
}

fn otel_env(otlp: SocketAddr, service: &str) -> Vec<(String, String)> {
    otel_env_with(otlp, service, "http/protobuf")
}

fn otel_env_with(otlp: SocketAddr, service: &str, protocol: &str) -> Vec<(String, String)> {
    vec![
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT".into(),
            format!("http://{otlp}"),
        ),
        ("OTEL_EXPORTER_OTLP_PROTOCOL".into(), protocol.into()),
        ("OTEL_SERVICE_NAME".into(), service.into()),
        ("OTEL_BSP_SCHEDULE_DELAY".into(), "100".into()),
        ("RUST_LOG".into(), "info".into()),
    ]
}

fn start(dir: &Path, addr: SocketAddr, env: &[(String, String)]) -> Hub {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Hub::start_with_env(dir, addr, &env)
}

#[test]
fn a_trace_crosses_http_plugin_amqp_a_second_weft_and_a_webhook() {
    let queue_name = format!("weft-trace-{:x}", support::rand_u64());
    let Some(queue) = Queue::declare(queue_name.clone()) else {
        if std::env::var("WEFT_SKIP_BROKERS").as_deref() == Ok("1") {
            eprintln!("skipped: RabbitMQ is not reachable at {AMQP_URI}");
            return;
        }
        panic!("RabbitMQ is not reachable at {AMQP_URI} (set WEFT_SKIP_BROKERS=1 to skip)");
    };
    let (otlp, spans) = start_otlp_receiver();
    let (recorder, requests) = start_recorder();
    let probe = support::plugin_wasm("weft-test-probe");

    // hub A: HTTP topic → probe (GETs the recorder) → AMQP queue (default exchange)
    let dir_a = tempfile::tempdir().unwrap();
    let addr_a = addr();
    std::fs::write(
        dir_a.path().join("weft.toml"),
        format!(
            r#"
[hub]
listen = "{addr_a}"
data_dir = "data"
log_format = "json"

[plugins.probe]
path = "{probe}"
allow_http = ["http://{recorder}"]

[sinks.broker]
type = "amqp"
uri = "{AMQP_URI}"
exchange = ""
routing_key = "{queue_name}"

[[routes]]
name = "to-broker"
from = ["topic:orders"]
plugins = ["probe"]
to = ["broker"]
retry = {{ attempts = 3, initial_backoff_ms = 20 }}
"#,
            probe = probe.display()
        ),
    )
    .unwrap();
    // hub B: the AMQP queue → webhook (the recorder)
    let dir_b = tempfile::tempdir().unwrap();
    let addr_b = addr();
    std::fs::write(
        dir_b.path().join("weft.toml"),
        format!(
            r#"
[hub]
listen = "{addr_b}"
data_dir = "data"

[sources.broker]
type = "amqp"
uri = "{AMQP_URI}"
queue = "{queue_name}"

[sinks.partner]
type = "webhook"
url = "http://{recorder}/hook"

[[routes]]
name = "to-partner"
from = ["broker"]
to = ["partner"]
retry = {{ attempts = 3, initial_backoff_ms = 20 }}
"#
        ),
    )
    .unwrap();
    let hub_a = start(dir_a.path(), addr_a, &otel_env(otlp, "hub-a"));
    let hub_b = start(dir_b.path(), addr_b, &otel_env(otlp, "hub-b"));

    // binary mode: the trace arrives in the W3C `traceparent` header, not as ce-traceparent
    let incoming = format!("00-{TRACE_ID}-{PARENT_ID}-01");
    let data = json!({ "url": format!("http://{recorder}/lookup") }).to_string();
    let response = support::http(
        addr_a,
        "POST",
        "/v1/events/orders",
        &[
            ("ce-specversion", "1.0"),
            ("ce-id", "order-1"),
            ("ce-source", "/erp"),
            ("ce-type", "http"),
            ("content-type", "application/json"),
            ("traceparent", incoming.as_str()),
        ],
        data.as_bytes(),
    )
    .unwrap();
    assert_eq!(response.status, 202, "{response:?}");

    // five spans: A process, A plugin, A send; B process, B send
    let collected = poll(Duration::from_secs(30), || {
        let all = spans.lock().unwrap().clone();
        let ours: Vec<Span> = all.into_iter().filter(|s| s.trace_id == TRACE_ID).collect();
        (ours.len() >= 5).then_some(ours)
    })
    .unwrap_or_else(|| {
        panic!(
            "the receiver did not get 5 spans of trace {TRACE_ID}; got {:#?}\nhub A: {}\nhub B: {}",
            spans.lock().unwrap(),
            std::fs::read_to_string(dir_a.path().join("stderr.log")).unwrap_or_default(),
            std::fs::read_to_string(dir_b.path().join("stderr.log")).unwrap_or_default(),
        )
    });
    let find = |service: &str, name: &str| -> Span {
        let matching: Vec<&Span> = collected
            .iter()
            .filter(|s| s.service == service && s.name == name)
            .collect();
        assert_eq!(
            matching.len(),
            1,
            "expected one `{name}` span from {service}: {collected:#?}"
        );
        matching[0].clone()
    };
    let a_process = find("hub-a", "process topic:orders");
    let a_plugin = find("hub-a", "plugin probe");
    let a_send = find("hub-a", "send broker");
    let b_process = find("hub-b", "process broker");
    let b_send = find("hub-b", "send partner");
    assert_eq!(collected.len(), 5, "unexpected spans: {collected:#?}");

    assert_eq!(
        a_process.parent_span_id, PARENT_ID,
        "A's consumer span continues the posted trace"
    );
    assert_eq!(a_process.kind, SpanKind::Consumer);
    assert_eq!(a_process.attributes["messaging.operation.type"], "process");
    assert_eq!(
        a_process.attributes["messaging.destination.name"],
        "topic:orders"
    );
    assert_eq!(a_process.attributes["messaging.message.id"], "order-1");
    assert_eq!(a_process.attributes["cloudevents.event_type"], "http");

    assert_eq!(a_plugin.parent_span_id, a_process.span_id);
    assert_eq!(a_plugin.attributes["weft.plugin.name"], "probe");
    assert_eq!(a_plugin.attributes["weft.plugin.mode"], "isolated");
    assert_eq!(a_plugin.attributes["weft.plugin.outcome"], "ok");
    assert_eq!(a_plugin.attributes["weft.plugin.outputs"], "1");
    assert!(a_plugin.attributes.contains_key("weft.plugin.duration_ms"));

    assert_eq!(a_send.parent_span_id, a_process.span_id);
    assert_eq!(a_send.kind, SpanKind::Producer);
    assert_eq!(a_send.attributes["messaging.operation.type"], "send");
    assert_eq!(a_send.attributes["messaging.destination.name"], "broker");

    assert_eq!(
        b_process.parent_span_id, a_send.span_id,
        "B continues A's producer span"
    );
    assert_eq!(b_process.kind, SpanKind::Consumer);
    assert_eq!(b_process.attributes["messaging.system"], "rabbitmq");

    assert_eq!(b_send.parent_span_id, b_process.span_id);
    assert_eq!(b_send.kind, SpanKind::Producer);
    assert!(
        collected.iter().all(|s| !s.error),
        "no span failed: {collected:#?}"
    );

    // the plugin's outgoing GET carries the plugin span's context; the webhook the producer's
    let requests = poll(Duration::from_secs(10), || {
        let r = requests.lock().unwrap().clone();
        (r.iter().any(|r| r.method == "POST")).then_some(r)
    })
    .expect("the webhook was not called");
    let get = requests
        .iter()
        .find(|r| r.method == "GET")
        .expect("the plugin's GET");
    assert_eq!(
        get.headers.get("traceparent").map(String::as_str),
        Some(format!("00-{TRACE_ID}-{}-01", a_plugin.span_id).as_str()),
        "the plugin's HTTP call carries its span's traceparent"
    );
    let hook = requests.iter().find(|r| r.method == "POST").unwrap();
    let expected = format!("00-{TRACE_ID}-{}-01", b_send.span_id);
    assert_eq!(hook.headers.get("traceparent"), Some(&expected), "{hook:?}");
    assert_eq!(
        hook.headers.get("ce-traceparent"),
        Some(&expected),
        "{hook:?}"
    );

    // JSON logs inside the delivery carry the trace: none is required of hub A here, but any
    // line that names trace_id names this trace's
    let log_a = std::fs::read_to_string(dir_a.path().join("stderr.log")).unwrap_or_default();
    for line in log_a.lines().filter(|l| l.contains("\"trace_id\"")) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["trace_id"], TRACE_ID, "{line}");
        assert!(
            v["span_id"].as_str().is_some_and(|s| s.len() == 16),
            "{line}"
        );
    }
    drop(hub_a);
    drop(hub_b);
    drop(queue);
}

/// Waits until `spans` holds at least `n` spans of the test trace; panics with the hub's log.
fn wait_for_spans(spans: &Spans, n: usize, dir: &Path) -> Vec<Span> {
    poll(Duration::from_secs(30), || {
        let ours: Vec<Span> = spans
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.trace_id == TRACE_ID)
            .cloned()
            .collect();
        (ours.len() >= n).then_some(ours)
    })
    .unwrap_or_else(|| {
        panic!(
            "the receiver did not get {n} spans of trace {TRACE_ID}; got {:#?}\nhub: {}",
            spans.lock().unwrap(),
            std::fs::read_to_string(dir.join("stderr.log")).unwrap_or_default(),
        )
    })
}

fn one<'a>(spans: &'a [Span], name: &str) -> &'a Span {
    let matching: Vec<&Span> = spans.iter().filter(|s| s.name == name).collect();
    assert_eq!(matching.len(), 1, "expected one `{name}` span: {spans:#?}");
    matching[0]
}

/// Posts `order-1` to `topic:orders` of the hub at `addr` in structured mode, continuing the
/// test trace through the event's `traceparent` extension.
fn post_traced(addr: SocketAddr) {
    let event = json!({
        "specversion": "1.0",
        "id": "order-1",
        "source": "/erp",
        "type": "order.created",
        "traceparent": format!("00-{TRACE_ID}-{PARENT_ID}-01"),
        "data": {"n": 1},
    });
    let response = support::post_event(addr, "orders", &event);
    assert_eq!(response.status, 202, "{response:?}");
}

#[test]
fn spans_are_exported_over_otlp_grpc_with_their_parent_links() {
    let (otlp, spans) = start_grpc_receiver();
    let (recorder, requests) = start_recorder();
    let dir = tempfile::tempdir().unwrap();
    let addr = addr();
    std::fs::write(
        dir.path().join("weft.toml"),
        format!(
            r#"
[hub]
listen = "{addr}"
data_dir = "data"

[plugins.pass]
path = "bundled:passthrough"

[sinks.partner]
type = "webhook"
url = "http://{recorder}/hook"

[[routes]]
name = "to-partner"
from = ["topic:orders"]
plugins = ["pass"]
to = ["partner"]
"#
        ),
    )
    .unwrap();
    let hub = start(dir.path(), addr, &otel_env_with(otlp, "hub-grpc", "grpc"));
    post_traced(addr);

    let collected = wait_for_spans(&spans, 3, dir.path());
    let process = one(&collected, "process topic:orders");
    let plugin = one(&collected, "plugin pass");
    let send = one(&collected, "send partner");
    assert_eq!(collected.len(), 3, "unexpected spans: {collected:#?}");
    assert!(
        collected.iter().all(|s| s.service == "hub-grpc"),
        "{collected:#?}"
    );
    assert_eq!(
        process.parent_span_id, PARENT_ID,
        "continues the posted trace"
    );
    assert_eq!(process.kind, SpanKind::Consumer);
    assert_eq!(plugin.parent_span_id, process.span_id);
    assert_eq!(plugin.kind, SpanKind::Internal);
    assert_eq!(plugin.attributes["weft.plugin.outcome"], "ok");
    assert_eq!(send.parent_span_id, process.span_id);
    assert_eq!(send.kind, SpanKind::Producer);
    assert_eq!(send.attributes["messaging.destination.name"], "partner");
    assert!(collected.iter().all(|s| !s.error), "{collected:#?}");

    let hook = poll(Duration::from_secs(10), || {
        requests
            .lock()
            .unwrap()
            .iter()
            .find(|r| r.method == "POST")
            .cloned()
    })
    .expect("the webhook was not called");
    assert_eq!(
        hook.headers.get("traceparent"),
        Some(&format!("00-{TRACE_ID}-{}-01", send.span_id)),
        "{hook:?}"
    );
    drop(hub);
}

#[test]
fn a_dead_letter_write_has_its_own_producer_span() {
    let (otlp, spans) = start_otlp_receiver();
    // a webhook nobody listens on: the one attempt fails, the event is dead-lettered
    let closed = addr();
    let dir = tempfile::tempdir().unwrap();
    let addr = addr();
    std::fs::write(
        dir.path().join("weft.toml"),
        format!(
            r#"
[hub]
listen = "{addr}"
data_dir = "data"

[sinks.partner]
type = "webhook"
url = "http://{closed}/hook"

[sinks.parked]
type = "topic"
topic = "parked"

[[routes]]
name = "to-partner"
from = ["topic:orders"]
to = ["partner"]
dead_letter = "parked"
retry = {{ attempts = 1 }}
"#
        ),
    )
    .unwrap();
    let hub = start(dir.path(), addr, &otel_env(otlp, "hub-dl"));
    post_traced(addr);

    let collected = wait_for_spans(&spans, 3, dir.path());
    let process = one(&collected, "process topic:orders");
    let send = one(&collected, "send partner");
    let dead_letter = one(&collected, "send parked");
    assert_eq!(collected.len(), 3, "unexpected spans: {collected:#?}");
    assert_eq!(process.parent_span_id, PARENT_ID);
    assert!(process.error, "the delivery span records the dead letter");
    assert!(send.error, "the failed webhook delivery: {send:#?}");

    assert_eq!(dead_letter.parent_span_id, process.span_id);
    assert_eq!(dead_letter.kind, SpanKind::Producer);
    let a = &dead_letter.attributes;
    assert_eq!(a["messaging.operation.type"], "send");
    assert_eq!(a["messaging.operation.name"], "send");
    assert_eq!(a["messaging.destination.name"], "parked");
    assert_eq!(a["messaging.message.id"], "order-1");
    assert_eq!(a["weft.route"], "to-partner");
    assert_eq!(a["weft.dead_letter"], "true");
    assert_eq!(a["weft.dead_letter.at"], "sink:partner");
    assert!(
        !a["weft.dead_letter.reason"].is_empty(),
        "the reason is recorded: {dead_letter:#?}"
    );
    assert!(!dead_letter.error, "the dead-letter write itself succeeded");
    drop(hub);
}
