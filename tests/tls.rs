//! TLS for the HTTP listener against the real binary (issue 11 item 1): `[hub.tls]`
//! serves HTTPS and refuses plain HTTP; the certificate is reloaded when its files change
//! and a broken rewrite keeps the previous one; client certificates (checked against
//! `client_ca`) are credentials mapped to `[[auth.tokens]]` scopes by subject or
//! fingerprint (403 outside them, 401 for a certificate no token names); a client
//! certificate from another CA is refused; a silent TLS client is closed at
//! `header_timeout_ms`; `weft validate` checks the files. Certificates are made in the
//! test with rcgen.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use sha2::{Digest, Sha256};

const BEARER: &str = "bearer-token-0123456789";

/// A CA that signs server and client certificates.
struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A certificate with its key.
struct Leaf {
    cert_pem: String,
    key_pem: String,
    der: CertificateDer<'static>,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, name);
        Ca {
            issuer: CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap(),
        }
    }

    fn pem(&self) -> String {
        self.issuer.pem()
    }

    fn server(&self) -> Leaf {
        let mut params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.sign(params)
    }

    fn client(&self, cn: &str, org: &str) -> Leaf {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, cn);
        params
            .distinguished_name
            .push(DnType::OrganizationName, org);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.sign(params)
    }

    fn sign(&self, params: CertificateParams) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().clone(),
        }
    }
}

struct Setup {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    addr: SocketAddr,
    server_ca: Ca,
    client_ca: Ca,
    erp: Leaf,
    partner: Leaf,
}

fn write_pki(dir: &Path, server_ca: &Ca, client_ca: &Ca, server: &Leaf) {
    std::fs::create_dir_all(dir.join("tls")).unwrap();
    std::fs::write(dir.join("tls/server.pem"), &server.cert_pem).unwrap();
    std::fs::write(dir.join("tls/server.key"), &server.key_pem).unwrap();
    std::fs::write(dir.join("tls/clients.pem"), client_ca.pem()).unwrap();
    std::fs::write(dir.join("tls/server-ca.pem"), server_ca.pem()).unwrap();
}

fn setup(hub_extra: &str) -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let addr: SocketAddr = format!("127.0.0.1:{}", support::free_port())
        .parse()
        .unwrap();
    let server_ca = Ca::new("weft test server CA");
    let client_ca = Ca::new("weft test client CA");
    let server = server_ca.server();
    write_pki(&dir, &server_ca, &client_ca, &server);
    let erp = client_ca.client("erp", "Acme");
    let partner = client_ca.client("partner", "Other");
    let fingerprint = hex::encode(Sha256::digest(&partner.der));
    // the `:`-separated upper-case form openssl prints
    let fingerprint_colons = fingerprint
        .as_bytes()
        .chunks(2)
        .map(|c| std::str::from_utf8(c).unwrap().to_ascii_uppercase())
        .collect::<Vec<_>>()
        .join(":");
    let config = format!(
        r#"
[hub]
listen = "{addr}"
data_dir = "data"
drain_timeout_ms = 500
{hub_extra}

[hub.tls]
cert = "tls/server.pem"
key = "tls/server.key"
client_ca = "tls/clients.pem"
reload_interval_ms = 200

[[auth.tokens]]
name = "erp"
client_cert_subject = "CN=erp, o=Acme"
publish = ["orders"]

[[auth.tokens]]
name = "partner"
client_cert_sha256 = "{fingerprint_colons}"
publish = ["invoices"]

[[auth.tokens]]
name = "bearer"
token = "{BEARER}"
publish = ["*"]

[sinks.out]
type = "file"
path = "out.jsonl"

[[routes]]
name = "in"
from = ["topic:orders", "topic:invoices"]
to = ["out"]
"#
    );
    std::fs::write(dir.join("weft.toml"), config).unwrap();
    Setup {
        _dir: tmp,
        dir,
        addr,
        server_ca,
        client_ca,
        erp,
        partner,
    }
}

