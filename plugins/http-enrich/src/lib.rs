//! Example plugin: enriches JSON events with the JSON answer of an HTTP service.
//!
//! Config:
//! - `url`: the service URL; `{subject}`, `{id}`, `{type}` are replaced from the event
//!   (URL-encoded). The host must be granted with `allow_http` or the request is refused.
//! - `field`: where the answer goes in the event data (default `enrichment`).
//!
//! A 5xx answer or a network failure is a `retry`; another non-2xx answer is a `reject`.

use weft_sdk::{Event, Failure, HandlerResult};

/// Fetches `url` and merges the JSON answer into the event data.
pub fn handle(event: Event) -> HandlerResult {
    let template = weft_sdk::config::get("url")
        .ok_or_else(|| Failure::reject("http-enrich: config key `url` is not set"))?;
    let field = weft_sdk::config::get_or("field", "enrichment");
    let url = template
        .replace("{subject}", &encode(event.subject.as_deref().unwrap_or("")))
        .replace("{id}", &encode(&event.id))
        .replace("{type}", &encode(&event.ty));
    let response = weft_sdk::http::get(&url).map_err(Failure::retry)?;
    if response.status >= 500 {
        return Err(Failure::retry(format!(
            "{url} answered {}",
            response.status
        )));
    }
    if !response.is_success() {
        return Err(Failure::reject(format!(
            "{url} answered {}",
            response.status
        )));
    }
    let answer: serde_json::Value = response.json().map_err(Failure::reject)?;
    let mut data: serde_json::Value = match event.data {
        Some(_) => event.data_json().map_err(Failure::reject)?,
        None => serde_json::json!({}),
    };
    if !data.is_object() {
        return Err(Failure::reject(
            "http-enrich: event data must be a JSON object",
        ));
    }
    data[field.as_str()] = answer;
    Ok(vec![event.with_json(&data)])
}

fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

weft_sdk::export_handler!(handle);

#[cfg(test)]
mod tests {
    use super::*;
    use weft_sdk::http::Response;
    use weft_sdk::testing::{TestHost, json_event};

    #[test]
    fn merges_the_answer() {
        let host = TestHost::new()
            .with_config("url", "https://rates.example/v1/{subject}")
            .with_http(|req| {
                assert_eq!(req.url, "https://rates.example/v1/EUR%2FCNY");
                Ok(Response::new(200, r#"{"rate":"7.8"}"#))
            });
        let out = host
            .call(
                handle,
                json_event("quote", serde_json::json!({"qty": 3})).with_subject("EUR/CNY"),
            )
            .unwrap();
        let data: serde_json::Value = out[0].data_json().unwrap();
        assert_eq!(data["enrichment"]["rate"], "7.8");
        assert_eq!(data["qty"], 3);
    }

    #[test]
    fn server_errors_retry_and_client_errors_reject() {
        let host = TestHost::new()
            .with_config("url", "https://x.example/")
            .with_http(|_| Ok(Response::new(503, "")));
        assert!(matches!(
            host.call(handle, Event::new("1", "/s", "t")),
            Err(Failure::Retry(_))
        ));
        let host = TestHost::new()
            .with_config("url", "https://x.example/")
            .with_http(|_| Ok(Response::new(404, "")));
        assert!(matches!(
            host.call(handle, Event::new("1", "/s", "t")),
            Err(Failure::Reject(_))
        ));
    }
}
