//! Subscription barriers: a new subscription on a Redis node gets exactly the notifications
//! Redis published after it was created.
//!
//! The race they close (ServiceStack's `RedisServerEvents` has it): node 2 publishes a join
//! on `sse:topic`; before node 1's listener has read it, a client subscribes on node 1 to the
//! same channel. The subscription is registered locally at once, so when the listener gets to
//! the join it writes it to the new subscriber too: a join from before it existed.
//!
//! How: Redis writes the messages for one subscriber connection in the order it executed the
//! `PUBLISH` commands, whatever their channels. When a subscription is registered, the node's
//! worker publishes a numbered token on this node's private channel (`sse:barrier:{node}`,
//! which only this node's listener subscribes to, so ServiceStack hosts on the same Redis
//! never see it and `sse:topic` keeps ServiceStack's grammar) before the subscription's
//! record and joins. Until the listener reads that token, topic notifications are not written
//! to the subscription: whatever the listener reads before the token was published before it.
//! The subscription's own joins are published after the token, so they still reach it.
//!
//! The stream's response waits (bounded) until the token was read. A token that never comes
//! back (the listener's connection dropped in between, or Redis went away) fails the
//! registration with a clear error (503) instead of leaving a subscription that silently
//! receives nothing from the cluster.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use crate::registry::Subscription;
use crate::util::{lock, random_id};

/// A subscription waiting for its token.
struct Pending {
    sub: Arc<Subscription>,
    passed: oneshot::Sender<()>,
}

/// The barriers of one node.
pub(super) struct Barriers {
    channel: String,
    next: AtomicU64,
    pending: Mutex<HashMap<u64, Pending>>,
}

impl Barriers {
    /// Barriers on a fresh private channel (random, so nodes never share one).
    pub(super) fn new() -> Barriers {
        Barriers {
            channel: format!("sse:barrier:{}", random_id(20)),
            next: AtomicU64::new(0),
            pending: Mutex::new(HashMap::new()),
        }
    }

    /// This node's private channel, which its listener subscribes to next to `sse:topic`.
    pub(super) fn channel(&self) -> &str {
        &self.channel
    }

    /// Opens the barrier of `sub`: returns the token to publish on [`channel`](Self::channel)
    /// and a receiver that fires once the listener has read it.
    pub(super) fn open(&self, sub: &Arc<Subscription>) -> (u64, oneshot::Receiver<()>) {
        let token = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let (passed, rx) = oneshot::channel();
        lock(&self.pending).insert(
            token,
            Pending {
                sub: sub.clone(),
                passed,
            },
        );
        (token, rx)
    }

    /// The listener read `payload` on the private channel: everything it reads from now on
    /// was published after that subscription was created, so topic notifications reach it.
    /// Called on the listener's task, in order with topic messages.
    pub(super) fn passed(&self, payload: &[u8]) {
        let Some(token) = std::str::from_utf8(payload)
            .ok()
            .and_then(|t| t.parse::<u64>().ok())
        else {
            tracing::warn!(
                "{}: a message that is not a barrier token, ignored",
                self.channel
            );
            return;
        };
        // Unknown: its registration already failed (timed out, or the connection dropped).
        if let Some(pending) = lock(&self.pending).remove(&token) {
            pending.sub.admit_cluster();
            let _ = pending.passed.send(());
        }
    }

    /// The token will never be published (the node halted): its waiter fails at once.
    pub(super) fn cancel(&self, token: u64) {
        lock(&self.pending).remove(&token);
    }

    /// The listener lost its connection: tokens in flight may never come back, so every
    /// waiting registration fails now rather than at its timeout.
    pub(super) fn fail_all(&self) {
        lock(&self.pending).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(id: &str) -> Arc<Subscription> {
        let sub = Subscription::for_test(id, 1, &["A"], "-1", None, None);
        sub.block_cluster_for_test();
        sub
    }

    #[test]
    fn a_subscription_is_admitted_only_when_its_own_token_is_read() {
        let barriers = Barriers::new();
        let (one, two) = (sub("one"), sub("two"));
        let (t1, mut rx1) = barriers.open(&one);
        let (t2, mut rx2) = barriers.open(&two);
        assert_ne!(t1, t2);
        barriers.passed(t2.to_string().as_bytes());
        assert!(two.receives_cluster());
        assert!(rx2.try_recv().is_ok());
        assert!(!one.receives_cluster(), "another token does not admit it");
        assert!(rx1.try_recv().is_err());
        barriers.passed(b"not a token");
        barriers.passed(b"999");
        assert!(!one.receives_cluster());
        barriers.passed(t1.to_string().as_bytes());
        assert!(one.receives_cluster());
        assert!(rx1.try_recv().is_ok());
    }

    #[test]
    fn a_lost_connection_fails_every_waiting_registration() {
        let barriers = Barriers::new();
        let one = sub("one");
        let (t1, mut rx1) = barriers.open(&one);
        barriers.fail_all();
        assert!(matches!(
            rx1.try_recv(),
            Err(oneshot::error::TryRecvError::Closed)
        ));
        // A token read late changes nothing.
        barriers.passed(t1.to_string().as_bytes());
        assert!(!one.receives_cluster());
    }

    #[test]
    fn private_channels_differ_per_node() {
        assert_ne!(Barriers::new().channel(), Barriers::new().channel());
        assert!(Barriers::new().channel().starts_with("sse:barrier:"));
    }
}
