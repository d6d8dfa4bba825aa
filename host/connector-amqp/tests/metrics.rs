//! The `weft_amqp_*` metrics land in the Prometheus recorder (its own test binary: the
//! recorder is process-global).

mod common;

use std::time::Duration;

use common::{URI, event, eventually, start, unique};
use lapin::ExchangeKind;
use weft_connector::Settlement;
use weft_connector_amqp::{SinkConfig, SourceConfig, sink, source};

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_and_the_queue_depth_gauge_are_exported() {
    let mut admin = require_broker!();
    let metrics = weft_telemetry::install_metrics().expect("recorder");
    let queue = unique("metrics-q");
    let exchange = unique("metrics-x");
    admin.queue(&queue).await;
    admin.exchange(&exchange, ExchangeKind::Fanout).await;
    admin.bind(&queue, &exchange, "").await;

    let sink = sink(SinkConfig::new(URI, &exchange)).await.unwrap();
    for n in 0..5 {
        sink.deliver(&event(n)).await.unwrap();
    }
    let mut c = SourceConfig::new(URI, &queue);
    c.prefetch = 1;
    c.depth_interval_secs = 1;
    let mut running = start(source(c).unwrap(), 1);
    let held = running.recv(WAIT).await;
    // one unacked (prefetch 1), four ready
    eventually(WAIT, "queue depth gauge at 4", || async {
        metrics
            .render()
            .contains(&format!("weft_amqp_queue_depth{{queue=\"{queue}\"}} 4"))
    })
    .await;
    held.ack
        .settle(Settlement::Requeue {
            reason: "once".into(),
        })
        .await;
    for _ in 0..5 {
        running.recv(WAIT).await.ack.settle(Settlement::Ack).await;
    }
    running.stop().await.unwrap();

    let text = metrics.render();
    for line in [
        format!("weft_amqp_published_total{{exchange=\"{exchange}\"}} 5"),
        format!("weft_amqp_consumed_total{{queue=\"{queue}\"}} 6"),
        format!("weft_amqp_acked_total{{queue=\"{queue}\"}} 5"),
        format!("weft_amqp_requeued_total{{queue=\"{queue}\"}} 1"),
    ] {
        assert!(text.contains(&line), "missing `{line}` in:\n{text}");
    }
}
