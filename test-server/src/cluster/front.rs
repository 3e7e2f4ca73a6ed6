//! A round-robin TCP front: each accepted connection is piped to the next node, skipping
//! nodes that do not accept, like a layer-4 load balancer without sticky sessions.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long the front tries to reach one node before moving to the next.
const CONNECT_LIMIT: Duration = Duration::from_secs(1);
/// How long piped connections get to finish after shutdown before they are cut.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// A running round-robin front; stops on [`shutdown`](Self::shutdown) or drop.
pub struct RoundRobinFront {
    addr: SocketAddr,
    cancel: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for RoundRobinFront {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoundRobinFront")
            .field("addr", &self.addr)
            .finish()
    }
}

impl RoundRobinFront {
    /// Listens on an ephemeral `127.0.0.1` port in front of `nodes`.
    pub async fn start(nodes: Vec<SocketAddr>) -> io::Result<RoundRobinFront> {
        Self::start_at(SocketAddr::from(([127, 0, 0, 1], 0)), nodes).await
    }

    /// Listens on `addr` (port 0 = ephemeral) in front of `nodes`.
    pub async fn start_at(addr: SocketAddr, nodes: Vec<SocketAddr>) -> io::Result<RoundRobinFront> {
        if nodes.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a front needs at least one node",
            ));
        }
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let cancel = CancellationToken::new();
        let task = tokio::spawn(serve(listener, Arc::new(nodes), cancel.clone()));
        Ok(RoundRobinFront {
            addr,
            cancel,
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, lets piped connections finish for a short grace period (what a node
    /// already sent still arrives), cuts the rest and waits for them to end.
    pub async fn shutdown(mut self) {
        self.cancel.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RoundRobinFront {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

async fn serve(listener: TcpListener, nodes: Arc<Vec<SocketAddr>>, cancel: CancellationToken) {
    let next = Arc::new(AtomicUsize::new(0));
    let tracker = TaskTracker::new();
    let cut = CancellationToken::new();
    loop {
        let accepted = tokio::select! {
            _ = cancel.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let mut client = match accepted {
            Ok((client, _)) => client,
            Err(e) => {
                tracing::warn!("front: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let (nodes, next, cut) = (nodes.clone(), next.clone(), cut.clone());
        tracker.spawn(async move {
            let first = next.fetch_add(1, Ordering::Relaxed);
            for k in 0..nodes.len() {
                let node = nodes[(first + k) % nodes.len()];
                let Ok(Ok(mut upstream)) =
                    tokio::time::timeout(CONNECT_LIMIT, TcpStream::connect(node)).await
                else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = upstream.set_nodelay(true);
                tokio::select! {
                    _ = cut.cancelled() => {}
                    _ = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {}
                }
                return;
            }
            tracing::warn!("front: no node accepts connections");
        });
    }
    drop(listener);
    tracker.close();
    if tokio::time::timeout(SHUTDOWN_GRACE, tracker.wait())
        .await
        .is_err()
    {
        cut.cancel();
        tracker.wait().await;
    }
}
