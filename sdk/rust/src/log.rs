//! Structured logs into the host's `tracing` (`wasi:logging`), tagged with the plugin name.

/// Log levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Very detailed flow.
    Trace,
    /// Debugging detail.
    Debug,
    /// Normal operation.
    Info,
    /// Something looks wrong.
    Warn,
    /// Something failed.
    Error,
}

/// Logs `message` at `level`; `context` groups related messages (e.g. a function name).
pub fn log(level: Level, context: &str, message: &str) {
    imp::log(level, context, message)
}

/// Logs at debug level.
pub fn debug(message: &str) {
    log(Level::Debug, "", message)
}

/// Logs at info level.
pub fn info(message: &str) {
    log(Level::Info, "", message)
}

/// Logs at warn level.
pub fn warn(message: &str) {
    log(Level::Warn, "", message)
}

/// Logs at error level.
pub fn error(message: &str) {
    log(Level::Error, "", message)
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use super::Level;
    use crate::bindings::wasi::logging::logging::{self, Level as L};
    pub fn log(level: Level, context: &str, message: &str) {
        let level = match level {
            Level::Trace => L::Trace,
            Level::Debug => L::Debug,
            Level::Info => L::Info,
            Level::Warn => L::Warn,
            Level::Error => L::Error,
        };
        logging::log(level, context, message);
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use super::Level;
    pub fn log(level: Level, context: &str, message: &str) {
        crate::testing::with_host(|h| {
            h.logs.push((
                level,
                format!(
                    "{context}{}{message}",
                    if context.is_empty() { "" } else { ": " }
                ),
            ))
        });
    }
}
