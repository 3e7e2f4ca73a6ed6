//! A throwaway `redis-server` process on a free loopback port.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long a fresh redis-server gets to answer `PING`.
const START_LIMIT: Duration = Duration::from_secs(10);

/// A `redis-server` started for tests: `--bind 127.0.0.1`, no persistence, killed on drop.
///
/// The binary is `$REDIS_SERVER`, else `redis-server` on `PATH` (`cargo xtask setup` installs
/// Debian's package).
pub struct RedisProcess {
    binary: String,
    port: u16,
    child: Option<Child>,
}

impl std::fmt::Debug for RedisProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisProcess")
            .field("port", &self.port)
            .finish()
    }
}

impl RedisProcess {
    /// The redis-server binary, if one is installed.
    pub fn binary() -> Option<String> {
        let candidate = std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        let found = Command::new(&candidate)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        found.then_some(candidate)
    }

    /// Starts one on a free port and waits until it answers `PING`.
    pub async fn start() -> io::Result<RedisProcess> {
        let binary = Self::binary().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                "redis-server is not installed (set REDIS_SERVER or run `cargo xtask setup`)",
            )
        })?;
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let mut process = RedisProcess {
            binary,
            port,
            child: None,
        };
        process.spawn().await?;
        Ok(process)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn spawn(&mut self) -> io::Result<()> {
        let child = Command::new(&self.binary)
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        self.child = Some(child);
        let deadline = Instant::now() + START_LIMIT;
        while !self.pings().await {
            if Instant::now() >= deadline {
                self.kill();
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("redis-server did not answer PING on port {}", self.port),
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    async fn pings(&self) -> bool {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let Ok(Ok(mut s)) =
            tokio::time::timeout(Duration::from_secs(1), tokio::net::TcpStream::connect(addr))
                .await
        else {
            return false;
        };
        if s.write_all(b"PING\r\n").await.is_err() {
            return false;
        }
        let mut buf = [0u8; 7];
        matches!(
            tokio::time::timeout(Duration::from_secs(1), s.read_exact(&mut buf)).await,
            Ok(Ok(_)) if &buf == b"+PONG\r\n"
        )
    }

    /// Kills the server; its data is lost (no persistence).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills it and starts a fresh, empty one on the same port.
    pub async fn restart(&mut self) -> io::Result<()> {
        self.kill();
        self.spawn().await
    }
}

impl Drop for RedisProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
