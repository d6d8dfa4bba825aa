//! `weft bench --amqp URI` (`weft-bench --amqp URI`): end-to-end AMQP throughput — queue → passthrough plugin →
//! confirmed publish → ack — through weft (the AMQP source, the router, the passthrough
//! plugin isolated and warm, the AMQP sink) next to a hand-written lapin consumer doing the
//! same broker work in the same run.
//!
//! Both sides use the same prefetch (the source default), persistent `mandatory` publishes
//! in binary mode on a pool of confirm-mode channels with one publish in flight per
//! channel (the sink's default pool size), and ack a message only after its output was
//! confirmed. The native side calls the passthrough handler natively
//! ([`crate::plugin_cost::native_handle`]). Each run gets its own queues and exchange (deleted
//! afterwards) seeded with the same events; time runs from the first delivery to the last
//! ack.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use futures::StreamExt as _;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{Channel, Confirmation, Connection, ConnectionProperties, ExchangeKind};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use weft_connector::{Acknowledge, ConnectorError, Delivery, Settlement, Source};
use weft_connector_amqp::binding::{self, ContentMode, HeaderSeparator};
use weft_runtime::InstanceMode;

use crate::plugin_cost::{Throughput, native_handle, sample};

/// Routing key of the outputs (the output queue is bound with it).
const ROUTING_KEY: &str = "bench";
/// How long a run may take before the benchmark gives up.
const RUN_TIMEOUT: Duration = Duration::from_secs(600);

/// The queues and exchange of one run.
struct Topology {
    input: String,
    exchange: String,
    output: String,
}

impl Topology {
    fn new(tag: &str, run: usize) -> Topology {
        Topology {
            input: format!("weft-bench-{tag}-{run}-in"),
            exchange: format!("weft-bench-{tag}-{run}-out"),
            output: format!("weft-bench-{tag}-{run}-out"),
        }
    }

