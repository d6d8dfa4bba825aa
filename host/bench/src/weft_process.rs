//! The `weft` binary the process-level benchmarks (`--sse`, `--fanout`) start.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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

impl Hub {
    /// Starts `weft run` on a free loopback port with the config `config(addr)` (its
    /// stderr kept in the config directory) and waits until `/readyz` answers 200.
    pub(crate) async fn start(
        weft: &Path,
        config: impl FnOnce(SocketAddr) -> String,
    ) -> anyhow::Result<(Hub, SocketAddr)> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
        let dir = tempfile::tempdir()?;
        std::fs::write(dir.path().join("weft.toml"), config(addr))?;
        let stderr = std::fs::File::create(dir.path().join("stderr.log"))?;
        let child = Command::new(weft)
            .args(["run", "--config"])
            .arg(dir.path().join("weft.toml"))
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("starting {}", weft.display()))?;
        let mut hub = Hub { child, dir };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = hub.child.try_wait()? {
                let log =
                    std::fs::read_to_string(hub.dir.path().join("stderr.log")).unwrap_or_default();
                bail!("weft exited with {status}: {log}");
            }
            if ready(addr).await {
                return Ok((hub, addr));
            }
            if Instant::now() > deadline {
                bail!("weft did not become ready within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Whether `GET /readyz` answers 200.
async fn ready(addr: SocketAddr) -> bool {
    let Ok(mut stream) = tokio::net::TcpStream::connect(addr).await else {
        return false;
    };
    let request = format!("GET /readyz HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).await.is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).await.is_ok() && head.ends_with(b" 200")
}
