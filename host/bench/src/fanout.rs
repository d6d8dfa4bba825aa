//! `weft bench --fanout`: one topic delivered to many webhook subscriptions (the
//! Subscriptions API) on local receivers, deliveries per second, next to a plain hyper
//! client posting the same bodies to the same receivers in the same run.
//!
//! Both sides keep what a subscription promises by default: per receiver one request at a
//! time, in order (weft's `config.concurrency = "1"`); the native side is one task per
//! receiver posting its events one after the other over a keep-alive connection.

use std::net::SocketAddr;

use crate::weft_process::{Hub, weft_binary};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::sync::Notify;

const TOPIC: &str = "fanout";

/// What the benchmark measured.
pub struct Report {
    /// Subscriptions (receivers).
    pub subscriptions: usize,
    /// Events posted to the topic.
    pub events: usize,
    /// weft: deliveries per second (subscriptions × events / time to the last one).
    pub weft_per_sec: f64,
    /// Plain hyper client: deliveries per second.
    pub native_per_sec: f64,
}

/// Receivers counting requests; `done` is notified when `total` reaches the target.
struct Receivers {
    addrs: Vec<SocketAddr>,
    total: Arc<AtomicU64>,
    target: Arc<AtomicU64>,
    done: Arc<Notify>,
}

async fn start_receivers(n: usize) -> anyhow::Result<Receivers> {
    let total = Arc::new(AtomicU64::new(0));
    let target = Arc::new(AtomicU64::new(u64::MAX));
    let done = Arc::new(Notify::new());
    let mut addrs = Vec::with_capacity(n);
    for _ in 0..n {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        addrs.push(listener.local_addr()?);
        let (total, target, done) = (total.clone(), target.clone(), done.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (total, target, done) = (total.clone(), target.clone(), done.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let (total, target, done) = (total.clone(), target.clone(), done.clone());
                        async move {
                            let _ = req.into_body().collect().await;
                            if total.fetch_add(1, Ordering::SeqCst) + 1
                                == target.load(Ordering::SeqCst)
                            {
                                done.notify_one();
                            }
                            Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                                Bytes::new(),
                            )))
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
    }
    Ok(Receivers {
        addrs,
        total,
        target,
        done,
    })
}

impl Receivers {
    /// Waits until `more` further requests arrived.
    async fn expect(&self, more: u64) -> impl std::future::Future<Output = ()> + use<> {
        let goal = self.total.load(Ordering::SeqCst) + more;
        self.target.store(goal, Ordering::SeqCst);
        let (total, done) = (self.total.clone(), self.done.clone());
        async move {
            while total.load(Ordering::SeqCst) < goal {
                let _ = tokio::time::timeout(Duration::from_millis(50), done.notified()).await;
            }
        }
    }
}

type Client = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    Full<Bytes>,
>;

fn client() -> Client {
    hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(4)
        .build_http()
}

async fn call(
    client: &Client,
    addr: SocketAddr,
    method: hyper::Method,
    path: &str,
    content_type: &str,
    body: Bytes,
) -> anyhow::Result<(u16, Bytes)> {
    let req = hyper::Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"))
        .header("content-type", content_type)
        .body(Full::new(body))?;
    let res = client
        .request(req)
        .await
        .with_context(|| format!("{path} on {addr}"))?;
    let status = res.status().as_u16();
    Ok((status, res.into_body().collect().await?.to_bytes()))
}

async fn start_hub(weft: &Path, subscriptions: usize) -> anyhow::Result<(Hub, SocketAddr)> {
    Hub::start(weft, |addr| {
        format!(
            r#"
[hub]
listen = "{addr}"
data_dir = "data"

[subscriptions]
max_subscriptions = {subscriptions}
"#
        )
    })
    .await
}

fn event(i: usize) -> serde_json::Value {
    serde_json::json!({
        "specversion": "1.0", "id": format!("fan-{i}"), "source": "/bench", "type": "com.example.order.created",
        "datacontenttype": "application/json",
        "data": {"orderId": format!("PO-{i}"), "total": "1250.00", "currency": "EUR", "lines": 3}
    })
}

