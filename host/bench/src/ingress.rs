//! `weft bench --ingress`: requests/s of the HTTP ingress (`POST /v1/events/{topic}`, one
//! structured CloudEvent per request) without auth, with a bearer token, over TLS with a
//! bearer token and over TLS with a client certificate, next to a native hyper server
//! with an empty handler (plain and TLS) in the same run; reported as ratios.
//!
//! Everything runs in this process on loopback: the servers are weft's own
//! (`weft_connector_http::serve`/`serve_tls`) with a store that only counts (so the figures
//! are the HTTP edge: parsing, auth, TLS, CloudEvent decoding, not the embedded log's
//! disk writes); the load is `connections` keep-alive HTTP/1.1 connections, each sending
//! its requests one after another. Rounds interleave the variants so that the machine's
//! load spreads over all; the median round is reported.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use weft_connector::{EventStore, StoreError};
use weft_connector_http::auth::{AuthConfig, Authorizer, TokenConfig};
use weft_event::Event;

const TOKEN: &str = "bench-token-0123456789abcdef";

/// A store that accepts everything and keeps nothing.
struct CountingStore(AtomicU64);

#[async_trait::async_trait]
impl EventStore for CountingStore {
    fn check_topic(&self, _topic: &str) -> Result<(), StoreError> {
        Ok(())
    }
    async fn append(&self, _topic: &str, events: &[Event]) -> Result<Vec<u64>, StoreError> {
        let first = self.0.fetch_add(events.len() as u64, Ordering::Relaxed);
        Ok((first..first + events.len() as u64).collect())
    }
}

/// What a variant measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    NativePlain,
    NativeTls,
    WeftOpen,
    WeftBearer,
    WeftTlsBearer,
    WeftTlsClientCert,
}

impl Variant {
    const ALL: [Variant; 6] = [
        Variant::NativePlain,
        Variant::NativeTls,
        Variant::WeftOpen,
        Variant::WeftBearer,
        Variant::WeftTlsBearer,
        Variant::WeftTlsClientCert,
    ];

    fn label(self) -> &'static str {
        match self {
            Variant::NativePlain => "native hyper, empty handler, HTTP",
            Variant::NativeTls => "native hyper, empty handler, HTTPS",
            Variant::WeftOpen => "weft ingress, HTTP, no auth",
            Variant::WeftBearer => "weft ingress, HTTP, bearer token",
            Variant::WeftTlsBearer => "weft ingress, HTTPS, bearer token",
            Variant::WeftTlsClientCert => "weft ingress, HTTPS, client certificate",
        }
    }

    fn tls(self) -> bool {
        matches!(
            self,
            Variant::NativeTls | Variant::WeftTlsBearer | Variant::WeftTlsClientCert
        )
    }
}

/// Certificates made for the run (rcgen), on disk for weft's `TlsServer`.
struct Pki {
    _dir: tempfile::TempDir,
    tls: weft_connector_http::TlsConfig,
    server_config: Arc<rustls::ServerConfig>,
    client_plain: Arc<rustls::ClientConfig>,
    client_with_cert: Arc<rustls::ClientConfig>,
}

fn pki() -> anyhow::Result<Pki> {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
        ExtendedKeyUsagePurpose, IsCa, KeyPair,
    };
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name = DistinguishedName::new();
    ca.distinguished_name.push(DnType::CommonName, "bench CA");
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate()?)?;
    let mut server = CertificateParams::new(vec!["localhost".to_string()])?;
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_key = KeyPair::generate()?;
    let server = server.signed_by(&server_key, &ca)?;
    let mut client = CertificateParams::new(Vec::<String>::new())?;
    client.distinguished_name = DistinguishedName::new();
    client.distinguished_name.push(DnType::CommonName, "bench");
    client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_key = KeyPair::generate()?;
    let client = client.signed_by(&client_key, &ca)?;

    let dir = tempfile::tempdir()?;
    let path = |name: &str| dir.path().join(name);
    std::fs::write(path("server.pem"), server.pem())?;
    std::fs::write(path("server.key"), server_key.serialize_pem())?;
    std::fs::write(path("ca.pem"), ca.pem())?;
    let tls = weft_connector_http::TlsConfig {
        cert: path("server.pem"),
        key: path("server.key"),
        client_ca: Some(path("ca.pem")),
        reload_interval_ms: 60_000,
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server_config = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(
            vec![server.der().clone()],
            PrivateKeyDer::from_pem_slice(server_key.serialize_pem().as_bytes())?,
        )?;
    server_config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from(ca.der().to_vec()))?;
    let builder = || {
        rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map(|b| b.with_root_certificates(roots.clone()))
    };
    let client_plain = builder()?.with_no_client_auth();
    let client_with_cert = builder()?.with_client_auth_cert(
        vec![client.der().clone()],
        PrivateKeyDer::from_pem_slice(client_key.serialize_pem().as_bytes())?,
    )?;
    Ok(Pki {
        _dir: dir,
        tls,
        server_config: Arc::new(server_config),
        client_plain: Arc::new(client_plain),
        client_with_cert: Arc::new(client_with_cert),
    })
}