/// A client configuration trusting `server_ca`, presenting `cert` if given.
fn client_config(server_ca_pem: &str, cert: Option<&Leaf>) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(server_ca_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    let config = match cert {
        None => builder.with_no_client_auth(),
        Some(leaf) => builder
            .with_client_auth_cert(
                vec![leaf.der.clone()],
                PrivateKeyDer::from_pem_slice(leaf.key_pem.as_bytes()).unwrap(),
            )
            .unwrap(),
    };
    Arc::new(config)
}

/// One HTTPS request (`Connection: close`): (status, body, the server's leaf certificate).
fn https(
    addr: SocketAddr,
    config: &Arc<rustls::ClientConfig>,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<(u16, String, Vec<u8>)> {
    let mut tcp = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
    let name = ServerName::try_from("localhost").unwrap();
    let mut conn =
        rustls::ClientConnection::new(config.clone(), name).map_err(std::io::Error::other)?;
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp)?;
    }
    let server_cert = conn
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.to_vec())
        .unwrap_or_default();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    tls.write_all(request.as_bytes())?;
    tls.write_all(body)?;
    let mut raw = Vec::new();
    match tls.read_to_end(&mut raw) {
        Ok(_) => {}
        // a peer closing without close_notify still delivered its answer
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => {}
        Err(e) => return Err(e),
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no HTTP response: {text:?}")))?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body, server_cert))
}

fn event(id: &str) -> Vec<u8> {
    serde_json::json!({"specversion": "1.0", "id": id, "source": "/test", "type": "t"})
        .to_string()
        .into_bytes()
}

const STRUCTURED: (&str, &str) = ("content-type", "application/cloudevents+json");

/// `weft run` on the setup's config, ready (over HTTPS).
struct Hub {
    child: Child,
    stderr: PathBuf,
}

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(s: &Setup) -> Hub {
    let stderr = s.dir.join("stderr.log");
    let child = Command::new(support::weft_bin())
        .args(["run", "--config"])
        .arg(s.dir.join("weft.toml"))
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    let mut hub = Hub { child, stderr };
    let config = client_config(&s.server_ca.pem(), None);
    let ready = support::poll(Duration::from_secs(60), || {
        if let Ok(Some(status)) = hub.child.try_wait() {
            panic!(
                "weft exited early with {status}: {}",
                std::fs::read_to_string(&hub.stderr).unwrap_or_default()
            );
        }
        https(s.addr, &config, "GET", "/readyz", &[], b"")
            .ok()
            .filter(|(status, _, _)| *status == 200)
    });
    assert!(
        ready.is_some(),
        "weft did not become ready over HTTPS: {}",
        std::fs::read_to_string(&hub.stderr).unwrap_or_default()
    );
    hub
}

/// Reads from a plain TCP connection until the server closes it (or `limit`).
fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<Vec<u8>> {
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let deadline = Instant::now() + limit;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        match stream.read(&mut buf) {
            Ok(0) => return Some(got),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return Some(got),
        }
    }
    None
}

#[test]
fn https_is_served_and_plain_http_is_refused() {
    let s = setup("");
    let _hub = start(&s);
    let anonymous = client_config(&s.server_ca.pem(), None);
    let (status, body, _) = https(s.addr, &anonymous, "GET", "/healthz", &[], b"").unwrap();
    assert_eq!(status, 200, "{body}");
    let auth = format!("Bearer {BEARER}");
    let (status, body, _) = https(
        s.addr,
        &anonymous,
        "POST",
        "/v1/events/orders",
        &[STRUCTURED, ("authorization", &auth)],
        &event("1"),
    )
    .unwrap();
    assert_eq!(status, 202, "{body}");
    // no certificate, no token: 401 as without TLS
    let (status, _, _) = https(
        s.addr,
        &anonymous,
        "POST",
        "/v1/events/orders",
        &[STRUCTURED],
        &event("2"),
    )
    .unwrap();
    assert_eq!(status, 401);
    // plain HTTP on the TLS port gets no HTTP answer
    let mut plain = TcpStream::connect(s.addr).unwrap();
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .unwrap();
    let answer = read_until_closed(&mut plain, Duration::from_secs(10)).expect("not closed");
    assert!(
        !answer.starts_with(b"HTTP/"),
        "plain HTTP was answered: {}",
        String::from_utf8_lossy(&answer)
    );
    // a client that does not trust the server's CA refuses the handshake
    let other_ca = Ca::new("some other CA");
    let distrusting = client_config(&other_ca.pem(), None);
    assert!(https(s.addr, &distrusting, "GET", "/healthz", &[], b"").is_err());
}

