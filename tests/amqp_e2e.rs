//! weft end to end with the real RabbitMQ on 127.0.0.1:5672 (guest/guest): queue → plugin →
//! exchange through the `weft` binary, two processes on one queue, `kill -9` under load,
//! poison messages, broker connections force-closed under load, sink failures (missing
//! exchange, unroutable mandatory publish) reaching the dead letter.
//!
//! Every test declares its own uniquely named queues and exchanges with lapin and deletes
//! them at the end (also after a failure). Progress is polled with a deadline. Unacked
//! counts and forced connection closes use `rabbitmqctl`, which must be installed next to
//! the broker. The tests fail when RabbitMQ is unreachable, unless `WEFT_SKIP_BROKERS=1`
//! (then they skip with a note).

mod support;

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use lapin::options::{
    BasicCancelOptions, BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions,
    ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};
use serde_json::{Value, json};
use support::{Hub, poll};

const URI: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
/// The source prefetch the tests configure; it bounds duplicates after a crash.
const PREFETCH: u16 = 64;

// ---------------------------------------------------------------------------------------
// broker helper: a runtime, an admin connection, cleanup on drop
// ---------------------------------------------------------------------------------------

/// One message read back from a queue.
#[derive(Debug, Clone)]
struct Received {
    routing_key: String,
    properties: BasicProperties,
    body: Vec<u8>,
}

impl Received {
    /// The CloudEvent id: the `cloudEvents:id` header (binary mode) or the body's `id`
    /// (structured mode).
    fn id(&self) -> Option<String> {
        header(&self.properties, "cloudEvents:id").or_else(|| {
            let v: Value = serde_json::from_slice(&self.body).ok()?;
            v["id"].as_str().map(str::to_string)
        })
    }

