//! The Redis Streams source: a consumer-group reader with batched acknowledgements,
//! pending-entry recovery, a delivery limit with dead-lettering, optional trimming and
//! consumer-lag gauges.
//!
//! Tasks inside [`Source::run`]:
//! - **reader** (on its own connection, because `XREADGROUP … BLOCK` holds it): creates the
//!   group if missing, reads this consumer's own pending entries (id `0`) once, then new
//!   entries (`>`), and hands them to the router;
//! - **acker**: collects ids settled with [`Settlement::Ack`] and flushes `XACK` every
//!   `ack_flush_ms` or `ack_batch_size` ids (retrying with backoff while Redis is away);
//! - **claimer**: every `claim_interval_ms`, `XAUTOCLAIM`s entries idle longer than
//!   `claim_idle_ms` on any consumer and delivers them again;
//! - **heartbeat**: re-claims (`XCLAIM … JUSTID`, which does not count as a delivery) the
//!   entries this replica is still processing, so other replicas do not steal them;
//! - **monitor**: publishes lag/pending gauges and trims the stream when configured.
//!
//! Every entry handed out is tracked until its `XACK` succeeded; that set is what the
//! shutdown drain waits for, and it keeps a claim from delivering an entry twice at once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use redis::aio::{
    ConnectionLike, ConnectionManager, ConnectionManagerConfig, MultiplexedConnection,
};
use redis::{AsyncConnectionConfig, Client, Value};
use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};
use weft_connector::{
    Acknowledge, ConnectorError, Delivery, Readiness, Settlement, Source, dead_letter,
};
use weft_event::Event;

use crate::binding;
use crate::config::{StreamSourceConfig, ms};
use crate::internal_events::{
    ConnectionError, ConsumerLag, DeadLetterReason, EntriesAcked, EntriesClaimed, EntriesRead,
    EntryDeadLettered, EntryRequeued, Reconnected, StreamTrimmed,
};
use crate::util::{self, RawEntry, reconnect_backoff};

/// Ids per `XCLAIM` heartbeat command.
const HEARTBEAT_CHUNK: usize = 512;

/// The Redis Streams source built by [`crate::stream_source`].
pub(crate) struct StreamSource {
    config: StreamSourceConfig,
    client: Client,
    consumer: String,
    dead_letter_stream: String,
    /// Set once the consumer group exists (created or found).
    ready: Readiness,
}

impl StreamSource {
    pub(crate) fn new(config: StreamSourceConfig) -> Result<Self, ConnectorError> {
        config.validate()?;
        let client = config.client()?;
        Ok(StreamSource {
            consumer: config.consumer_name(),
            dead_letter_stream: config.dead_letter_stream_name(),
            config,
            client,
            ready: Readiness::new(),
        })
    }
}

/// State shared by the tasks of one running source and its ack handles.
struct Shared {
    config: StreamSourceConfig,
    stream: String,
    group: String,
    consumer: String,
    dead_letter_stream: String,
    /// Multiplexed connection for everything but the blocking read.
    conn: ConnectionManager,
    /// Entries handed out (or being dead-lettered) and not yet acknowledged, with the last
    /// time their idle time was reset.
    inflight: Mutex<HashMap<String, Instant>>,
    /// Ids to `XACK`.
    ack_tx: mpsc::UnboundedSender<String>,
    /// Acknowledgements since the last trim.
    acked_since_trim: AtomicU64,
    /// Set once the consumer group exists.
    ready: Readiness,
}

impl Shared {
    fn inflight(&self) -> MutexGuard<'_, HashMap<String, Instant>> {
        self.inflight.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Marks `id` as being processed here; `false` if it already is.
    fn reserve(&self, id: &str) -> bool {
        let mut map = self.inflight();
        if map.contains_key(id) {
            return false;
        }
        map.insert(id.to_string(), Instant::now());
        true
    }

    fn forget(&self, id: &str) {
        self.inflight().remove(id);
    }

    fn inflight_len(&self) -> usize {
        self.inflight().len()
    }

    fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    fn origin(&self, id: &str) -> String {
        format!("redis:{}/{}", self.stream, id)
    }
}

/// The ack handle of one stream delivery.
struct StreamAck {
    shared: Arc<Shared>,
    id: String,
    settled: bool,
}

