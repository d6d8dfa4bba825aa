//! OpenTelemetry traces: the OTLP exporter, the `tracing` layer that turns weft's spans into
//! OpenTelemetry spans, and the span helpers the router and the plugin runtime call.
//!
//! Off by default. On when an OTLP endpoint is configured (`OTEL_EXPORTER_OTLP_ENDPOINT`,
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `endpoint` in `[telemetry]`), or when
//! `OTEL_TRACES_EXPORTER=otlp` / `traces = true` asks for it (then the OTLP default
//! endpoint). `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none` turn it off.
//! The other standard variables are honoured by the SDK: `OTEL_SERVICE_NAME`,
//! `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER(_ARG)`, `OTEL_EXPORTER_OTLP_HEADERS`,
//! `OTEL_EXPORTER_OTLP_TIMEOUT`, `OTEL_BSP_*`.
//!
//! Spans (OpenTelemetry messaging semantic conventions):
//! - `process {source}` (consumer) per delivery, child of the event's `traceparent`;
//! - `plugin {name}` (internal) per plugin call, with `weft.plugin.*` attributes;
//! - `send {sink}` (producer) per sink delivery, whose context goes out as the event's
//!   `traceparent` so the next hop continues the trace;
//! - `send {dead-letter sink}` (producer, `weft.dead_letter = true` and the reason) per
//!   dead-letter write.
//!
//! When tracing is off, [`enabled`] is `false` and the hooks create no span at all: the
//! cost on the event path is one relaxed atomic load per hook.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState, TracerProvider as _,
};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// The `tracing` target of weft's trace spans; only spans of this target are exported.
pub const TARGET: &str = "weft::trace";

pub(crate) static ENABLED: AtomicBool = AtomicBool::new(false);
static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// Whether traces are being recorded and exported (the hooks check this first).
#[inline]
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// OTLP wire protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `http/protobuf` (port 4318, the default).
    HttpProtobuf,
    /// `grpc` (port 4317).
    Grpc,
}

impl Protocol {
    /// Parses `http/protobuf` or `grpc` (the values of `OTEL_EXPORTER_OTLP_PROTOCOL`).
    pub fn parse(value: &str) -> Result<Protocol, String> {
        match value.trim() {
            "http/protobuf" | "http" => Ok(Protocol::HttpProtobuf),
            "grpc" => Ok(Protocol::Grpc),
            other => Err(format!(
                "unsupported OTLP protocol `{other}` (weft exports `http/protobuf` or `grpc`)"
            )),
        }
    }
}

/// Trace settings from the `[telemetry]` table. Every field is optional; the standard
/// `OTEL_*` variables override them (a deployment can redirect traces without editing the
/// file).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OtelSettings {
    /// `traces`: force tracing on (`true`) or off (`false`); unset: on when an endpoint is
    /// configured.
    pub traces: Option<bool>,
    /// `endpoint`: the OTLP base URL, like `OTEL_EXPORTER_OTLP_ENDPOINT`
    /// (`http://collector:4318`; `/v1/traces` is appended for HTTP).
    pub endpoint: Option<String>,
    /// `protocol`: `http/protobuf` (default) or `grpc`.
    pub protocol: Option<String>,
    /// `service_name` (default `weft`).
    pub service_name: Option<String>,
    /// `sample_ratio`: the share of new traces recorded (0.0–1.0); a continued trace
    /// follows its parent's decision. Default 1.0.
    pub sample_ratio: Option<f64>,
}

/// The resolved configuration: what [`install`] sets up.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// Full URL of the trace export (HTTP: ends with `/v1/traces`).
    pub endpoint: String,
    /// Wire protocol.
    pub protocol: Protocol,
    /// `service.name` resource attribute.
    pub service_name: String,
    /// Ratio sampler for root traces when neither `OTEL_TRACES_SAMPLER` nor the config
    /// chose one (`None`: the SDK's default, parent-based always-on, or the variable).
    pub sample_ratio: Option<f64>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

impl OtelSettings {
    /// Resolves the settings with the process environment: `Ok(None)` when tracing is off.
    pub fn resolve(&self) -> Result<Option<Resolved>, String> {
        self.resolve_with(env)
    }

