//! `weft plugin new | build | run`.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use anyhow::{Context, bail};
use weft_event::Event;
use weft_runtime::{InstanceMode, PluginSpec, Runtime};

const TEMPLATE_CARGO: &str = include_str!("../../../plugins/_template/Cargo.toml");
const TEMPLATE_LIB: &str = include_str!("../../../plugins/_template/src/lib.rs");

/// The SDK's sources and the WIT contract, compiled into the binary: `weft plugin new`
/// vendors them into the new crate (`weft-sdk/`), so the plugin builds anywhere, offline
/// from this repository, against exactly the contract this binary runs.
macro_rules! embedded_files {
    ($($path:literal),+ $(,)?) => {
        &[$(($path, include_str!(concat!("../../../", $path)))),+]
    };
}
const SDK_FILES: &[(&str, &str)] = embedded_files![
    "sdk/rust/src/config.rs",
    "sdk/rust/src/event.rs",
    "sdk/rust/src/http.rs",
    "sdk/rust/src/kv.rs",
    "sdk/rust/src/lib.rs",
    "sdk/rust/src/log.rs",
    "sdk/rust/src/testing.rs",
    "wit/plugin.wit",
    "wit/deps/cli.wit",
    "wit/deps/clocks.wit",
    "wit/deps/config/store.wit",
    "wit/deps/config/world.wit",
    "wit/deps/filesystem.wit",
    "wit/deps/http.wit",
    "wit/deps/io.wit",
    "wit/deps/keyvalue/atomic.wit",
    "wit/deps/keyvalue/batch.wit",
    "wit/deps/keyvalue/store.wit",
    "wit/deps/keyvalue/watch.wit",
    "wit/deps/keyvalue/world.wit",
    "wit/deps/logging/logging.wit",
    "wit/deps/random.wit",
    "wit/deps/sockets.wit",
];

/// The vendored SDK's manifest: the workspace's `sdk/rust/Cargo.toml` with the versions
/// the workspace pins spelled out (a test keeps them equal).
const SDK_CARGO: &str = r#"[package]
name = "weft-sdk"
version = "0.1.0"
edition = "2024"
license = "Apache-2.0"
description = "Write weft plugins in Rust (vendored by `weft plugin new`)."

[dependencies]
wit-bindgen = "0.46"
serde = { version = "1", features = ["derive"] }
serde_json = "1"
"#;

/// Writes the SDK into `dir` (`dir/Cargo.toml`, `dir/src`, `dir/wit`).
fn vendor_sdk(dir: &Path) -> anyhow::Result<()> {
    for (path, text) in SDK_FILES {
        let (dest, text) = match path.strip_prefix("sdk/rust/") {
            // the WIT files sit inside the vendored crate
            Some(rest) => (
                dir.join(rest),
                text.replace("path: \"../../wit\"", "path: \"wit\""),
            ),
            None => (dir.join(path), text.to_string()),
        };
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("failed to create {}", parent.display()))?;
        }
        std::fs::write(&dest, text)
            .with_context(|| format!("failed to write {}", dest.display()))?;
    }
    std::fs::write(dir.join("Cargo.toml"), SDK_CARGO)?;
    Ok(())
}