#[async_trait]
impl Acknowledge for StreamAck {
    async fn settle(mut self: Box<Self>, settlement: Settlement) {
        self.settled = true;
        match settlement {
            Settlement::Ack => {
                if self.shared.ack_tx.send(self.id.clone()).is_err() {
                    // The source has stopped: the entry stays pending and is re-read later.
                    self.shared.forget(&self.id);
                }
            }
            Settlement::Requeue { reason } => {
                self.shared.forget(&self.id);
                EntryRequeued {
                    stream: &self.shared.stream,
                    group: &self.shared.group,
                    id: &self.id,
                    reason: &reason,
                }
                .emit();
            }
        }
    }
}

impl Drop for StreamAck {
    fn drop(&mut self) {
        if !self.settled {
            self.shared.forget(&self.id);
            EntryRequeued {
                stream: &self.shared.stream,
                group: &self.shared.group,
                id: &self.id,
                reason: "delivery dropped without being settled",
            }
            .emit();
        }
    }
}

#[async_trait]
impl Source for StreamSource {
    fn report_ready(&mut self, ready: Readiness) {
        self.ready = ready;
    }

    async fn run(
        self: Box<Self>,
        out: mpsc::Sender<Delivery>,
        shutdown: CancellationToken,
    ) -> Result<(), ConnectorError> {
        let StreamSource {
            config,
            client,
            consumer,
            dead_letter_stream,
            ready,
        } = *self;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(ms(config.connection_timeout_ms)))
            .set_response_timeout(Some(ms(config.response_timeout_ms)))
            .set_max_delay(ms(config.reconnect_max_backoff_ms));
        let conn = ConnectionManager::new_lazy_with_config(client.clone(), manager_config)
            .map_err(|e| ConnectorError::Config(format!("redis connection: {e}")))?;
        let (ack_tx, ack_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            stream: config.stream.clone(),
            group: config.group.clone(),
            consumer,
            dead_letter_stream,
            config,
            conn,
            inflight: Mutex::new(HashMap::new()),
            ack_tx,
            acked_since_trim: AtomicU64::new(0),
            ready,
        });
        info!(stream = %shared.stream, group = %shared.group, consumer = %shared.consumer,
            "redis stream source starting");

        // `reading` stops the reader and the claimer; `stop` ends the helpers after the drain.
        let reading = shutdown.child_token();
        let stop = CancellationToken::new();
        let acker = tokio::spawn(acker(shared.clone(), ack_rx, stop.clone()));
        let heartbeat = tokio::spawn(heartbeat(shared.clone(), stop.clone()));
        let monitor = tokio::spawn(monitor(shared.clone(), stop.clone()));
        let claimer = tokio::spawn(claimer(shared.clone(), out.clone(), reading.clone()));

        reader(&shared, &client, out, &reading).await;
        reading.cancel();
        let _ = claimer.await;

        // Drain: wait for deliveries already handed out to be settled and acknowledged.
        let deadline = Instant::now() + ms(shared.config.drain_timeout_ms);
        loop {
            let unsettled = shared.inflight_len();
            if unsettled == 0 {
                break;
            }
            if Instant::now() >= deadline {
                warn!(stream = %shared.stream, group = %shared.group, unsettled,
                    "drain timeout: unsettled entries stay pending and will be delivered again");
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        stop.cancel();
        let _ = acker.await;
        let _ = heartbeat.await;
        let _ = monitor.await;
        info!(stream = %shared.stream, group = %shared.group, "redis stream source stopped");
        Ok(())
    }
}

async fn connect_reader(
    shared: &Shared,
    client: &Client,
) -> Result<MultiplexedConnection, redis::RedisError> {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(ms(shared.config.connection_timeout_ms)))
        .set_response_timeout(Some(
            ms(shared.config.block_ms) + ms(shared.config.response_timeout_ms),
        ));
    client
        .get_multiplexed_async_connection_with_config(&config)
        .await
}

async fn ensure_group(
    shared: &Shared,
    conn: &mut impl ConnectionLike,
) -> Result<(), redis::RedisError> {
    let created = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(&shared.stream)
        .arg(&shared.group)
        .arg(&shared.config.start_id)
        .arg("MKSTREAM")
        .query_async::<Value>(conn)
        .await;
    match created {
        Ok(_) => {
            info!(stream = %shared.stream, group = %shared.group, start_id = %shared.config.start_id,
                "created consumer group");
            Ok(())
        }
        Err(e) if e.code() == Some("BUSYGROUP") => Ok(()),
        Err(e) => Err(e),
    }
}

