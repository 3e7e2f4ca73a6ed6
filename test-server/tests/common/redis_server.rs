//! The cluster tests' redis-server: the library's [`RedisProcess`], skipped when redis-server
//! is not installed, except under CI (`CI` set and not `false`/`0`), where that is a failure.

use servicestack_events_server::RedisProcess;

/// A running redis-server, killed on drop.
pub struct RedisServer(RedisProcess);

impl RedisServer {
    /// Starts one, or returns `None` (after saying so) when redis-server is not installed and
    /// this is not CI.
    pub async fn start() -> Option<RedisServer> {
        if RedisProcess::binary().is_none() {
            if std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0") {
                panic!("redis-server is not installed (run `cargo xtask setup`)");
            }
            eprintln!("skipped: redis-server is not installed (run `cargo xtask setup`)");
            return None;
        }
        Some(RedisServer(
            RedisProcess::start().await.expect("redis-server starts"),
        ))
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.0.url()
    }

    /// Kills the server (its data is lost: no persistence).
    pub fn kill(&mut self) {
        self.0.kill();
    }

    /// Kills it and starts a fresh, empty one on the same port.
    pub async fn restart(&mut self) {
        self.0.restart().await.expect("redis-server restarts");
    }

    /// A command connection for inspecting and planting keys.
    pub async fn conn(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .expect("redis connection")
    }
}
