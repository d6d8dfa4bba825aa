//! Helpers for the integration tests against a real Redis.
#![allow(dead_code)]

use std::future::Future;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use redis::Value;
use redis::aio::MultiplexedConnection;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use weft_connector::{ConnectorError, Delivery, Source};
use weft_event::Event;

/// The shared Redis the tests run against.
pub const REDIS_URL: &str = "redis://127.0.0.1:6379";

fn brokers_required() -> bool {
    !std::env::var("WEFT_SKIP_BROKERS").is_ok_and(|v| v == "1")
}

/// Connects to the shared Redis; when it is unreachable, panics, or returns `None` (with a
/// note) if `WEFT_SKIP_BROKERS=1`.
pub async fn redis() -> Option<MultiplexedConnection> {
    match connect(REDIS_URL).await {
        Ok(conn) => Some(conn),
        Err(e) if brokers_required() => {
            panic!(
                "Redis at {REDIS_URL} is unreachable (set WEFT_SKIP_BROKERS=1 to skip the broker tests): {e}"
            )
        }
        Err(e) => {
            eprintln!("note: skipping test, Redis at {REDIS_URL} is unreachable: {e}");
            None
        }
    }
}

/// A multiplexed connection to `url`, with short timeouts.
pub async fn connect(url: &str) -> redis::RedisResult<MultiplexedConnection> {
    let client = redis::Client::open(url)?;
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(Duration::from_secs(10)));
    let mut conn = client
        .get_multiplexed_async_connection_with_config(&config)
        .await?;
    redis::cmd("PING").query_async::<String>(&mut conn).await?;
    Ok(conn)
}

/// A name unique to this test run.
pub fn unique(prefix: &str) -> String {
    format!("weft-test:{prefix}:{:016x}", rand::random::<u64>())
}

