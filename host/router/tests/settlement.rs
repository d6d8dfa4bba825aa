//! The router's settlement rules, with in-process fake sources and sinks
//! (`weft_connector::testkit`): which sinks are retried, what outranks what, when a
//! delivery is acknowledged and when it is handed back. Each test checks the settlement and
//! the exact sink calls.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use weft_connector::testkit::{
    CollectingSink, ScriptedSink, ScriptedSource, Settlements, SinkStep, wait_for_settlements,
};
use weft_connector::{Malformed, Settlement, dead_letter};
use weft_event::{Event, Filter};
use weft_router::{NamedSink, RetryPolicy, Route, RouteOutcome, SourceSettings};

fn named(name: &str, sink: impl weft_connector::Sink) -> NamedSink {
    NamedSink {
        name: name.into(),
        sink: Arc::new(sink),
    }
}

fn retry(attempts: u32) -> RetryPolicy {
    RetryPolicy {
        attempts,
        initial_backoff_ms: 1,
        max_backoff_ms: 2,
        jitter: false,
        ..RetryPolicy::default()
    }
}

fn route(
    name: &str,
    sinks: Vec<NamedSink>,
    retry: RetryPolicy,
    dead_letter: NamedSink,
) -> Arc<Route> {
    Arc::new(Route::new(
        name.into(),
        Filter::default(),
        Vec::new(),
        sinks,
        retry,
        dead_letter,
    ))
}

fn event(id: &str) -> Event {
    Event::new(id, "/test", "com.example.t")
}

/// Runs `items` through `routes` on one source until every item is settled, then shuts
/// down; returns the settlements in source order.
async fn run(
    items: Vec<Result<Event, Malformed>>,
    routes: Vec<Arc<Route>>,
    settings: SourceSettings,
    shutdown_after: Option<Duration>,
) -> Vec<(String, Settlement)> {
    let n = items.len();
    let (source, settlements): (_, Settlements) = ScriptedSource::new(items);
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(weft_router::run_source(
        "test".into(),
        Box::new(source),
        routes,
        settings,
        shutdown.clone(),
    ));
    if let Some(after) = shutdown_after {
        tokio::time::sleep(after).await;
        shutdown.cancel();
    }
    let mut got = wait_for_settlements(&settlements, n, Duration::from_secs(10)).await;
    shutdown.cancel();
    task.await.unwrap().unwrap();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    got
}

#[tokio::test]
async fn a_retry_goes_only_to_the_sinks_that_failed() {
    let good = ScriptedSink::ok();
    let flaky = ScriptedSink::scripted([SinkStep::Transient("503"), SinkStep::Transient("503")]);
    let dl = ScriptedSink::ok();
    let r = route(
        "r",
        vec![named("good", good.clone()), named("flaky", flaky.clone())],
        retry(5),
        named("dl", dl.clone()),
    );
    let outcome = r.handle(&event("e1"), "o", &CancellationToken::new()).await;
    assert_eq!(outcome, RouteOutcome::Delivered);
    assert_eq!(
        good.calls(),
        ["e1"],
        "the sink that confirmed is not called again"
    );
    assert_eq!(flaky.calls(), ["e1", "e1", "e1"]);
    assert_eq!(flaky.delivered(), ["e1"]);
    assert!(dl.calls().is_empty());
}