    /// [`OtelSettings::resolve`] with another variable lookup (tests).
    pub fn resolve_with(
        &self,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Resolved>, String> {
        if var("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            return Ok(None);
        }
        let exporter = var("OTEL_TRACES_EXPORTER").map(|v| v.to_ascii_lowercase());
        match exporter.as_deref() {
            Some("none") => return Ok(None),
            None | Some("otlp") => {}
            Some(other) => {
                return Err(format!(
                    "OTEL_TRACES_EXPORTER=`{other}` is not supported (weft exports `otlp` or `none`)"
                ));
            }
        }
        let protocol_text = var("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
            .or_else(|| var("OTEL_EXPORTER_OTLP_PROTOCOL"))
            .or_else(|| self.protocol.clone());
        let protocol = match protocol_text {
            Some(p) => Protocol::parse(&p)?,
            None => Protocol::HttpProtobuf,
        };
        let signal_endpoint = var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
        let base_endpoint = var("OTEL_EXPORTER_OTLP_ENDPOINT").or_else(|| {
            self.endpoint
                .clone()
                .map(|e| e.trim().to_string())
                .filter(|e| !e.is_empty())
        });
        let configured = signal_endpoint.is_some() || base_endpoint.is_some();
        let on = match (exporter.as_deref(), self.traces) {
            (Some("otlp"), _) => true,
            (_, Some(forced)) => forced,
            _ => configured,
        };
        if !on {
            return Ok(None);
        }
        let endpoint = match (signal_endpoint, base_endpoint, protocol) {
            // the per-signal variable is the full URL, used as is
            (Some(url), _, _) => url,
            (None, Some(base), Protocol::HttpProtobuf) => {
                format!("{}/v1/traces", base.trim_end_matches('/'))
            }
            (None, Some(base), Protocol::Grpc) => base,
            (None, None, Protocol::HttpProtobuf) => "http://localhost:4318/v1/traces".into(),
            (None, None, Protocol::Grpc) => "http://localhost:4317".into(),
        };
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
            return Err(format!(
                "OTLP endpoint `{endpoint}` must start with http:// or https://"
            ));
        }
        let service_name = var("OTEL_SERVICE_NAME")
            .or_else(|| self.service_name.clone())
            .unwrap_or_else(|| "weft".into());
        let sample_ratio = match self.sample_ratio {
            Some(r) if !(0.0..=1.0).contains(&r) => {
                return Err(format!("telemetry.sample_ratio = {r} is outside 0.0–1.0"));
            }
            Some(r) if var("OTEL_TRACES_SAMPLER").is_none() => Some(r),
            _ => None,
        };
        Ok(Some(Resolved {
            endpoint,
            protocol,
            service_name,
            sample_ratio,
        }))
    }
}

/// Flushes and stops the exporter when dropped (or by [`OtelGuard::shutdown`]). Drop it
/// outside async code, or with `spawn_blocking`: the flush waits for the last export.
pub struct OtelGuard {
    provider: SdkTracerProvider,
}

impl OtelGuard {
    /// Exports what is buffered and stops the exporter.
    pub fn shutdown(self) {}
}

impl Drop for OtelGuard {
    fn drop(&mut self) {
        ENABLED.store(false, Ordering::Relaxed);
        let _ = self.provider.force_flush();
        let _ = self.provider.shutdown();
    }
}

/// The OpenTelemetry `tracing` layer [`install`] returns.
pub type BoxedLayer<S> = Box<dyn tracing_subscriber::Layer<S> + Send + Sync>;

/// Builds the exporter and the tracer provider for `resolved`. Must run inside a Tokio
/// runtime (the exporters send from it). Returns the `tracing` layer to add to the
/// subscriber and the guard that flushes at exit; tracing is [`enabled`] from here on.
pub fn install<S>(resolved: &Resolved) -> Result<(BoxedLayer<S>, OtelGuard), String>
where
    S: tracing::Subscriber
        + for<'a> tracing_subscriber::registry::LookupSpan<'a>
        + Send
        + Sync
        + 'static,
{
    use opentelemetry_otlp::{WithExportConfig as _, WithHttpConfig as _};
    use tracing_subscriber::Layer as _;
    let handle = tokio::runtime::Handle::try_current()
        .map_err(|_| "traces: the OTLP exporter needs a Tokio runtime".to_string())?;
    let exporter = match resolved.protocol {
        Protocol::HttpProtobuf => opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_endpoint(resolved.endpoint.clone())
            .with_http_client(HyperClient::new(handle))
            .build(),
        Protocol::Grpc => {
            let _entered = handle.enter();
            opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(resolved.endpoint.clone())
                .build()
        }
    }
    .map_err(|e| {
        format!(
            "traces: cannot build the OTLP exporter for `{}`: {e}",
            resolved.endpoint
        )
    })?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(resolved.service_name.clone())
        .build();
    let mut builder = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource);
    if let Some(ratio) = resolved.sample_ratio {
        builder = builder.with_sampler(opentelemetry_sdk::trace::Sampler::ParentBased(Box::new(
            opentelemetry_sdk::trace::Sampler::TraceIdRatioBased(ratio),
        )));
    }
    let provider = builder.build();
    let tracer = provider.tracer("weft");
    let _ = PROVIDER.set(provider.clone());
    let layer = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_location(false)
        .with_threads(false)
        .with_target(false)
        .with_filter(
            tracing_subscriber::filter::Targets::new().with_target(TARGET, tracing::Level::TRACE),
        );
    ENABLED.store(true, Ordering::Relaxed);
    Ok((Box::new(layer), OtelGuard { provider }))
}

