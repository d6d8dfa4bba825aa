//! `wasi:logging/logging` into the host's `tracing`, tagged with the plugin name. The
//! message and context are the plugin's words: escaped (a newline or an escape sequence
//! cannot forge or colour log lines) and cut to a few KiB ([`crate::text::bounded`]).

use crate::bindings::wasi::logging::logging::{Host, Level};
use crate::state::PluginState;

/// Longest message kept, in bytes; longer ones are cut with a marker.
pub const MAX_LOG_MESSAGE: usize = crate::text::MAX_TEXT_BYTES;
/// Longest context kept, in bytes.
pub const MAX_LOG_CONTEXT: usize = 256;

impl Host for PluginState {
    async fn log(
        &mut self,
        level: Level,
        context: String,
        message: String,
    ) -> wasmtime::Result<()> {
        let plugin = self.plugin.name.as_str();
        let context = crate::text::bounded(&context, MAX_LOG_CONTEXT);
        let message = crate::text::bounded(&message, MAX_LOG_MESSAGE);
        let context = context.as_ref();
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
