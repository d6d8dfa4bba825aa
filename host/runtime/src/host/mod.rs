//! Host capabilities the plugins import: logging, configuration, key-value, outbound HTTP.
//! Each is granted per plugin; nothing else (filesystem, sockets, environment) is.

pub mod config;
pub mod http;
pub mod keyvalue;
pub mod logging;