/// The OTLP/HTTP client: hyper with rustls (http and https), run on the Tokio runtime
/// (the SDK's batch exporter thread has none).
#[derive(Debug, Clone)]
struct HyperClient {
    handle: tokio::runtime::Handle,
    client: hyper_util::client::legacy::Client<
        hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
        http_body_util::Full<bytes::Bytes>,
    >,
}

/// How long one export may take (request and response).
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

impl HyperClient {
    fn new(handle: tokio::runtime::Handle) -> HyperClient {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .build();
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build(https);
        HyperClient { handle, client }
    }
}

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for HyperClient {
    async fn send_bytes(
        &self,
        request: http::Request<bytes::Bytes>,
    ) -> Result<http::Response<bytes::Bytes>, opentelemetry_http::HttpError> {
        use http_body_util::BodyExt as _;
        let client = self.client.clone();
        let task = self.handle.spawn(async move {
            let request = request.map(http_body_util::Full::new);
            let response = tokio::time::timeout(EXPORT_TIMEOUT, async {
                let response = client.request(request).await?;
                let (parts, body) = response.into_parts();
                let body = http_body_util::Limited::new(body, 4 * 1024 * 1024)
                    .collect()
                    .await?
                    .to_bytes();
                Ok::<_, opentelemetry_http::HttpError>(http::Response::from_parts(parts, body))
            })
            .await
            .map_err(|_| format!("OTLP export timed out after {EXPORT_TIMEOUT:?}"))??;
            Ok::<_, opentelemetry_http::HttpError>(response)
        });
        task.await?
    }
}

/// The `traceparent` of an OpenTelemetry span context (`None` when it is not valid).
pub fn format_traceparent(cx: &SpanContext) -> Option<String> {
    cx.is_valid().then(|| {
        format!(
            "00-{}-{}-{:02x}",
            cx.trace_id(),
            cx.span_id(),
            cx.trace_flags().to_u8()
        )
    })
}

/// Parses a W3C `traceparent` (and optional `tracestate`) into a remote span context.
pub fn parse_traceparent(traceparent: &str, tracestate: Option<&str>) -> Option<SpanContext> {
    if !weft_event::trace::is_valid_traceparent(traceparent) {
        return None;
    }
    let mut parts = traceparent.split('-');
    let _version = parts.next()?;
    let trace_id = TraceId::from_hex(parts.next()?).ok()?;
    let span_id = SpanId::from_hex(parts.next()?).ok()?;
    let flags = u8::from_str_radix(parts.next()?, 16).ok()?;
    let state = tracestate
        .and_then(|s| s.parse::<TraceState>().ok())
        .unwrap_or_default();
    Some(SpanContext::new(
        trace_id,
        span_id,
        TraceFlags::new(flags) & TraceFlags::SAMPLED,
        true,
        state,
    ))
}

/// The `traceparent` of a `tracing` span (`None` when tracing is off or the span is
/// disabled).
pub fn traceparent_of(span: &tracing::Span) -> Option<String> {
    if span.is_disabled() {
        return None;
    }
    format_traceparent(span.context().span().span_context())
}

/// The `traceparent` of the span the caller runs in (e.g. a plugin call, for the plugin's
/// outgoing HTTP requests). `None` when tracing is off.
pub fn current_traceparent() -> Option<String> {
    if !enabled() {
        return None;
    }
    opentelemetry::Context::map_current(|cx| format_traceparent(cx.span().span_context()))
}

