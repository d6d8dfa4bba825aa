//! Shared helpers for weft's integration tests: building test plugins once, running the
//! `weft` binary, a minimal HTTP client, polling with a deadline.
#![allow(dead_code, missing_docs)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The `weft` binary under test.
pub fn weft_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_weft"))
}

/// Builds a workspace plugin crate to wasm once per test process; returns the .wasm path.
pub fn plugin_wasm(package: &str) -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let dir = BUILT.get_or_init(|| {
        let target = root().join("target/wasm-plugins");
        // as `weft plugin build` does: only the cdylib (see host/weft/build.rs)
        for package in [
            "weft-test-probe",
            "weft-test-hostile",
            "weft-plugin-json-map",
            "weft-plugin-dedupe",
            "weft-plugin-passthrough",
            "weft-plugin-http-enrich",
        ] {
            let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
                .current_dir(root())
                .args(["rustc", "-p", package, "--lib", "--crate-type", "cdylib"])
                .args(["--target", "wasm32-wasip2", "--profile", "plugin"])
                .arg("--target-dir")
                .arg(&target)
                .status()
                .expect("running cargo to build the test plugins");
            assert!(
                status.success(),
                "building the test plugin {package} failed"
            );
        }
        target.join("wasm32-wasip2/plugin")
    });
    let path = dir.join(format!("{}.wasm", package.replace('-', "_")));
    assert!(path.is_file(), "{} was not built", path.display());
    path
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls `f` until it returns `Some` or the deadline passes.
pub fn poll<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// A minimal HTTP/1.1 response.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpResponse {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// Sends one HTTP request (Connection: close) and reads the response.
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<HttpResponse> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes())?;
    stream.write_all(body)?;
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader.read_line(&mut status_line)?;
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut headers = Vec::new();
    let mut chunked = false;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_string());
            if k == "transfer-encoding" && v.contains("chunked") {
                chunked = true;
            }
            headers.push((k, v));
        }
    }
    let mut raw = Vec::new();
    reader.read_to_end(&mut raw)?;
    let body = if chunked { dechunk(&raw) } else { raw };
    Ok(HttpResponse {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(pos) = raw.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(std::str::from_utf8(&raw[..pos]).unwrap_or("0").trim(), 16)
                .unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = pos + 2;
        out.extend_from_slice(&raw[start..(start + size).min(raw.len())]);
        raw = &raw[(start + size + 2).min(raw.len())..];
    }
    out
}

/// POSTs a structured-mode CloudEvent.
pub fn post_event(addr: SocketAddr, topic: &str, event: &serde_json::Value) -> HttpResponse {
    http(
        addr,
        "POST",
        &format!("/v1/events/{topic}"),
        &[("content-type", "application/cloudevents+json")],
        event.to_string().as_bytes(),
    )
    .unwrap()
}

/// A running `weft run` process, killed on drop.
pub struct Hub {
    pub child: Child,
    pub addr: SocketAddr,
    pub dir: PathBuf,
    pub stdout_path: PathBuf,
}

impl Hub {
    /// Starts `weft run --config <dir>/weft.toml` and waits until /readyz answers 200.
    pub fn start(dir: &Path, addr: SocketAddr) -> Hub {
        Hub::start_with_env(dir, addr, &[])
    }

    /// [`Hub::start`] with extra environment variables.
    pub fn start_with_env(dir: &Path, addr: SocketAddr, env: &[(&str, &str)]) -> Hub {
        let stdout_path = dir.join(format!("stdout-{}.log", rand_u64()));
        let stderr_path = dir.join("stderr.log");
        let child = Command::new(weft_bin())
            .args(["run", "--config"])
            .arg(dir.join("weft.toml"))
            .envs(env.iter().copied())
            .stdout(std::fs::File::create(&stdout_path).unwrap())
            .stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&stderr_path)
                    .unwrap(),
            )
            .spawn()
            .expect("starting weft");
        let mut hub = Hub {
            child,
            addr,
            dir: dir.to_path_buf(),
            stdout_path,
        };
        let ready = poll(Duration::from_secs(60), || {
            if let Ok(Some(status)) = hub.child.try_wait() {
                panic!(
                    "weft exited early with {status}: {}",
                    std::fs::read_to_string(&stderr_path).unwrap_or_default()
                );
            }
            http(addr, "GET", "/readyz", &[], b"")
                .ok()
                .filter(|r| r.status == 200)
        });
        assert!(
            ready.is_some(),
            "weft did not become ready: {}",
            std::fs::read_to_string(dir.join("stderr.log")).unwrap_or_default()
        );
        hub
    }

    /// The JSON lines the hub printed on stdout so far.
    pub fn stdout_events(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.stdout_path)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Sends SIGKILL.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        poll(Duration::from_secs(60), || {
            self.child.try_wait().ok().flatten()
        })
        .expect("weft did not exit after SIGTERM")
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A pseudo-random u64 (unique names per test).
pub fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    h.write_u32(std::process::id());
    h.finish()
}

/// A tiny HTTP server answering every request with `status` and `body`; returns its
/// address and a counter of requests served.
pub fn serve_http(
    status: u16,
    body: &'static str,
) -> (SocketAddr, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                let l = line.trim_end().to_ascii_lowercase();
                if let Some(v) = l.strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                if l.is_empty() {
                    break;
                }
            }
            let mut body_in = vec![0u8; len];
            let _ = reader.read_exact(&mut body_in);
            let resp = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(resp.as_bytes());
        }
    });
    (addr, hits)
}