#[test]
fn client_certificates_map_to_token_scopes() {
    let s = setup("");
    let _hub = start(&s);
    let server_ca = s.server_ca.pem();
    let post = |config: &Arc<rustls::ClientConfig>, topic: &str, extra: &[(&str, &str)]| {
        let mut headers = vec![STRUCTURED];
        headers.extend_from_slice(extra);
        let (status, body, _) = https(
            s.addr,
            config,
            "POST",
            &format!("/v1/events/{topic}"),
            &headers,
            &event(&format!("{}", support::rand_u64())),
        )
        .unwrap();
        (status, body)
    };
    // by subject (`CN=erp, o=Acme`: attribute names case-insensitive)
    let erp = client_config(&server_ca, Some(&s.erp));
    let (status, body) = post(&erp, "orders", &[]);
    assert_eq!(status, 202, "{body}");
    let (status, body) = post(&erp, "invoices", &[]);
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("`erp`"), "{body}");
    // by fingerprint
    let partner = client_config(&server_ca, Some(&s.partner));
    assert_eq!(post(&partner, "invoices", &[]).0, 202);
    assert_eq!(post(&partner, "orders", &[]).0, 403);
    // a certificate of the right CA that no token names is no credential
    let stranger = s.client_ca.client("stranger", "Acme");
    let stranger = client_config(&server_ca, Some(&stranger));
    assert_eq!(post(&stranger, "orders", &[]).0, 401);
    // the subject must hold every configured attribute (O=Acme too)
    let erp_elsewhere = s.client_ca.client("erp", "Elsewhere");
    assert_eq!(
        post(
            &client_config(&server_ca, Some(&erp_elsewhere)),
            "orders",
            &[]
        )
        .0,
        401
    );
    // an Authorization header is judged by itself, whatever the certificate
    assert_eq!(
        post(
            &erp,
            "orders",
            &[("authorization", "Bearer wrong-token-wrong-token")]
        )
        .0,
        401
    );
    let auth = format!("Bearer {BEARER}");
    assert_eq!(
        post(&erp, "invoices", &[("authorization", auth.as_str())]).0,
        202
    );
}

#[test]
fn client_certificate_from_another_ca_is_refused() {
    let s = setup("");
    let hub = start(&s);
    let rogue_ca = Ca::new("rogue CA");
    let rogue_erp = rogue_ca.client("erp", "Acme");
    let rogue = client_config(&s.server_ca.pem(), Some(&rogue_erp));
    let result = https(
        s.addr,
        &rogue,
        "POST",
        "/v1/events/orders",
        &[STRUCTURED],
        &event("r"),
    );
    assert!(
        result.is_err(),
        "a certificate of another CA was accepted: {result:?}"
    );
    // nothing was stored
    let _ = hub;
    assert!(
        std::fs::read_to_string(s.dir.join("out.jsonl"))
            .unwrap_or_default()
            .is_empty()
    );
}