/// The trace and span id of the current span, for log lines (`None` when tracing is off or
/// outside any span).
pub fn current_ids() -> Option<(String, String)> {
    if !enabled() {
        return None;
    }
    opentelemetry::Context::map_current(|cx| {
        let sc = cx.span().span_context().clone();
        sc.is_valid()
            .then(|| (sc.trace_id().to_string(), sc.span_id().to_string()))
    })
}

fn set_remote_parent(span: &tracing::Span, event: &weft_event::Event) {
    if let Some(parent) = weft_event::trace::trace_context(event)
        .and_then(|tp| parse_traceparent(tp, weft_event::trace::trace_state(event)))
    {
        let _ = span.set_parent(opentelemetry::Context::new().with_remote_span_context(parent));
    }
}

/// `messaging.system` for a delivery, from its origin (`amqp:…`, `redis:…`, `http:…`).
fn messaging_system(origin: &str) -> &str {
    match origin.split(':').next().unwrap_or_default() {
        "amqp" => "rabbitmq",
        "redis" => "redis",
        "" => "weft",
        other => other,
    }
}

/// The consumer span of one delivery from `source` (`process {source}`), child of the
/// event's `traceparent` when it has one. A disabled span when tracing is off.
pub fn consumer_span(source: &str, origin: &str, event: &weft_event::Event) -> tracing::Span {
    if !enabled() {
        return tracing::Span::none();
    }
    let span = tracing::trace_span!(
        target: TARGET,
        "process",
        otel.name = %format_args!("process {source}"),
        otel.kind = "consumer",
        otel.status_code = tracing::field::Empty,
        otel.status_description = tracing::field::Empty,
        "messaging.system" = messaging_system(origin),
        "messaging.operation.type" = "process",
        "messaging.operation.name" = "process",
        "messaging.destination.name" = source,
        "messaging.message.id" = event.id.as_str(),
        "cloudevents.event_id" = event.id.as_str(),
        "cloudevents.event_source" = event.source.as_str(),
        "cloudevents.event_type" = event.ty.as_str(),
        "cloudevents.event_spec_version" = "1.0",
        "cloudevents.event_subject" = event.subject.as_deref(),
        "weft.source" = source,
    );
    set_remote_parent(&span, event);
    span
}

/// The producer span of one sink delivery (`send {sink}`), child of the current span.
pub fn producer_span(route: &str, sink: &str, event: &weft_event::Event) -> tracing::Span {
    if !enabled() {
        return tracing::Span::none();
    }
    tracing::trace_span!(
        target: TARGET,
        "send",
        otel.name = %format_args!("send {sink}"),
        otel.kind = "producer",
        otel.status_code = tracing::field::Empty,
        otel.status_description = tracing::field::Empty,
        "messaging.system" = "weft",
        "messaging.operation.type" = "send",
        "messaging.operation.name" = "send",
        "messaging.destination.name" = sink,
        "messaging.message.id" = event.id.as_str(),
        "cloudevents.event_id" = event.id.as_str(),
        "cloudevents.event_source" = event.source.as_str(),
        "cloudevents.event_type" = event.ty.as_str(),
        "weft.route" = route,
        "weft.sink" = sink,
    )
}

/// The producer span of one dead-letter write (`send {sink}`, with `weft.dead_letter.*`
/// attributes saying why): a child of the current span (the delivery's consumer span), or,
/// with `parent_from_event` (a source dead-lettering a malformed or poison message outside
/// any delivery span), of the event's own `traceparent`. A disabled span when tracing is
/// off.
pub fn dead_letter_span(
    route: &str,
    sink: &str,
    record: &weft_event::Event,
    reason: &str,
    at: &str,
    parent_from_event: bool,
) -> tracing::Span {
    if !enabled() {
        return tracing::Span::none();
    }
    let span = tracing::trace_span!(
        target: TARGET,
        "send",
        otel.name = %format_args!("send {sink}"),
        otel.kind = "producer",
        otel.status_code = tracing::field::Empty,
        otel.status_description = tracing::field::Empty,
        "messaging.system" = "weft",
        "messaging.operation.type" = "send",
        "messaging.operation.name" = "send",
        "messaging.destination.name" = sink,
        "messaging.message.id" = record.id.as_str(),
        "cloudevents.event_id" = record.id.as_str(),
        "cloudevents.event_source" = record.source.as_str(),
        "cloudevents.event_type" = record.ty.as_str(),
        "weft.route" = route,
        "weft.sink" = sink,
        "weft.dead_letter" = true,
        "weft.dead_letter.reason" = reason,
        "weft.dead_letter.at" = at,
    );
    if parent_from_event {
        set_remote_parent(&span, record);
    }
    span
}

