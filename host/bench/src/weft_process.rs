//! The `weft` binary the process-level benchmarks (`--sse`, `--fanout`) start.

use std::path::{Path, PathBuf};
use std::process::Child;

/// The `weft` binary: `explicit`, else next to this executable, else on the PATH.
pub(crate) fn weft_binary(explicit: Option<&Path>) -> PathBuf {
    if let Some(p) = explicit {
        return p.to_path_buf();
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("weft")))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from("weft"))
}

/// The hub under test (its process and config directory), killed on drop.
pub(crate) struct Hub {
    pub(crate) child: Child,
    pub(crate) dir: tempfile::TempDir,
}

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
