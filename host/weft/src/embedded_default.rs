//! What `weft run` does without `--config`: HTTP ingress on 127.0.0.1:8080, the embedded
//! log under `./.weft/`, and the bundled example plugins routing `orders` events
//! (dedupe → JSON mapping) to stdout and to the `orders.normalized` topic. A sample order
//! is posted at start so something visibly flows.

use crate::config::Config;

/// The embedded default configuration.
pub const DEFAULT_CONFIG: &str = r#"
[hub]
listen = "127.0.0.1:8080"
data_dir = ".weft"

[plugins.dedupe]
path = "bundled:dedupe"

[plugins.json-map]
path = "bundled:json-map"
config.type = "com.example.order.normalized"
config.mapping = '{"order.id": "/orderId", "order.total": "/total", "order.currency": "/currency", "buyer": "/buyer/name"}'

[[routes]]
name = "orders"
from = ["topic:orders"]
plugins = ["dedupe", "json-map"]
to = ["stdout", "topic:orders.normalized"]
"#;

/// The default config, parsed.
pub fn config() -> Config {
    crate::config::parse(DEFAULT_CONFIG, "<embedded default>")
        .expect("the embedded default config parses")
}

/// The sample order posted at start.
pub fn sample_event() -> weft_event::Event {
    let mut e = weft_event::Event::new(
        format!("sample-{}", std::process::id()),
        "/weft/demo",
        "com.example.order.created",
    );
    e.subject = Some("PO-1001".into());
    e.datacontenttype = Some("application/json".into());
    e.data = Some(
        br#"{"orderId":"PO-1001","total":"1250.00","currency":"EUR","buyer":{"name":"Acme Steel GmbH"},"lines":3}"#
            .to_vec(),
    );
    e
}
