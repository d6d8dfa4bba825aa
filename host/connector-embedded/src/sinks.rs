//! Sinks that write JSON lines: stdout and a file.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use weft_connector::{Sink, SinkError};
use weft_event::Event;

/// Prints each event as one line of JSON on stdout.
#[derive(Debug, Default)]
pub struct StdoutSink;

#[async_trait]
impl Sink for StdoutSink {
    async fn deliver(&self, event: &Event) -> Result<(), SinkError> {
        let line = event.to_json_string();
        let mut out = std::io::stdout().lock();
        writeln!(out, "{line}")
            .and_then(|_| out.flush())
            .map_err(|e| SinkError::Transient(format!("stdout: {e}")))
    }
}

/// Appends each event as one line of JSON to a file, fsynced before confirming.
#[derive(Debug)]
pub struct FileSink {
    path: PathBuf,
    file: Arc<Mutex<std::fs::File>>,
}

impl FileSink {
    /// Opens (creating) `path` for appending.
    pub fn open(path: PathBuf) -> Result<FileSink, SinkError> {
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(|e| {
                SinkError::Permanent(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| SinkError::Permanent(format!("cannot open {}: {e}", path.display())))?;
        Ok(FileSink {
            path,
            file: Arc::new(Mutex::new(file)),
        })
    }
}

#[async_trait]
impl Sink for FileSink {
    async fn deliver(&self, event: &Event) -> Result<(), SinkError> {
        let mut line = event.to_json_string();
        line.push('\n');
        let file = self.file.clone();
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let mut f = file.lock().unwrap_or_else(|p| p.into_inner());
            f.write_all(line.as_bytes()).and_then(|_| f.sync_data())
        })
        .await
        .map_err(|e| SinkError::Transient(e.to_string()))?
        .map_err(|e| SinkError::Transient(format!("{}: {e}", path.display())))
    }
}