/// `weft plugin new NAME`.
pub fn new_plugin(name: &str, lang: &str, dir: Option<&Path>) -> anyhow::Result<PathBuf> {
    if lang != "rust" {
        bail!("--lang {lang}: only `rust` has an SDK today");
    }
    let valid = !name.is_empty()
        && name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !valid {
        bail!("plugin name `{name}` must start with a-z and contain only a-z, 0-9, - and _");
    }
    let target = dir
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(name));
    if target.exists() {
        bail!(
            "{} already exists; choose another name or --dir",
            target.display()
        );
    }
    let sdk = "weft-sdk = { path = \"weft-sdk\" }   # vendored by `weft plugin new`";
    let cargo = TEMPLATE_CARGO
        .replace(
            "name = \"weft-plugin-template\"",
            &format!("name = \"{name}\""),
        )
        .replace(
            "description = \"A weft plugin: the starting point `weft plugin new` copies.\"",
            &format!("description = \"The {name} weft plugin.\""),
        )
        .replace("weft-sdk = { workspace = true }", sdk)
        .replace("serde_json = { workspace = true }", "serde_json = \"1\"")
        + "\n# A standalone workspace, so the plugin builds on its own.\n[workspace]\nmembers = [\".\", \"weft-sdk\"]\n\n[profile.release]\nopt-level = 3\nlto = true\ncodegen-units = 1\nstrip = true\n";
    std::fs::create_dir_all(target.join("src"))
        .with_context(|| format!("failed to create {}", target.display()))?;
    std::fs::write(target.join("Cargo.toml"), cargo)?;
    std::fs::write(target.join("src/lib.rs"), TEMPLATE_LIB)?;
    vendor_sdk(&target.join("weft-sdk"))?;
    std::fs::write(target.join(".gitignore"), "/target\n")?;
    Ok(target)
}

/// `weft plugin build [DIR]`: builds the crate for wasm32-wasip2 and returns the `.wasm`.
pub fn build_plugin(dir: &Path, profile: &str) -> anyhow::Result<PathBuf> {
    let manifest = dir.join("Cargo.toml");
    if !manifest.is_file() {
        bail!(
            "{} has no Cargo.toml: give the plugin's directory",
            dir.display()
        );
    }
    eprintln!(
        "building {} for wasm32-wasip2 ({profile}) ...",
        dir.display()
    );
    let mut child = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        // `rustc --crate-type cdylib`: only the component, even when `[lib]` also lists
        // `rlib` (for the crate's own integration tests). With both crate types cargo
        // builds the cdylib without link-time optimization: larger and ~15% slower.
        .args(["rustc", "--lib", "--crate-type", "cdylib"])
        .args(["--target", "wasm32-wasip2", "--profile", profile])
        .arg("--manifest-path")
        .arg(&manifest)
        .args(["--message-format", "json-render-diagnostics"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("failed to run cargo (is Rust installed?)")?;
    let mut wasm = None;
    if let Some(stdout) = child.stdout.take() {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let Ok(msg) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            if msg["reason"] == "compiler-artifact" {
                if let Some(name) = msg["target"]["name"].as_str() {
                    eprintln!("   compiled {name}");
                }
                if let Some(files) = msg["filenames"].as_array() {
                    for f in files.iter().filter_map(|f| f.as_str()) {
                        if f.ends_with(".wasm") {
                            wasm = Some(PathBuf::from(f));
                        }
                    }
                }
            }
        }
    }
    let status = child.wait()?;
    if !status.success() {
        bail!(
            "cargo build failed ({status}); if the error mentions the wasm32-wasip2 target, run `rustup target add wasm32-wasip2`"
        );
    }
    let wasm = wasm.context("cargo built no .wasm: is crate-type = [\"cdylib\"] set in [lib]?")?;
    let bytes = std::fs::read(&wasm)?;
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" || bytes[4..8] == [1, 0, 0, 0] {
        bail!(
            "{} is a core module, not a component: build for wasm32-wasip2",
            wasm.display()
        );
    }
    eprintln!("built {} ({} KiB)", wasm.display(), bytes.len() / 1024);
    Ok(wasm)
}

/// Options of `weft plugin run`.
pub struct RunPluginOptions {
    /// The component.
    pub wasm: PathBuf,
    /// `k=v` config entries.
    pub config: Vec<String>,
    /// Granted HTTP destinations.
    pub allow_http: Vec<String>,
    /// Memory limit.
    pub memory_mib: Option<u64>,
    /// CPU limit.
    pub cpu_ms: Option<u64>,
    /// Warm mode.
    pub warm: bool,
    /// KV directory (default: a fresh temporary one).
    pub kv_dir: Option<PathBuf>,
}

/// `weft plugin run`: returns the process exit code.
pub async fn run_plugin(options: RunPluginOptions) -> i32 {
    match run_plugin_inner(options).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            2
        }
    }
}

