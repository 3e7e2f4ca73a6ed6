//! The nodes of one in-process [`TestCluster`](super::TestCluster) as the test controls see
//! them: the session store they share, which node holds a subscription, and crashing a node.

use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use crate::auth::AuthStore;
use crate::provider::Provider;
use crate::registry::{Shared, Target};
use crate::util::lock;

/// How long a crash waits for the crashed node's listening socket to close.
const LISTENER_CLOSE_LIMIT: Duration = Duration::from_secs(2);

/// One running node of the cluster.
#[derive(Clone)]
pub(crate) struct Node {
    /// Its position in the cluster (0-based, the order the nodes were started in).
    pub(crate) index: usize,
    pub(crate) shared: Arc<Shared>,
    pub(crate) provider: Arc<dyn Provider>,
}

struct Entry {
    shared: Weak<Shared>,
    provider: Weak<dyn Provider>,
}

/// The nodes of an in-process cluster (held weakly: a node's `Shared` points back here).
#[derive(Default)]
pub(crate) struct ClusterNodes {
    nodes: Mutex<Vec<Entry>>,
    /// One session store for every node: a session signed in through one node is known to
    /// all of them, as with the distributed session cache of a load-balanced deployment.
    auth: Arc<AuthStore>,
}

impl ClusterNodes {
    /// The session store the nodes share.
    pub(crate) fn auth(&self) -> Arc<AuthStore> {
        self.auth.clone()
    }

    /// Adds a started node.
    pub(crate) fn add(&self, shared: &Arc<Shared>, provider: &Arc<dyn Provider>) {
        lock(&self.nodes).push(Entry {
            shared: Arc::downgrade(shared),
            provider: Arc::downgrade(provider),
        });
    }

    /// The nodes still running (not crashed, not shut down).
    pub(crate) fn running(&self) -> Vec<Node> {
        lock(&self.nodes)
            .iter()
            .enumerate()
            .filter_map(|(index, e)| {
                let shared = e.shared.upgrade()?;
                let provider = e.provider.upgrade()?;
                (!shared.cancel.is_cancelled()).then_some(Node {
                    index,
                    shared,
                    provider,
                })
            })
            .collect()
    }

    /// The running node whose streams include subscription `id`.
    pub(crate) fn holder_of(&self, id: &str) -> Option<Node> {
        self.running()
            .into_iter()
            .find(|n| n.shared.holds_recipients(Target::Subscription(id), None))
    }

    /// A running node that holds none of the subscriptions `target` names.
    pub(crate) fn not_holding(&self, target: Target<'_>, filter: Option<&str>) -> Option<Node> {
        self.running()
            .into_iter()
            .find(|n| !n.shared.holds_recipients(target, filter))
    }
}

/// Crashes `node` on purpose, like a killed process: its provider stops writing to Redis at
/// once (no unregister, no leave, no pulse), every connection is cut without a goodbye, and
/// its listening socket closes (so the front moves on to the other nodes). Returns once that
/// socket is closed. The surviving nodes' sweep removes its subscriptions after the idle
/// timeout and announces their leaves.
pub(crate) async fn crash(node: &Node) {
    node.provider.halt();
    node.shared.crashed.cancel();
    node.shared.cancel.cancel();
    if tokio::time::timeout(
        LISTENER_CLOSE_LIMIT,
        node.shared.listener_closed.cancelled(),
    )
    .await
    .is_err()
    {
        tracing::warn!("crashed node {} still listens", node.index);
    }
}
