//! `weft validate`: every problem of a configuration, each with its location.

use std::collections::HashSet;
use std::path::Path;

use weft_connector::{Finding, Guarantee};

use crate::config::Config;

pub use weft_connector::Severity;

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
    /// The findings of a connector named inline by a reference (`topic:NAME`), located at
    /// the reference.
    fn reference(&mut self, at: &str, found: Vec<Finding>) {
        for finding in found {
            self.0.push(Problem {
                severity: finding.severity,
                location: at.to_string(),
                message: finding.message,
            });
        }
    }
    /// A config section's findings, located under `at`.
    fn connector(&mut self, at: &str, kind: &str, guarantee: Guarantee, found: Vec<Finding>) {
        for finding in found {
            let location = if finding.field.is_empty() {
                at.to_string()
            } else {
                format!("{at}.{}", finding.field)
            };
            self.0.push(Problem {
                severity: finding.severity,
                location,
                message: finding.message,
            });
        }
        if let Guarantee::BestEffort(loses) = guarantee {
            self.warning(at, format!("{kind} is best-effort: {loses}"));
        }
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
    for (topic, settings) in &config.topics {
        if let Err(e) = weft_connector_embedded::check_topic(topic) {
            f.error(format!("topics.{topic}"), e.to_string());
        }
        if settings.max_age_secs == Some(0) {
            f.error(format!("topics.{topic}.max_age_secs"), "must be at least 1");
        }
    }
    if config.hub.max_in_flight == 0 {
        f.error("hub.max_in_flight", "must be at least 1");
    }
    for (key, value) in [
        ("hub.header_timeout_ms", config.hub.header_timeout_ms),
        ("hub.body_timeout_ms", config.hub.body_timeout_ms),
        ("hub.max_connections", config.hub.max_connections as u64),
        ("hub.max_batch_events", config.hub.max_batch_events as u64),
    ] {
        if value == 0 {
            f.error(key, "must be at least 1");
        }
    }
    for (field, message) in config.subscriptions.check() {
        f.error(field, message);
    }
    if let Ok(listen) = config.hub.listen_addr() {
        for finding in config.auth.check(listen) {
            let location = if finding.field.is_empty() {
                "auth".to_string()
            } else {
                format!("auth.{}", finding.field)
            };
            f.0.push(Problem {
                severity: finding.severity,
                location,
                message: finding.message,
            });
        }
    }
    if let Some(tls) = &config.hub.tls {
        for (field, message) in tls.resolve(base_dir).check() {
            f.error(format!("hub.tls.{field}"), message);
        }
    }
    let client_ca = config
        .hub
        .tls
        .as_ref()
        .is_some_and(|t| t.client_ca.is_some());
    for (i, t) in config.auth.tokens.iter().enumerate() {
        if !client_ca && (t.client_cert_subject.is_some() || t.client_cert_sha256.is_some()) {
            f.error(
                format!("auth.tokens[{i}]"),
                "client_cert_subject/client_cert_sha256 need [hub.tls] with client_ca (the CA client certificates are checked against)",
            );
        }
    }
    check_sink_ref(&mut f, config, "hub.dead_letter", &config.hub.dead_letter);
    for (name, plugin) in &config.plugins {
        let at = format!("plugins.{name}");
        check_plugin_file(&mut f, &format!("{at}.path"), base_dir, &plugin.path);
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
        let connector = source.connector();
        f.connector(
            &format!("sources.{name}"),
            source.kind(),
            connector.guarantee(),
            connector.check(),
        );
    }
    for (name, sink) in &config.sinks {
        let connector = sink.connector();
        f.connector(
            &format!("sinks.{name}"),
            sink.kind(),
            connector.guarantee(),
            connector.check(),
        );
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
            if from.starts_with("topic:") {
                if let Some(source) = config.source(from) {
                    f.reference(&loc, source.connector().check());
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
        if route.retry.initial_backoff_ms == 0 || route.retry.max_backoff_ms == 0 {
            f.error(
                format!("{at}.retry"),
                "initial_backoff_ms and max_backoff_ms must be at least 1 (a retry loop without a pause)",
            );
        }
        if route.retry.attempts == 0 && route.retry.max_elapsed_ms == 0 {
            f.warning(
                format!("{at}.retry"),
                "attempts = 0 and max_elapsed_ms = 0: transient failures are retried until shutdown, never dead-lettered",
            );
        }
    }
    f.0
}

fn check_plugin_file(f: &mut Findings, location: &str, base_dir: &Path, path: &Path) {
    if let Some(bundled) = weft_bundled::for_path(path) {
        if let Err(e) = bundled {
            f.error(location, e);
        }
        return;
    }
    let path = base_dir.join(path);
    let problem = match std::fs::metadata(&path) {
        Err(e) => format!("cannot read plugin file {}: {e}", path.display()),
        Ok(m) if !m.is_file() => format!("{} is not a file", path.display()),
        Ok(_) => match std::fs::File::open(&path) {
            Ok(_) => return,
            Err(e) => format!("cannot read plugin file {}: {e}", path.display()),
        },
    };
    let hint = if path.extension().is_some_and(|e| e == "wasm") {
        format!(
            " (build it with `weft plugin build <its crate>`, or use a bundled plugin: path = \"bundled:NAME\" with NAME one of {})",
            weft_bundled::NAMES.join(", ")
        )
    } else {
        String::new()
    };
    f.error(location, format!("{problem}{hint}"));
}

fn check_sink_ref(f: &mut Findings, config: &Config, location: &str, name: &str) {
    if name.starts_with("topic:") {
        if let Some(sink) = config.sink(name) {
            f.reference(location, sink.connector().check());
        }
    } else if config.sink(name).is_none() {
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
    let kv = match weft_kv_embedded::EmbeddedKv::open(&dir.path().join("kv.redb")) {
        Ok(kv) => std::sync::Arc::new(kv),
        Err(_) => return,
    };
    for (name, spec) in &config.plugins {
        let loaded = match weft_bundled::for_path(&spec.path) {
            Some(Ok(bytes)) => runtime.load_bytes(name, spec, bytes, kv.clone()),
            Some(Err(_)) => continue, // already reported
            None if !base_dir.join(&spec.path).is_file() => continue,
            None => runtime.load(name, spec, base_dir, kv.clone()),
        };
        if let Err(e) = loaded {
            problems.push(Problem {
                severity: Severity::Error,
                location: format!("plugins.{name}.path"),
                message: e.to_string(),
            });
        }
    }
}

/// The errors (not warnings) that stop `weft run`.
pub fn check_for_run(config: &Config, base_dir: &Path) -> Vec<Problem> {
    check(config, base_dir)
        .into_iter()
        .filter(|p| p.severity == Severity::Error)
        .collect()
}

/// `--connect`: checks that every broker the config names answers.
pub async fn check_connections(config: &Config, problems: &mut Vec<Problem>) {
    let mut results: Vec<(String, Result<(), String>)> = Vec::new();
    for (name, source) in &config.sources {
        let result = source.connector().healthcheck().await;
        results.push((format!("sources.{name}"), result));
    }
    for (name, sink) in &config.sinks {
        let result = sink.connector().healthcheck().await;
        results.push((format!("sinks.{name}"), result));
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
