//! With a secret, the webhook sink sends the event in CloudEvents structured mode so the
//! Standard Webhooks signature covers every attribute, and the official `standardwebhooks`
//! Python library (`.ci/requirements.txt`, found through `$WEFT_PYTHON`) verifies it; a
//! changed attribute fails verification.

use std::path::PathBuf;
use std::process::Command;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use weft_connector::Sink;
use weft_connector_http::{WebhookConfig, WebhookSink};
use weft_event::Event;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// Serves one request; returns (headers lowercased, body).
async fn capture_one() -> (
    String,
    tokio::task::JoinHandle<(Vec<(String, String)>, Vec<u8>)>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        let (head_end, len) = loop {
            let n = s.read(&mut chunk).await.unwrap();
            assert!(n > 0, "client closed early");
            buf.extend_from_slice(&chunk[..n]);
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..i]).to_ascii_lowercase();
                let len = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map(|v| v.trim().parse::<usize>().unwrap())
                    .unwrap_or(0);
                break (i + 4, len);
            }
        };
        while buf.len() < head_end + len {
            let n = s.read(&mut chunk).await.unwrap();
            buf.extend_from_slice(&chunk[..n]);
        }
        s.write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
            .await
            .unwrap();
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let headers = head
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        (headers, buf[head_end..head_end + len].to_vec())
    });
    (url, task)
}

fn event() -> Event {
    Event::from_json_slice(
        br#"{"specversion":"1.0","id":"inv-1","source":"/erp/billing","type":"com.example.invoice.created","subject":"INV 7","datacontenttype":"application/json","partnerid":"p-42","data":{"total":"10.00"}}"#,
    )
    .unwrap()
}

/// The tools venv's Python if it has `standardwebhooks`; `None` (skip) unless
/// `WEFT_REQUIRE_TOOLS` is set.
fn python() -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(p) = std::env::var_os("WEFT_PYTHON") {
        candidates.push(PathBuf::from(p));
    }
    if let Some(home) = std::env::var_os("HOME") {
        candidates.push(PathBuf::from(home).join(".cache/weft/ci-venv/bin/python"));
    }
    candidates.push("python3".into());
    let found = candidates.into_iter().find(|p| {
        Command::new(p)
            .args(["-c", "import standardwebhooks"])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("WEFT_REQUIRE_TOOLS").is_none(),
            "WEFT_REQUIRE_TOOLS is set but no Python has `standardwebhooks` (set WEFT_PYTHON to the venv of .ci/requirements.txt)"
        );
        eprintln!("SKIPPED: no Python with `standardwebhooks`");
    }
    found
}

/// Runs the library's verification on a request; whether it passed, and the parsed body.
fn verify(python: &PathBuf, headers: &[(String, String)], body: &[u8]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let body_file = dir.path().join("body");
    std::fs::write(&body_file, body).unwrap();
    let headers: serde_json::Map<String, serde_json::Value> = headers
        .iter()
        .map(|(k, v)| (k.clone(), v.clone().into()))
        .collect();
    let script = r#"
import json, sys
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
secret, body_file, headers = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
body = open(body_file, "rb").read()
try:
    print(json.dumps(Webhook(secret).verify(body, headers)))
except WebhookVerificationError as e:
    print("REFUSED", e)
    sys.exit(3)
"#;
    let out = Command::new(python)
        .args(["-c", script, SECRET])
        .arg(&body_file)
        .arg(serde_json::Value::Object(headers).to_string())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success() || out.status.code() == Some(3),
        "python failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), stdout)
}

#[tokio::test]
async fn signed_requests_are_structured_and_verified_by_the_standardwebhooks_library() {
    let (url, server) = capture_one().await;
    let sink = WebhookSink::new(WebhookConfig {
        url,
        timeout_ms: 5000,
        headers: Default::default(),
        secret: Some(SECRET.into()),
        method: None,
    })
    .unwrap();
    sink.deliver(&event()).await.unwrap();
    let (headers, body) = server.await.unwrap();
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    // structured mode: every attribute is in the (signed) body, none in ce- headers
    assert_eq!(get("content-type"), Some("application/cloudevents+json"));
    assert!(
        !headers.iter().any(|(k, _)| k.starts_with("ce-")),
        "{headers:?}"
    );
    let sent = Event::from_json_slice(&body).unwrap();
    assert_eq!(sent, event());

    let Some(python) = python() else { return };
    let (ok, parsed) = verify(&python, &headers, &body);
    assert!(ok, "standardwebhooks refused weft's signature: {parsed}");
    let parsed: serde_json::Value = serde_json::from_str(&parsed).unwrap();
    assert_eq!(parsed["partnerid"], "p-42");
    assert_eq!(parsed["subject"], "INV 7");
    // an attribute changed in transit fails verification
    let tampered = String::from_utf8(body)
        .unwrap()
        .replace("\"p-42\"", "\"p-43\"");
    let (ok, said) = verify(&python, &headers, tampered.as_bytes());
    assert!(!ok, "a tampered attribute verified: {said}");
}
