//! What every connector's config section implements: build the connector, check the
//! section, say what it guarantees, and check that its system answers. The hub and
//! `weft validate` loop over config sections through these traits instead of matching on
//! connector kinds; adding a connector means implementing them in its crate and one
//! registration line in the binary's config (CONTRIBUTING.md, "Adding a connector").

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;

use crate::{ConnectorError, Guarantee, Sink, Source};

/// How bad a [`Finding`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The hub cannot run with this.
    Error,
    /// Works, but the operator should know (e.g. a best-effort source).
    Warning,
}

/// One problem in a connector's config section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Error or warning.
    pub severity: Severity,
    /// The field inside the section, e.g. `topology.queues[0].name`; empty for the
    /// section as a whole.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl Finding {
    /// An error at `field`.
    pub fn error(field: impl Into<String>, message: impl Into<String>) -> Self {
        Finding {
            severity: Severity::Error,
            field: field.into(),
            message: message.into(),
        }
    }

    /// A warning at `field`.
    pub fn warning(field: impl Into<String>, message: impl Into<String>) -> Self {
        Finding {
            severity: Severity::Warning,
            field: field.into(),
            message: message.into(),
        }
    }

    /// Findings from a validator that reports `field: message` strings.
    pub fn errors_from(problems: impl IntoIterator<Item = String>) -> Vec<Finding> {
        problems
            .into_iter()
            .map(|p| match p.split_once(": ") {
                Some((field, message)) if !field.contains(' ') => Finding::error(field, message),
                _ => Finding::error("", p),
            })
            .collect()
    }
}

/// Shared things a connector may need to build, looked up by type (e.g. the embedded log,
/// which the hub opens once for all topic sources and sinks).
#[derive(Default)]
pub struct Resources(HashMap<TypeId, Box<dyn Any + Send + Sync>>);

impl Resources {
    /// Adds (or replaces) the resource of type `T`.
    pub fn insert<T: Any + Send + Sync>(&mut self, value: T) {
        self.0.insert(TypeId::of::<T>(), Box::new(value));
    }

    /// The resource of type `T`, if the hub provided one.
    pub fn get<T: Any + Send + Sync>(&self) -> Option<&T> {
        self.0.get(&TypeId::of::<T>())?.downcast_ref()
    }
}

/// What the hub hands a connector config when building it.
pub struct BuildContext {
    /// The directory of the config file: relative paths in a section are resolved here.
    pub base_dir: PathBuf,
    /// Shared resources.
    pub resources: Resources,
}

impl BuildContext {
    /// A context with no resources.
    pub fn new(base_dir: impl Into<PathBuf>) -> Self {
        BuildContext {
            base_dir: base_dir.into(),
            resources: Resources::default(),
        }
    }

    /// `path` resolved against the config file's directory.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        self.base_dir.join(path)
    }

    /// The resource of type `T`, or a configuration error naming what is missing.
    pub fn require<T: Any + Send + Sync>(&self, what: &str) -> Result<&T, ConnectorError> {
        self.resources
            .get::<T>()
            .ok_or_else(|| ConnectorError::Config(format!("{what} is not available here")))
    }
}

/// The config section of a source connector (`[sources.NAME]`).
#[async_trait]
pub trait SourceConnector: Send + Sync + std::fmt::Debug {
    /// What the source promises; `weft validate` warns about best-effort ones.
    fn guarantee(&self) -> Guarantee;

    /// Problems in the section that serde cannot see (ranges, URL syntax, names).
    fn check(&self) -> Vec<Finding> {
        Vec::new()
    }

    /// The embedded-log topic this source reads, if it reads one: the HTTP ingress
    /// accepts events for exactly these topics.
    fn ingress_topic(&self) -> Option<&str> {
        None
    }

    /// Connects and checks that the system answers (`weft validate --connect`); `Ok` for
    /// connectors with nothing to reach.
    async fn healthcheck(&self) -> Result<(), String> {
        Ok(())
    }

    /// Deliveries of one message after which the router dead-letters it instead of
    /// processing it again ("poison"). `None`: the source enforces its own limit (the
    /// brokers' redelivery counts) or has none.
    fn max_deliveries(&self) -> Option<u32> {
        None
    }

    /// Builds the source. Never waits for the external system: a broker that is down at
    /// start is retried inside [`Source::run`].
    async fn build(&self, context: &BuildContext) -> Result<Box<dyn Source>, ConnectorError>;
}

/// The config section of a sink connector (`[sinks.NAME]`).
#[async_trait]
pub trait SinkConnector: Send + Sync + std::fmt::Debug {
    /// What the sink promises; `weft validate` warns about best-effort ones.
    fn guarantee(&self) -> Guarantee;

    /// Problems in the section that serde cannot see.
    fn check(&self) -> Vec<Finding> {
        Vec::new()
    }

    /// Connects and checks that the system answers (`weft validate --connect`).
    async fn healthcheck(&self) -> Result<(), String> {
        Ok(())
    }

    /// Builds the sink.
    async fn build(&self, context: &BuildContext) -> Result<Arc<dyn Sink>, ConnectorError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_are_found_by_type() {
        let mut context = BuildContext::new("/etc/weft");
        context.resources.insert(Arc::new(7u32));
        assert_eq!(**context.require::<Arc<u32>>("the number").unwrap(), 7);
        let missing = context.require::<String>("the embedded log").unwrap_err();
        assert_eq!(
            missing.to_string(),
            "invalid configuration: the embedded log is not available here"
        );
        assert_eq!(
            context.resolve(Path::new("out.jsonl")),
            PathBuf::from("/etc/weft/out.jsonl")
        );
    }

    #[test]
    fn validator_strings_become_findings_with_fields() {
        let found = Finding::errors_from([
            "routing_key: unknown attribute".to_string(),
            "the whole thing is off".to_string(),
        ]);
        assert_eq!(found[0], Finding::error("routing_key", "unknown attribute"));
        assert_eq!(found[1], Finding::error("", "the whole thing is off"));
    }
}
