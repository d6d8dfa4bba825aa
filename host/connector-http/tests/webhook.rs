//! The webhook sink against a local HTTP server: how each answer is classified, timeouts,
//! redirects, large answers, and what the request carries.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use weft_connector::{Sink, SinkError};
use weft_connector_http::{WebhookConfig, WebhookSink};
use weft_event::Event;

/// One request as the server saw it.
#[derive(Debug, Clone, Default)]
struct Seen {
    request_line: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

/// What the server answers: status line, extra headers, body, and a delay before it.
#[derive(Clone)]
struct Answer {
    status: &'static str,
    headers: &'static str,
    body: Vec<u8>,
    delay: Duration,
}

fn answer(status: &'static str) -> Answer {
    Answer {
        status,
        headers: "",
        body: Vec::new(),
        delay: Duration::ZERO,
    }
}

/// A one-answer-for-every-request HTTP/1.1 server; returns its URL and what it saw.
async fn server(answer: Answer) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let answer = answer.clone();
            let record = record.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let head_end = loop {
                    let n = socket.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                };
                let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                let mut lines = head.split("\r\n");
                let request_line = lines.next().unwrap_or_default().to_string();
                let headers: HashMap<String, String> = lines
                    .filter_map(|l| l.split_once(": "))
                    .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
                    .collect();
                let len: usize = headers
                    .get("content-length")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                while buf.len() < head_end + len {
                    let n = socket.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                record.lock().unwrap().push(Seen {
                    request_line,
                    headers,
                    body: buf[head_end..].to_vec(),
                });
                tokio::time::sleep(answer.delay).await;
                let reply = format!(
                    "HTTP/1.1 {}\r\ncontent-length: {}\r\n{}\r\n",
                    answer.status,
                    answer.body.len(),
                    answer.headers
                );
                let _ = socket.write_all(reply.as_bytes()).await;
                let _ = socket.write_all(&answer.body).await;
            });
        }
    });
    (url, seen)
}

fn sink(url: &str, edit: impl FnOnce(&mut WebhookConfig)) -> WebhookSink {
    let mut config = WebhookConfig {
        url: url.into(),
        timeout_ms: 2_000,
        headers: Default::default(),
        secret: None,
        method: None,
    };
    edit(&mut config);
    WebhookSink::new(config).unwrap()
}