/// Runs the benchmark: `subscriptions` receivers, `events` events each.
pub async fn run(
    subscriptions: usize,
    events: usize,
    weft: Option<&Path>,
) -> anyhow::Result<Report> {
    let receivers = start_receivers(subscriptions).await?;
    let (_hub, addr) = start_hub(&weft_binary(weft), subscriptions).await?;
    let client = client();
    // the topic exists once it holds an event; subscriptions start after it
    let (status, body) = call(
        &client,
        addr,
        hyper::Method::POST,
        &format!("/v1/events/{TOPIC}"),
        "application/cloudevents+json",
        Bytes::from(event(usize::MAX).to_string()),
    )
    .await?;
    if status != 202 {
        bail!(
            "posting the first event: {status} {}",
            String::from_utf8_lossy(&body)
        );
    }
    let mut secret = String::new();
    for r in &receivers.addrs {
        let request = serde_json::json!({"protocol": "HTTP", "sink": format!("http://{r}/hook"), "config": {"topic": TOPIC}});
        let (status, body) = call(
            &client,
            addr,
            hyper::Method::POST,
            "/v1/subscriptions",
            "application/json",
            Bytes::from(request.to_string()),
        )
        .await?;
        if status != 201 {
            bail!(
                "creating a subscription: {status} {}",
                String::from_utf8_lossy(&body)
            );
        }
        let created: serde_json::Value = serde_json::from_slice(&body)?;
        secret = created["config"]["secret"]
            .as_str()
            .unwrap_or_default()
            .to_string();
    }

    // weft: post the events (batches of 100), wait for every delivery
    let all = (subscriptions * events) as u64;
    let arrived = receivers.expect(all).await;
    let started = Instant::now();
    for chunk in (0..events).collect::<Vec<_>>().chunks(100) {
        let batch: Vec<_> = chunk.iter().map(|i| event(*i)).collect();
        let (status, body) = call(
            &client,
            addr,
            hyper::Method::POST,
            &format!("/v1/events/{TOPIC}"),
            "application/cloudevents-batch+json",
            Bytes::from(serde_json::Value::Array(batch).to_string()),
        )
        .await?;
        if status != 202 {
            bail!(
                "posting events: {status} {}",
                String::from_utf8_lossy(&body)
            );
        }
    }
    tokio::time::timeout(Duration::from_secs(600), arrived)
        .await
        .context("weft did not deliver every event within 10 minutes")?;
    let weft_time = started.elapsed();

    // native: the same signed structured bodies, one task per receiver, in order
    let key = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(secret.trim_start_matches("whsec_"))
            .unwrap_or_default()
    };
    let bodies: Arc<Vec<Bytes>> = Arc::new(
        (0..events)
            .map(|i| {
                Bytes::from(
                    weft_event::Event::from_json_value(event(i))
                        .map(|e| e.to_json_string())
                        .unwrap_or_default(),
                )
            })
            .collect(),
    );
    let arrived = receivers.expect(all).await;
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for r in receivers.addrs.clone() {
        let (bodies, key) = (bodies.clone(), key.clone());
        let client = client.clone();
        tasks.spawn(async move {
            for (i, body) in bodies.iter().enumerate() {
                let id = format!("/bench:fan-{i}");
                let ts = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                let signature = weft_connector_http::sign(&key, &id, ts, body);
                let req = hyper::Request::post(format!("http://{r}/hook"))
                    .header("content-type", "application/cloudevents+json")
                    .header("webhook-id", id)
                    .header("webhook-timestamp", ts.to_string())
                    .header("webhook-signature", signature)
                    .body(Full::new(body.clone()))
                    .expect("a request");
                if let Ok(res) = client.request(req).await {
                    let _ = res.into_body().collect().await;
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    tokio::time::timeout(Duration::from_secs(600), arrived)
        .await
        .context("the native client did not finish within 10 minutes")?;
    let native_time = started.elapsed();
    Ok(Report {
        subscriptions,
        events,
        weft_per_sec: all as f64 / weft_time.as_secs_f64(),
        native_per_sec: all as f64 / native_time.as_secs_f64(),
    })
}

/// Prints the report.
pub fn print(r: &Report) {
    println!(
        "fan-out of one topic to {} webhook subscriptions, {} events each ({} deliveries)",
        r.subscriptions,
        r.events,
        r.subscriptions * r.events
    );
    println!("{:<46} {:>14}", "", "deliveries/s");
    println!(
        "{:<46} {:>14.0}",
        "plain hyper client (same bodies, signed)", r.native_per_sec
    );
    println!(
        "{:<46} {:>14.0}",
        "weft subscriptions (log → route → webhook)", r.weft_per_sec
    );
    println!(
        "weft / plain client: {:.2} (goal ≥ 0.80)",
        r.weft_per_sec / r.native_per_sec
    );
}
