//! `wasi:logging/logging` into the host's `tracing`, tagged with the plugin name.

use crate::bindings::wasi::logging::logging::{Host, Level};
use crate::state::PluginState;

/// Longest message kept; longer ones are cut (a plugin must not flood the logs).
pub const MAX_LOG_MESSAGE: usize = 8 * 1024;

fn cut(s: &str) -> &str {
    if s.len() <= MAX_LOG_MESSAGE {
        return s;
    }
    let mut end = MAX_LOG_MESSAGE;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

impl Host for PluginState {
    async fn log(
        &mut self,
        level: Level,
        context: String,
        message: String,
    ) -> wasmtime::Result<()> {
        let plugin = self.plugin.name.as_str();
        let (context, message) = (cut(&context), cut(&message));
        match level {
            Level::Trace => tracing::trace!(target: "weft::plugin", plugin, context, "{message}"),
            Level::Debug => tracing::debug!(target: "weft::plugin", plugin, context, "{message}"),
            Level::Info => tracing::info!(target: "weft::plugin", plugin, context, "{message}"),
            Level::Warn => tracing::warn!(target: "weft::plugin", plugin, context, "{message}"),
            Level::Error | Level::Critical => {
                tracing::error!(target: "weft::plugin", plugin, context, "{message}")
            }
        }
        Ok(())
    }
}