fn event() -> Event {
    let mut e = Event::new("inv-1", "/erp/billing", "com.example.invoice.created");
    e.subject = Some("INV 7".into());
    e.datacontenttype = Some("application/json".into());
    e.data = Some(br#"{"total":"10.00"}"#.to_vec());
    e.extensions
        .insert("traceparent".into(), "00-abc-def-01".into());
    e
}

#[tokio::test]
async fn answers_are_classified_by_status() {
    for (status, expect) in [
        ("200 OK", Ok(())),
        ("202 Accepted", Ok(())),
        ("204 No Content", Ok(())),
        ("500 Internal Server Error", Err(true)),
        ("503 Service Unavailable", Err(true)),
        ("408 Request Timeout", Err(true)),
        ("429 Too Many Requests", Err(true)),
        ("400 Bad Request", Err(false)),
        ("401 Unauthorized", Err(false)),
        ("404 Not Found", Err(false)),
        ("410 Gone", Err(false)),
    ] {
        let (url, seen) = server(answer(status)).await;
        let got = sink(&url, |_| {}).deliver(&event()).await;
        match (expect, got) {
            (Ok(()), Ok(())) => {}
            (Err(transient), Err(e)) => {
                assert_eq!(e.is_transient(), transient, "{status}: {e}");
                assert!(e.to_string().contains(&status[..3]), "{status}: {e}");
            }
            (expect, got) => panic!("{status}: expected {expect:?}, got {got:?}"),
        }
        assert_eq!(seen.lock().unwrap().len(), 1, "{status}: one request");
    }
}

#[tokio::test]
async fn a_slow_answer_times_out_transiently_and_nothing_listening_is_transient() {
    let (url, _) = server(Answer {
        delay: Duration::from_secs(5),
        ..answer("200 OK")
    })
    .await;
    let err = sink(&url, |c| c.timeout_ms = 200)
        .deliver(&event())
        .await
        .unwrap_err();
    assert!(
        matches!(err, SinkError::Transient(ref m) if m.contains("no response within 200 ms")),
        "{err}"
    );

    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", closed.local_addr().unwrap());
    drop(closed);
    let err = sink(&url, |_| {}).deliver(&event()).await.unwrap_err();
    assert!(err.is_transient(), "{err}");
}

#[tokio::test]
async fn redirects_are_not_followed_and_fail_permanently() {
    let (target, target_seen) = server(answer("200 OK")).await;
    let location: &'static str = Box::leak(format!("location: {target}\r\n").into_boxed_str());
    let (url, _) = server(Answer {
        headers: location,
        ..answer("301 Moved Permanently")
    })
    .await;
    let err = sink(&url, |_| {}).deliver(&event()).await.unwrap_err();
    assert!(!err.is_transient(), "{err}");
    assert!(err.to_string().contains("301"), "{err}");
    assert!(
        target_seen.lock().unwrap().is_empty(),
        "the redirect was followed"
    );
}

#[tokio::test]
async fn a_huge_answer_is_not_buffered_and_does_not_change_the_outcome() {
    let (url, _) = server(Answer {
        body: vec![b'x'; 8 * 1024 * 1024],
        ..answer("200 OK")
    })
    .await;
    sink(&url, |_| {}).deliver(&event()).await.unwrap();
}

#[tokio::test]
async fn the_request_carries_the_event_in_binary_mode_with_configured_headers() {
    let (url, seen) = server(answer("204 No Content")).await;
    let mut headers = std::collections::BTreeMap::new();
    headers.insert("authorization".to_string(), "Bearer t0k".to_string());
    sink(&url, |c| c.headers = headers)
        .deliver(&event())
        .await
        .unwrap();
    let seen = seen.lock().unwrap()[0].clone();
    assert_eq!(seen.request_line, "POST /hook HTTP/1.1");
    let h = &seen.headers;
    assert_eq!(h["ce-specversion"], "1.0");
    assert_eq!(h["ce-id"], "inv-1");
    assert_eq!(h["ce-source"], "/erp/billing");
    assert_eq!(h["ce-type"], "com.example.invoice.created");
    // the HTTP binding percent-encodes spaces in header values
    assert_eq!(h["ce-subject"], "INV%207");
    assert_eq!(h["ce-traceparent"], "00-abc-def-01");
    assert_eq!(h["content-type"], "application/json");
    assert_eq!(h["authorization"], "Bearer t0k");
    assert!(
        !h.contains_key("webhook-signature"),
        "unsigned without a secret"
    );
    assert_eq!(seen.body, br#"{"total":"10.00"}"#);
}

#[tokio::test]
async fn with_a_secret_the_request_is_signed_verifiably() {
    let (url, seen) = server(answer("200 OK")).await;
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    sink(&url, |c| c.secret = Some(secret.into()))
        .deliver(&event())
        .await
        .unwrap();
    let seen = seen.lock().unwrap()[0].clone();
    let h = &seen.headers;
    let key = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .unwrap()
    };
    let timestamp: u64 = h["webhook-timestamp"].parse().unwrap();
    let expected = weft_connector_http::sign(&key, &h["webhook-id"], timestamp, &seen.body);
    assert_eq!(h["webhook-signature"], expected);
}

#[tokio::test]
async fn urls_with_credentials_never_appear_in_errors() {
    let (url, _) = server(answer("500 Internal Server Error")).await;
    let secret_url = url.replace("http://", "http://user:hunter2@") + "?token=s3cr3t";
    let err = sink(&secret_url, |_| {})
        .deliver(&event())
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        !text.contains("hunter2") && !text.contains("s3cr3t"),
        "{text}"
    );
    assert!(text.contains("500"), "{text}");
}
