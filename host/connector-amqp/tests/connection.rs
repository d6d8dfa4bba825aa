//! `check_connection`, used by `weft validate --connect`.

mod common;

use weft_connector_amqp::check_connection;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_connection_reports_success_and_failures() {
    let _admin = require_broker!();
    check_connection(common::URI).await.unwrap();

    let err = check_connection("amqp://guest:wrong-secret@127.0.0.1:5672/%2f")
        .await
        .unwrap_err();
    assert!(!err.contains("wrong-secret"), "password masked: {err}");
    assert!(err.contains("guest:***@127.0.0.1"), "{err}");

    let err = check_connection("amqp://guest:guest@127.0.0.1:1/%2f")
        .await
        .unwrap_err();
    assert!(err.contains("127.0.0.1:1"), "{err}");

    let err = check_connection("http://127.0.0.1").await.unwrap_err();
    assert!(err.contains("invalid AMQP URI"), "{err}");
}
