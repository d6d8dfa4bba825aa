//! Helpers shared by the integration tests: broker detection, unique names, an admin
//! connection to declare/publish/inspect, cleanup, polling with a deadline, and running a
//! source the way the router does.

#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use lapin::options::{
    BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions,
    QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use weft_connector::{ConnectorError, Delivery, Source};
use weft_connector_amqp::binding::{self, ContentMode, HeaderSeparator};
use weft_event::Event;

/// The broker every test talks to.
pub const URI: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// Fails the test when RabbitMQ is unreachable, or skips it (returns) if `WEFT_SKIP_BROKERS=1`.
#[macro_export]
macro_rules! require_broker {
    () => {
        match common::Admin::connect().await {
            Some(admin) => admin,
            None => return,
        }
    };
}

/// A random name for this test's queues and exchanges.
pub fn unique(what: &str) -> String {
    format!(
        "weft-test-{what}-{:012x}",
        rand::random::<u64>() & 0xffff_ffff_ffff
    )
}

/// Logs to stderr when `RUST_LOG` is set.
pub fn init_logs() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}

/// A test's own connection, for setup and inspection.
pub struct Admin {
    pub connection: Connection,
    pub channel: Channel,
    cleanup: Cleanup,
}

impl Admin {
    /// Connects; when the broker is unreachable, panics, or returns `None` after a note
    /// if `WEFT_SKIP_BROKERS=1`.
    pub async fn connect() -> Option<Admin> {
        init_logs();
        let props = ConnectionProperties::default().with_connection_name("weft-test-admin".into());
        let result =
            tokio::time::timeout(Duration::from_secs(5), Connection::connect(URI, props)).await;
        let connection = match result {
            Ok(Ok(c)) => c,
            other => {
                let why = match other {
                    Ok(Err(e)) => e.to_string(),
                    _ => "timed out".into(),
                };
                if !std::env::var("WEFT_SKIP_BROKERS").is_ok_and(|v| v == "1") {
                    panic!(
                        "RabbitMQ at 127.0.0.1:5672 is required (set WEFT_SKIP_BROKERS=1 to skip the broker tests) but unreachable: {why}"
                    );
                }
                eprintln!(
                    "note: skipping: RabbitMQ at 127.0.0.1:5672 is unreachable ({why}); WEFT_SKIP_BROKERS=1 is set"
                );
                return None;
            }
        };
        let channel = connection.create_channel().await.expect("admin channel");
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .expect("confirm_select");
        Some(Admin {
            connection,
            channel,
            cleanup: Cleanup::default(),
        })
    }

    async fn fresh_channel(&self) -> Channel {
        self.connection.create_channel().await.expect("channel")
    }

    /// Declares a durable classic queue (deleted at the end of the test).
    pub async fn queue(&mut self, name: &str) {
        self.queue_with(name, FieldTable::default()).await;
    }

    /// Declares a durable queue with arguments (deleted at the end of the test).
    pub async fn queue_with(&mut self, name: &str, arguments: FieldTable) {
        self.cleanup.queues.push(name.to_string());
        self.fresh_channel()
            .await
            .queue_declare(
                name.into(),
                QueueDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                arguments,
            )
            .await
            .expect("queue_declare");
    }

    /// Deletes the queue (and forgets it for cleanup) — or marks a queue the code under
    /// test declares for deletion at the end.
    pub fn forget_queue_later(&mut self, name: &str) {
        self.cleanup.queues.push(name.to_string());
    }

    /// Marks an exchange the code under test declares for deletion at the end.
    pub fn forget_exchange_later(&mut self, name: &str) {
        self.cleanup.exchanges.push(name.to_string());
    }