/// The span of one plugin call (`plugin {name}`), child of the current span; the caller
/// records the outcome with [`record_plugin_outcome`].
pub fn plugin_span(plugin: &str, mode: &str) -> tracing::Span {
    if !enabled() {
        return tracing::Span::none();
    }
    tracing::trace_span!(
        target: TARGET,
        "plugin",
        otel.name = %format_args!("plugin {plugin}"),
        otel.kind = "internal",
        otel.status_code = tracing::field::Empty,
        otel.status_description = tracing::field::Empty,
        "weft.plugin.name" = plugin,
        "weft.plugin.mode" = mode,
        "weft.plugin.outcome" = tracing::field::Empty,
        "weft.plugin.outputs" = tracing::field::Empty,
        "weft.plugin.duration_ms" = tracing::field::Empty,
    )
}

/// Records a plugin call's outcome (`ok`, or the error kind), output count and duration.
pub fn record_plugin_outcome(
    span: &tracing::Span,
    outcome: &str,
    outputs: usize,
    duration: Duration,
    error: Option<&str>,
) {
    span.record("weft.plugin.outcome", outcome);
    span.record("weft.plugin.outputs", outputs as u64);
    span.record("weft.plugin.duration_ms", duration.as_secs_f64() * 1000.0);
    if let Some(error) = error {
        record_error(span, error);
    }
}

/// Marks a span failed with `message` (status `ERROR`).
pub fn record_error(span: &tracing::Span, message: &str) {
    span.record("otel.status_code", "ERROR");
    span.record("otel.status_description", message);
}

/// Flushes buffered spans now (tests, and before a planned exit).
pub fn force_flush() {
    if let Some(p) = PROVIDER.get() {
        let _ = p.force_flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn off_by_default_and_on_with_an_endpoint() {
        let none = OtelSettings::default();
        assert_eq!(none.resolve_with(vars(&[])), Ok(None));
        let on = none
            .resolve_with(vars(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318/")]))
            .unwrap()
            .unwrap();
        assert_eq!(on.endpoint, "http://c:4318/v1/traces");
        assert_eq!(on.protocol, Protocol::HttpProtobuf);
        assert_eq!(on.service_name, "weft");
        let grpc = none
            .resolve_with(vars(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
                ("OTEL_SERVICE_NAME", "hub-a"),
            ]))
            .unwrap()
            .unwrap();
        assert_eq!(
            (
                grpc.endpoint.as_str(),
                grpc.protocol,
                grpc.service_name.as_str()
            ),
            ("http://c:4317", Protocol::Grpc, "hub-a")
        );
        assert_eq!(
            none.resolve_with(vars(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
                ("OTEL_SDK_DISABLED", "true"),
            ])),
            Ok(None)
        );
    }

    #[test]
    fn the_config_table_and_variables_combine() {
        let table = OtelSettings {
            endpoint: Some("http://collector:4318".into()),
            service_name: Some("edge".into()),
            sample_ratio: Some(0.25),
            ..OtelSettings::default()
        };
        let r = table.resolve_with(vars(&[])).unwrap().unwrap();
        assert_eq!(r.endpoint, "http://collector:4318/v1/traces");
        assert_eq!(r.sample_ratio, Some(0.25));
        let r = table
            .resolve_with(vars(&[
                ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://other/x"),
                ("OTEL_TRACES_SAMPLER", "always_on"),
            ]))
            .unwrap()
            .unwrap();
        assert_eq!(
            (r.endpoint.as_str(), r.sample_ratio),
            ("http://other/x", None)
        );
        let off = OtelSettings {
            traces: Some(false),
            ..table.clone()
        };
        assert_eq!(off.resolve_with(vars(&[])), Ok(None));
        let bad = OtelSettings {
            protocol: Some("http/json".into()),
            ..table
        };
        assert!(
            bad.resolve_with(vars(&[]))
                .unwrap_err()
                .contains("http/json")
        );
    }

    #[test]
    fn traceparents_round_trip() {
        let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let cx = parse_traceparent(tp, Some("k=v")).unwrap();
        assert!(cx.is_remote() && cx.is_sampled());
        assert_eq!(cx.trace_state().get("k"), Some("v"));
        assert_eq!(format_traceparent(&cx).as_deref(), Some(tp));
        assert!(parse_traceparent("00-xyz", None).is_none());
    }
}
