//! Builds the bundled example plugins (named `bundled:NAME` in any config, used by `weft
//! run` without a config and by `weft-bench`) to WebAssembly components, for the library to
//! embed.
//!
//! Set `WEFT_SKIP_BUNDLED=1` to skip (the library then reports the plugins as missing).

use std::path::{Path, PathBuf};
use std::process::Command;

const BUNDLED: [(&str, &str); 4] = [
    ("weft-plugin-json-map", "weft_plugin_json_map.wasm"),
    ("weft-plugin-dedupe", "weft_plugin_dedupe.wasm"),
    ("weft-plugin-passthrough", "weft_plugin_passthrough.wasm"),
    ("weft-plugin-http-enrich", "weft_plugin_http_enrich.wasm"),
];

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.join("../..").canonicalize().unwrap();
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    for dir in [
        "plugins/json-map",
        "plugins/dedupe",
        "plugins/passthrough",
        "plugins/http-enrich",
        "sdk/rust/src",
        "sdk/rust/Cargo.toml",
        "wit",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }
    println!("cargo:rerun-if-env-changed=WEFT_SKIP_BUNDLED");
    let skip = std::env::var("WEFT_SKIP_BUNDLED").is_ok_and(|v| v == "1");
    let built = if skip {
        Err("WEFT_SKIP_BUNDLED=1".to_string())
    } else {
        build(&root)
    };
    for (_, file) in BUNDLED {
        let dest = out_dir.join(file);
        match &built {
            Ok(dir) => {
                std::fs::copy(dir.join(file), &dest)
                    .unwrap_or_else(|e| panic!("copying {file}: {e}"));
            }
            Err(_) => std::fs::write(&dest, b"").unwrap(),
        }
    }
    if let Err(e) = built {
        println!(
            "cargo:warning=bundled plugins not built ({e}); `bundled:` plugin paths and `weft run` without --config need them"
        );
    }
}

fn build(root: &Path) -> Result<PathBuf, String> {
    let target_dir = root.join("target/wasm-plugins");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // One `cargo rustc --crate-type cdylib` per plugin: the plugins' `[lib]` also lists
    // `rlib`, and cargo builds a cdylib that is also an rlib without link-time
    // optimization (a larger, slower component).
    for (package, _) in BUNDLED {
        let mut cmd = Command::new(&cargo);
        cmd.current_dir(root)
            .args(["rustc", "-p", package, "--lib", "--crate-type", "cdylib"])
            .args(["--target", "wasm32-wasip2", "--profile", "plugin"])
            .arg("--target-dir")
            .arg(&target_dir);
        // Do not leak the outer build's settings into the nested one.
        for var in [
            "RUSTFLAGS",
            "CARGO_ENCODED_RUSTFLAGS",
            "CARGO_TARGET_DIR",
            "CARGO_BUILD_TARGET",
            "CARGO_PROFILE_RELEASE_LTO",
            "RUSTC_WORKSPACE_WRAPPER",
            "CARGO_LLVM_COV",
            "RUSTC_WRAPPER",
        ] {
            cmd.env_remove(var);
        }
        let status = cmd.status().map_err(|e| format!("running cargo: {e}"))?;
        if !status.success() {
            return Err(format!(
                "cargo build of the bundled plugin {package} failed ({status}); is the wasm32-wasip2 target installed?"
            ));
        }
    }
    Ok(target_dir.join("wasm32-wasip2/plugin"))
}
