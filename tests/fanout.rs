//! Fan-out by a plugin: one input event becomes N output events (the `probe` test plugin's
//! `many` type, a real wasm component on the real runtime), run through the router's
//! source loop with in-process sources and sinks that record everything.
//!
//! The router's rules (host/router/src/route.rs, lib.rs): every output goes to every sink;
//! the input is acknowledged only once all N outputs were delivered (or the input was
//! dead-lettered durably); a transient failure retries only the outputs still pending; a
//! permanent failure, or the last attempt, dead-letters the *input*; a dead letter that
//! fails requeues the input, never acknowledges it.

mod support;

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;
use weft_connector::{
    Acknowledge, ConnectorError, Delivery, Settlement, Sink, SinkError, Source, dead_letter,
};
use weft_event::Event;
use weft_kv_embedded::EmbeddedKv;
use weft_router::{NamedSink, RetryPolicy, Route, RouteFilter, SourceSettings};
use weft_runtime::kv::KvBackend;
use weft_runtime::{EngineOptions, PluginSpec, Runtime};

/// Outputs per input.
const N: usize = 5;

/// What happened, in order: `delivered:<sink>:<id>`, `failed:<sink>:<id>`,
/// `held:<sink>:<id>`, `ack:<input>`, `requeue:<input>`.
#[derive(Clone, Default)]
struct Journal(Arc<Mutex<Vec<String>>>);

impl Journal {
    fn push(&self, entry: String) {
        self.0.lock().unwrap().push(entry);
    }

    fn entries(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    fn count(&self, entry: &str) -> usize {
        self.entries().iter().filter(|e| *e == entry).count()
    }

    fn position(&self, entry: &str) -> Option<usize> {
        self.entries().iter().position(|e| e == entry)
    }

    fn settlements(&self) -> Vec<String> {
        self.entries()
            .into_iter()
            .filter(|e| e.starts_with("ack:") || e.starts_with("requeue:"))
            .collect()
    }
}

/// What the sink does with one call for an event id.
enum Step {
    Ok,
    Transient,
    Permanent,
    /// Waits until notified, then confirms.
    Hold(Arc<Notify>),
}

/// A sink answering per event id from a script (then `Ok`), recording every call in the
/// journal and every confirmed event.
struct ScriptSink {
    name: &'static str,
    journal: Journal,
    script: Mutex<HashMap<String, VecDeque<Step>>>,
    confirmed: Mutex<Vec<Event>>,
}

impl ScriptSink {
    fn new(name: &'static str, journal: &Journal) -> Arc<ScriptSink> {
        Arc::new(ScriptSink {
            name,
            journal: journal.clone(),
            script: Mutex::default(),
            confirmed: Mutex::default(),
        })
    }

    fn script(self: &Arc<Self>, id: &str, steps: impl IntoIterator<Item = Step>) -> Arc<Self> {
        self.script
            .lock()
            .unwrap()
            .entry(id.to_string())
            .or_default()
            .extend(steps);
        self.clone()
    }

    fn confirmed_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .confirmed
            .lock()
            .unwrap()
            .iter()
            .map(|e| e.id.clone())
            .collect();
        ids.sort();
        ids
    }

    fn named(self: &Arc<Self>) -> NamedSink {
        NamedSink {
            name: self.name.to_string(),
            sink: self.clone(),
        }
    }

    async fn call(&self, event: &Event) -> Result<(), SinkError> {
        let step = self
            .script
            .lock()
            .unwrap()
            .get_mut(&event.id)
            .and_then(VecDeque::pop_front)
            .unwrap_or(Step::Ok);
        let (name, id) = (self.name, &event.id);
        let result = match step {
            Step::Ok => Ok(()),
            Step::Transient => Err(SinkError::Transient(format!("{id} refused for now"))),
            Step::Permanent => Err(SinkError::Permanent(format!("{id} refused for good"))),
            Step::Hold(release) => {
                self.journal.push(format!("held:{name}:{id}"));
                release.notified().await;
                Ok(())
            }
        };
        match &result {
            Ok(()) => {
                self.confirmed.lock().unwrap().push(event.clone());
                self.journal.push(format!("delivered:{name}:{id}"));
            }
            Err(_) => self.journal.push(format!("failed:{name}:{id}")),
        }
        result
    }
}

