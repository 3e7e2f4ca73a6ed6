//! Several nodes sharing one Redis behind a round-robin front: what a client sees of a
//! deployment that outgrew one machine.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::config::ServerConfig;
use crate::server::TestServer;

mod front;
mod nodes;
mod redis_process;

pub(crate) use nodes::{ClusterNodes, crash};

pub use front::RoundRobinFront;
pub use redis_process::RedisProcess;

/// Nodes on one Redis behind a [`RoundRobinFront`]. A client's stream, heartbeats,
/// unregister and channel updates travel on different connections and so land on different
/// nodes.
///
/// The nodes share one session store (a session signed in through one node is known to every
/// node, as with the distributed session cache of a load-balanced deployment), and each
/// answers `POST /test/crash-node?id=<subscription>`, which crashes the node holding that
/// subscription (see the server's README).
///
/// ```no_run
/// use servicestack_events_server::{ServerConfig, TestCluster};
///
/// # async fn demo() -> std::io::Result<()> {
/// // Starts its own redis-server (REDIS_SERVER, or redis-server on PATH) and two nodes.
/// let cluster = TestCluster::start(ServerConfig::for_tests(), 2).await?;
/// println!("stream at {}/event-stream", cluster.base_url());
/// cluster.node(1).events().notify_channel("home", "cmd.announce", "from node 1").unwrap();
/// cluster.shutdown().await;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct TestCluster {
    front: Option<RoundRobinFront>,
    nodes: Vec<TestServer>,
    redis: Option<RedisProcess>,
    base_url: String,
}

impl TestCluster {
    /// Starts `nodes` nodes (at least one) with `config`, on `config.redis_url` or, when it is
    /// `None`, on a redis-server of its own; then the front.
    pub async fn start(config: ServerConfig, nodes: usize) -> io::Result<TestCluster> {
        Self::start_at(SocketAddr::from(([127, 0, 0, 1], 0)), config, nodes).await
    }

    /// [`start`](Self::start) with the front on `addr` (port 0 = ephemeral); the nodes listen
    /// on ephemeral loopback ports.
    pub async fn start_at(
        addr: SocketAddr,
        mut config: ServerConfig,
        nodes: usize,
    ) -> io::Result<TestCluster> {
        let redis = match config.redis_url {
            Some(_) => None,
            None => {
                let process = RedisProcess::start().await?;
                config.redis_url = Some(process.url());
                Some(process)
            }
        };
        let members = Arc::new(ClusterNodes::default());
        let mut started = Vec::new();
        for _ in 0..nodes.max(1) {
            let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
            started.push(TestServer::start_node(loopback, config.clone(), Some(&members)).await?);
        }
        let front =
            RoundRobinFront::start_at(addr, started.iter().map(TestServer::addr).collect()).await?;
        Ok(TestCluster {
            base_url: front.base_url(),
            front: Some(front),
            nodes: started,
            redis,
        })
    }

    /// The front's `http://127.0.0.1:PORT`: what clients connect to.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Node `i` (panics when out of range).
    pub fn node(&self, i: usize) -> &TestServer {
        &self.nodes[i]
    }

    /// Every node.
    pub fn nodes(&self) -> &[TestServer] {
        &self.nodes
    }

    /// The redis-server the cluster started, if it started one.
    pub fn redis(&mut self) -> Option<&mut RedisProcess> {
        self.redis.as_mut()
    }

    /// Stops every node (each ends its streams cleanly and drops its subscriptions from
    /// Redis), then the front, then Redis.
    pub async fn shutdown(mut self) {
        for node in std::mem::take(&mut self.nodes) {
            node.shutdown().await;
        }
        if let Some(front) = self.front.take() {
            front.shutdown().await;
        }
        self.redis.take();
    }
}