/// Reads until `reading` is cancelled or the router's channel closes.
async fn reader(
    shared: &Arc<Shared>,
    client: &Client,
    out: mpsc::Sender<Delivery>,
    reading: &CancellationToken,
) {
    let mut backoff = reconnect_backoff(ms(shared.config.reconnect_max_backoff_ms));
    let mut failed = false;
    // The consumer's own pending entries are read once, from id 0, before new ones.
    let mut history: Option<String> = Some("0-0".to_string());
    'connect: loop {
        if reading.is_cancelled() {
            return;
        }
        let connected = tokio::select! {
            _ = reading.cancelled() => return,
            c = connect_reader(shared, client) => c,
        };
        let mut conn = match connected {
            Ok(conn) => conn,
            Err(error) => {
                ConnectionError {
                    stream: &shared.stream,
                    operation: "connect",
                    error: &error,
                }
                .emit();
                failed = true;
                if !backoff.wait(reading).await {
                    return;
                }
                continue 'connect;
            }
        };
        let mut group_ready = false;
        loop {
            if !group_ready {
                let ensured = tokio::select! {
                    _ = reading.cancelled() => return,
                    r = ensure_group(shared, &mut conn) => r,
                };
                if let Err(error) = ensured {
                    ConnectionError {
                        stream: &shared.stream,
                        operation: "create_group",
                        error: &error,
                    }
                    .emit();
                    failed = true;
                    if !backoff.wait(reading).await {
                        return;
                    }
                    continue 'connect;
                }
                group_ready = true;
                // entries added from now on are read by this group
                shared.ready.set();
                if failed {
                    Reconnected {
                        stream: &shared.stream,
                        role: "reader",
                    }
                    .emit();
                    failed = false;
                }
            }
            let mut cmd = redis::cmd("XREADGROUP");
            cmd.arg("GROUP")
                .arg(&shared.group)
                .arg(&shared.consumer)
                .arg("COUNT")
                .arg(shared.config.batch_size);
            if history.is_none() {
                cmd.arg("BLOCK").arg(shared.config.block_ms);
            }
            cmd.arg("STREAMS")
                .arg(&shared.stream)
                .arg(history.as_deref().unwrap_or(">"));
            let reply = tokio::select! {
                _ = reading.cancelled() => return,
                r = cmd.query_async::<Value>(&mut conn) => r,
            };
            let entries = match reply {
                Ok(value) => match util::read_reply(value) {
                    Ok(entries) => entries,
                    Err(e) => {
                        warn!(stream = %shared.stream, error = %e, "unparsable XREADGROUP reply");
                        if !backoff.wait(reading).await {
                            return;
                        }
                        continue;
                    }
                },
                Err(error) if util::is_no_group(&error) => {
                    warn!(stream = %shared.stream, group = %shared.group,
                        "consumer group or stream disappeared; recreating it");
                    group_ready = false;
                    if !backoff.wait(reading).await {
                        return;
                    }
                    continue;
                }
                Err(error) => {
                    ConnectionError {
                        stream: &shared.stream,
                        operation: "read",
                        error: &error,
                    }
                    .emit();
                    failed = true;
                    if !backoff.wait(reading).await {
                        return;
                    }
                    continue 'connect;
                }
            };
            backoff.reset();
            if entries.is_empty() {
                if history.take().is_some() {
                    debug!(stream = %shared.stream, consumer = %shared.consumer,
                        "own pending entries re-read; reading new entries");
                }
                continue;
            }
            EntriesRead {
                stream: &shared.stream,
                group: &shared.group,
                count: entries.len(),
            }
            .emit();
            let counts = if history.is_some() {
                // Re-reading our own pending entries counts as a delivery; ask for the counts.
                match pending_counts(shared, &mut conn, &entries).await {
                    Ok(counts) => counts,
                    Err(error) => {
                        ConnectionError {
                            stream: &shared.stream,
                            operation: "pending",
                            error: &error,
                        }
                        .emit();
                        failed = true;
                        if !backoff.wait(reading).await {
                            return;
                        }
                        continue 'connect;
                    }
                }
            } else {
                HashMap::new()
            };
            if let (Some(last), Some(cursor)) = (entries.last(), history.as_mut()) {
                cursor.clone_from(&last.id);
            }
            for entry in entries {
                let count = counts.get(&entry.id).copied().unwrap_or(1);
                if let Dispatch::Stopped = dispatch(shared, &out, reading, entry, count).await {
                    return;
                }
            }
        }
    }
}