/// Starts the server of `variant` on a free loopback port.
async fn start(variant: Variant, pki: &Pki, stop: CancellationToken) -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    match variant {
        Variant::NativePlain | Variant::NativeTls => {
            let acceptor = (variant == Variant::NativeTls)
                .then(|| tokio_rustls::TlsAcceptor::from(pki.server_config.clone()));
            tokio::spawn(native_server(listener, acceptor, stop));
        }
        _ => {
            let auth = match variant {
                Variant::WeftOpen => Authorizer::open(),
                _ => Authorizer::new(
                    &AuthConfig {
                        tokens: vec![
                            TokenConfig {
                                name: "bench".into(),
                                token: Some(TOKEN.into()),
                                publish: vec!["bench.*".into()],
                                ..Default::default()
                            },
                            TokenConfig {
                                name: "bench-cert".into(),
                                client_cert_subject: Some("CN=bench".into()),
                                publish: vec!["bench.*".into()],
                                ..Default::default()
                            },
                        ],
                        ..Default::default()
                    },
                    Some(addr),
                )
                .map_err(anyhow::Error::msg)?,
            };
            let ingress = weft_connector_http::Ingress {
                store: Arc::new(CountingStore(AtomicU64::new(0))),
                topics: Arc::default(),
                max_body_bytes: 1 << 20,
                ready: Arc::new(AtomicBool::new(true)),
                metrics: Arc::new(String::new),
                auth: Arc::new(auth),
                limits: Default::default(),
                sse: None,
                subscriptions: None,
            };
            if variant.tls() {
                let tls =
                    weft_connector_http::TlsServer::load(&pki.tls).map_err(anyhow::Error::msg)?;
                tokio::spawn(weft_connector_http::serve_tls(listener, ingress, tls, stop));
            } else {
                tokio::spawn(weft_connector_http::serve(listener, ingress, stop));
            }
        }
    }
    Ok(addr)
}

/// hyper with a handler that answers 202 at once.
async fn native_server(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    stop: CancellationToken,
) {
    loop {
        let stream = tokio::select! {
            _ = stop.cancelled() => return,
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(_) => continue,
            },
        };
        let _ = stream.set_nodelay(true);
        let tls = tls.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(
                |req: hyper::Request<hyper::body::Incoming>| async move {
                    let _ = req.into_body().collect().await;
                    Ok::<_, std::convert::Infallible>(
                        hyper::Response::builder()
                            .status(202)
                            .header("content-type", "application/json")
                            .body(Full::new(Bytes::from_static(b"{\"accepted\":1}")))
                            .unwrap(),
                    )
                },
            );
            let http = hyper::server::conn::http1::Builder::new();
            match tls {
                None => {
                    let _ = http.serve_connection(TokioIo::new(stream), service).await;
                }
                Some(acceptor) => {
                    if let Ok(stream) = acceptor.accept(stream).await {
                        let _ = http.serve_connection(TokioIo::new(stream), service).await;
                    }
                }
            }
        });
    }
}

/// One keep-alive connection sending `requests` POSTs one after another.
async fn client(
    addr: SocketAddr,
    tls: Option<Arc<rustls::ClientConfig>>,
    bearer: bool,
    requests: usize,
) -> anyhow::Result<()> {
    let tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    match tls {
        None => drive(TokioIo::new(tcp), bearer, requests).await,
        Some(config) => {
            let name = rustls::pki_types::ServerName::try_from("localhost")?;
            let stream = tokio_rustls::TlsConnector::from(config)
                .connect(name, tcp)
                .await?;
            drive(TokioIo::new(stream), bearer, requests).await
        }
    }
}

