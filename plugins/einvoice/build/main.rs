//! Build script: compiles the Schematron rule files under `rules/` into static Rust data
//! (`$OUT_DIR/rules.rs`), so the plugin starts every event with its rules ready: no XML
//! parsing of rule files and no XPath compilation at run time.

#[path = "../src/xpath/syntax/mod.rs"]
#[allow(dead_code)]
mod syntax;

mod schematron;

use std::path::PathBuf;

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let rules = root.join("rules");
    println!("cargo:rerun-if-changed=rules");
    println!("cargo:rerun-if-changed=build");
    println!("cargo:rerun-if-changed=src/xpath/syntax");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("rules.rs");
    let code = match schematron::compile_all(&rules) {
        Ok(code) => code,
        Err(e) => panic!("compiling the Schematron rules failed: {e}"),
    };
    std::fs::write(&out, code).expect("write rules.rs");
}