/// Delivery counts of `entries` from `XPENDING` (one pipelined range query per id).
async fn pending_counts(
    shared: &Shared,
    conn: &mut impl ConnectionLike,
    entries: &[RawEntry],
) -> Result<HashMap<String, u32>, redis::RedisError> {
    let mut pipe = redis::pipe();
    for entry in entries {
        pipe.cmd("XPENDING")
            .arg(&shared.stream)
            .arg(&shared.group)
            .arg(&entry.id)
            .arg(&entry.id)
            .arg(1);
    }
    let replies: Vec<Value> = pipe.query_async(conn).await?;
    let mut counts = HashMap::with_capacity(entries.len());
    for reply in replies {
        match util::pending_reply(reply) {
            Ok(rows) => {
                for (id, _consumer, count) in rows {
                    counts.insert(id, u32::try_from(count).unwrap_or(u32::MAX));
                }
            }
            Err(e) => warn!(stream = %shared.stream, error = %e, "unparsable XPENDING reply"),
        }
    }
    Ok(counts)
}

enum Dispatch {
    /// Handed to the router, dead-lettered, skipped or left pending.
    Done,
    /// Reading stopped (shutdown, or the router's channel closed).
    Stopped,
}

/// Handles one entry read or claimed: acknowledges deleted entries, dead-letters
/// malformed and over-delivered ones, and hands the rest to the router.
async fn dispatch(
    shared: &Arc<Shared>,
    out: &mpsc::Sender<Delivery>,
    reading: &CancellationToken,
    entry: RawEntry,
    delivery_count: u32,
) -> Dispatch {
    let RawEntry { id, fields } = entry;
    let Some(fields) = fields else {
        // Deleted from the stream while pending: nothing to deliver, drop it from the PEL.
        let _ = shared.ack_tx.send(id);
        return Dispatch::Done;
    };
    if !shared.reserve(&id) {
        // Already being processed here (claimed while in flight).
        return Dispatch::Done;
    }
    let event = match binding::decode(&fields) {
        Ok(event) => event,
        Err(error) => {
            let record = malformed_record(shared, &id, &fields, &error.to_string(), delivery_count);
            dead_letter(
                shared,
                &id,
                record,
                DeadLetterReason::Malformed,
                &error.to_string(),
            )
            .await;
            shared.forget(&id);
            return Dispatch::Done;
        }
    };
    if delivery_count > shared.config.max_deliveries {
        let reason = format!(
            "delivered {delivery_count} times, more than max_deliveries ({})",
            shared.config.max_deliveries
        );
        let mut record = event;
        record
            .extensions
            .insert(dead_letter::REASON.into(), reason.clone());
        record.extensions.insert(
            dead_letter::ATTEMPTS.into(),
            delivery_count.saturating_sub(1).to_string(),
        );
        record
            .extensions
            .insert(dead_letter::ORIGIN.into(), id.clone());
        dead_letter(
            shared,
            &id,
            record,
            DeadLetterReason::MaxDeliveries,
            &reason,
        )
        .await;
        shared.forget(&id);
        return Dispatch::Done;
    }
    let delivery = Delivery {
        event: Ok(event),
        delivery_count,
        origin: shared.origin(&id),
        ack: Box::new(StreamAck {
            shared: shared.clone(),
            id,
            settled: false,
        }),
    };
    // If reading stops or the channel is closed, the delivery is dropped, which releases
    // the entry (it stays pending).
    tokio::select! {
        biased;
        sent = out.send(delivery) => match sent {
            Ok(()) => Dispatch::Done,
            Err(_) => Dispatch::Stopped,
        },
        _ = reading.cancelled() => Dispatch::Stopped,
    }
}