async fn drive<I>(io: I, bearer: bool, requests: usize) -> anyhow::Result<()>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await?;
    tokio::spawn(conn);
    let body = Bytes::from(
        serde_json::json!({
            "specversion": "1.0", "id": "1", "source": "/bench", "type": "bench.ingress",
            "datacontenttype": "application/json", "data": {"order": 42, "lines": [1, 2, 3]}
        })
        .to_string(),
    );
    let auth = format!("Bearer {TOKEN}");
    for _ in 0..requests {
        let mut req = hyper::Request::post("/v1/events/bench.in")
            .header("host", "localhost")
            .header("content-type", "application/cloudevents+json");
        if bearer {
            req = req.header("authorization", auth.as_str());
        }
        sender.ready().await?;
        let response = sender
            .send_request(req.body(Full::new(body.clone()))?)
            .await?;
        let status = response.status();
        response.into_body().collect().await?;
        anyhow::ensure!(status == 202, "answered {status}");
    }
    Ok(())
}

/// Requests/s of one variant for one round.
async fn measure(
    variant: Variant,
    pki: &Pki,
    connections: usize,
    requests: usize,
) -> anyhow::Result<f64> {
    let stop = CancellationToken::new();
    let addr = start(variant, pki, stop.clone()).await?;
    let tls = match variant {
        Variant::WeftTlsClientCert => Some(pki.client_with_cert.clone()),
        v if v.tls() => Some(pki.client_plain.clone()),
        _ => None,
    };
    let bearer = matches!(variant, Variant::WeftBearer | Variant::WeftTlsBearer);
    let per = requests.div_ceil(connections);
    // a warm-up connection (first handshake, allocations)
    client(addr, tls.clone(), bearer, 50)
        .await
        .with_context(|| variant.label())?;
    let started = Instant::now();
    let tasks: Vec<_> = (0..connections)
        .map(|_| tokio::spawn(client(addr, tls.clone(), bearer, per)))
        .collect();
    for t in tasks {
        t.await?.with_context(|| variant.label())?;
    }
    let took = started.elapsed();
    stop.cancel();
    Ok((per * connections) as f64 / took.as_secs_f64())
}

/// Median requests/s per variant.
pub struct Report {
    rows: Vec<(Variant, f64)>,
    connections: usize,
    requests: usize,
    rounds: usize,
    load_before: String,
    load_after: String,
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// Runs every variant `rounds` times, interleaved.
pub async fn run(requests: usize, connections: usize, rounds: usize) -> anyhow::Result<Report> {
    let pki = pki()?;
    let load_before = loadavg();
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); Variant::ALL.len()];
    for _ in 0..rounds.max(1) {
        for (i, v) in Variant::ALL.iter().enumerate() {
            samples[i].push(measure(*v, &pki, connections, requests).await?);
            // let closed connections drain before the next variant
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let rows = Variant::ALL
        .iter()
        .zip(samples)
        .map(|(v, mut s)| {
            s.sort_by(f64::total_cmp);
            (*v, s[s.len() / 2])
        })
        .collect();
    Ok(Report {
        rows,
        connections,
        requests,
        rounds,
        load_before,
        load_after: loadavg(),
    })
}

/// Prints the table: requests/s, ratio to the native plain baseline and, for HTTPS rows,
/// to the native HTTPS baseline.
pub fn print(report: &Report) {
    let rate = |v: Variant| {
        report
            .rows
            .iter()
            .find(|(r, _)| *r == v)
            .map_or(f64::NAN, |(_, x)| *x)
    };
    let native = rate(Variant::NativePlain);
    let native_tls = rate(Variant::NativeTls);
    println!(
        "HTTP ingress, POST one structured CloudEvent per request: {} requests over {} keep-alive connections, median of {} rounds",
        report.requests, report.connections, report.rounds
    );
    println!(
        "{:<42} {:>12} {:>12} {:>14}",
        "", "requests/s", "vs native", "vs native TLS"
    );
    for (v, r) in &report.rows {
        let vs_tls = if v.tls() {
            format!("{:.2}", r / native_tls)
        } else {
            "—".to_string()
        };
        println!(
            "{:<42} {:>12.0} {:>12.2} {:>14}",
            v.label(),
            r,
            r / native,
            vs_tls
        );
    }
    println!(
        "load average before {} / after {} ({} cores)",
        report.load_before,
        report.load_after,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
}
