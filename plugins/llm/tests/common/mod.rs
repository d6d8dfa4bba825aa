//! Shared by the end-to-end tests: the component built once per test process, the `weft`
//! binary, and `weft plugin run`.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use serde_json::Value;

pub mod scripted;

/// `<target>` of this test binary (`<target>/<profile>/deps/<test>`).
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .and_then(Path::parent)
        .and_then(Path::parent)
        .unwrap()
        .to_path_buf()
}

/// The `weft` binary of this test's own build: `WEFT_BIN`, else `weft` in this test's
/// profile directory (`<target>/<profile>/weft`, next to the `deps` directory this test runs
/// from; `cargo test --workspace` builds it there). A `weft` of another profile (a possibly
/// stale `target/debug` or `target/release`) is never used. Missing is a failure: these
/// tests are the plugin's proof inside the real runtime.
pub fn weft_bin() -> PathBuf {
    if let Ok(p) = std::env::var("WEFT_BIN") {
        let p = PathBuf::from(p);
        assert!(p.is_file(), "WEFT_BIN={} is not a file", p.display());
        return p;
    }
    let weft = profile_dir().join("weft");
    assert!(
        weft.is_file(),
        "no weft binary at {} (this test's build): run `cargo test --workspace`, or `cargo build -p weft` with the same profile, or set WEFT_BIN",
        weft.display()
    );
    weft
}

/// `<target>/<profile>` of this test binary (`<target>/<profile>/deps/<test>`).
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(Path::parent).unwrap().to_path_buf()
}

/// Builds the component once per test process (the same directory and profile as the
/// other plugins' tests, so wasm dependencies are compiled once).
pub fn component() -> PathBuf {
    static WASM: OnceLock<PathBuf> = OnceLock::new();
    WASM.get_or_init(|| {
        let dir = target_dir().join("wasm-plugins");
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args([
                "rustc",
                "-p",
                "weft-plugin-llm",
                "--lib",
                "--crate-type",
                "cdylib",
                "--target",
                "wasm32-wasip2",
                "--profile",
                "plugin",
                "--target-dir",
            ])
            .arg(&dir)
            .status()
            .expect("running cargo to build the plugin");
        assert!(status.success(), "building the llm component failed");
        let wasm = dir.join("wasm32-wasip2/plugin/weft_plugin_llm.wasm");
        assert!(wasm.is_file(), "{} was not built", wasm.display());
        wasm
    })
    .clone()
}

/// What `weft plugin run` did.
pub struct Run {
    /// Exit code.
    pub code: i32,
    /// Each output line as JSON (an event or `{"failure": …}`).
    pub lines: Vec<Value>,
    /// Everything printed on stderr (logs).
    pub stderr: String,
}

/// Runs `weft plugin run <component> --allow-http <allow> --config k=v…` on `input` lines.
pub fn plugin_run(allow_http: Option<&str>, config: &[(&str, &str)], input: &[Value]) -> Run {
    let mut cmd = Command::new(weft_bin());
    cmd.args(["plugin", "run"]).arg(component());
    if let Some(allow) = allow_http {
        cmd.args(["--allow-http", allow]);
    }
    for (k, v) in config {
        cmd.args(["--config", &format!("{k}={v}")]);
    }
    let mut child = cmd
        .env("RUST_LOG", "info")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn weft");
    let mut stdin = child.stdin.take().unwrap();
    let input: Vec<String> = input.iter().map(Value::to_string).collect();
    let writer = std::thread::spawn(move || {
        for line in input {
            writeln!(stdin, "{line}").unwrap();
        }
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let lines = stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}\nstderr: {stderr}")))
        .collect();
    Run {
        code: out.status.code().unwrap_or(-1),
        lines,
        stderr,
    }
}