fn malformed_record(
    shared: &Shared,
    id: &str,
    fields: &[(Vec<u8>, Vec<u8>)],
    error: &str,
    delivery_count: u32,
) -> Event {
    let mut record = Event::new(
        format!("{}/{}", shared.stream, id),
        format!("redis:{}", shared.stream),
        dead_letter::MALFORMED_TYPE,
    );
    record.time = Some(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    record.datacontenttype = Some("application/json".into());
    record.data = Some(binding::render_fields(fields));
    record
        .extensions
        .insert(dead_letter::REASON.into(), error.to_string());
    record
        .extensions
        .insert(dead_letter::ATTEMPTS.into(), delivery_count.to_string());
    record
        .extensions
        .insert(dead_letter::ORIGIN.into(), id.to_string());
    record
}

/// Writes `record` to the dead-letter stream and acknowledges `id`, atomically. On failure
/// the entry stays pending and is claimed (and dead-lettered) again later.
async fn dead_letter(
    shared: &Shared,
    id: &str,
    record: Event,
    reason: DeadLetterReason,
    detail: &str,
) -> bool {
    let mut pipe = redis::pipe();
    pipe.atomic();
    pipe.cmd("XADD").arg(&shared.dead_letter_stream).arg("*");
    for (name, value) in binding::encode(&record, shared.config.binding) {
        pipe.arg(name).arg(value);
    }
    pipe.cmd("XACK")
        .arg(&shared.stream)
        .arg(&shared.group)
        .arg(id);
    match pipe.query_async::<Value>(&mut shared.conn()).await {
        Ok(_) => {
            EntryDeadLettered {
                stream: &shared.stream,
                group: &shared.group,
                dead_letter_stream: &shared.dead_letter_stream,
                id,
                reason,
                detail,
            }
            .emit();
            true
        }
        Err(error) => {
            ConnectionError {
                stream: &shared.stream,
                operation: "dead_letter",
                error: &error,
            }
            .emit();
            false
        }
    }
}

/// Collects acknowledged ids and flushes them with `XACK`.
async fn acker(
    shared: Arc<Shared>,
    mut rx: mpsc::UnboundedReceiver<String>,
    stop: CancellationToken,
) {
    let flush_every = ms(shared.config.ack_flush_ms);
    let batch = shared.config.ack_batch_size;
    let mut backoff = reconnect_backoff(ms(shared.config.reconnect_max_backoff_ms));
    let mut buffer: Vec<String> = Vec::with_capacity(batch);
    let mut flush_at: Option<tokio::time::Instant> = None;
    let mut retrying = false;
    loop {
        let due =
            flush_at.unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep_until(due), if flush_at.is_some() => {}
            id = rx.recv() => {
                let Some(id) = id else { break };
                buffer.push(id);
                while buffer.len() < batch {
                    match rx.try_recv() {
                        Ok(id) => buffer.push(id),
                        Err(_) => break,
                    }
                }
                if flush_at.is_none() {
                    flush_at = Some(tokio::time::Instant::now() + flush_every);
                }
                if retrying || buffer.len() < batch {
                    continue;
                }
            }
        }
        match flush(&shared, &buffer).await {
            Ok(()) => {
                buffer.clear();
                flush_at = None;
                retrying = false;
                backoff.reset();
            }
            Err(error) => {
                ConnectionError {
                    stream: &shared.stream,
                    operation: "ack",
                    error: &error,
                }
                .emit();
                if util::is_transient(&error) {
                    retrying = true;
                    flush_at = Some(tokio::time::Instant::now() + backoff.next_delay());
                } else {
                    // e.g. NOGROUP: the group (and its pending list) is gone; nothing to ack.
                    for id in buffer.drain(..) {
                        shared.forget(&id);
                    }
                    flush_at = None;
                    retrying = false;
                }
            }
        }
    }
    // Final flush of whatever was settled during the drain.
    while let Ok(id) = rx.try_recv() {
        buffer.push(id);
    }
    if !buffer.is_empty() {
        let timeout = ms(shared.config.response_timeout_ms);
        match tokio::time::timeout(timeout, flush(&shared, &buffer)).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                ConnectionError {
                    stream: &shared.stream,
                    operation: "ack",
                    error: &error,
                }
                .emit();
            }
            Err(_) => warn!(stream = %shared.stream, unacked = buffer.len(),
                "final XACK timed out; the entries stay pending"),
        }
    }
}

async fn flush(shared: &Shared, ids: &[String]) -> Result<(), redis::RedisError> {
    if ids.is_empty() {
        return Ok(());
    }
    let acked: i64 = redis::cmd("XACK")
        .arg(&shared.stream)
        .arg(&shared.group)
        .arg(ids)
        .query_async(&mut shared.conn())
        .await?;
    {
        let mut map = shared.inflight();
        for id in ids {
            map.remove(id);
        }
    }
    shared
        .acked_since_trim
        .fetch_add(ids.len() as u64, Ordering::Relaxed);
    EntriesAcked {
        stream: &shared.stream,
        group: &shared.group,
        count: usize::try_from(acked).unwrap_or(0),
    }
    .emit();
    Ok(())
}