#[tokio::test]
async fn a_permanent_failure_outranks_a_transient_one_and_dead_letters_at_once() {
    let transient = ScriptedSink::always(SinkStep::Transient("timeout"));
    let permanent = ScriptedSink::always(SinkStep::Permanent("400 bad request"));
    let dl = CollectingSink::default();
    let r = route(
        "r",
        vec![named("t", transient.clone()), named("p", permanent.clone())],
        retry(5),
        named("dl", dl.clone()),
    );
    let outcome = r
        .handle(&event("e1"), "origin-1", &CancellationToken::new())
        .await;
    assert_eq!(outcome, RouteOutcome::DeadLettered);
    assert_eq!(
        transient.calls(),
        ["e1"],
        "no retry after a permanent failure"
    );
    assert_eq!(permanent.calls(), ["e1"]);
    let records = dl.events();
    assert_eq!(records.len(), 1);
    let ext = &records[0].extensions;
    assert_eq!(ext[dead_letter::FAILED_AT], "sink:p");
    assert_eq!(ext[dead_letter::ATTEMPTS], "1");
    assert_eq!(ext[dead_letter::ROUTE], "r");
    assert_eq!(ext[dead_letter::ORIGIN], "origin-1");
    assert!(
        ext[dead_letter::REASON].contains("400 bad request"),
        "{ext:?}"
    );
}

#[tokio::test]
async fn transient_failures_dead_letter_after_the_last_attempt() {
    let down = ScriptedSink::always(SinkStep::Transient("connection refused"));
    let dl = CollectingSink::default();
    let r = route(
        "r",
        vec![named("down", down.clone())],
        retry(3),
        named("dl", dl.clone()),
    );
    let got = run(
        vec![Ok(event("e1"))],
        vec![r],
        SourceSettings::default(),
        None,
    )
    .await;
    assert_eq!(got, [("scripted/0".to_string(), Settlement::Ack)]);
    assert_eq!(down.calls().len(), 3);
    assert_eq!(dl.events()[0].extensions[dead_letter::ATTEMPTS], "3");
}

#[tokio::test]
async fn a_failing_dead_letter_sink_requeues_and_never_acks() {
    let down = ScriptedSink::always(SinkStep::Permanent("gone"));
    let dl = ScriptedSink::always(SinkStep::Transient("disk full"));
    let r = route(
        "r",
        vec![named("down", down)],
        retry(1),
        named("dl", dl.clone()),
    );
    let got = run(
        vec![Ok(event("e1"))],
        vec![r],
        SourceSettings::default(),
        None,
    )
    .await;
    assert_eq!(got.len(), 1);
    match &got[0].1 {
        Settlement::Requeue { reason } => assert!(reason.contains("disk full"), "{reason}"),
        other => panic!("expected requeue, got {other:?}"),
    }
    assert_eq!(dl.calls(), ["e1"]);
}

#[tokio::test]
async fn the_drain_timeout_requeues_work_in_flight() {
    let stuck = ScriptedSink::always(SinkStep::Hang);
    let r = route(
        "r",
        vec![named("stuck", stuck.clone())],
        retry(1),
        named("dl", ScriptedSink::ok()),
    );
    let settings = SourceSettings {
        max_in_flight: 4,
        drain_timeout: Duration::from_millis(100),
        ..Default::default()
    };
    let got = run(
        vec![Ok(event("e1")), Ok(event("e2"))],
        vec![r],
        settings,
        Some(Duration::from_millis(200)),
    )
    .await;
    assert_eq!(got.len(), 2);
    for (_, settlement) in &got {
        assert!(
            matches!(settlement, Settlement::Requeue { reason } if reason == "drain timeout"),
            "{got:?}"
        );
    }
    assert_eq!(stuck.calls(), ["e1", "e2"]);
}

#[tokio::test]
async fn shutdown_during_a_retry_backoff_requeues() {
    let down = ScriptedSink::always(SinkStep::Transient("503"));
    let slow_retry = RetryPolicy {
        attempts: 10,
        initial_backoff_ms: 60_000,
        max_backoff_ms: 60_000,
        jitter: false,
        ..RetryPolicy::default()
    };
    let r = route(
        "r",
        vec![named("down", down.clone())],
        slow_retry,
        named("dl", ScriptedSink::ok()),
    );
    let settings = SourceSettings {
        max_in_flight: 1,
        drain_timeout: Duration::from_secs(30),
        ..Default::default()
    };
    let got = run(
        vec![Ok(event("e1"))],
        vec![r],
        settings,
        Some(Duration::from_millis(200)),
    )
    .await;
    assert_eq!(
        got,
        [(
            "scripted/0".to_string(),
            Settlement::Requeue {
                reason: "shutting down during retry backoff".into()
            }
        )]
    );
    assert_eq!(down.calls(), ["e1"]);
}