    async fn declare(&self, channel: &Channel) -> anyhow::Result<()> {
        let durable = QueueDeclareOptions {
            durable: true,
            ..Default::default()
        };
        for queue in [&self.input, &self.output] {
            channel
                .queue_declare(queue.as_str().into(), durable, FieldTable::default())
                .await
                .with_context(|| format!("failed to declare queue `{queue}`"))?;
        }
        channel
            .exchange_declare(
                self.exchange.as_str().into(),
                ExchangeKind::Direct,
                ExchangeDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .with_context(|| format!("failed to declare exchange `{}`", self.exchange))?;
        channel
            .queue_bind(
                self.output.as_str().into(),
                self.exchange.as_str().into(),
                ROUTING_KEY.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .with_context(|| format!("failed to bind queue `{}`", self.output))?;
        Ok(())
    }

    async fn delete(&self, connection: &Connection) {
        if let Ok(channel) = connection.create_channel().await {
            for queue in [&self.input, &self.output] {
                let _ = channel
                    .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
                    .await;
            }
            let _ = channel
                .exchange_delete(self.exchange.as_str().into(), Default::default())
                .await;
            let _ = channel.close(200, "bench done".into()).await;
        }
    }
}

/// Ready messages in a queue.
async fn ready(connection: &Connection, queue: &str) -> anyhow::Result<u32> {
    let channel = connection.create_channel().await?;
    let q = channel
        .queue_declare(
            queue.into(),
            QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .with_context(|| format!("failed to inspect queue `{queue}`"))?;
    let _ = channel.close(200, "done".into()).await;
    Ok(q.message_count())
}

/// Fills the input queue with `events` copies of the sample event (ids `bench-<n>`), binary
/// mode, persistent, confirmed.
async fn seed_queue(connection: &Connection, queue: &str, events: usize) -> anyhow::Result<()> {
    let channel = connection.create_channel().await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    let mut event = sample();
    for i in 0..events {
        event.id = format!("bench-{i}");
        let message = binding::encode(&event, ContentMode::Binary, HeaderSeparator::Colon)?;
        let confirm = channel
            .basic_publish(
                "".into(),
                queue.into(),
                BasicPublishOptions::default(),
                &message.body,
                message.properties.with_delivery_mode(2),
            )
            .await
            .with_context(|| format!("failed to seed queue `{queue}`"))?;
        drop(confirm); // awaited together by wait_for_confirms
        if (i + 1).is_multiple_of(2000) {
            channel.wait_for_confirms().await?;
        }
    }
    let returned = channel.wait_for_confirms().await?;
    ensure!(returned.is_empty(), "the broker returned seeded messages");
    let _ = channel.close(200, "seeded".into()).await;
    Ok(())
}

/// A pool of confirm-mode channels, one publish in flight per channel (as the AMQP sink).
struct ChannelPool {
    idle: tokio::sync::Mutex<Vec<Channel>>,
    permits: tokio::sync::Semaphore,
}

impl ChannelPool {
    async fn open(connection: &Connection, size: usize) -> anyhow::Result<ChannelPool> {
        let mut idle = Vec::with_capacity(size);
        for _ in 0..size {
            let channel = connection.create_channel().await?;
            channel
                .confirm_select(ConfirmSelectOptions::default())
                .await?;
            idle.push(channel);
        }
        Ok(ChannelPool {
            idle: tokio::sync::Mutex::new(idle),
            permits: tokio::sync::Semaphore::new(size),
        })
    }

    /// Publishes persistent and `mandatory`, and waits for the broker's confirm.
    async fn publish(&self, exchange: &str, message: binding::AmqpMessage) -> anyhow::Result<()> {
        let _permit = self.permits.acquire().await?;
        let channel = self
            .idle
            .lock()
            .await
            .pop()
            .context("channel pool exhausted")?;
        let confirm = channel
            .basic_publish(
                exchange.into(),
                ROUTING_KEY.into(),
                BasicPublishOptions {
                    mandatory: true,
                    immediate: false,
                },
                &message.body,
                message.properties.with_delivery_mode(2),
            )
            .await?
            .await?;
        self.idle.lock().await.push(channel);
        match confirm {
            Confirmation::Ack(None) => Ok(()),
            Confirmation::Ack(Some(_)) | Confirmation::Nack(Some(_)) => {
                bail!("the broker returned a message as unroutable")
            }
            Confirmation::Nack(None) => bail!("the broker nacked a message"),
            Confirmation::NotRequested => bail!("publisher confirms are off"),
        }
    }
}

/// The native baseline: a lapin consumer with the same prefetch, each delivery decoded,
/// passed through the handler natively, published with a confirm, then acked.
async fn native_amqp(uri: &str, topology: &Topology, events: usize) -> anyhow::Result<Duration> {
    let connection = Connection::connect(
        uri,
        ConnectionProperties::default().with_connection_name("weft-bench-native".into()),
    )
    .await
    .context("native consumer failed to connect")?;
    let pool = Arc::new(
        ChannelPool::open(
            &connection,
            weft_connector_amqp::SinkConfig::new(uri, "").channels,
        )
        .await?,
    );
    let consume = connection.create_channel().await?;
    consume
        .basic_qos(
            weft_connector_amqp::SourceConfig::new(uri, "").prefetch,
            BasicQosOptions { global: false },
        )
        .await?;
    let mut consumer = consume
        .basic_consume(
            topology.input.as_str().into(),
            "".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let exchange: Arc<str> = topology.exchange.as_str().into();
    let mut tasks = tokio::task::JoinSet::new();
    let (mut received, mut acked) = (0usize, 0usize);
    let mut started = None;
    let deadline = tokio::time::Instant::now() + RUN_TIMEOUT;
    while acked < events {
        tokio::select! {
            done = tasks.join_next(), if !tasks.is_empty() => {
                done.context("join")?.context("native task panicked")??;
                acked += 1;
            }
            next = consumer.next(), if received < events => {
                let delivery = next.context("the broker cancelled the native consumer")??;
                started.get_or_insert_with(Instant::now);
                received += 1;
                let pool = pool.clone();
                let exchange = exchange.clone();
                tasks.spawn(async move {
                    let event = binding::decode(&delivery.properties, &delivery.data)?;
                    for out in native_handle(&event) {
                        let message =
                            binding::encode(&out, ContentMode::Binary, HeaderSeparator::Colon)?;
                        pool.publish(&exchange, message).await?;
                    }
                    delivery.acker.ack(BasicAckOptions::default()).await?;
                    anyhow::Ok(())
                });
            }
            _ = tokio::time::sleep_until(deadline) => bail!("the native run did not finish within {RUN_TIMEOUT:?}"),
        }
    }
    let elapsed = started.map(|s| s.elapsed()).unwrap_or_default();
    let _ = connection.close(200, "bench done".into()).await;
    Ok(elapsed)
}

/// Counts acknowledgements: wraps a source so that the benchmark knows when the last
/// delivery was acked (the broker does not report it) and when the first arrived.
struct CountingSource {
    inner: Box<dyn Source>,
    counter: Arc<Counter>,
}

#[derive(Default)]
struct Counter {
    first_delivery: OnceLock<Instant>,
    acked: AtomicUsize,
}

struct CountingAck {
    inner: Box<dyn Acknowledge>,
    counter: Arc<Counter>,
}

// `Source` and `Acknowledge` are `#[async_trait]` traits; these impls spell out the boxed
// futures the macro would generate.
impl Source for CountingSource {
    fn run<'a>(
        self: Box<Self>,
        out: mpsc::Sender<Delivery>,
        shutdown: CancellationToken,
    ) -> Pin<Box<dyn Future<Output = Result<(), ConnectorError>> + Send + 'a>>
    where
        Self: 'a,
    {
        Box::pin(async move {
            let CountingSource { inner, counter } = *self;
            let (tx, mut rx) = mpsc::channel(out.max_capacity());
            let task = tokio::spawn(inner.run(tx, shutdown));
            while let Some(mut delivery) = rx.recv().await {
                counter.first_delivery.get_or_init(Instant::now);
                delivery.ack = Box::new(CountingAck {
                    inner: delivery.ack,
                    counter: counter.clone(),
                });
                if out.send(delivery).await.is_err() {
                    break;
                }
            }
            drop(rx);
            task.await
                .map_err(|e| ConnectorError::Fatal(format!("bench source panicked: {e}")))?
        })
    }
}

impl Acknowledge for CountingAck {
    fn settle<'a>(
        self: Box<Self>,
        settlement: Settlement,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>>
    where
        Self: 'a,
    {
        Box::pin(async move {
            let CountingAck { inner, counter } = *self;
            let ack = settlement == Settlement::Ack;
            inner.settle(settlement).await;
            if ack {
                counter.acked.fetch_add(1, Ordering::SeqCst);
            }
        })
    }
}

/// weft itself: the AMQP source (default prefetch), the router, the passthrough plugin in
/// `mode`, the AMQP sink (confirms, `mandatory`, persistent, binary mode).
async fn weft_amqp(
    uri: &str,
    topology: &Topology,
    events: usize,
    mode: InstanceMode,
) -> anyhow::Result<Duration> {
    let passthrough = crate::plugin_cost::BenchPlugin::passthrough(mode)?;
    let plugin = passthrough.plugin.clone();

    let mut source_config = weft_connector_amqp::SourceConfig::new(uri, topology.input.as_str());
    source_config.connection_name = Some("weft-bench-source".into());
    source_config.depth_interval_secs = 0;
    let mut sink_config = weft_connector_amqp::SinkConfig::new(uri, topology.exchange.as_str());
    sink_config.routing_key = ROUTING_KEY.into();
    sink_config.connection_name = Some("weft-bench-sink".into());
    let sink = weft_connector_amqp::sink(sink_config)
        .await
        .context("failed to set up the bench sink")?;
    let route = crate::plugin_cost::bench_route(plugin, sink);
    let counter = Arc::new(Counter::default());
    let source = Box::new(CountingSource {
        inner: weft_connector_amqp::source(source_config)
            .context("failed to set up the bench source")?,
        counter: counter.clone(),
    });
    let stop = CancellationToken::new();
    let task = tokio::spawn(weft_router::run_source(
        "bench".into(),
        source,
        vec![route],
        weft_router::SourceSettings {
            max_in_flight: 256,
            drain_timeout: Duration::from_secs(10),
            ..Default::default()
        },
        stop.clone(),
    ));
    let deadline = Instant::now() + RUN_TIMEOUT;
    let result = loop {
        if counter.acked.load(Ordering::SeqCst) >= events {
            let first = counter
                .first_delivery
                .get()
                .copied()
                .unwrap_or_else(Instant::now);
            break Ok(first.elapsed());
        }
        if task.is_finished() {
            break Err(anyhow::anyhow!("the weft pipeline stopped early"));
        }
        if Instant::now() >= deadline {
            break Err(anyhow::anyhow!(
                "weft acked {} of {events} events within {RUN_TIMEOUT:?}",
                counter.acked.load(Ordering::SeqCst)
            ));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    stop.cancel();
    match task.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "bench source ended with an error"),
        Err(e) => tracing::warn!(error = %e, "bench source task panicked"),
    }
    result
}

/// End-to-end AMQP throughput (queue → passthrough → confirmed publish → ack) of a native
/// lapin consumer, weft with an isolated instance per event, and weft with warm
/// instances, in the same run, `events` events each. `uri` is the broker
/// (`amqp://user:pass@host:5672/%2f`); the runs create and delete their own queues and
/// exchange.
pub async fn run_amqp(
    uri: &str,
    events: usize,
    modes: crate::plugin_cost::Modes,
) -> anyhow::Result<Vec<Throughput>> {
    anyhow::ensure!(events > 0, "the benchmark needs at least one event");
    let admin = Connection::connect(
        uri,
        ConnectionProperties::default().with_connection_name("weft-bench-admin".into()),
    )
    .await
    .with_context(|| {
        format!(
            "failed to connect to {}",
            weft_connector::redact::redact_url(uri)
        )
    })?;
    let tag = format!("{}-{:x}", std::process::id(), rand_tag());
    let runs: [(&str, Option<InstanceMode>); 3] = [
        ("native Rust lapin consumer (same prefetch, confirms)", None),
        (
            "weft, isolated instance per event",
            Some(InstanceMode::Isolated),
        ),
        ("weft, warm instances", Some(InstanceMode::Warm)),
    ];
    let mut out = Vec::new();
    for (i, (name, mode)) in runs.into_iter().enumerate() {
        if mode.is_some_and(|m| !modes.includes(m)) {
            continue;
        }
        let topology = Topology::new(&tag, i);
        let result = async {
            let channel = admin.create_channel().await?;
            topology.declare(&channel).await?;
            let _ = channel.close(200, "declared".into()).await;
            seed_queue(&admin, &topology.input, events).await?;
            let elapsed = match mode {
                None => native_amqp(uri, &topology, events).await?,
                Some(m) => weft_amqp(uri, &topology, events, m).await?,
            };
            let delivered = ready(&admin, &topology.output).await? as usize;
            ensure!(
                delivered >= events,
                "{name}: only {delivered} of {events} events reached the output queue"
            );
            anyhow::Ok(elapsed)
        }
        .await;
        topology.delete(&admin).await;
        let elapsed = result?;
        out.push(Throughput {
            name: name.to_string(),
            events_per_sec: events as f64 / elapsed.as_secs_f64().max(1e-9),
        });
    }
    let _ = admin.close(200, "bench done".into()).await;
    Ok(out)
}

/// A few random bits for unique queue names (two benches on one broker do not collide).
fn rand_tag() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    h.finish() as u32
}
