//! `wasi:http/outgoing-handler` with the grant check: wasmtime-wasi-http hands every
//! outgoing request to [`GrantedHttp::send_request`], which refuses destinations outside the
//! plugin's `allow_http` list (`HttpRequestDenied`, seen by the plugin as an error) and sends
//! the rest with wasmtime-wasi-http's default client and connect/response timeouts (host
//! maxima: a plugin may shorten them, never lengthen them). A granted name is resolved
//! first; addresses that are loopback, private, link-local (cloud metadata), CGNAT,
//! multicast or unspecified are refused (`DestinationIpProhibited`) unless the grant names
//! that IP literally or the plugin has `allow_private = true`, and plain HTTP connects to
//! the address that was checked.
//!
//! An instance has at most `max_http_requests` requests in flight (from sending until the
//! response body is done or dropped); more are refused with `connection-limit-reached`.
//! Requests, responses and bodies live in the instance's resource table: when an event
//! ends, a warm instance that still holds any is not reused (its store, and with it every
//! pending request, is dropped; see `LoadedPlugin::invoke`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use wasmtime_wasi_http::{Error, RequestOptions, WasiHttpHooks};

use crate::grants::{HttpGrant, allowed};

/// Default time to connect / to the first response byte / between response bytes.
pub const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// The per-plugin HTTP hooks.
pub struct GrantedHttp {
    /// The plugin, for logs.
    pub plugin: Arc<str>,
    /// Allowed destinations.
    pub grants: Arc<[HttpGrant]>,
    /// Internal (loopback, private, link-local, …) addresses may be reached by name.
    pub allow_private: bool,
    /// Requests of this instance in flight.
    pub in_flight: Arc<AtomicUsize>,
    /// Most requests in flight at once (`max_http_requests`).
    pub max_in_flight: usize,
}

/// One request in flight: counted from sending until its connection ends.
struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    /// Takes a slot of `count` if fewer than `max` are taken.
    fn take(count: &Arc<AtomicUsize>, max: usize) -> Option<InFlight> {
        count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| InFlight(count.clone()))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

type SendFuture = Box<
    dyn Future<
            Output = Result<
                (
                    http::Response<wasmtime_wasi_http::WasiBody>,
                    Box<dyn Future<Output = Result<(), Error>> + Send>,
                ),
                Error,
            >,
        > + Send,
>;

impl WasiHttpHooks for GrantedHttp {
    fn send_request(
        &mut self,
        request: http::Request<wasmtime_wasi_http::WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> SendFuture {
        let _ = fut;
        let uri = request.uri();
        let scheme = uri.scheme_str().unwrap_or("https").to_string();
        let host = uri.host().unwrap_or("").to_string();
        let port = uri.port_u16();
        if !allowed(&self.grants, &scheme, &host, port) {
            tracing::warn!(
                plugin = %self.plugin,
                destination = %format!("{scheme}://{host}{}", port.map(|p| format!(":{p}")).unwrap_or_default()),
                "outbound HTTP refused: destination not in the plugin's allow_http grant"
            );
            metrics::counter!("weft_plugin_http_denied_total", "plugin" => self.plugin.to_string())
                .increment(1);
            return Box::new(async { Err(Error::HttpRequestDenied) });
        }
        let Some(slot) = InFlight::take(&self.in_flight, self.max_in_flight) else {
            tracing::warn!(
                plugin = %self.plugin,
                limit = self.max_in_flight,
                "outbound HTTP refused: too many requests of one instance in flight (max_http_requests)"
            );
            metrics::counter!("weft_plugin_http_denied_total", "plugin" => self.plugin.to_string())
                .increment(1);
            return Box::new(async { Err(Error::ConnectionLimitReached) });
        };
        // the plugin call's trace continues at the destination (a header the plugin set wins)
        let mut request = request;
        if !request.headers().contains_key("traceparent")
            && let Some(tp) = weft_telemetry::otel::current_traceparent()
            && let Ok(value) = http::HeaderValue::from_str(&tp)
        {
            request.headers_mut().insert("traceparent", value);
        }
        // the host's timeouts are maxima: a plugin may only ask for shorter ones
        let options = options.unwrap_or_default();
        let cap = |t: Option<Duration>| {
            Some(t.map_or(DEFAULT_HTTP_TIMEOUT, |t| t.min(DEFAULT_HTTP_TIMEOUT)))
        };
        let options = RequestOptions {
            connect_timeout: cap(options.connect_timeout),
            first_byte_timeout: cap(options.first_byte_timeout),
            between_bytes_timeout: cap(options.between_bytes_timeout),
        };
        // internal addresses only when the grant names the IP or the plugin may reach them
        let internal_ok = self.allow_private || crate::grants::names_literally(&self.grants, &host);
        let plugin = self.plugin.clone();
        Box::new(async move {
            use http_body_util::BodyExt;
            let default_port = if scheme.eq_ignore_ascii_case("https") {
                443
            } else {
                80
            };
            let checked = crate::grants::resolve_checked(
                &host,
                port.unwrap_or(default_port),
                internal_ok,
                options.connect_timeout.unwrap_or(DEFAULT_HTTP_TIMEOUT),
            )
            .await;
            let addr = match checked {
                Ok(addr) => addr,
                Err(e) => {
                    if matches!(e, Error::DestinationIpProhibited) {
                        tracing::warn!(
                            plugin = %plugin,
                            host = %host,
                            "outbound HTTP refused: the name resolves only to loopback, private, link-local or other internal addresses (grant the IP literally or set allow_private = true)"
                        );
                        metrics::counter!("weft_plugin_http_denied_total", "plugin" => plugin.to_string())
                            .increment(1);
                    }
                    return Err(e);
                }
            };
            // plain HTTP connects to the checked address itself (the Host header keeps the
            // name); HTTPS verifies the certificate for the name, so a second resolution
            // that lands elsewhere fails the handshake
            let mut request = request;
            if !scheme.eq_ignore_ascii_case("https") {
                let mut parts = request.uri().clone().into_parts();
                parts.authority = addr.to_string().parse().ok();
                if let Ok(uri) = http::Uri::from_parts(parts) {
                    *request.uri_mut() = uri;
                }
            }
            let (res, io) =
                wasmtime_wasi_http::default_send_request(request, Some(options)).await?;
            // the slot is held until the connection ends (body read or dropped)
            let io = async move {
                let _slot = slot;
                io.await
            };
            Ok((
                res.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn Future<Output = _> + Send>,
            ))
        })
    }
}