#[tokio::test]
async fn a_malformed_message_is_dead_lettered_by_the_first_route_or_requeued_without_one() {
    let dl = CollectingSink::default();
    let r = route(
        "r",
        vec![named("out", ScriptedSink::ok())],
        retry(1),
        named("dl", dl.clone()),
    );
    let malformed = Malformed {
        raw: b"not json".to_vec(),
        error: "expected value at line 1".into(),
    };
    let got = run(
        vec![Err(malformed.clone())],
        vec![r],
        SourceSettings::default(),
        None,
    )
    .await;
    assert_eq!(got[0].1, Settlement::Ack);
    let record = &dl.events()[0];
    assert_eq!(record.ty, dead_letter::MALFORMED_TYPE);
    assert_eq!(record.data.as_deref(), Some(&b"not json"[..]));
    assert_eq!(
        record.extensions[dead_letter::REASON],
        "expected value at line 1"
    );

    let got = run(
        vec![Err(malformed)],
        vec![],
        SourceSettings::default(),
        None,
    )
    .await;
    assert!(matches!(&got[0].1, Settlement::Requeue { .. }), "{got:?}");
}

#[tokio::test]
async fn a_filtered_out_event_is_acknowledged_without_sink_calls() {
    let out = ScriptedSink::ok();
    let only_orders = Filter {
        ty: Some(weft_event::Match::Exact("com.example.order".into())),
        ..Filter::default()
    };
    let r = Arc::new(Route::new(
        "orders".into(),
        only_orders,
        Vec::new(),
        vec![named("out", out.clone())],
        retry(1),
        named("dl", ScriptedSink::ok()),
    ));
    let got = run(
        vec![Ok(event("e1"))],
        vec![r],
        SourceSettings::default(),
        None,
    )
    .await;
    assert_eq!(got[0].1, Settlement::Ack);
    assert!(out.calls().is_empty());
}

#[tokio::test]
async fn several_routes_on_one_source_settle_together() {
    // one route delivers, the other cannot even dead-letter: the delivery is handed back
    let a = ScriptedSink::ok();
    let b = ScriptedSink::always(SinkStep::Permanent("no"));
    let b_dl = ScriptedSink::always(SinkStep::Transient("down"));
    let ra = route(
        "a",
        vec![named("a", a.clone())],
        retry(1),
        named("dl", ScriptedSink::ok()),
    );
    let rb = route(
        "b",
        vec![named("b", b.clone())],
        retry(1),
        named("b-dl", b_dl),
    );
    let got = run(
        vec![Ok(event("e1"))],
        vec![ra.clone(), rb],
        SourceSettings::default(),
        None,
    )
    .await;
    assert!(matches!(&got[0].1, Settlement::Requeue { .. }), "{got:?}");
    assert_eq!(a.calls(), ["e1"]);

    // one route delivers, the other dead-letters: acknowledged
    let c = ScriptedSink::always(SinkStep::Permanent("no"));
    let c_dl = CollectingSink::default();
    let rc = route(
        "c",
        vec![named("c", c)],
        retry(1),
        named("c-dl", c_dl.clone()),
    );
    let got = run(
        vec![Ok(event("e2"))],
        vec![ra, rc],
        SourceSettings::default(),
        None,
    )
    .await;
    assert_eq!(got[0].1, Settlement::Ack);
    assert_eq!(a.calls(), ["e1", "e2"]);
    assert_eq!(c_dl.events().len(), 1);
}