/// Periodically claims idle pending entries and delivers them again.
async fn claimer(shared: Arc<Shared>, out: mpsc::Sender<Delivery>, reading: CancellationToken) {
    // The first sweep waits one interval, so that at startup the reader re-reads this
    // consumer's own pending entries first.
    let every = ms(shared.config.claim_interval_ms);
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = reading.cancelled() => return,
            _ = tick.tick() => {}
        }
        if let Dispatch::Stopped = claim_sweep(&shared, &out, &reading).await {
            return;
        }
    }
}

/// One pass of `XAUTOCLAIM` over the whole pending list.
async fn claim_sweep(
    shared: &Arc<Shared>,
    out: &mpsc::Sender<Delivery>,
    reading: &CancellationToken,
) -> Dispatch {
    let mut cursor = "0-0".to_string();
    let mut conn = shared.conn();
    loop {
        let mut cmd = redis::cmd("XAUTOCLAIM");
        cmd.arg(&shared.stream)
            .arg(&shared.group)
            .arg(&shared.consumer)
            .arg(shared.config.claim_idle_ms)
            .arg(&cursor)
            .arg("COUNT")
            .arg(shared.config.batch_size);
        let reply = tokio::select! {
            _ = reading.cancelled() => return Dispatch::Stopped,
            r = cmd.query_async::<Value>(&mut conn) => r,
        };
        let (next, claimed, deleted) = match reply.map(util::autoclaim_reply) {
            Ok(Ok(parsed)) => parsed,
            Ok(Err(e)) => {
                warn!(stream = %shared.stream, error = %e, "unparsable XAUTOCLAIM reply");
                return Dispatch::Done;
            }
            Err(error) => {
                if !util::is_no_group(&error) {
                    ConnectionError {
                        stream: &shared.stream,
                        operation: "claim",
                        error: &error,
                    }
                    .emit();
                }
                return Dispatch::Done;
            }
        };
        if !deleted.is_empty() {
            debug!(stream = %shared.stream, count = deleted.len(),
                "pending entries deleted from the stream were dropped from the pending list");
        }
        if !claimed.is_empty() {
            EntriesClaimed {
                stream: &shared.stream,
                group: &shared.group,
                consumer: &shared.consumer,
                count: claimed.len(),
            }
            .emit();
            EntriesRead {
                stream: &shared.stream,
                group: &shared.group,
                count: claimed.len(),
            }
            .emit();
            let counts = match pending_counts(shared, &mut conn, &claimed).await {
                Ok(counts) => counts,
                Err(error) => {
                    ConnectionError {
                        stream: &shared.stream,
                        operation: "pending",
                        error: &error,
                    }
                    .emit();
                    return Dispatch::Done;
                }
            };
            for entry in claimed {
                let count = counts.get(&entry.id).copied().unwrap_or(1);
                if let Dispatch::Stopped = dispatch(shared, out, reading, entry, count).await {
                    return Dispatch::Stopped;
                }
            }
        }
        if next == "0-0" || reading.is_cancelled() {
            return Dispatch::Done;
        }
        cursor = next;
    }
}

/// Resets the idle time of entries still being processed here, so no other consumer claims
/// them. `XCLAIM … JUSTID` does not increment the delivery count.
async fn heartbeat(shared: Arc<Shared>, stop: CancellationToken) {
    let idle = ms(shared.config.claim_idle_ms);
    let mut tick = tokio::time::interval((idle / 4).max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        let now = Instant::now();
        let due: Vec<String> = shared
            .inflight()
            .iter()
            .filter(|(_, touched)| now.duration_since(**touched) >= idle / 2)
            .map(|(id, _)| id.clone())
            .collect();
        for chunk in due.chunks(HEARTBEAT_CHUNK) {
            let result = redis::cmd("XCLAIM")
                .arg(&shared.stream)
                .arg(&shared.group)
                .arg(&shared.consumer)
                .arg(0)
                .arg(chunk)
                .arg("JUSTID")
                .query_async::<Value>(&mut shared.conn())
                .await;
            match result {
                Ok(_) => {
                    let mut map = shared.inflight();
                    for id in chunk {
                        if let Some(touched) = map.get_mut(id) {
                            *touched = now;
                        }
                    }
                }
                Err(error) => {
                    ConnectionError {
                        stream: &shared.stream,
                        operation: "heartbeat",
                        error: &error,
                    }
                    .emit();
                    break;
                }
            }
        }
    }
}