    /// The body as JSON (structured-mode records).
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

fn header(properties: &BasicProperties, name: &str) -> Option<String> {
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

/// The test's view of RabbitMQ: declares uniquely named queues and exchanges, publishes,
/// counts and reads back; deletes everything it declared when dropped.
struct Broker {
    connection: Connection,
    publisher: Channel,
    tag: String,
    queues: Vec<String>,
    exchanges: Vec<String>,
    // last: dropped after the lapin handles
    rt: tokio::runtime::Runtime,
}

impl Broker {
    /// Connects; when RabbitMQ is unreachable, panics, or returns `None` after a note if
    /// `WEFT_SKIP_BROKERS=1`.
    fn connect() -> Option<Broker> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let result = rt.block_on(async {
            let props =
                ConnectionProperties::default().with_connection_name("weft-e2e-admin".into());
            match tokio::time::timeout(Duration::from_secs(5), Connection::connect(URI, props))
                .await
            {
                Ok(Ok(c)) => Ok(c),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err("timed out".to_string()),
            }
        });
        let connection = match result {
            Ok(c) => c,
            Err(why) => {
                if !std::env::var("WEFT_SKIP_BROKERS").is_ok_and(|v| v == "1") {
                    panic!(
                        "RabbitMQ at 127.0.0.1:5672 is required (set WEFT_SKIP_BROKERS=1 to skip the broker tests) but unreachable: {why}"
                    );
                }
                eprintln!(
                    "skipping: RabbitMQ at 127.0.0.1:5672 is unreachable ({why}); WEFT_SKIP_BROKERS=1 is set"
                );
                return None;
            }
        };
        let publisher = rt.block_on(async {
            let channel = connection.create_channel().await.expect("channel");
            channel
                .confirm_select(ConfirmSelectOptions::default())
                .await
                .expect("confirm_select");
            channel
        });
        Some(Broker {
            connection,
            publisher,
            tag: format!("{:012x}", support::rand_u64() & 0xffff_ffff_ffff),
            queues: Vec::new(),
            exchanges: Vec::new(),
            rt,
        })
    }

    /// A name unique to this test.
    fn name(&self, what: &str) -> String {
        format!("weft-e2e-{}-{what}", self.tag)
    }

    fn channel(&self) -> Channel {
        self.rt
            .block_on(self.connection.create_channel())
            .expect("admin channel")
    }

    /// Declares a durable classic queue, deleted at the end.
    fn queue(&mut self, name: &str) {
        self.queues.push(name.to_string());
        let channel = self.channel();
        self.rt
            .block_on(channel.queue_declare(
                name.into(),
                QueueDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                FieldTable::default(),
            ))
            .expect("queue_declare");
    }

    /// Declares a durable exchange, deleted at the end.
    fn exchange(&mut self, name: &str, kind: ExchangeKind) {
        self.exchanges.push(name.to_string());
        let channel = self.channel();
        self.rt
            .block_on(channel.exchange_declare(
                name.into(),
                kind,
                ExchangeDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                FieldTable::default(),
            ))
            .expect("exchange_declare");
    }

    /// Deletes an exchange now.
    fn delete_exchange(&self, name: &str) {
        let channel = self.channel();
        self.rt
            .block_on(channel.exchange_delete(name.into(), Default::default()))
            .expect("exchange_delete");
    }

    fn bind(&self, queue: &str, exchange: &str, key: &str) {
        let channel = self.channel();
        self.rt
            .block_on(channel.queue_bind(
                queue.into(),
                exchange.into(),
                key.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            ))
            .expect("queue_bind");
    }

    /// Publishes messages to a queue through the default exchange, pipelined, and waits for
    /// every publisher confirm.
    fn publish(&self, queue: &str, messages: impl IntoIterator<Item = (BasicProperties, Vec<u8>)>) {
        self.rt.block_on(async {
            let mut n = 0usize;
            for (properties, body) in messages {
                let confirm = self
                    .publisher
                    .basic_publish(
                        "".into(),
                        queue.into(),
                        BasicPublishOptions::default(),
                        &body,
                        properties,
                    )
                    .await
                    .expect("publish");
                // dropping the PublisherConfirm leaves it to wait_for_confirms
                drop(confirm);
                n += 1;
                if n.is_multiple_of(2000) {
                    self.publisher.wait_for_confirms().await.expect("confirms");
                }
            }
            let returned = self.publisher.wait_for_confirms().await.expect("confirms");
            assert!(returned.is_empty(), "the broker returned test messages");
        });
    }

    /// Ready messages in a queue (passive declare).
    fn ready(&self, queue: &str) -> u32 {
        let channel = self.channel();
        self.rt
            .block_on(channel.queue_declare(
                queue.into(),
                QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            ))
            .expect("passive queue_declare")
            .message_count()
    }

    /// Takes exactly `n` messages off a queue (auto-ack); panics after `within`.
    fn take(&self, queue: &str, n: usize, within: Duration) -> Vec<Received> {
        let channel = self.channel();
        self.rt.block_on(async {
            let mut consumer = channel
                .basic_consume(
                    queue.into(),
                    "".into(),
                    BasicConsumeOptions {
                        no_ack: true,
                        ..Default::default()
                    },
                    FieldTable::default(),
                )
                .await
                .expect("basic_consume");
            let mut out = Vec::with_capacity(n);
            let deadline = tokio::time::Instant::now() + within;
            while out.len() < n {
                match tokio::time::timeout_at(deadline, consumer.next()).await {
                    Ok(Some(Ok(d))) => out.push(Received {
                        routing_key: d.routing_key.to_string(),
                        properties: d.properties,
                        body: d.data,
                    }),
                    Ok(Some(Err(e))) => panic!("consuming `{queue}` failed: {e}"),
                    Ok(None) => panic!("the consumer of `{queue}` was cancelled"),
                    Err(_) => panic!(
                        "only {} of {n} messages could be read from `{queue}` within {within:?}",
                        out.len()
                    ),
                }
            }
            let _ = channel
                .basic_cancel(consumer.tag(), BasicCancelOptions::default())
                .await;
            let _ = channel.close(200, "done".into()).await;
            out
        })
    }

    /// Waits until `queue` holds at least `n` ready messages.
    fn wait_ready(&self, queue: &str, n: u32, within: Duration, what: &str) -> u32 {
        poll(within, || {
            let ready = self.ready(queue);
            (ready >= n).then_some(ready)
        })
        .unwrap_or_else(|| {
            panic!(
                "{what}: `{queue}` holds {} messages, expected at least {n} within {within:?}",
                self.ready(queue)
            )
        })
    }

    /// Waits until every message of a source queue is acknowledged: nothing ready, nothing
    /// unacknowledged (while weft is still running and consuming it).
    fn wait_all_acked(&self, queue: &str, within: Duration) {
        let done = poll(within, || {
            (queue_counts(queue) == Some((0, 0))).then_some(())
        });
        assert!(
            done.is_some(),
            "`{queue}` still has (ready, unacknowledged) = {:?} after {within:?}",
            queue_counts(queue)
        );
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let queues = std::mem::take(&mut self.queues);
        let exchanges = std::mem::take(&mut self.exchanges);
        let connection = &self.connection;
        self.rt.block_on(async {
            let cleanup = async {
                for q in queues {
                    if let Ok(ch) = connection.create_channel().await {
                        let _ = ch
                            .queue_delete(q.as_str().into(), QueueDeleteOptions::default())
                            .await;
                    }
                }
                for e in exchanges {
                    if let Ok(ch) = connection.create_channel().await {
                        let _ = ch
                            .exchange_delete(e.as_str().into(), Default::default())
                            .await;
                    }
                }
                let _ = connection.close(200, "test done".into()).await;
            };
            let _ = tokio::time::timeout(Duration::from_secs(20), cleanup).await;
        });
    }
}

/// `(ready, unacknowledged)` of a queue, from `rabbitmqctl list_queues`.
fn queue_counts(queue: &str) -> Option<(u64, u64)> {
    let output = Command::new("rabbitmqctl")
        .args([
            "list_queues",
            "-q",
            "--no-table-headers",
            "name",
            "messages_ready",
            "messages_unacknowledged",
        ])
        .output()
        .expect("rabbitmqctl must be installed for the AMQP end-to-end tests");
    assert!(
        output.status.success(),
        "rabbitmqctl list_queues failed: {output:?}"
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|line| {
            let mut fields = line.split('\t');
            if fields.next()? != queue {
                return None;
            }
            let ready = fields.next()?.trim().parse().ok()?;
            let unacked = fields.next()?.trim().parse().ok()?;
            Some((ready, unacked))
        })
}

/// Closes every broker connection whose `connection_name` is `name`, via `rabbitmqctl`;
/// returns how many were closed.
fn close_connections_named(name: &str) -> usize {
    // the table format prints pids as `<node.creation.id.serial>`, which close_connection
    // accepts
    let output = Command::new("rabbitmqctl")
        .args([
            "list_connections",
            "pid",
            "client_properties",
            "-q",
            "--no-table-headers",
        ])
        .output()
        .expect("rabbitmqctl must be installed for the reconnect test");
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
        let status = Command::new("rabbitmqctl")
            .args(["close_connection", pid, "weft e2e test: forced close", "-q"])
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

// ---------------------------------------------------------------------------------------
// events and config
// ---------------------------------------------------------------------------------------

/// A binary-mode CloudEvent message as any AMQP producer would write it.
fn binary_event(id: &str, ty: &str, data: Value) -> (BasicProperties, Vec<u8>) {
    let mut headers = FieldTable::default();
    for (name, value) in [
        ("specversion", "1.0"),
        ("id", id),
        ("source", "/amqp-e2e"),
        ("type", ty),
    ] {
        headers.insert(
            ShortString::from(format!("cloudEvents:{name}")),
            AMQPValue::LongString(LongString::from(value)),
        );
    }
    let properties = BasicProperties::default()
        .with_content_type("application/json".into())
        .with_delivery_mode(2)
        .with_headers(headers);
    (properties, data.to_string().into_bytes())
}

fn echo_events(prefix: &str, n: usize) -> impl Iterator<Item = (BasicProperties, Vec<u8>)> {
    let prefix = prefix.to_string();
    (0..n).map(move |i| binary_event(&format!("{prefix}{i}"), "echo", json!({ "i": i })))
}

fn addr() -> SocketAddr {
    format!("127.0.0.1:{}", support::free_port())
        .parse()
        .unwrap()
}

/// `[sources.NAME]` for an AMQP queue.
fn source_toml(name: &str, queue: &str, connection_name: &str) -> String {
    format!(
        r#"
[sources.{name}]
type = "amqp"
uri = "{URI}"
queue = "{queue}"
prefetch = {PREFETCH}
connection_name = "{connection_name}"
depth_interval_secs = 0
reconnect = {{ initial_ms = 100, max_ms = 1000 }}
"#
    )
}

/// `[sinks.NAME]` for an AMQP exchange.
fn sink_toml(
    name: &str,
    exchange: &str,
    routing_key: &str,
    mode: &str,
    connection_name: &str,
) -> String {
    format!(
        r#"
[sinks.{name}]
type = "amqp"
uri = "{URI}"
exchange = "{exchange}"
routing_key = "{routing_key}"
content_mode = "{mode}"
connection_name = "{connection_name}"
reconnect = {{ initial_ms = 100, max_ms = 1000 }}
"#
    )
}

/// `[[routes]]` through the probe plugin.
fn route_toml(name: &str, from: &str, to: &str, dead_letter: &str, attempts: u32) -> String {
    format!(
        r#"
[[routes]]
name = "{name}"
from = ["{from}"]
plugins = ["probe"]
to = ["{to}"]
retry = {{ attempts = {attempts}, initial_backoff_ms = 20, max_backoff_ms = 1000 }}
dead_letter = "{dead_letter}"
"#
    )
}

/// Writes `<dir>/weft.toml`: the hub on `addr`, the probe plugin, then `sections`.
fn write_config(dir: &Path, addr: SocketAddr, sections: &[String]) {
    let probe = support::plugin_wasm("weft-test-probe");
    let mut text = format!(
        r#"
[hub]
listen = "{addr}"
data_dir = "data"
max_in_flight = 256

[plugins.probe]
path = "{probe}"
"#,
        probe = probe.display()
    );
    for s in sections {
        text.push_str(s);
    }
    std::fs::write(dir.join("weft.toml"), text).unwrap();
}

/// The usual topology: an input queue, a topic output exchange with a queue bound to `#`,
/// a fanout dead-letter exchange with its queue.
struct Pipeline {
    input: String,
    out_exchange: String,
    out_queue: String,
    dl_exchange: String,
    dl_queue: String,
}

impl Pipeline {
    fn declare(broker: &mut Broker) -> Pipeline {
        let p = Pipeline {
            input: broker.name("in"),
            out_exchange: broker.name("out-x"),
            out_queue: broker.name("out"),
            dl_exchange: broker.name("dl-x"),
            dl_queue: broker.name("dl"),
        };
        broker.queue(&p.input);
        broker.exchange(&p.out_exchange, ExchangeKind::Topic);
        broker.queue(&p.out_queue);
        broker.bind(&p.out_queue, &p.out_exchange, "#");
        broker.exchange(&p.dl_exchange, ExchangeKind::Fanout);
        broker.queue(&p.dl_queue);
        broker.bind(&p.dl_queue, &p.dl_exchange, "");
        p
    }

    /// source `in` → probe → sink `out` (binary, routing key `<key_prefix>.{type}`), dead
    /// letters to sink `dlq` (structured).
    fn sections(&self, broker: &Broker, replica: &str, key_prefix: &str) -> Vec<String> {
        vec![
            source_toml(
                "in",
                &self.input,
                &broker.name(&format!("{replica}-source")),
            ),
            sink_toml(
                "out",
                &self.out_exchange,
                &format!("{key_prefix}.{{type}}"),
                "binary",
                &broker.name(&format!("{replica}-sink")),
            ),
            sink_toml(
                "dlq",
                &self.dl_exchange,
                "dead",
                "structured",
                &broker.name(&format!("{replica}-dlq")),
            ),
            route_toml("main", "in", "out", "dlq", 10),
        ]
    }
}

// ---------------------------------------------------------------------------------------
// tests
// ---------------------------------------------------------------------------------------

#[test]
fn ten_thousand_events_queue_to_plugin_to_exchange() {
    let Some(mut broker) = Broker::connect() else {
        return;
    };
    let p = Pipeline::declare(&mut broker);
    let total = 10_000;
    broker.publish(&p.input, echo_events("e", total));
    let dir = tempfile::tempdir().unwrap();
    let a = addr();
    write_config(dir.path(), a, &p.sections(&broker, "r1", "out"));

    let started = Instant::now();
    let hub = Hub::start(dir.path(), a);
    broker.wait_ready(
        &p.out_queue,
        total as u32,
        Duration::from_secs(180),
        "10,000 events through weft",
    );
    let elapsed = started.elapsed();
    eprintln!(
        "amqp: 10,000 events queue → probe → exchange (confirmed) in {elapsed:?} ({:.0} events/s, weft start included)",
        total as f64 / elapsed.as_secs_f64()
    );
    // every source message acked while weft still runs: nothing ready, nothing unacked
    broker.wait_all_acked(&p.input, Duration::from_secs(60));
    assert_eq!(broker.ready(&p.input), 0, "source queue empty");
    // once everything is acked every publish was confirmed: the output is final
    let count = broker.ready(&p.out_queue) as usize;
    assert_eq!(count, total, "exactly one output per input");
    let out = broker.take(&p.out_queue, count, Duration::from_secs(60));
    let ids: HashSet<String> = out.iter().filter_map(Received::id).collect();
    assert_eq!(ids.len(), total, "every event arrived, each once");
    assert!(ids.contains("e0") && ids.contains("e9999"));
    let sample = &out[0];
    assert!(
        sample.routing_key.starts_with("out."),
        "{}",
        sample.routing_key
    );
    assert_eq!(
        header(&sample.properties, "cloudEvents:source").as_deref(),
        Some("/amqp-e2e")
    );
    assert_eq!(broker.ready(&p.dl_queue), 0, "nothing was dead-lettered");
    drop(hub);
}

#[test]
fn two_processes_consume_one_queue() {
    let Some(mut broker) = Broker::connect() else {
        return;
    };
    let p = Pipeline::declare(&mut broker);
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a1, a2) = (addr(), addr());
    write_config(d1.path(), a1, &p.sections(&broker, "r1", "replica-1"));
    write_config(d2.path(), a2, &p.sections(&broker, "r2", "replica-2"));
    let _h1 = Hub::start(d1.path(), a1);
    let _h2 = Hub::start(d2.path(), a2);
    // both consumers must be attached before the events arrive, or one may take them all
    let consumers = poll(Duration::from_secs(30), || {
        let channel = broker.channel();
        let q = broker
            .rt
            .block_on(channel.queue_declare(
                p.input.as_str().into(),
                QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            ))
            .expect("passive declare");
        (q.consumer_count() >= 2).then_some(q.consumer_count())
    });
    assert_eq!(consumers, Some(2), "both weft processes consume the queue");

    let total = 4000;
    broker.publish(&p.input, echo_events("e", total));
    broker.wait_ready(
        &p.out_queue,
        total as u32,
        Duration::from_secs(120),
        "4,000 events",
    );
    broker.wait_all_acked(&p.input, Duration::from_secs(60));
    let count = broker.ready(&p.out_queue) as usize;
    let out = broker.take(&p.out_queue, count, Duration::from_secs(60));
    let ids: HashSet<String> = out.iter().filter_map(Received::id).collect();
    assert_eq!(ids.len(), total, "all processed");
    assert_eq!(out.len(), total, "none processed by both processes");
    let mut per_replica: BTreeMap<String, usize> = BTreeMap::new();
    for m in &out {
        let replica = m
            .routing_key
            .split('.')
            .next()
            .unwrap_or_default()
            .to_string();
        *per_replica.entry(replica).or_default() += 1;
    }
    eprintln!("amqp: two processes on one queue: {per_replica:?}");
    assert!(
        per_replica.get("replica-1").copied().unwrap_or(0) > 0
            && per_replica.get("replica-2").copied().unwrap_or(0) > 0,
        "each process processed some: {per_replica:?}"
    );
}

#[test]
fn kill_9_under_load_loses_nothing_and_duplicates_are_bounded_by_prefetch() {
    let Some(mut broker) = Broker::connect() else {
        return;
    };
    let p = Pipeline::declare(&mut broker);
    let total = 8000;
    broker.publish(&p.input, echo_events("e", total));
    let dir = tempfile::tempdir().unwrap();
    let a = addr();
    write_config(dir.path(), a, &p.sections(&broker, "r1", "out"));
    let mut hub = Hub::start(dir.path(), a);
    broker.wait_ready(
        &p.out_queue,
        1500,
        Duration::from_secs(120),
        "processing started",
    );
    hub.kill9();
    let at_kill = broker.ready(&p.out_queue) as usize;
    assert!(
        at_kill < total,
        "weft finished all {total} events before the kill; the test needs more load"
    );
    drop(hub);
    let _hub = Hub::start(dir.path(), a);
    broker.wait_ready(
        &p.out_queue,
        total as u32,
        Duration::from_secs(180),
        "all events after the restart",
    );
    broker.wait_all_acked(&p.input, Duration::from_secs(60));
    let count = broker.ready(&p.out_queue) as usize;
    let out = broker.take(&p.out_queue, count, Duration::from_secs(60));
    let ids: HashSet<String> = out.iter().filter_map(Received::id).collect();
    let lost = (0..total)
        .filter(|i| !ids.contains(&format!("e{i}")))
        .count();
    let duplicates = out.len() - ids.len();
    eprintln!(
        "amqp kill -9: {total} events, killed after {at_kill} outputs, {} delivered, {lost} lost, {duplicates} duplicates (bound: prefetch {PREFETCH})",
        out.len()
    );
    assert_eq!(lost, 0, "events lost across kill -9");
    assert!(
        duplicates <= PREFETCH as usize,
        "{duplicates} duplicates, more than the prefetch of {PREFETCH}"
    );
    assert_eq!(broker.ready(&p.dl_queue), 0, "nothing was dead-lettered");
}

#[test]
fn poison_messages_end_in_the_dead_letter_queue_and_the_queue_keeps_flowing() {
    let Some(mut broker) = Broker::connect() else {
        return;
    };
    let p = Pipeline::declare(&mut broker);
    let dir = tempfile::tempdir().unwrap();
    let a = addr();
    let mut sections = p.sections(&broker, "r1", "out");
    // two attempts, so the trap (transient) is retried once before the dead letter
    sections.pop();
    sections.push(route_toml("main", "in", "out", "dlq", 2));
    write_config(dir.path(), a, &sections);
    let _hub = Hub::start(dir.path(), a);

    let mut messages = vec![
        binary_event("bad-reject", "reject", json!({})),
        binary_event("bad-trap", "trap", json!({})),
        // not a CloudEvent: no cloudEvents:* headers at all
        (
            BasicProperties::default().with_content_type("text/plain".into()),
            b"not an event".to_vec(),
        ),
    ];
    messages.extend(echo_events("ok", 300));
    broker.publish(&p.input, messages);

    broker.wait_ready(
        &p.out_queue,
        300,
        Duration::from_secs(120),
        "the good events flow",
    );
    broker.wait_ready(
        &p.dl_queue,
        3,
        Duration::from_secs(60),
        "three dead letters",
    );
    broker.wait_all_acked(&p.input, Duration::from_secs(60));
    assert_eq!(
        broker.ready(&p.out_queue),
        300,
        "only the good events reach the exchange"
    );
    let dead = broker.take(&p.dl_queue, 3, Duration::from_secs(30));
    for d in &dead {
        assert!(
            d.properties
                .content_type()
                .as_ref()
                .is_some_and(|ct| ct.as_str().starts_with("application/cloudevents+json")),
            "dead letters are structured: {:?}",
            d.properties
        );
    }
    let records: Vec<Value> = dead.iter().map(Received::json).collect();
    let find = |pred: &dyn Fn(&Value) -> bool| {
        records
            .iter()
            .find(|r| pred(r))
            .cloned()
            .unwrap_or_else(|| panic!("dead letter missing among {records:#?}"))
    };
    let reject = find(&|r| r["id"] == "bad-reject");
    assert_eq!(
        reject["deadletterreason"],
        "plugin rejected the event: probe asked to reject"
    );
    assert_eq!(reject["deadletterattempts"], "1");
    assert_eq!(reject["deadletterat"], "probe");
    assert_eq!(reject["deadletterroute"], "main");
    assert_eq!(reject["type"], "reject");
    let trap = find(&|r| r["id"] == "bad-trap");
    assert!(
        trap["deadletterreason"]
            .as_str()
            .unwrap_or("")
            .contains("trapped"),
        "{trap}"
    );
    assert_eq!(trap["deadletterattempts"], "2");
    let malformed = find(&|r| r["type"] == "weft.deadletter.malformed");
    assert!(
        !malformed["deadletterreason"]
            .as_str()
            .unwrap_or("")
            .is_empty(),
        "{malformed}"
    );
    assert_eq!(malformed["deadletterat"], "source:in");
}

#[test]
fn broker_connections_force_closed_under_load_reconnect_and_lose_nothing() {
    let Some(mut broker) = Broker::connect() else {
        return;
    };
    let p = Pipeline::declare(&mut broker);
    let total = 20_000;
    broker.publish(&p.input, echo_events("e", total));
    let dir = tempfile::tempdir().unwrap();
    let a = addr();
    write_config(dir.path(), a, &p.sections(&broker, "r1", "out"));
    let mut hub = Hub::start(dir.path(), a);
    broker.wait_ready(
        &p.out_queue,
        1000,
        Duration::from_secs(120),
        "processing started",
    );

    let source_name = broker.name("r1-source");
    let sink_name = broker.name("r1-sink");
    let closing_source = std::thread::spawn(move || close_connections_named(&source_name));
    let closing_sink = std::thread::spawn(move || close_connections_named(&sink_name));
    assert_eq!(
        closing_source.join().unwrap(),
        1,
        "weft's source connection was found by name"
    );
    assert_eq!(
        closing_sink.join().unwrap(),
        1,
        "weft's sink connection was found by name"
    );
    let at_close = broker.ready(&p.out_queue) as usize;
    assert!(
        at_close < total,
        "weft finished all {total} events before the connections were closed; the test needs more load"
    );

    broker.wait_ready(
        &p.out_queue,
        total as u32,
        Duration::from_secs(180),
        "all events after the reconnect",
    );
    broker.wait_all_acked(&p.input, Duration::from_secs(60));
    assert!(
        hub.child.try_wait().unwrap().is_none(),
        "weft kept running through the connection loss"
    );
    let count = broker.ready(&p.out_queue) as usize;
    let out = broker.take(&p.out_queue, count, Duration::from_secs(60));
    let ids: HashSet<String> = out.iter().filter_map(Received::id).collect();
    let lost = (0..total)
        .filter(|i| !ids.contains(&format!("e{i}")))
        .count();
    eprintln!(
        "amqp forced close: {total} events, {at_close} out when both connections were closed, {} delivered, {lost} lost, {} duplicates",
        out.len(),
        out.len() - ids.len()
    );
    assert_eq!(lost, 0, "events lost across the reconnect");
    assert_eq!(broker.ready(&p.dl_queue), 0, "nothing was dead-lettered");
}

#[test]
fn sink_failures_missing_exchange_and_unroutable_reach_the_dead_letter() {
    let Some(mut broker) = Broker::connect() else {
        return;
    };
    let in_missing = broker.name("in-missing");
    let in_unroutable = broker.name("in-unroutable");
    let gone = broker.name("gone-x");
    let nowhere = broker.name("nowhere-x");
    let dl_exchange = broker.name("dl-x");
    let dl_queue = broker.name("dl");
    broker.queue(&in_missing);
    broker.queue(&in_unroutable);
    // exists when weft starts (so its sink passes the startup check), deleted afterwards
    broker.exchange(&gone, ExchangeKind::Topic);
    // exists, but no queue is bound: a mandatory publish comes back unroutable
    broker.exchange(&nowhere, ExchangeKind::Direct);
    broker.exchange(&dl_exchange, ExchangeKind::Fanout);
    broker.queue(&dl_queue);
    broker.bind(&dl_queue, &dl_exchange, "");

    let dir = tempfile::tempdir().unwrap();
    let a = addr();
    let mut sections = vec![
        source_toml("missing", &in_missing, &broker.name("missing-source")),
        source_toml(
            "unroutable",
            &in_unroutable,
            &broker.name("unroutable-source"),
        ),
        sink_toml("gone", &gone, "{type}", "binary", &broker.name("gone-sink")),
        sink_toml(
            "nowhere",
            &nowhere,
            "{type}",
            "binary",
            &broker.name("nowhere-sink"),
        ),
        sink_toml(
            "dlq",
            &dl_exchange,
            "dead",
            "structured",
            &broker.name("dlq"),
        ),
        route_toml("to-missing", "missing", "gone", "dlq", 3),
        route_toml("to-unroutable", "unroutable", "nowhere", "dlq", 3),
    ];
    // the unroutable sink publishes with `mandatory` (the default), stated explicitly
    sections[3].push_str("mandatory = true\n");
    write_config(dir.path(), a, &sections);
    let _hub = Hub::start(dir.path(), a);
    broker.delete_exchange(&gone);

    let n = 5;
    broker.publish(&in_missing, echo_events("missing-", n));
    broker.publish(&in_unroutable, echo_events("unroutable-", n));
    broker.wait_ready(
        &dl_queue,
        2 * n as u32,
        Duration::from_secs(120),
        "every failed event dead-lettered",
    );
    broker.wait_all_acked(&in_missing, Duration::from_secs(60));
    broker.wait_all_acked(&in_unroutable, Duration::from_secs(60));
    let count = broker.ready(&dl_queue) as usize;
    assert_eq!(count, 2 * n, "one dead letter per event");
    let records: Vec<Value> = broker
        .take(&dl_queue, count, Duration::from_secs(30))
        .iter()
        .map(Received::json)
        .collect();
    for i in 0..n {
        let missing = records
            .iter()
            .find(|r| r["id"] == format!("missing-{i}"))
            .unwrap_or_else(|| panic!("missing-{i} not dead-lettered: {records:#?}"));
        let reason = missing["deadletterreason"].as_str().unwrap_or("");
        if i == 0 {
            eprintln!("amqp dead letter, missing exchange: {reason}");
        }
        assert!(
            reason.contains(gone.as_str())
                && (reason.contains("404") || reason.contains("NOT_FOUND")),
            "reason names the missing exchange: {missing}"
        );
        assert_eq!(missing["deadletterat"], "sink:gone", "{missing}");
        assert_eq!(
            missing["deadletterattempts"], "3",
            "transient, retried: {missing}"
        );
        assert_eq!(missing["deadletterroute"], "to-missing");

        let unroutable = records
            .iter()
            .find(|r| r["id"] == format!("unroutable-{i}"))
            .unwrap_or_else(|| panic!("unroutable-{i} not dead-lettered: {records:#?}"));
        let reason = unroutable["deadletterreason"].as_str().unwrap_or("");
        if i == 0 {
            eprintln!("amqp dead letter, unroutable: {reason}");
        }
        assert!(reason.contains("unroutable"), "{unroutable}");
        assert_eq!(unroutable["deadletterat"], "sink:nowhere", "{unroutable}");
        assert_eq!(
            unroutable["deadletterattempts"], "1",
            "permanent, not retried: {unroutable}"
        );
    }
}

/// `examples/amqp.toml` as shipped (its queue and exchange names made unique): a shipment
/// published to the input queue comes out normalized on the queue bound to the output
/// exchange, as the example's header says, and nothing is dead-lettered.
#[test]
fn the_amqp_example_runs_as_its_comment_says() {
    let Some(mut broker) = Broker::connect() else {
        return;
    };
    let p = broker.name("example");
    let example = std::fs::read_to_string(support::root().join("examples/amqp.toml")).unwrap();
    let config = example
        .replace("\"shipments.normalized\"", &format!("\"{p}-normalized\""))
        .replace("\"shipments.dlx\"", &format!("\"{p}-dlx\""))
        .replace("\"shipments.dead\"", &format!("\"{p}-dead\""))
        .replace("\"shipments.out\"", &format!("\"{p}-out\""))
        .replace("queue = \"shipments\"", &format!("queue = \"{p}-in\""))
        .replace("{ name = \"shipments\",", &format!("{{ name = \"{p}-in\","))
        .replace("data_dir = \"../.weft\"", "data_dir = \"data\"");
    assert!(
        config.matches(&p).count() >= 7,
        "the example's names changed:\n{config}"
    );
    for queue in ["in", "normalized", "dead"] {
        broker.queues.push(format!("{p}-{queue}"));
    }
    for exchange in ["dlx", "out"] {
        broker.exchanges.push(format!("{p}-{exchange}"));
    }
    let dir = tempfile::tempdir().unwrap();
    let addr = addr();
    let config = config.replace(
        "listen = \"127.0.0.1:8080\"",
        &format!("listen = \"{addr}\""),
    );
    std::fs::write(dir.path().join("weft.toml"), config).unwrap();
    let _hub = support::Hub::start(dir.path(), addr);
    // the source declares the input queue just after /readyz turns 200: publishing into
    // the default exchange before that would drop the message (no such queue yet)
    let input = format!("{p}-in");
    support::poll(Duration::from_secs(30), || queue_counts(&input))
        .expect("weft declares the example's input queue");
    // the example's header: a structured CloudEvent on the input queue
    let shipment = json!({"specversion":"1.0","id":"s-1","source":"/tms","type":"com.example.shipment.created","data":{"id":"S-1","carrier":{"name":"DHL"},"eta":"2026-12-24"}});
    let properties = BasicProperties::default()
        .with_content_type("application/cloudevents+json".into())
        .with_delivery_mode(2);
    broker.publish(
        &format!("{p}-in"),
        [(properties, shipment.to_string().into_bytes())],
    );
    let normalized = format!("{p}-normalized");
    if support::poll(Duration::from_secs(30), || {
        (broker.ready(&normalized) >= 1).then_some(())
    })
    .is_none()
    {
        panic!(
            "nothing reached {normalized}; weft's log:\n{}",
            std::fs::read_to_string(dir.path().join("stderr.log")).unwrap_or_default()
        );
    }
    let got = broker.take(&normalized, 1, Duration::from_secs(30));
    assert_eq!(got[0].id().as_deref(), Some("s-1"));
    assert_eq!(
        got[0].routing_key,
        "shipments.com.example.shipment.normalized"
    );
    assert_eq!(
        header(&got[0].properties, "cloudEvents:type").as_deref(),
        Some("com.example.shipment.normalized")
    );
    let data: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(data["shipment"]["id"], "S-1");
    assert_eq!(data["carrier"], "DHL");
    broker.wait_all_acked(&format!("{p}-in"), Duration::from_secs(30));
    assert_eq!(
        broker.ready(&format!("{p}-dead")),
        0,
        "nothing dead-lettered"
    );
}