#[test]
fn certificate_is_reloaded_when_the_files_change_and_a_broken_rewrite_keeps_it() {
    let s = setup("");
    let hub = start(&s);
    let config = client_config(&s.server_ca.pem(), None);
    let (_, _, first) = https(s.addr, &config, "GET", "/healthz", &[], b"").unwrap();
    let first_pem = std::fs::read_to_string(s.dir.join("tls/server.pem")).unwrap();
    // renewal: a new certificate and key
    let renewed = s.server_ca.server();
    std::fs::write(s.dir.join("tls/server.pem"), &renewed.cert_pem).unwrap();
    std::fs::write(s.dir.join("tls/server.key"), &renewed.key_pem).unwrap();
    let seen = support::poll(Duration::from_secs(20), || {
        let (_, _, cert) = https(s.addr, &config, "GET", "/healthz", &[], b"").ok()?;
        (cert == renewed.der.to_vec()).then_some(())
    });
    assert!(
        seen.is_some(),
        "the renewed certificate was not served; still {}",
        if first == renewed.der.to_vec() {
            "renewed?"
        } else {
            "the first"
        }
    );
    // a broken rewrite (a certificate whose key is not the key file's) is logged and the
    // renewed certificate stays in use
    let log_from = std::fs::read_to_string(&hub.stderr).unwrap().len();
    let log_since = |from: usize| {
        std::fs::read_to_string(&hub.stderr)
            .ok()
            .map(|l| l[from.min(l.len())..].to_string())
    };
    std::fs::write(s.dir.join("tls/server.pem"), &first_pem).unwrap();
    let logged = support::poll(Duration::from_secs(20), || {
        log_since(log_from).filter(|l| l.contains("keeping the previous certificate"))
    });
    assert!(logged.is_some(), "the broken rewrite was not reported");
    let logged = logged.unwrap();
    assert!(logged.contains("hub.tls.key"), "{logged}");
    let (status, _, cert) = https(s.addr, &config, "GET", "/healthz", &[], b"").unwrap();
    assert_eq!(status, 200);
    assert_eq!(cert, renewed.der.to_vec(), "the served certificate changed");
    // garbage in the certificate file: the same
    let log_from = std::fs::read_to_string(&hub.stderr).unwrap().len();
    std::fs::write(s.dir.join("tls/server.pem"), "not a certificate").unwrap();
    let logged = support::poll(Duration::from_secs(20), || {
        log_since(log_from).filter(|l| l.contains("hub.tls.cert"))
    });
    assert!(logged.is_some(), "the garbage rewrite was not reported");
    let (status, _, cert) = https(s.addr, &config, "GET", "/healthz", &[], b"").unwrap();
    assert_eq!(status, 200);
    assert_eq!(cert, renewed.der.to_vec());
}

#[test]
fn a_silent_tls_client_is_closed_at_the_header_timeout() {
    let s = setup("header_timeout_ms = 1000");
    let _hub = start(&s);
    let started = Instant::now();
    let mut silent = TcpStream::connect(s.addr).unwrap();
    let closed = read_until_closed(&mut silent, Duration::from_secs(10));
    let held = started.elapsed();
    assert!(
        closed.is_some(),
        "a client that never starts the handshake is held open"
    );
    eprintln!(
        "silent TLS client held {:.2} s (header_timeout_ms = 1000)",
        held.as_secs_f64()
    );
}

#[test]
fn validate_checks_the_tls_files() {
    let s = setup("");
    let validate = || {
        let out = Command::new(support::weft_bin())
            .args(["validate", "--config"])
            .arg(s.dir.join("weft.toml"))
            .output()
            .unwrap();
        (
            out.status.code(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let (code, out) = validate();
    assert_eq!(code, Some(0), "{out}");
    // a key that is not the certificate's
    let other = s.server_ca.server();
    std::fs::write(s.dir.join("tls/server.key"), &other.key_pem).unwrap();
    let (code, out) = validate();
    assert_eq!(code, Some(78), "{out}");
    assert!(out.contains("hub.tls.key"), "{out}");
    // a missing file
    std::fs::remove_file(s.dir.join("tls/clients.pem")).unwrap();
    std::fs::write(s.dir.join("tls/server.key"), "").unwrap();
    let (code, out) = validate();
    assert_eq!(code, Some(78), "{out}");
    assert!(out.contains("hub.tls.client_ca"), "{out}");
    // client-certificate tokens without client_ca
    let text = std::fs::read_to_string(s.dir.join("weft.toml")).unwrap();
    std::fs::write(
        s.dir.join("weft.toml"),
        text.replace("client_ca = \"tls/clients.pem\"\n", ""),
    )
    .unwrap();
    std::fs::write(s.dir.join("tls/server.key"), "").unwrap();
    let (code, out) = validate();
    assert_eq!(code, Some(78), "{out}");
    assert!(out.contains("need [hub.tls] with client_ca"), "{out}");
    // and `weft run` refuses the same (exit 78)
    let status = Command::new(support::weft_bin())
        .args(["run", "--config"])
        .arg(s.dir.join("weft.toml"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(78));
}
