//! `/readyz` waits for the broker sources: it answers 503 while a source has not yet
//! connected and declared what it reads (a RabbitMQ queue, a Redis consumer group), and 200
//! once every source has, so a producer that publishes as soon as weft is ready does not
//! publish into a queue that does not exist yet.
//!
//! The brokers sit behind TCP forwarders on ports that are closed at first: the sources
//! cannot connect until the test opens them, one after the other.
//!
//! Needs RabbitMQ on 127.0.0.1:5672 (guest/guest) and Redis on 127.0.0.1:6379; fails without
//! them unless `WEFT_SKIP_BROKERS=1`. Queue, stream and group names are unique per run;
//! the test deletes them.

mod support;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

use support::{http, poll};

const AMQP_URI: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
const REDIS_URL: &str = "redis://127.0.0.1:6379";

/// Accepts on `listener` and copies bytes both ways to `target`, one thread per direction.
fn forward(listener: TcpListener, target: &'static str) {
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { continue };
            let Ok(upstream) = TcpStream::connect(target) else {
                continue;
            };
            for (mut from, mut to) in [
                (client.try_clone().unwrap(), upstream.try_clone().unwrap()),
                (upstream, client),
            ] {
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from, &mut to);
                    let _ = to.shutdown(std::net::Shutdown::Both);
                });
            }
        }
    });
}

fn brokers_up() -> bool {
    TcpStream::connect("127.0.0.1:5672").is_ok() && TcpStream::connect("127.0.0.1:6379").is_ok()
}

fn status(addr: SocketAddr, path: &str) -> Option<u16> {
    http(addr, "GET", path, &[], b"").ok().map(|r| r.status)
}

/// The hub process, killed on drop (also when an assertion fails).
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Deletes the test's queue and stream on drop.
struct Cleanup {
    queue: String,
    stream: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Ok(rt) = tokio::runtime::Runtime::new() {
            rt.block_on(async {
                if let Ok(conn) =
                    lapin::Connection::connect(AMQP_URI, lapin::ConnectionProperties::default())
                        .await
                    && let Ok(ch) = conn.create_channel().await
                {
                    let _ = ch
                        .queue_delete(self.queue.as_str().into(), Default::default())
                        .await;
                }
            });
        }
        if let Ok(client) = redis::Client::open(REDIS_URL)
            && let Ok(mut c) = client.get_connection()
        {
            let _: Result<(), _> = redis::cmd("DEL").arg(&self.stream).query(&mut c);
        }
    }
}

/// Whether the queue exists (passive declare).
fn queue_exists(rt: &tokio::runtime::Runtime, queue: &str) -> bool {
    rt.block_on(async {
        let conn = lapin::Connection::connect(AMQP_URI, lapin::ConnectionProperties::default())
            .await
            .expect("RabbitMQ");
        let channel = conn.create_channel().await.unwrap();
        let exists = channel
            .queue_declare(
                queue.into(),
                lapin::options::QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                lapin::types::FieldTable::default(),
            )
            .await
            .is_ok();
        let _ = conn.close(200, "done".into()).await;
        exists
    })
}

