//! Sends the request through the granted `wasi:http/outgoing-handler`, with the plugin's
//! `timeout_ms` as connect, first-byte and between-bytes timeout.
//!
//! `weft_sdk::http` has no per-request timeout yet (it passes no request options, so the
//! host's 10 s default applies, too short for many model answers). Inside WebAssembly the
//! request is therefore sent here with the same `wasi:http` calls plus `request-options`;
//! the host applies the same `allow_http` grant. Natively (unit tests) it goes through
//! `weft_sdk::http`, i.e. `weft_sdk::testing::TestHost`'s responder, whose error text
//! stands for the transport error.

use weft_sdk::http::Response;

/// Why no answer came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportError {
    /// The destination is not in the plugin's `allow_http` grant (a configuration error).
    Denied(String),
    /// No answer within the timeout.
    Timeout(String),
    /// Any other transport failure (connection refused, reset, DNS, TLS).
    Failed(String),
}

/// `POST url` with a JSON body.
pub fn post_json(
    url: &str,
    headers: &[(String, String)],
    body: Vec<u8>,
    timeout_ms: u64,
) -> Result<Response, TransportError> {
    imp::post_json(url, headers, body, timeout_ms)
}

/// Classifies an error text (the `Debug` form of a `wasi:http` error code).
fn classify(text: String) -> TransportError {
    let lower = text.to_ascii_lowercase();
    if text.contains("HttpRequestDenied") || text.contains("HTTP-request-denied") {
        TransportError::Denied(text)
    } else if lower.contains("timeout") || lower.contains("timed out") {
        TransportError::Timeout(text)
    } else {
        TransportError::Failed(text)
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use super::{TransportError, classify};
    use weft_sdk::http::{Request, Response};

    pub fn post_json(
        url: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
        _timeout_ms: u64,
    ) -> Result<Response, TransportError> {
        let mut request = Request::new("POST", url).header("content-type", "application/json");
        for (k, v) in headers {
            request = request.header(k, v);
        }
        request.body = body;
        request.send().map_err(|e| classify(e.0))
    }
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use super::{TransportError, classify};
    use weft_sdk::bindings::wasi::http::outgoing_handler;
    use weft_sdk::bindings::wasi::http::types::{
        Fields, Method, OutgoingBody, OutgoingRequest, RequestOptions, Scheme,
    };
    use weft_sdk::bindings::wasi::io::streams::StreamError;
    use weft_sdk::http::Response;

    fn failed(what: &str, err: impl std::fmt::Debug) -> TransportError {
        classify(format!("{what}: {err:?}"))
    }

    pub fn post_json(
        url: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
        timeout_ms: u64,
    ) -> Result<Response, TransportError> {
        let invalid = |what: String| TransportError::Failed(what);
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| invalid(format!("`{url}` is not an absolute URL")))?;
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let mut fields: Vec<(String, Vec<u8>)> = vec![
            ("content-type".into(), b"application/json".to_vec()),
            ("content-length".into(), body.len().to_string().into_bytes()),
        ];
        fields.extend(
            headers
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v.as_bytes().to_vec())),
        );
        let fields = Fields::from_list(&fields).map_err(|e| failed("invalid header", e))?;
        let request = OutgoingRequest::new(fields);
        request
            .set_method(&Method::Post)
            .map_err(|_| invalid("invalid method".into()))?;
        let scheme = match scheme {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            other => Scheme::Other(other.to_string()),
        };
        request
            .set_scheme(Some(&scheme))
            .map_err(|_| invalid("invalid scheme".into()))?;
        request
            .set_authority(Some(authority))
            .map_err(|_| invalid(format!("invalid host `{authority}`")))?;
        request
            .set_path_with_query(Some(if path.is_empty() { "/" } else { path }))
            .map_err(|_| invalid(format!("invalid path `{path}`")))?;

        let options = RequestOptions::new();
        let timeout_ns = Some(timeout_ms.saturating_mul(1_000_000));
        // an error only means the host does not support that timeout: its default applies
        let _ = options.set_connect_timeout(timeout_ns);
        let _ = options.set_first_byte_timeout(timeout_ns);
        let _ = options.set_between_bytes_timeout(timeout_ns);

        let outgoing = request
            .body()
            .map_err(|_| invalid("request body already taken".into()))?;
        {
            let stream = outgoing
                .write()
                .map_err(|_| invalid("request body stream".into()))?;
            for chunk in body.chunks(4096) {
                stream
                    .blocking_write_and_flush(chunk)
                    .map_err(|e| failed("writing the request body", e))?;
            }
        }
        let pending = outgoing_handler::handle(request, Some(options))
            .map_err(|e| failed("request refused", e))?;
        OutgoingBody::finish(outgoing, None).map_err(|e| failed("finishing the request", e))?;
        pending.subscribe().block();
        let response = pending
            .get()
            .ok_or_else(|| invalid("response not ready".into()))?
            .map_err(|_| invalid("response already taken".into()))?
            .map_err(|e| failed("request failed", e))?;
        let status = response.status();
        let headers = response
            .headers()
            .entries()
            .into_iter()
            .map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned()))
            .collect();
        let incoming = response
            .consume()
            .map_err(|_| invalid("response body already taken".into()))?;
        let stream = incoming
            .stream()
            .map_err(|_| invalid("response body stream".into()))?;
        let mut data = Vec::new();
        loop {
            match stream.blocking_read(64 * 1024) {
                Ok(chunk) => data.extend_from_slice(&chunk),
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(e)) => {
                    return Err(classify(format!(
                        "reading the response: {}",
                        e.to_debug_string()
                    )));
                }
            }
        }
        drop(stream);
        Ok(Response {
            status,
            headers,
            body: data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{TransportError, classify};

    #[test]
    fn classifies_wasi_http_error_codes() {
        assert!(matches!(
            classify("request refused: ErrorCode::HttpRequestDenied".into()),
            TransportError::Denied(_)
        ));
        assert!(matches!(
            classify("request failed: ConnectionReadTimeout".into()),
            TransportError::Timeout(_)
        ));
        assert!(matches!(
            classify("request failed: HttpResponseTimeout".into()),
            TransportError::Timeout(_)
        ));
        assert!(matches!(
            classify("request failed: ConnectionRefused".into()),
            TransportError::Failed(_)
        ));
    }
}