// `Sink` is an `async_trait`; written out by hand (its expansion) so the test needs no
// extra dependency.
impl Sink for ScriptSink {
    fn deliver<'s, 'e, 'f>(
        &'s self,
        event: &'e Event,
    ) -> Pin<Box<dyn Future<Output = Result<(), SinkError>> + Send + 'f>>
    where
        's: 'f,
        'e: 'f,
        Self: 'f,
    {
        Box::pin(self.call(event))
    }
}

/// Records the settlement of input `id` in the journal.
struct JournalAck {
    id: String,
    journal: Journal,
}

impl Acknowledge for JournalAck {
    fn settle<'f>(
        self: Box<Self>,
        settlement: Settlement,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'f>>
    where
        Self: 'f,
    {
        Box::pin(async move {
            let what = match settlement {
                Settlement::Ack => "ack",
                Settlement::Requeue { .. } => "requeue",
            };
            self.journal.push(format!("{what}:{}", self.id));
        })
    }
}

/// Hands out the given events once, then waits for shutdown.
struct ListSource {
    events: Vec<Event>,
    journal: Journal,
}

impl Source for ListSource {
    fn run<'f>(
        self: Box<Self>,
        out: mpsc::Sender<Delivery>,
        shutdown: CancellationToken,
    ) -> Pin<Box<dyn Future<Output = Result<(), ConnectorError>> + Send + 'f>>
    where
        Self: 'f,
    {
        Box::pin(async move {
            for event in self.events {
                let delivery = Delivery {
                    origin: format!("list/{}", event.id),
                    ack: Box::new(JournalAck {
                        id: event.id.clone(),
                        journal: self.journal.clone(),
                    }),
                    event: Ok(event),
                    delivery_count: 1,
                };
                if out.send(delivery).await.is_err() {
                    return Ok(());
                }
            }
            shutdown.cancelled().await;
            Ok(())
        })
    }
}

/// The probe plugin on the real runtime (its KV in a temporary directory).
struct Probe {
    plugin: Arc<weft_runtime::LoadedPlugin>,
    _runtime: Runtime,
    _dir: tempfile::TempDir,
}

fn probe() -> Probe {
    let dir = tempfile::tempdir().unwrap();
    let kv: Arc<dyn KvBackend> = Arc::new(EmbeddedKv::open(&dir.path().join("kv.redb")).unwrap());
    let runtime = Runtime::new(&EngineOptions::default()).unwrap();
    let spec = PluginSpec::new(support::plugin_wasm("weft-test-probe"));
    let plugin = runtime
        .load("probe", &spec, std::path::Path::new("/"), kv)
        .unwrap();
    Probe {
        plugin: Arc::new(plugin),
        _runtime: runtime,
        _dir: dir,
    }
}

/// An input the probe turns into `n` outputs with ids `<id>-0` … `<id>-{n-1}`.
fn input(id: &str, n: usize) -> Event {
    let mut e = Event::new(id, "/test/fanout", "many");
    e.datacontenttype = Some("application/json".into());
    e.data = Some(json!({ "n": n }).to_string().into_bytes());
    e
}

fn outputs(id: &str) -> Vec<String> {
    (0..N).map(|i| format!("{id}-{i}")).collect()
}

fn retry(attempts: u32) -> RetryPolicy {
    RetryPolicy {
        attempts,
        initial_backoff_ms: 10,
        max_backoff_ms: 20,
        jitter: false,
        ..RetryPolicy::default()
    }
}

/// A running source loop over one route: probe → `sinks`, dead letter `dead`.
struct Run {
    journal: Journal,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), ConnectorError>>,
}

fn start(
    probe: &Probe,
    inputs: Vec<Event>,
    sinks: &[&Arc<ScriptSink>],
    dead: &Arc<ScriptSink>,
    retry: RetryPolicy,
    journal: &Journal,
) -> Run {
    let route = Route::new(
        "fanout".into(),
        RouteFilter::default(),
        vec![probe.plugin.clone()],
        sinks.iter().map(|s| s.named()).collect(),
        retry,
        dead.named(),
    );
    let shutdown = CancellationToken::new();
    let source = ListSource {
        events: inputs,
        journal: journal.clone(),
    };
    let task = tokio::spawn(weft_router::run_source(
        "list".into(),
        Box::new(source),
        vec![Arc::new(route)],
        SourceSettings {
            max_in_flight: 4,
            drain_timeout: Duration::from_secs(10),
            ..SourceSettings::default()
        },
        shutdown.clone(),
    ));
    Run {
        journal: journal.clone(),
        shutdown,
        task,
    }
}