    /// Declares a durable exchange (deleted at the end of the test).
    pub async fn exchange(&mut self, name: &str, kind: ExchangeKind) {
        self.cleanup.exchanges.push(name.to_string());
        self.fresh_channel()
            .await
            .exchange_declare(
                name.into(),
                kind,
                ExchangeDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .expect("exchange_declare");
    }

    /// Deletes an exchange now.
    pub async fn delete_exchange(&self, name: &str) {
        self.fresh_channel()
            .await
            .exchange_delete(name.into(), Default::default())
            .await
            .expect("exchange_delete");
    }

    /// Binds a queue.
    pub async fn bind(&self, queue: &str, exchange: &str, key: &str) {
        self.fresh_channel()
            .await
            .queue_bind(
                queue.into(),
                exchange.into(),
                key.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .expect("queue_bind");
    }

    /// Publishes raw bytes with properties to a queue (default exchange), confirmed.
    pub async fn publish_raw(&self, queue: &str, properties: BasicProperties, body: &[u8]) {
        let confirm = self
            .channel
            .basic_publish(
                "".into(),
                queue.into(),
                BasicPublishOptions::default(),
                body,
                properties,
            )
            .await
            .expect("publish")
            .await
            .expect("confirm");
        assert!(confirm.is_ack());
    }

    /// Publishes an event to a queue in the given mode, confirmed.
    pub async fn publish_event(&self, queue: &str, event: &Event, mode: ContentMode) {
        let message = binding::encode(event, mode, HeaderSeparator::Colon).expect("encode");
        self.publish_raw(
            queue,
            message.properties.with_delivery_mode(2),
            &message.body,
        )
        .await;
    }

    /// Publishes many events, pipelined, then waits for all confirms.
    pub async fn publish_many(&self, queue: &str, events: impl IntoIterator<Item = Event>) {
        for event in events {
            let message =
                binding::encode(&event, ContentMode::Binary, HeaderSeparator::Colon).unwrap();
            // dropping the PublisherConfirm registers it with wait_for_confirms
            let confirm = self
                .channel
                .basic_publish(
                    "".into(),
                    queue.into(),
                    BasicPublishOptions::default(),
                    &message.body,
                    message.properties.with_delivery_mode(2),
                )
                .await
                .expect("publish");
            drop(confirm);
        }
        self.channel.wait_for_confirms().await.expect("confirms");
    }

    /// Ready messages in a queue (passive declare).
    pub async fn ready(&self, queue: &str) -> u32 {
        self.fresh_channel()
            .await
            .queue_declare(
                queue.into(),
                QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .expect("passive declare")
            .message_count()
    }

    /// Takes one message (auto-acked), if any.
    pub async fn get(&self, queue: &str) -> Option<lapin::message::BasicGetMessage> {
        self.fresh_channel()
            .await
            .basic_get(queue.into(), BasicGetOptions { no_ack: true })
            .await
            .expect("basic_get")
    }

    /// Waits for a message to arrive in a queue and takes it.
    pub async fn wait_get(&self, queue: &str, within: Duration) -> lapin::message::BasicGetMessage {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(m) = self.get(queue).await {
                return m;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no message arrived in `{queue}` within {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A header value as a string, for assertions.
pub fn header(properties: &BasicProperties, name: &str) -> Option<String> {
    properties
        .headers()
        .as_ref()?
        .inner()
        .get(name)
        .map(|v| match v {
            AMQPValue::LongString(s) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
            other => format!("{other:?}"),
        })
}

/// A string header value.
pub fn long_string(s: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(s.as_bytes()))
}

/// Deletes the test's queues and exchanges when dropped, even after a panic, from its own
/// thread and runtime.
#[derive(Default)]
struct Cleanup {
    queues: Vec<String>,
    exchanges: Vec<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let queues = std::mem::take(&mut self.queues);
        let exchanges = std::mem::take(&mut self.exchanges);
        if queues.is_empty() && exchanges.is_empty() {
            return;
        }
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                let Ok(Ok(conn)) = tokio::time::timeout(
                    Duration::from_secs(5),
                    Connection::connect(URI, ConnectionProperties::default()),
                )
                .await
                else {
                    return;
                };
                for q in queues {
                    if let Ok(ch) = conn.create_channel().await {
                        let _ = ch
                            .queue_delete(q.as_str().into(), QueueDeleteOptions::default())
                            .await;
                    }
                }
                for e in exchanges {
                    if let Ok(ch) = conn.create_channel().await {
                        let _ = ch
                            .exchange_delete(e.as_str().into(), Default::default())
                            .await;
                    }
                }
                let _ = conn.close(200, "cleanup".into()).await;
            });
        })
        .join();
    }
}

/// Polls `check` every 50 ms until it holds; panics with `what` after `within`.
pub async fn eventually<F, Fut>(within: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if check().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {within:?} waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A source running as the router would run it.
pub struct Running {
    pub rx: mpsc::Receiver<Delivery>,
    pub shutdown: CancellationToken,
    pub task: JoinHandle<Result<(), ConnectorError>>,
}

/// Starts a source with an mpsc channel of `capacity`.
pub fn start(source: Box<dyn Source>, capacity: usize) -> Running {
    let (tx, rx) = mpsc::channel(capacity);
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(source.run(tx, shutdown.clone()));
    Running { rx, shutdown, task }
}

impl Running {
    /// The next delivery; panics after `within`.
    pub async fn recv(&mut self, within: Duration) -> Delivery {
        match tokio::time::timeout(within, self.rx.recv()).await {
            Ok(Some(d)) => d,
            Ok(None) => panic!("the source stopped sending"),
            Err(_) => panic!("no delivery within {within:?}"),
        }
    }

    /// Asserts nothing arrives for `quiet`.
    pub async fn expect_nothing(&mut self, quiet: Duration) {
        if let Ok(Some(d)) = tokio::time::timeout(quiet, self.rx.recv()).await {
            panic!("unexpected delivery: {d:?}");
        }
    }

    /// Cancels and waits for `run` to return.
    pub async fn stop(self) -> Result<(), ConnectorError> {
        self.shutdown.cancel();
        drop(self.rx);
        tokio::time::timeout(Duration::from_secs(60), self.task)
            .await
            .expect("source did not stop within 60 s")
            .expect("source task panicked")
    }
}

/// A test event with a numeric id.
pub fn event(n: usize) -> Event {
    let mut e = Event::new(format!("evt-{n}"), "/weft/test", "test.created");
    e.datacontenttype = Some("application/json".into());
    e.data = Some(format!("{{\"n\":{n}}}").into_bytes());
    e
}

/// Closes every broker connection whose `connection_name` is `name`, via `rabbitmqctl`;
/// returns how many were closed.
pub fn close_connections_named(name: &str) -> usize {
    // the table format prints pids as `<node.creation.id.serial>`, which close_connection
    // accepts (the JSON format's `#PID<…>` it does not)
    let output = std::process::Command::new("rabbitmqctl")
        .args([
            "list_connections",
            "pid",
            "client_properties",
            "-q",
            "--no-table-headers",
        ])
        .output()
        .expect("rabbitmqctl must be installed for the reconnect tests");
    assert!(
        output.status.success(),
        "rabbitmqctl list_connections failed: {output:?}"
    );
    let listing = String::from_utf8_lossy(&output.stdout);
    let mut closed = 0;
    for line in listing.lines() {
        if !line.contains(&format!("\"{name}\"")) {
            continue;
        }
        let Some(pid) = line.split('\t').next().filter(|p| p.starts_with('<')) else {
            continue;
        };
        let status = std::process::Command::new("rabbitmqctl")
            .args(["close_connection", pid, "weft test: forced close", "-q"])
            .status()
            .expect("rabbitmqctl close_connection");
        assert!(
            status.success(),
            "rabbitmqctl close_connection {pid} failed"
        );
        closed += 1;
    }
    closed
}

/// A TCP proxy to the broker that can hold back everything the broker sends (confirms,
/// deliveries, heartbeats) while frozen, to simulate a stalled broker or network.
pub struct FreezingProxy {
    /// The local port to connect to instead of 5672.
    pub port: u16,
    frozen: std::sync::Arc<std::sync::atomic::AtomicBool>,
    task: JoinHandle<()>,
}

impl FreezingProxy {
    /// Starts listening on an ephemeral port.
    pub async fn start() -> FreezingProxy {
        use std::sync::atomic::AtomicBool;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let frozen = std::sync::Arc::new(AtomicBool::new(false));
        let flag = frozen.clone();
        let task = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let Ok(outbound) = tokio::net::TcpStream::connect("127.0.0.1:5672").await else {
                    continue;
                };
                tokio::spawn(pipe(inbound, outbound, flag.clone()));
            }
        });
        FreezingProxy { port, frozen, task }
    }

    /// The broker URI through the proxy.
    pub fn uri(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port)
    }

    /// Holds back broker → client bytes until [`thaw`](Self::thaw).
    pub fn freeze(&self) {
        self.frozen.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Lets held bytes through again.
    pub fn thaw(&self) {
        self.frozen
            .store(false, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for FreezingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn pipe(
    client: tokio::net::TcpStream,
    broker: tokio::net::TcpStream,
    frozen: std::sync::Arc<std::sync::atomic::AtomicBool>,
) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let (mut client_read, mut client_write) = client.into_split();
    let (mut broker_read, mut broker_write) = broker.into_split();
    let upstream = async move {
        let _ = tokio::io::copy(&mut client_read, &mut broker_write).await;
    };
    let downstream = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match broker_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            while frozen.load(std::sync::atomic::Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            if client_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    };
    tokio::join!(upstream, downstream);
}