/// Polls `check` every 20 ms until it returns true; panics after `timeout`.
pub async fn eventually<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if check().await {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A sample event `n`.
pub fn event(n: usize) -> Event {
    let mut e = Event::new(format!("e{n}"), "/test/producer", "com.example.test");
    e.datacontenttype = Some("application/json".into());
    e.data = Some(format!(r#"{{"n":{n}}}"#).into_bytes());
    e
}

/// Appends events `range` to `stream` in binary mode, pipelined in chunks.
pub async fn produce(
    conn: &mut MultiplexedConnection,
    stream: &str,
    range: std::ops::Range<usize>,
) -> Vec<String> {
    let mut ids = Vec::new();
    let all: Vec<usize> = range.collect();
    for chunk in all.chunks(500) {
        let mut pipe = redis::pipe();
        for n in chunk {
            pipe.cmd("XADD").arg(stream).arg("*");
            for (k, v) in weft_connector_redis::binding::encode(
                &event(*n),
                weft_connector_redis::Binding::Binary,
            ) {
                pipe.arg(k).arg(v);
            }
        }
        let added: Vec<String> = pipe.query_async(conn).await.expect("XADD");
        ids.extend(added);
    }
    ids
}

/// Number of entries pending in `group` (XPENDING summary).
pub async fn pending(conn: &mut MultiplexedConnection, stream: &str, group: &str) -> usize {
    let reply: redis::streams::StreamPendingReply = redis::cmd("XPENDING")
        .arg(stream)
        .arg(group)
        .query_async(conn)
        .await
        .expect("XPENDING");
    reply.count()
}

/// Number of entries in `stream`.
pub async fn xlen(conn: &mut MultiplexedConnection, stream: &str) -> usize {
    redis::cmd("XLEN")
        .arg(stream)
        .query_async(conn)
        .await
        .expect("XLEN")
}

/// All entries of `stream` as (id, fields).
pub async fn entries(
    conn: &mut MultiplexedConnection,
    stream: &str,
) -> Vec<(String, Vec<(String, Vec<u8>)>)> {
    let reply: Value = redis::cmd("XRANGE")
        .arg(stream)
        .arg("-")
        .arg("+")
        .query_async(conn)
        .await
        .expect("XRANGE");
    let Value::Array(rows) = reply else {
        panic!("XRANGE reply {reply:?}")
    };
    rows.into_iter()
        .map(|row| {
            let Value::Array(mut parts) = row else {
                panic!("row {row:?}")
            };
            let fields = parts.pop().expect("fields");
            let id: String = redis::from_redis_value(parts.pop().expect("id")).expect("id");
            let Value::Array(flat) = fields else {
                panic!("fields {fields:?}")
            };
            let mut out = Vec::new();
            let mut it = flat.into_iter();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                let k: String = redis::from_redis_value(k).expect("field name");
                let v: Vec<u8> = redis::from_redis_value(v).expect("field value");
                out.push((k, v));
            }
            (id, out)
        })
        .collect()
}

/// Deletes test keys.
pub async fn cleanup(conn: &mut MultiplexedConnection, keys: &[&str]) {
    let _: Result<i64, _> = redis::cmd("DEL").arg(keys).query_async(conn).await;
}

/// A source running in a task, with the receiving end of its channel.
pub struct Running {
    pub rx: mpsc::Receiver<Delivery>,
    pub shutdown: CancellationToken,
    pub handle: JoinHandle<Result<(), ConnectorError>>,
}

impl Running {
    /// Starts `source` with a channel of `capacity`.
    pub fn start(source: Box<dyn Source>, capacity: usize) -> Self {
        let (tx, rx) = mpsc::channel(capacity);
        let shutdown = CancellationToken::new();
        let handle = tokio::spawn(source.run(tx, shutdown.clone()));
        Running {
            rx,
            shutdown,
            handle,
        }
    }

    /// The next delivery, or `None` after `timeout`.
    pub async fn next(&mut self, timeout: Duration) -> Option<Delivery> {
        tokio::time::timeout(timeout, self.rx.recv())
            .await
            .ok()
            .flatten()
    }

    /// The next delivery; panics after `timeout`.
    pub async fn expect(&mut self, timeout: Duration, what: &str) -> Delivery {
        match self.next(timeout).await {
            Some(d) => d,
            None => panic!("no delivery within {timeout:?}: expected {what}"),
        }
    }

    /// Cancels the source and waits for `run` to return (at most `timeout`).
    pub async fn stop(self, timeout: Duration) -> Result<(), ConnectorError> {
        self.shutdown.cancel();
        drop(self.rx);
        tokio::time::timeout(timeout, self.handle)
            .await
            .expect("source did not stop in time")
            .expect("source task panicked")
    }
}

/// A `redis-server` child process on a free port, killed on drop.
pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
    dir: tempfile::TempDir,
    persistent: bool,
    /// TLS-only server (see [`RedisServer::enable_tls`]).
    tls: bool,
    /// Extra command-line arguments.
    extra_args: Vec<String>,
}

impl RedisServer {
    /// Starts a server; `persistent` turns on the append-only file (fsync always) in a temp
    /// dir so data survives a restart. `None` (with a note) when `redis-server` is missing
    /// and brokers are not required.
    pub async fn start(persistent: bool) -> Option<Self> {
        let mut server = Self::reserve(persistent);
        match server.spawn().await {
            Ok(()) => Some(server),
            Err(e) if brokers_required() => panic!("cannot start redis-server: {e}"),
            Err(e) => {
                eprintln!("note: skipping test, cannot start redis-server: {e}");
                None
            }
        }
    }

    /// Picks a free port for a server without starting it (see [`RedisServer::spawn`]).
    pub fn reserve(persistent: bool) -> Self {
        // Logs bypass the test harness's capture: only with RUST_LOG set.
        if std::env::var_os("RUST_LOG").is_some() {
            weft_telemetry::init_tracing(weft_telemetry::LogFormat::Text, "info");
        }
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
            listener.local_addr().expect("addr").port()
        };
        RedisServer {
            child: None,
            port,
            dir: tempfile::tempdir().expect("tempdir"),
            persistent,
            tls: false,
            extra_args: Vec::new(),
        }
    }

    /// Makes the (not yet spawned) server TLS-only, with a certificate for `localhost`
    /// signed by a fresh CA, and an ACL user `weft` with password `s3cret` (the default user
    /// is disabled). Returns the CA file's path. Needs the `openssl` command.
    pub fn enable_tls(&mut self) -> Result<String, String> {
        let dir = self.dir.path();
        let run = |args: &[&str]| -> Result<(), String> {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(dir)
                .output()
                .map_err(|e| format!("openssl: {e}"))?;
            if out.status.success() {
                Ok(())
            } else {
                Err(format!(
                    "openssl {args:?}: {}",
                    String::from_utf8_lossy(&out.stderr)
                ))
            }
        };
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        run(&[
            &["req", "-x509"][..],
            &ec,
            &[
                "-keyout",
                "ca.key",
                "-out",
                "ca.crt",
                "-days",
                "2",
                "-subj",
                "/CN=weft test CA",
            ],
        ]
        .concat())?;
        run(&[
            &["req"][..],
            &ec,
            &[
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=localhost",
            ],
        ]
        .concat())?;
        std::fs::write(
            dir.join("ext.cnf"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
        )
        .map_err(|e| e.to_string())?;
        run(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ])?;
        self.tls = true;
        for arg in [
            "--tls-cert-file",
            "server.crt",
            "--tls-key-file",
            "server.key",
            "--tls-ca-cert-file",
            "ca.crt",
            "--tls-auth-clients",
            "no",
            "--user",
            "weft",
            "on",
            ">s3cret",
            "~*",
            "&*",
            "+@all",
            "--user",
            "default",
            "off",
        ] {
            self.extra_args.push(arg.to_string());
        }
        Ok(dir.join("ca.crt").to_string_lossy().into_owned())
    }

    /// The server's URL.
    pub fn url(&self) -> String {
        if self.tls {
            format!("rediss://localhost:{}", self.port)
        } else {
            format!("redis://127.0.0.1:{}", self.port)
        }
    }

    /// (Re)starts the process and waits until it answers PING.
    pub async fn spawn(&mut self) -> Result<(), String> {
        let mut cmd = Command::new("redis-server");
        cmd.current_dir(self.dir.path());
        if self.tls {
            cmd.args(["--port", "0", "--tls-port", &self.port.to_string()]);
        } else {
            cmd.args(["--port", &self.port.to_string()]);
        }
        cmd.args(&self.extra_args);
        cmd.arg("--bind")
            .arg("127.0.0.1")
            .arg("--save")
            .arg("")
            .arg("--daemonize")
            .arg("no")
            .arg("--dir")
            .arg(self.dir.path());
        if self.persistent {
            cmd.args(["--appendonly", "yes", "--appendfsync", "always"]);
        } else {
            cmd.args(["--appendonly", "no"]);
        }
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        let child = cmd.spawn().map_err(|e| format!("redis-server: {e}"))?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let ready = if self.tls {
                // Listening is enough: the test's own clients speak TLS.
                std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
            } else {
                connect(&self.url()).await.is_ok()
            };
            if ready {
                return Ok(());
            }
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                return Err(format!("redis-server exited: {status}"));
            }
            if Instant::now() > deadline {
                return Err("redis-server did not answer PING within 10s".into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Kills the process (SIGKILL) and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}