#[tokio::test]
async fn every_event_reaches_every_sink_once_on_success() {
    let sinks: Vec<ScriptedSink> = (0..3).map(|_| ScriptedSink::ok()).collect();
    let r = route(
        "fan",
        sinks
            .iter()
            .enumerate()
            .map(|(i, s)| named(&format!("s{i}"), s.clone()))
            .collect(),
        retry(1),
        named("dl", ScriptedSink::ok()),
    );
    let items: Vec<_> = (0..50).map(|i| Ok(event(&format!("e{i}")))).collect();
    let got = run(items, vec![r], SourceSettings::default(), None).await;
    assert_eq!(got.len(), 50);
    assert!(got.iter().all(|(_, s)| *s == Settlement::Ack));
    for sink in &sinks {
        let mut calls = sink.calls();
        calls.sort();
        let mut expected: Vec<String> = (0..50).map(|i| format!("e{i}")).collect();
        expected.sort();
        assert_eq!(calls, expected);
    }
}

#[tokio::test]
async fn an_event_handed_back_too_often_is_dead_lettered_without_running_again() {
    let out = ScriptedSink::ok();
    let dl = CollectingSink::default();
    let r = route(
        "r",
        vec![named("out", out.clone())],
        retry(1),
        named("dl", dl.clone()),
    );
    let settings = SourceSettings {
        max_deliveries: Some(3),
        ..SourceSettings::default()
    };
    // the 4th delivery of an event with max_deliveries = 3: poison
    let (source, settlements) = ScriptedSource::new(vec![Ok(event("p1"))]);
    let source = source.with_delivery_count(4);
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(weft_router::run_source(
        "s".into(),
        Box::new(source),
        vec![r.clone()],
        settings.clone(),
        shutdown.clone(),
    ));
    let got = wait_for_settlements(&settlements, 1, Duration::from_secs(10)).await;
    shutdown.cancel();
    task.await.unwrap().unwrap();
    assert_eq!(got[0].1, Settlement::Ack);
    assert!(out.calls().is_empty(), "the route did not run it again");
    let record = &dl.events()[0];
    assert_eq!(record.id, "p1");
    let reason = &record.extensions[dead_letter::REASON];
    assert!(
        reason.contains("delivered 4 times") && reason.contains("max_deliveries = 3"),
        "{reason}"
    );
    assert_eq!(record.extensions[dead_letter::ATTEMPTS], "4");

    // the 3rd delivery still runs
    let got = run(vec![Ok(event("p2"))], vec![r], settings, None).await;
    assert_eq!(got[0].1, Settlement::Ack);
    assert_eq!(out.calls(), ["p2"]);
}

#[tokio::test]
async fn malformed_dead_letter_ids_are_stable_and_unique() {
    let dl = CollectingSink::default();
    let r = route(
        "r",
        vec![named("out", ScriptedSink::ok())],
        retry(1),
        named("dl", dl.clone()),
    );
    let bad = |raw: &[u8]| {
        Err(Malformed {
            raw: raw.to_vec(),
            error: "not JSON".into(),
        })
    };
    run(
        vec![bad(b"one"), bad(b"two"), bad(b"one")],
        vec![r],
        SourceSettings::default(),
        None,
    )
    .await;
    let ids: Vec<String> = dl.events().iter().map(|e| e.id.clone()).collect();
    assert_eq!(ids.len(), 3);
    // different bytes (or origins) → different ids; every id is a digest, never an origin
    let distinct: std::collections::HashSet<&String> = ids.iter().collect();
    assert_eq!(distinct.len(), 3, "{ids:?}");
    assert!(
        ids.iter()
            .all(|id| id.starts_with("malformed-") && id.len() == "malformed-".len() + 32)
    );
    // the same message from the same place → the same id (redelivery keeps its id)
    let again = weft_connector::dead_letter::malformed_id("x", b"raw");
    assert_eq!(
        again,
        weft_connector::dead_letter::malformed_id("x", b"raw")
    );
    assert_ne!(
        again,
        weft_connector::dead_letter::malformed_id("y", b"raw")
    );
    assert_ne!(
        again,
        weft_connector::dead_letter::malformed_id("x", b"raw2")
    );
}