#[test]
fn readyz_waits_until_every_broker_source_has_connected_and_declared() {
    if !brokers_up() {
        if std::env::var("WEFT_SKIP_BROKERS").as_deref() == Ok("1") {
            eprintln!("skipped: RabbitMQ or Redis is not reachable");
            return;
        }
        panic!("RabbitMQ (5672) and Redis (6379) must run (set WEFT_SKIP_BROKERS=1 to skip)");
    }
    let unique = format!("{:x}", support::rand_u64());
    let queue = format!("weft-ready-{unique}");
    let stream = format!("weft-ready-{unique}");
    let amqp_port = support::free_port();
    let redis_port = support::free_port();
    let dir = tempfile::tempdir().unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{}", support::free_port())
        .parse()
        .unwrap();
    std::fs::write(
        dir.path().join("weft.toml"),
        format!(
            r#"
[hub]
listen = "{addr}"
data_dir = "data"

[sources.rabbit]
type = "amqp"
uri = "amqp://guest:guest@127.0.0.1:{amqp_port}/%2f"
queue = "{queue}"
declare = true
connect_timeout_secs = 2
reconnect = {{ initial_ms = 50, max_ms = 200 }}

[[sources.rabbit.topology.queues]]
name = "{queue}"
queue_type = "classic"

[sources.stream]
type = "redis-stream"
url = "redis://127.0.0.1:{redis_port}"
stream = "{stream}"
group = "weft"
connection_timeout_ms = 1000
reconnect_max_backoff_ms = 200

[sinks.out]
type = "stdout"

[[routes]]
name = "both"
from = ["rabbit", "stream"]
to = ["out"]
"#
        ),
    )
    .unwrap();
    let stderr_path = dir.path().join("stderr.log");
    let stdout_path = dir.path().join("stdout.log");
    let _cleanup = Cleanup {
        queue: queue.clone(),
        stream: stream.clone(),
    };
    let mut weft = Running(
        Command::new(support::weft_bin())
            .args(["run", "--config"])
            .arg(dir.path().join("weft.toml"))
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout_path).unwrap())
            .stderr(std::fs::File::create(&stderr_path).unwrap())
            .spawn()
            .expect("starting weft"),
    );
    let log = || std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let rt = tokio::runtime::Runtime::new().unwrap();

    // the HTTP server is up (liveness) while both sources are still connecting
    let live = poll(Duration::from_secs(60), || {
        if let Ok(Some(s)) = weft.0.try_wait() {
            panic!("weft exited early with {s}: {}", log());
        }
        (status(addr, "/healthz") == Some(200)).then_some(())
    });
    assert!(live.is_some(), "weft did not start: {}", log());
    assert_eq!(
        status(addr, "/readyz"),
        Some(503),
        "ready although no source could connect yet: {}",
        log()
    );
    assert!(!queue_exists(&rt, &queue), "nobody declared the queue yet");

    // RabbitMQ reachable: the AMQP source declares its queue, but Redis is still closed
    forward(
        TcpListener::bind(("127.0.0.1", amqp_port)).unwrap(),
        "127.0.0.1:5672",
    );
    let declared = poll(Duration::from_secs(30), || {
        queue_exists(&rt, &queue).then_some(())
    });
    assert!(
        declared.is_some(),
        "the AMQP source did not connect: {}",
        log()
    );
    assert_eq!(
        status(addr, "/readyz"),
        Some(503),
        "ready although the Redis stream source has not connected: {}",
        log()
    );

    // Redis reachable too: ready
    forward(
        TcpListener::bind(("127.0.0.1", redis_port)).unwrap(),
        "127.0.0.1:6379",
    );
    let ready = poll(Duration::from_secs(30), || {
        (status(addr, "/readyz") == Some(200)).then_some(())
    });
    assert!(
        ready.is_some(),
        "weft did not become ready once the brokers were reachable: {}",
        log()
    );
    // ready means declared: the consumer group exists, a message published now is kept
    let client = redis::Client::open(REDIS_URL).unwrap();
    let mut conn = client.get_connection().unwrap();
    let groups: redis::Value = redis::cmd("XINFO")
        .arg("GROUPS")
        .arg(&stream)
        .query(&mut conn)
        .expect("the stream and its consumer group exist once weft is ready");
    assert!(
        matches!(&groups, redis::Value::Array(g) if g.len() == 1),
        "{groups:?}"
    );
    let _: String = redis::cmd("XADD")
        .arg(&stream)
        .arg("*")
        .arg("ce_specversion")
        .arg("1.0")
        .arg("ce_id")
        .arg(format!("r-{unique}"))
        .arg("ce_source")
        .arg("/test")
        .arg("ce_type")
        .arg("ready.check")
        .query(&mut conn)
        .unwrap();
    let delivered = poll(Duration::from_secs(30), || {
        std::fs::read_to_string(&stdout_path)
            .unwrap_or_default()
            .contains(&format!("r-{unique}"))
            .then_some(())
    });
    drop(weft);
    assert!(
        delivered.is_some(),
        "the entry added right after /readyz turned 200 was not delivered: {}",
        log()
    );
}
