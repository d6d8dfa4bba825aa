//! `weft validate`: every problem of a configuration, each with its location.

use std::collections::HashSet;
use std::path::Path;

use crate::config::{Config, SinkConfig, SourceConfig};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The hub cannot run with this.
    Error,
    /// Works, but the operator should know (e.g. a best-effort source).
    Warning,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Error or warning.
    pub severity: Severity,
    /// Where: a path into the config, e.g. `routes[1].plugins[0]`.
    pub location: String,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{level}: {}: {}", self.location, self.message)
    }
}

struct Findings(Vec<Problem>);

impl Findings {
    fn error(&mut self, location: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem {
            severity: Severity::Error,
            location: location.into(),
            message: message.into(),
        });
    }
    fn warning(&mut self, location: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem {
            severity: Severity::Warning,
            location: location.into(),
            message: message.into(),
        });
    }
}

fn names<T>(map: &std::collections::BTreeMap<String, T>) -> String {
    if map.is_empty() {
        "none defined".to_string()
    } else {
        format!(
            "defined: {}",
            map.keys().cloned().collect::<Vec<_>>().join(", ")
        )
    }
}

/// Checks references, files and grants. `base_dir` is the config file's directory.
/// Plugin files are read but not compiled (see [`check_plugins_load`]).
pub fn check(config: &Config, base_dir: &Path) -> Vec<Problem> {
    let mut f = Findings(Vec::new());
    if let Err(e) = config.hub.listen_addr() {
        f.error("hub.listen", e);
    }
    if config.hub.max_in_flight == 0 {
        f.error("hub.max_in_flight", "must be at least 1");
    }
    check_sink_ref(&mut f, config, "hub.dead_letter", &config.hub.dead_letter);
    for (name, plugin) in &config.plugins {
        let at = format!("plugins.{name}");
        let path = base_dir.join(&plugin.path);
        match std::fs::metadata(&path) {
            Err(e) => f.error(
                format!("{at}.path"),
                format!("cannot read plugin file {}: {e}", path.display()),
            ),
            Ok(m) if !m.is_file() => f.error(
                format!("{at}.path"),
                format!("{} is not a file", path.display()),
            ),
            Ok(_) => {
                if let Err(e) = std::fs::File::open(&path) {
                    f.error(
                        format!("{at}.path"),
                        format!("cannot read plugin file {}: {e}", path.display()),
                    );
                }
            }
        }
        for (i, pattern) in plugin.allow_http.iter().enumerate() {
            if let Err(e) = weft_runtime::grants::HttpGrant::parse(pattern) {
                f.error(format!("{at}.allow_http[{i}]"), e.to_string());
            }
        }
        let l = &plugin.limits;
        if l.memory_mib == 0 || l.memory_mib > 4096 {
            f.error(
                format!("{at}.limits.memory_mib"),
                "must be between 1 and 4096",
            );
        }
        if l.cpu_ms == 0 {
            f.error(format!("{at}.limits.cpu_ms"), "must be at least 1");
        }
        if plugin.kv == weft_runtime::KvBackendKind::Redis && config.kv.redis.is_none() {
            f.error(
                format!("{at}.kv"),
                "kv = \"redis\" needs a [kv.redis] section with the Redis url",
            );
        }
    }
    for (name, source) in &config.sources {
        let at = format!("sources.{name}");
        match source {
            SourceConfig::Topic(t) => {
                if let Err(e) = weft_connector_embedded::check_topic(&t.topic) {
                    f.error(format!("{at}.topic"), e.to_string());
                }
            }
            SourceConfig::RedisPubsub(_) => f.warning(
                at,
                "redis-pubsub is best-effort: messages published while weft is disconnected or restarting are lost (use redis-stream for at-least-once)",
            ),
            SourceConfig::RedisStream(_) | SourceConfig::Amqp(_) => {}
        }
    }
    for (name, sink) in &config.sinks {
        let at = format!("sinks.{name}");
        match sink {
            SinkConfig::Topic(t) => {
                if let Err(e) = weft_connector_embedded::check_topic(&t.topic) {
                    f.error(format!("{at}.topic"), e.to_string());
                }
            }
            SinkConfig::Webhook(w) => {
                if let Err(e) = weft_connector_http::WebhookSink::new(w.clone()) {
                    f.error(format!("{at}.url"), e.to_string());
                }
            }
            SinkConfig::RedisPubsub(_) => f.warning(
                at,
                "redis-pubsub is best-effort: a message with no subscriber connected is dropped by Redis",
            ),
            SinkConfig::Stdout(_)
            | SinkConfig::File(_)
            | SinkConfig::RedisStream(_)
            | SinkConfig::Amqp(_) => {}
        }
    }
    if config.routes.is_empty() {
        f.warning(
            "routes",
            "no routes: the hub accepts events but does nothing with them",
        );
    }
    let mut route_names = HashSet::new();
    for (i, route) in config.routes.iter().enumerate() {
        let at = format!("routes[{i}]");
        if route.name.is_empty() {
            f.error(format!("{at}.name"), "must not be empty");
        } else if !route_names.insert(route.name.clone()) {
            f.error(
                format!("{at}.name"),
                format!("duplicate route name `{}`", route.name),
            );
        }
        if route.from.is_empty() {
            f.error(format!("{at}.from"), "a route needs at least one source");
        }
        for (j, from) in route.from.iter().enumerate() {
            let loc = format!("{at}.from[{j}]");
            if let Some(topic) = from.strip_prefix("topic:") {
                if let Err(e) = weft_connector_embedded::check_topic(topic) {
                    f.error(loc, e.to_string());
                }
            } else if !config.sources.contains_key(from) {
                f.error(
                    loc,
                    format!(
                        "no source named `{from}` ({}; or use topic:NAME)",
                        names(&config.sources)
                    ),
                );
            }
        }
        for (j, plugin) in route.plugins.iter().enumerate() {
            if !config.plugins.contains_key(plugin) {
                f.error(
                    format!("{at}.plugins[{j}]"),
                    format!("no plugin named `{plugin}` ({})", names(&config.plugins)),
                );
            }
        }
        if route.to.is_empty() {
            f.error(format!("{at}.to"), "a route needs at least one sink");
        }
        for (j, to) in route.to.iter().enumerate() {
            check_sink_ref(&mut f, config, &format!("{at}.to[{j}]"), to);
        }
        if let Some(dl) = &route.dead_letter {
            check_sink_ref(&mut f, config, &format!("{at}.dead_letter"), dl);
        }
        if route.retry.attempts == 0 {
            f.error(format!("{at}.retry.attempts"), "must be at least 1");
        }
    }
    f.0
}