impl Run {
    /// Waits until `n` inputs are settled (30 s at most); returns the settlements.
    async fn settled(&self, n: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let got = self.journal.settlements();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "only {} of {n} inputs settled in 30 s: {:?}",
                got.len(),
                self.journal.entries()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.unwrap().unwrap();
    }
}

/// Every output of every input reaches the sink exactly once, and each input is acked
/// only after its last output was delivered; one held output keeps its input unacked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_output_is_delivered_once_and_the_input_acked_after_the_last() {
    let probe = probe();
    let journal = Journal::default();
    let release = Arc::new(Notify::new());
    let sink = ScriptSink::new("out", &journal).script("b-3", [Step::Hold(release.clone())]);
    let dead = ScriptSink::new("dead", &journal);
    let ids = ["a", "b", "c", "d"];
    let run = start(
        &probe,
        ids.iter().map(|id| input(id, N)).collect(),
        &[&sink],
        &dead,
        retry(3),
        &journal,
    );

    // the other three inputs settle; `b` waits for its held output
    let settled = run.settled(3).await;
    let mut settled_sorted = settled.clone();
    settled_sorted.sort();
    assert_eq!(settled_sorted, ["ack:a", "ack:c", "ack:d"], "{settled:?}");
    for other in outputs("b").iter().filter(|o| *o != "b-3") {
        assert_eq!(
            journal.count(&format!("delivered:out:{other}")),
            1,
            "{other}"
        );
    }
    assert!(journal.position("held:out:b-3").is_some());
    // a negative check needs a grace period: the input must stay unsettled while one of
    // its outputs is undelivered (an early ack would show up here)
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        journal.settlements().len(),
        3,
        "input b was settled while its output b-3 was still being delivered: {:?}",
        journal.entries()
    );
    release.notify_one();
    let settled = run.settled(4).await;
    assert_eq!(settled.len(), 4, "{settled:?}");

    // exact count at the sink: N per input, each once, nothing dead-lettered
    let expected: Vec<String> = {
        let mut v: Vec<String> = ids.iter().flat_map(|id| outputs(id)).collect();
        v.sort();
        v
    };
    assert_eq!(sink.confirmed_ids().len(), ids.len() * N);
    assert_eq!(sink.confirmed_ids(), expected);
    assert!(dead.confirmed_ids().is_empty());
    // each ack after the last delivery of its N outputs
    for id in ids {
        let ack = journal
            .position(&format!("ack:{id}"))
            .unwrap_or_else(|| panic!("{id} not acked: {:?}", journal.entries()));
        for o in outputs(id) {
            let delivered = journal.position(&format!("delivered:out:{o}")).unwrap();
            assert!(
                delivered < ack,
                "{id} acked before its output {o} was delivered: {:?}",
                journal.entries()
            );
        }
    }
    run.stop().await;
}

/// With two sinks every output goes to both: 2·N confirmed deliveries per input.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_output_goes_to_every_sink() {
    let probe = probe();
    let journal = Journal::default();
    let one = ScriptSink::new("one", &journal);
    let two = ScriptSink::new("two", &journal);
    let dead = ScriptSink::new("dead", &journal);
    let run = start(
        &probe,
        vec![input("a", N), input("b", N)],
        &[&one, &two],
        &dead,
        retry(3),
        &journal,
    );
    assert_eq!(run.settled(2).await.len(), 2);
    let mut expected: Vec<String> = outputs("a").into_iter().chain(outputs("b")).collect();
    expected.sort();
    assert_eq!(one.confirmed_ids(), expected);
    assert_eq!(two.confirmed_ids(), expected);
    assert_eq!(journal.count("ack:a") + journal.count("ack:b"), 2);
    run.stop().await;
}