/// Publishes consumer-group gauges and trims the stream when configured.
async fn monitor(shared: Arc<Shared>, stop: CancellationToken) {
    let mut lag_tick = tokio::time::interval(ms(shared.config.lag_interval_ms));
    lag_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut trim_tick = tokio::time::interval(Duration::from_secs(1));
    trim_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let trim_enabled = shared.config.trim.is_some();
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = lag_tick.tick() => report_lag(&shared).await,
            _ = trim_tick.tick(), if trim_enabled => trim(&shared).await,
        }
    }
}

async fn report_lag(shared: &Shared) {
    let reply = redis::cmd("XINFO")
        .arg("GROUPS")
        .arg(&shared.stream)
        .query_async::<redis::streams::StreamInfoGroupsReply>(&mut shared.conn())
        .await;
    match reply {
        Ok(info) => {
            if let Some(group) = info.groups.iter().find(|g| g.name == shared.group) {
                ConsumerLag {
                    stream: &shared.stream,
                    group: &shared.group,
                    lag: group.lag,
                    pending: group.pending,
                }
                .emit();
            }
        }
        Err(error) => debug!(stream = %shared.stream, %error, "XINFO GROUPS failed"),
    }
}

async fn trim(shared: &Shared) {
    let Some(trim) = &shared.config.trim else {
        return;
    };
    let acked = shared.acked_since_trim.swap(0, Ordering::Relaxed);
    if acked == 0 {
        return;
    }
    let mode = if trim.approximate { "~" } else { "=" };
    let mut conn = shared.conn();
    let mut removed = 0u64;
    let mut failed = None;
    if let Some(maxlen) = trim.maxlen {
        match redis::cmd("XTRIM")
            .arg(&shared.stream)
            .arg("MAXLEN")
            .arg(mode)
            .arg(maxlen)
            .query_async::<u64>(&mut conn)
            .await
        {
            Ok(n) => removed += n,
            Err(e) => failed = Some(e),
        }
    }
    if trim.minid_acked && failed.is_none() {
        match oldest_needed_id(shared, &mut conn).await {
            Ok(Some(minid)) => match redis::cmd("XTRIM")
                .arg(&shared.stream)
                .arg("MINID")
                .arg(mode)
                .arg(&minid)
                .query_async::<u64>(&mut conn)
                .await
            {
                Ok(n) => removed += n,
                Err(e) => failed = Some(e),
            },
            Ok(None) => {}
            Err(e) => failed = Some(e),
        }
    }
    match failed {
        None => {
            if removed > 0 {
                StreamTrimmed {
                    stream: &shared.stream,
                    removed,
                }
                .emit();
            }
        }
        Some(error) => {
            shared.acked_since_trim.fetch_add(acked, Ordering::Relaxed);
            ConnectionError {
                stream: &shared.stream,
                operation: "trim",
                error: &error,
            }
            .emit();
        }
    }
}

/// The oldest entry id some consumer group of the stream still needs: the smallest pending
/// id of any group, or for a group with nothing pending its last delivered id. Entries
/// before it were acknowledged by every group.
async fn oldest_needed_id(
    shared: &Shared,
    conn: &mut ConnectionManager,
) -> Result<Option<String>, redis::RedisError> {
    let info: redis::streams::StreamInfoGroupsReply = redis::cmd("XINFO")
        .arg("GROUPS")
        .arg(&shared.stream)
        .query_async(conn)
        .await?;
    let mut oldest: Option<((u64, u64), String)> = None;
    for group in info.groups {
        let candidate = if group.pending > 0 {
            let summary: redis::streams::StreamPendingReply = redis::cmd("XPENDING")
                .arg(&shared.stream)
                .arg(&group.name)
                .query_async(conn)
                .await?;
            match summary {
                redis::streams::StreamPendingReply::Data(data) => data.start_id,
                _ => group.last_delivered_id,
            }
        } else {
            group.last_delivered_id
        };
        let Some(key) = util::parse_id(&candidate) else {
            return Ok(None);
        };
        if oldest.as_ref().is_none_or(|(k, _)| key < *k) {
            oldest = Some((key, candidate));
        }
    }
    Ok(oldest.map(|(_, id)| id))
}
