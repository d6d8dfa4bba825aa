//! `wasi:http/outgoing-handler` with the grant check: wasmtime-wasi-http hands every
//! outgoing request to [`GrantedHttp::send_request`], which refuses destinations outside the
//! plugin's `allow_http` list (`HttpRequestDenied`, seen by the plugin as an error) and sends
//! the rest with wasmtime-wasi-http's default client and connect/response timeouts.

use std::sync::Arc;
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
        // the plugin call's trace continues at the destination (a header the plugin set wins)
        let mut request = request;
        if !request.headers().contains_key("traceparent")
            && let Some(tp) = weft_telemetry::otel::current_traceparent()
            && let Ok(value) = http::HeaderValue::from_str(&tp)
        {
            request.headers_mut().insert("traceparent", value);
        }
        let options = options.unwrap_or_default();
        let options = RequestOptions {
            connect_timeout: options.connect_timeout.or(Some(DEFAULT_HTTP_TIMEOUT)),
            first_byte_timeout: options.first_byte_timeout.or(Some(DEFAULT_HTTP_TIMEOUT)),
            between_bytes_timeout: options.between_bytes_timeout.or(Some(DEFAULT_HTTP_TIMEOUT)),
        };
        Box::new(async move {
            use http_body_util::BodyExt;
            let (res, io) =
                wasmtime_wasi_http::default_send_request(request, Some(options)).await?;
            Ok((
                res.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn Future<Output = _> + Send>,
            ))
        })
    }
}