async fn run_plugin_inner(options: RunPluginOptions) -> anyhow::Result<i32> {
    let mut spec = PluginSpec::new(&options.wasm);
    for entry in &options.config {
        let (k, v) = entry
            .split_once('=')
            .with_context(|| format!("--config `{entry}`: expected key=value"))?;
        spec.config.insert(k.to_string(), v.to_string());
    }
    spec.allow_http = options.allow_http.clone();
    if let Some(m) = options.memory_mib {
        spec.limits.memory_mib = m;
    }
    if let Some(c) = options.cpu_ms {
        spec.limits.cpu_ms = c;
    }
    if options.warm {
        spec.mode = InstanceMode::Warm;
    }
    let tmp = tempfile::tempdir()?;
    let kv_dir = options
        .kv_dir
        .clone()
        .unwrap_or_else(|| tmp.path().to_path_buf());
    let kv = Arc::new(weft_kv_embedded::EmbeddedKv::open(&kv_dir.join("kv.redb"))?);
    let runtime = Runtime::new(&weft_runtime::EngineOptions {
        max_memory_mib: spec.limits.memory_mib.max(64),
        max_concurrent_instances: 16,
        ..Default::default()
    })?;
    let name = options
        .wasm
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| "plugin".into());
    let plugin = runtime.load(&name, &spec, Path::new("."), kv)?;
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout().lock();
    let mut any_failed = false;
    for (index, line) in stdin.lock().lines().enumerate() {
        let line = line.context("failed to read stdin")?;
        if line.trim().is_empty() {
            continue;
        }
        let event = match Event::from_json_slice(line.as_bytes()) {
            Ok(e) => e,
            Err(e) => {
                any_failed = true;
                let failure = serde_json::json!({"failure": {"kind": "reject", "message": format!("line {}: invalid CloudEvent: {e}", index + 1)}});
                writeln!(stdout, "{failure}")?;
                continue;
            }
        };
        match plugin.invoke(&event).await {
            Ok(events) => {
                for e in events {
                    writeln!(stdout, "{}", e.to_json_string())?;
                }
            }
            Err(e) => {
                any_failed = true;
                let kind = if e.is_transient() { "retry" } else { "reject" };
                let failure =
                    serde_json::json!({"failure": {"kind": kind, "message": e.to_string()}});
                writeln!(stdout, "{failure}")?;
            }
        }
        stdout.flush()?;
    }
    Ok(if any_failed { 1 } else { 0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files_under(root: &Path, dir: &str, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let entry = entry.unwrap();
            let rel = format!("{dir}/{}", entry.file_name().to_string_lossy());
            if entry.file_type().unwrap().is_dir() {
                files_under(root, &rel, out);
            } else {
                out.push(rel);
            }
        }
    }

    /// `weft plugin new` vendors exactly the SDK and WIT files of this tree.
    #[test]
    fn the_vendored_sdk_is_the_whole_sdk() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut on_disk = Vec::new();
        files_under(&root, "sdk/rust/src", &mut on_disk);
        files_under(&root, "wit", &mut on_disk);
        on_disk.sort();
        let mut embedded: Vec<String> = SDK_FILES.iter().map(|(p, _)| p.to_string()).collect();
        embedded.sort();
        assert_eq!(embedded, on_disk, "update SDK_FILES in plugin_cmd.rs");
        // the vendored manifest asks for the versions the workspace pins
        let workspace = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
        for (name, pinned) in [
            ("wit-bindgen", "wit-bindgen = \"0.46\""),
            ("serde_json", "serde_json = \"1\""),
        ] {
            assert!(
                workspace.contains(pinned),
                "workspace pin of {name} changed"
            );
            assert!(SDK_CARGO.contains(pinned), "{name}");
        }
        let sdk_manifest = std::fs::read_to_string(root.join("sdk/rust/Cargo.toml")).unwrap();
        let deps = sdk_manifest.split("[dependencies]").nth(1).unwrap();
        for line in deps.lines().filter(|l| l.contains('=')) {
            let name = line.split('=').next().unwrap().trim();
            assert!(
                SDK_CARGO.contains(&format!("\n{name} =")),
                "SDK dependency {name}"
            );
        }
    }
}
