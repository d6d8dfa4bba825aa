//! Compiles and tests `weft filter --sql` (host/weft/src/filter_cmd.rs) against this crate
//! until the weft binary depends on it.

#[allow(dead_code)]
#[path = "../../weft/src/filter_cmd.rs"]
mod filter_cmd;