fn check_sink_ref(f: &mut Findings, config: &Config, location: &str, name: &str) {
    if let Some(topic) = name.strip_prefix("topic:") {
        if let Err(e) = weft_connector_embedded::check_topic(topic) {
            f.error(location, e.to_string());
        }
    } else if name != "stdout" && !config.sinks.contains_key(name) {
        f.error(
            location,
            format!(
                "no sink named `{name}` ({}; or use topic:NAME or stdout)",
                names(&config.sinks)
            ),
        );
    }
}

/// Compiles every readable plugin and checks it is a weft plugin with satisfiable imports.
pub fn check_plugins_load(config: &Config, base_dir: &Path, problems: &mut Vec<Problem>) {
    let runtime = match weft_runtime::Runtime::new(&weft_runtime::EngineOptions {
        pooling: false,
        ..Default::default()
    }) {
        Ok(r) => r,
        Err(e) => {
            problems.push(Problem {
                severity: Severity::Error,
                location: "plugins".into(),
                message: format!("cannot check plugins: {e}"),
            });
            return;
        }
    };
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(_) => return,
    };
    let kv = match weft_runtime::kv::EmbeddedKv::open(&dir.path().join("kv.redb")) {
        Ok(kv) => std::sync::Arc::new(kv),
        Err(_) => return,
    };
    for (name, spec) in &config.plugins {
        let path = base_dir.join(&spec.path);
        if !path.is_file() {
            continue; // already reported
        }
        if let Err(e) = runtime.load(name, spec, base_dir, kv.clone()) {
            problems.push(Problem {
                severity: Severity::Error,
                location: format!("plugins.{name}.path"),
                message: e.to_string(),
            });
        }
    }
}

/// The errors (not warnings) that stop `weft run`; bundled plugins count as readable.
pub fn check_for_run(
    config: &Config,
    base_dir: &Path,
    bundled: &crate::hub::BundledPlugins,
) -> Vec<Problem> {
    check(config, base_dir)
        .into_iter()
        .filter(|p| p.severity == Severity::Error)
        .filter(|p| {
            !(p.location.ends_with(".path")
                && config.plugins.iter().any(|(name, spec)| {
                    p.location == format!("plugins.{name}.path")
                        && bundled.contains_key(&spec.path.to_string_lossy().to_string())
                }))
        })
        .collect()
}

/// `--connect`: checks that every broker the config names answers.
pub async fn check_connections(config: &Config, problems: &mut Vec<Problem>) {
    let mut results: Vec<(String, Result<(), String>)> = Vec::new();
    for (name, s) in &config.sources {
        let at = format!("sources.{name}");
        let r = match s {
            SourceConfig::RedisStream(c) => c.check_connection().await,
            SourceConfig::RedisPubsub(c) => c.check_connection().await,
            SourceConfig::Amqp(c) => weft_connector_amqp::check_connection(&c.uri).await,
            SourceConfig::Topic(_) => continue,
        };
        results.push((at, r));
    }
    for (name, s) in &config.sinks {
        let at = format!("sinks.{name}");
        let r = match s {
            SinkConfig::RedisStream(c) => c.check_connection().await,
            SinkConfig::RedisPubsub(c) => c.check_connection().await,
            SinkConfig::Amqp(c) => weft_connector_amqp::check_connection(&c.uri).await,
            _ => continue,
        };
        results.push((at, r));
    }
    if let Some(r) = &config.kv.redis {
        results.push((
            "kv.redis.url".into(),
            weft_connector_redis::check_connection(&r.url).await,
        ));
    }
    for (location, result) in results {
        if let Err(e) = result {
            problems.push(Problem {
                severity: Severity::Error,
                location,
                message: format!("cannot connect: {e}"),
            });
        }
    }
}
