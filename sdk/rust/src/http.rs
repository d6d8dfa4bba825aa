//! Outbound HTTP (`wasi:http/outgoing-handler`). The host only lets requests through to
//! hosts named in the plugin's `allow_http` grant; anything else fails with an error.

/// An HTTP request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Method, e.g. `GET`.
    pub method: String,
    /// Absolute URL, e.g. `https://api.example.com/v1/rates?c=EUR`.
    pub url: String,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// Body (empty for none).
    pub body: Vec<u8>,
}

/// An HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl Response {
    /// A response with a status and body (for tests).
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// The body parsed as JSON.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, String> {
        serde_json::from_slice(&self.body).map_err(|e| format!("response is not JSON: {e}"))
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Why a request failed (not granted, connection refused, timeout, bad URL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpError(pub String);

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "http: {}", self.0)
    }
}

impl std::error::Error for HttpError {}

impl Request {
    /// A request with no headers or body.
    pub fn new(method: &str, url: &str) -> Self {
        Request {
            method: method.to_string(),
            url: url.to_string(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Sets a JSON body and content type.
    pub fn json<T: serde::Serialize>(mut self, body: &T) -> Self {
        self.body = serde_json::to_vec(body).unwrap_or_default();
        self.header("content-type", "application/json")
    }

    /// Sends the request and waits for the whole response.
    pub fn send(self) -> Result<Response, HttpError> {
        imp::send(self)
    }
}

/// `GET url`.
pub fn get(url: &str) -> Result<Response, HttpError> {
    Request::new("GET", url).send()
}

/// `POST url` with a JSON body.
pub fn post_json<T: serde::Serialize>(url: &str, body: &T) -> Result<Response, HttpError> {
    Request::new("POST", url).json(body).send()
}

/// Splits an absolute URL into (scheme, authority, path-with-query).
pub(crate) fn split_url(url: &str) -> Result<(&str, &str, &str), HttpError> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| HttpError(format!("`{url}` is not an absolute URL")))?;
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() {
        return Err(HttpError(format!("`{url}` has no host")));
    }
    Ok((scheme, authority, if path.is_empty() { "/" } else { path }))
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use super::{HttpError, Request, Response, split_url};
    use crate::bindings::wasi::http::outgoing_handler;
    use crate::bindings::wasi::http::types::{
        Fields, Method, OutgoingBody, OutgoingRequest, Scheme,
    };
    use crate::bindings::wasi::io::streams::StreamError;

    fn e(what: &str, err: impl std::fmt::Debug) -> HttpError {
        HttpError(format!("{what}: {err:?}"))
    }

    pub fn send(req: Request) -> Result<Response, HttpError> {
        let (scheme, authority, path) = split_url(&req.url)?;
        let headers: Vec<(String, Vec<u8>)> = req
            .headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.as_bytes().to_vec()))
            .collect();
        let fields = Fields::from_list(&headers).map_err(|err| e("invalid header", err))?;
        let out = OutgoingRequest::new(fields);
        let method = match req.method.to_ascii_uppercase().as_str() {
            "GET" => Method::Get,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            "PATCH" => Method::Patch,
            "HEAD" => Method::Head,
            "OPTIONS" => Method::Options,
            other => Method::Other(other.to_string()),
        };
        out.set_method(&method)
            .map_err(|_| HttpError("invalid method".into()))?;
        let scheme = match scheme {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            other => Scheme::Other(other.to_string()),
        };
        out.set_scheme(Some(&scheme))
            .map_err(|_| HttpError("invalid scheme".into()))?;
        out.set_authority(Some(authority))
            .map_err(|_| HttpError(format!("invalid authority `{authority}`")))?;
        out.set_path_with_query(Some(path))
            .map_err(|_| HttpError(format!("invalid path `{path}`")))?;
        let body = out
            .body()
            .map_err(|_| HttpError("body already taken".into()))?;
        {
            let stream = body.write().map_err(|_| HttpError("body stream".into()))?;
            for chunk in req.body.chunks(4096) {
                stream
                    .blocking_write_and_flush(chunk)
                    .map_err(|err| e("writing request body", err))?;
            }
        }
        let pending =
            outgoing_handler::handle(out, None).map_err(|err| e("request refused", err))?;
        OutgoingBody::finish(body, None).map_err(|err| e("finishing request body", err))?;
        pending.subscribe().block();
        let resp = pending
            .get()
            .ok_or_else(|| HttpError("response not ready".into()))?
            .map_err(|_| HttpError("response already taken".into()))?
            .map_err(|err| e("request failed", err))?;
        let status = resp.status();
        let headers = resp
            .headers()
            .entries()
            .into_iter()
            .map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned()))
            .collect();
        let incoming = resp
            .consume()
            .map_err(|_| HttpError("response body taken".into()))?;
        let stream = incoming
            .stream()
            .map_err(|_| HttpError("response body stream".into()))?;
        let mut data = Vec::new();
        loop {
            match stream.blocking_read(64 * 1024) {
                Ok(chunk) => data.extend_from_slice(&chunk),
                Err(StreamError::Closed) => break,
                Err(err) => return Err(e("reading response body", err)),
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

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use super::{HttpError, Request, Response, split_url};
    pub fn send(req: Request) -> Result<Response, HttpError> {
        split_url(&req.url)?;
        let responder = crate::testing::with_host(|h| h.http.clone());
        match responder {
            Some(f) => f(&req).map_err(HttpError),
            None => Err(HttpError(format!(
                "request to {} refused: no HTTP grant in this test host (use TestHost::with_http)",
                req.url
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn splits_urls() {
        assert_eq!(
            super::split_url("https://a.example:8443/x?y=1").unwrap(),
            ("https", "a.example:8443", "/x?y=1")
        );
        assert_eq!(super::split_url("http://h").unwrap(), ("http", "h", "/"));
        assert!(super::split_url("nourl").is_err());
    }
}
