//! The config sections of the embedded connectors and how they are built: a topic source
//! and sink (the log comes from the hub's [`BuildContext`] resources), stdout and file.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use weft_connector::{
    BuildContext, ConnectorError, Finding, Guarantee, Sink, SinkConnector, Source, SourceConnector,
};

use crate::{EmbeddedLog, FileSink, StdoutSink, TopicSink, TopicSource, check_topic};

/// `[sources.NAME] type = "topic"`: an embedded log topic with its own consumer cursor.
/// A route's `from = ["topic:NAME"]` is the same with consumer `weft`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TopicSourceConfig {
    /// The topic.
    pub topic: String,
    /// Consumer name: each consumer has its own durable cursor.
    #[serde(default = "default_consumer")]
    pub consumer: String,
    /// Deliveries of one event (it was handed back: shutdown, drain timeout, a failed
    /// dead-letter write, a crash) after which it is dead-lettered with the reason instead
    /// of being processed again. The counts are stored with the consumer's cursor, so they
    /// survive restarts.
    #[serde(default = "default_max_deliveries")]
    pub max_deliveries: u32,
}

fn default_consumer() -> String {
    "weft".into()
}

fn default_max_deliveries() -> u32 {
    10
}

impl TopicSourceConfig {
    /// The topic read with the default consumer (what `topic:NAME` means in a route).
    pub fn new(topic: impl Into<String>) -> Self {
        TopicSourceConfig {
            topic: topic.into(),
            consumer: default_consumer(),
            max_deliveries: default_max_deliveries(),
        }
    }
}

/// `[sinks.NAME] type = "topic"`: appends to an embedded log topic. A route's
/// `to = ["topic:NAME"]` is the same.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TopicSinkConfig {
    /// The topic.
    pub topic: String,
}

/// `[sinks.NAME] type = "stdout"`: JSON lines on standard output. `to = ["stdout"]` is the
/// same.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StdoutSinkConfig {}

/// `[sinks.NAME] type = "file"`: JSON lines appended to a file, fsynced per write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileSinkConfig {
    /// File path, relative to the config file.
    pub path: PathBuf,
}

fn topic_findings(topic: &str) -> Vec<Finding> {
    match check_topic(topic) {
        Ok(()) => Vec::new(),
        Err(e) => vec![Finding::error("topic", e.to_string())],
    }
}

fn log(context: &BuildContext) -> Result<Arc<EmbeddedLog>, ConnectorError> {
    context
        .require::<Arc<EmbeddedLog>>("the embedded log")
        .cloned()
}

#[async_trait]
impl SourceConnector for TopicSourceConfig {
    fn guarantee(&self) -> Guarantee {
        Guarantee::AtLeastOnce
    }

    fn check(&self) -> Vec<Finding> {
        topic_findings(&self.topic)
    }

    fn ingress_topic(&self) -> Option<&str> {
        Some(&self.topic)
    }

    fn max_deliveries(&self) -> Option<u32> {
        Some(self.max_deliveries.max(1))
    }

    async fn build(&self, context: &BuildContext) -> Result<Box<dyn Source>, ConnectorError> {
        Ok(Box::new(TopicSource::new(
            log(context)?,
            &self.topic,
            &self.consumer,
        )))
    }
}

#[async_trait]
impl SinkConnector for TopicSinkConfig {
    fn guarantee(&self) -> Guarantee {
        Guarantee::AtLeastOnce
    }

    fn check(&self) -> Vec<Finding> {
        topic_findings(&self.topic)
    }

    async fn build(&self, context: &BuildContext) -> Result<Arc<dyn Sink>, ConnectorError> {
        Ok(Arc::new(TopicSink::new(log(context)?, &self.topic)))
    }
}

#[async_trait]
impl SinkConnector for StdoutSinkConfig {
    fn guarantee(&self) -> Guarantee {
        Guarantee::AtLeastOnce
    }

    async fn build(&self, _context: &BuildContext) -> Result<Arc<dyn Sink>, ConnectorError> {
        Ok(Arc::new(StdoutSink))
    }
}

#[async_trait]
impl SinkConnector for FileSinkConfig {
    fn guarantee(&self) -> Guarantee {
        Guarantee::AtLeastOnce
    }

    fn check(&self) -> Vec<Finding> {
        if self.path.as_os_str().is_empty() {
            vec![Finding::error("path", "must not be empty")]
        } else {
            Vec::new()
        }
    }

    async fn build(&self, context: &BuildContext) -> Result<Arc<dyn Sink>, ConnectorError> {
        let path = context.resolve(&self.path);
        FileSink::open(path)
            .map(|sink| Arc::new(sink) as Arc<dyn Sink>)
            .map_err(|e| ConnectorError::Config(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn topic_connectors_need_the_log_and_a_valid_name() {
        let dir = tempfile::tempdir().unwrap();
        let bad = TopicSourceConfig::new("no spaces");
        assert_eq!(bad.check()[0].field, "topic");
        let source = TopicSourceConfig::new("orders");
        assert!(source.check().is_empty());
        assert_eq!(source.ingress_topic(), Some("orders"));
        let mut context = BuildContext::new(dir.path());
        let err = source.build(&context).await.err().expect("no log");
        assert!(err.to_string().contains("embedded log"), "{err}");
        let log = EmbeddedLog::open(&dir.path().join("log.redb"), 100).unwrap();
        context.resources.insert(log.clone());
        source.build(&context).await.expect("source");
        let sink = TopicSinkConfig {
            topic: "orders".into(),
        };
        sink.build(&context)
            .await
            .unwrap()
            .deliver(&weft_event::Event::new("1", "/s", "t"))
            .await
            .unwrap();
        assert_eq!(log.read("orders", 0, 10).unwrap().len(), 1);
    }

    #[tokio::test]
    async fn file_paths_are_relative_to_the_config() {
        let dir = tempfile::tempdir().unwrap();
        let context = BuildContext::new(dir.path());
        let sink = FileSinkConfig {
            path: "out.jsonl".into(),
        };
        sink.build(&context)
            .await
            .unwrap()
            .deliver(&weft_event::Event::new("1", "/s", "t"))
            .await
            .unwrap();
        let text = std::fs::read_to_string(dir.path().join("out.jsonl")).unwrap();
        assert!(text.contains("\"id\":\"1\""), "{text}");
        let empty = FileSinkConfig { path: "".into() };
        assert_eq!(empty.check()[0].field, "path");
    }
}