/// A transient failure of one of the N outputs retries that output alone; the others are
/// not delivered twice, and the input is acked after the retry succeeded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transient_failure_of_one_output_retries_only_that_output() {
    let probe = probe();
    let journal = Journal::default();
    let sink = ScriptSink::new("out", &journal).script("x-2", [Step::Transient, Step::Transient]);
    let dead = ScriptSink::new("dead", &journal);
    let run = start(
        &probe,
        vec![input("x", N)],
        &[&sink],
        &dead,
        retry(3),
        &journal,
    );
    assert_eq!(run.settled(1).await, ["ack:x"]);
    assert_eq!(sink.confirmed_ids(), outputs("x"));
    for o in outputs("x") {
        let calls = journal
            .entries()
            .iter()
            .filter(|e| e.ends_with(&format!(":out:{o}")))
            .count();
        let expected = if o == "x-2" { 3 } else { 1 };
        assert_eq!(
            calls,
            expected,
            "sink calls for {o}: {:?}",
            journal.entries()
        );
    }
    assert_eq!(journal.count("failed:out:x-2"), 2);
    assert!(dead.confirmed_ids().is_empty());
    assert!(journal.position("delivered:out:x-2") < journal.position("ack:x"));
    run.stop().await;
}

/// A permanent failure of one output dead-letters the input (not the output) at once,
/// with the reason; then the input is acked. The other outputs were delivered once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_failure_of_one_output_dead_letters_the_input() {
    let probe = probe();
    let journal = Journal::default();
    let sink = ScriptSink::new("out", &journal).script("x-1", [Step::Permanent]);
    let dead = ScriptSink::new("dead", &journal);
    let run = start(
        &probe,
        vec![input("x", N)],
        &[&sink],
        &dead,
        retry(5),
        &journal,
    );
    assert_eq!(run.settled(1).await, ["ack:x"]);
    assert_eq!(journal.count("failed:out:x-1"), 1, "not retried");
    let others: Vec<String> = outputs("x").into_iter().filter(|o| o != "x-1").collect();
    assert_eq!(sink.confirmed_ids(), others);
    let records = dead.confirmed.lock().unwrap().clone();
    assert_eq!(records.len(), 1, "{records:?}");
    let record = &records[0];
    assert_eq!(record.id, "x", "the input is dead-lettered, not an output");
    assert_eq!(record.ty, "many");
    let ext = |k: &str| record.extensions.get(k).cloned().unwrap_or_default();
    assert!(
        ext(dead_letter::REASON).contains("x-1 refused for good"),
        "{record:?}"
    );
    assert_eq!(ext(dead_letter::FAILED_AT), "sink:out");
    assert_eq!(ext(dead_letter::ATTEMPTS), "1");
    assert!(journal.position("delivered:dead:x") < journal.position("ack:x"));
    run.stop().await;
}

/// One output failing transiently on every attempt: retried up to the policy's attempts,
/// then the input is dead-lettered and acked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_output_failing_on_every_attempt_dead_letters_the_input_after_the_last() {
    let probe = probe();
    let journal = Journal::default();
    let sink = ScriptSink::new("out", &journal)
        .script("x-4", (0..10).map(|_| Step::Transient).collect::<Vec<_>>());
    let dead = ScriptSink::new("dead", &journal);
    let run = start(
        &probe,
        vec![input("x", N)],
        &[&sink],
        &dead,
        retry(3),
        &journal,
    );
    assert_eq!(run.settled(1).await, ["ack:x"]);
    assert_eq!(
        journal.count("failed:out:x-4"),
        3,
        "{:?}",
        journal.entries()
    );
    for o in outputs("x").iter().filter(|o| *o != "x-4") {
        assert_eq!(journal.count(&format!("delivered:out:{o}")), 1, "{o}");
    }
    let records = dead.confirmed.lock().unwrap().clone();
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].id, "x");
    assert_eq!(
        records[0]
            .extensions
            .get(dead_letter::ATTEMPTS)
            .map(String::as_str),
        Some("3")
    );
    run.stop().await;
}

/// One output fails for good and the dead letter fails too: the input is requeued, never
/// acked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_output_with_a_failing_dead_letter_requeues_the_input() {
    let probe = probe();
    let journal = Journal::default();
    let sink = ScriptSink::new("out", &journal).script("x-0", [Step::Permanent]);
    let dead = ScriptSink::new("dead", &journal).script("x", [Step::Transient]);
    let run = start(
        &probe,
        vec![input("x", N)],
        &[&sink],
        &dead,
        retry(3),
        &journal,
    );
    assert_eq!(run.settled(1).await, ["requeue:x"]);
    assert_eq!(journal.count("failed:dead:x"), 1);
    assert_eq!(journal.count("ack:x"), 0);
    run.stop().await;
}
