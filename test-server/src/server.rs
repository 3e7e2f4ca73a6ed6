//! The listener, the per-connection tasks, and [`TestServer`].

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt as _;

use crate::cluster::ClusterNodes;
use crate::config::ServerConfig;
use crate::faults::Faults;
use crate::provider::Provider;
use crate::registry::{ServerEvents, Shared};
use crate::respond::{ConnectionAbort, RemoteAddr};

/// The kernel send buffer of every connection (Linux doubles it). Fixed, so that a reader that
/// stops reading is held to `subscriber_buffer_bytes` plus these small constants instead of
/// the megabytes TCP autotuning would grant it.
const SOCKET_SEND_BUFFER: u32 = 128 * 1024;
/// hyper's per-connection buffer (it also bounds request heads). Its default, ~400 KB, would
/// hide a stalled reader's backlog from the subscriber limit.
const CONNECTION_BUFFER: usize = 64 * 1024;

/// How long connections get to finish after shutdown before they are dropped.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// How long a slow consumer's connection may take to deliver the slow-consumer note before it
/// is dropped outright (a reader that stopped reading never takes it).
const SLOW_CONSUMER_GRACE: Duration = Duration::from_secs(2);

/// Request extension: the connection of the request that crashes its own node
/// (`/test/crash-node`) is spared, so the answer still arrives before it closes.
#[derive(Clone, Default)]
pub(crate) struct CrashSpare(Arc<AtomicBool>);

impl CrashSpare {
    /// Spares this connection from the coming crash.
    pub(crate) fn spare(&self) {
        self.0.store(true, Ordering::Release);
    }

    fn is_spared(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// A running reference server.
///
/// Dropping it shuts the server down in the background; [`TestServer::shutdown`] does the same
/// and waits until the port is free and every connection is closed.
pub struct TestServer {
    addr: SocketAddr,
    base_url: String,
    events: ServerEvents,
    provider: Arc<dyn Provider>,
    faults: Faults,
    cancel: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for TestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServer")
            .field("base_url", &self.base_url)
            .finish()
    }
}

impl TestServer {
    /// Starts a server on `127.0.0.1` with an ephemeral port.
    pub async fn start(config: ServerConfig) -> io::Result<TestServer> {
        Self::start_at(SocketAddr::from(([127, 0, 0, 1], 0)), config).await
    }

    /// Starts a server on `addr` (port 0 = ephemeral), e.g. to restart on the port of a server
    /// that was shut down.
    pub async fn start_at(addr: SocketAddr, config: ServerConfig) -> io::Result<TestServer> {
        Self::start_node(addr, config, None).await
    }

    /// [`start_at`](Self::start_at) as a node of an in-process cluster, when `cluster` is
    /// given: it shares the cluster's session store and answers its test controls.
    pub(crate) async fn start_node(
        addr: SocketAddr,
        config: ServerConfig,
        cluster: Option<&Arc<ClusterNodes>>,
    ) -> io::Result<TestServer> {
        let faults = Faults::default();
        let shared = match cluster {
            Some(nodes) => Shared::with_auth(config, faults.clone(), nodes.auth()),
            None => Shared::new(config, faults.clone()),
        };
        let provider = crate::provider::for_config(&shared).await?;
        if let Some(nodes) = cluster {
            nodes.add(&shared, &provider);
            shared.set_cluster_nodes(nodes.clone());
        }
        let router = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            crate::routes::router(shared.clone(), provider.clone())
        }))
        .map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "the configured route paths conflict",
            )
        })?
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;

        let listener = bind(addr)?;
        let addr = listener.local_addr()?;
        let cancel = shared.cancel.clone();
        let housekeeping = tokio::spawn(housekeeping(shared.clone()));
        let task = tokio::spawn(serve(listener, router, shared.clone(), housekeeping));
        Ok(TestServer {
            addr,
            base_url: format!("http://{addr}"),
            events: ServerEvents { shared },
            provider,
            faults,
            cancel,
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The registry: publish to subscribers, inspect them.
    pub fn events(&self) -> &ServerEvents {
        &self.events
    }

    /// The fault switches of this instance.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    fn begin_shutdown(&self) {
        self.events.shared.shutdown_streams();
        self.cancel.cancel();
    }

    /// Like ServiceStack's `Stop()`: ends every stream, stops listening, frees the port and
    /// returns once every connection is closed (connections still busy after a short grace
    /// period are dropped).
    pub async fn shutdown(mut self) {
        // `Dispose()`: this node's subscriptions leave the shared store (Redis) first.
        self.provider.shutdown().await;
        self.begin_shutdown();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if self.task.is_some() {
            self.begin_shutdown();
        }
    }
}

/// Binds like `TcpListener::bind` (address reuse for restarts on the same port), with the
/// bounded send buffer that accepted connections inherit.
fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.set_send_buffer_size(SOCKET_SEND_BUFFER)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// Sweeps expired subscriptions every housekeeping interval (one task per server).
async fn housekeeping(shared: Arc<Shared>) {
    let period = shared
        .config
        .housekeeping_interval
        .max(Duration::from_millis(10));
    let mut interval = tokio::time::interval(period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shared.cancel.cancelled() => return,
            _ = interval.tick() => {
                shared.remove_expired(false);
            }
        }
    }
}

async fn serve(
    listener: TcpListener,
    router: Router,
    shared: Arc<Shared>,
    housekeeping: JoinHandle<()>,
) {
    let cancel = shared.cancel.clone();
    let tracker = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            _ = cancel.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, remote)) => {
                let router = router.clone();
                let (cancel, crashed) = (cancel.clone(), shared.crashed.clone());
                tracker.spawn(connection(stream, remote, router, cancel, crashed));
            }
            Err(e) => {
                // EMFILE and friends: back off briefly instead of spinning.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    drop(listener);
    shared.listener_closed.cancel();
    tracker.close();
    tracker.wait().await;
    let _ = housekeeping.await;
}

async fn connection(
    stream: TcpStream,
    remote: SocketAddr,
    router: Router,
    cancel: CancellationToken,
    crashed: CancellationToken,
) {
    let _ = stream.set_nodelay(true);
    let abort = CancellationToken::new();
    let abort_handle = ConnectionAbort(abort.clone());
    let spare = CrashSpare::default();
    let spare_handle = spare.clone();
    let service = hyper::service::service_fn(move |mut req: http::Request<Incoming>| {
        req.extensions_mut().insert(RemoteAddr(remote));
        req.extensions_mut().insert(abort_handle.clone());
        req.extensions_mut().insert(spare_handle.clone());
        router.clone().oneshot(req)
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .keep_alive(true)
        .max_buf_size(CONNECTION_BUFFER);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        res = conn.as_mut() => {
            if let Err(e) = res {
                tracing::debug!("connection from {remote} ended: {e}");
            }
        }
        _ = cancel.cancelled() => {
            if crashed.is_cancelled() && !spare.is_spared() {
                // A crash on purpose: cut at once, nothing more is written.
                return;
            }
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(SHUTDOWN_GRACE, conn.as_mut()).await;
        }
        _ = abort.cancelled() => {
            // A slow consumer: finish its response (the slow-consumer note) and close; a reader
            // that never reads again is dropped once the grace period is over.
            conn.as_mut().graceful_shutdown();
            if tokio::time::timeout(SLOW_CONSUMER_GRACE, conn.as_mut()).await.is_err() {
                tracing::debug!("connection from {remote} dropped: its reader stopped reading");
            }
        }
    }
}
