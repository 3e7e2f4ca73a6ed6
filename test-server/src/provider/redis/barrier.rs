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
//! Channels added later to a subscription on its own node (an update request, or
//! `ServerEvents::subscribe_to_channels`) pass a barrier the same way: topic notifications for
//! those channels are held from it until the change's token is read. (A change that arrives
//! through the topic, from another node, is in order with the topic already.)
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
    admits: Admits,
}

/// What a token lets through.
enum Admits {
    /// A new subscription: every topic notification; its registration waits on the sender.
    Subscription(oneshot::Sender<()>),
    /// Channels just added to it: notifications for them.
    Channels(Vec<String>),
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
        self.insert(token, sub, Admits::Subscription(passed));
        (token, rx)
    }

    /// Opens the barrier of a channel change (the channels are held by the subscription):
    /// returns the token to publish.
    pub(super) fn open_channels(&self, sub: &Arc<Subscription>, channels: &[String]) -> u64 {
        let token = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        self.insert(token, sub, Admits::Channels(channels.to_vec()));
        token
    }

    fn insert(&self, token: u64, sub: &Arc<Subscription>, admits: Admits) {
        lock(&self.pending).insert(
            token,
            Pending {
                sub: sub.clone(),
                admits,
            },
        );
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
        let pending = lock(&self.pending).remove(&token);
        match pending {
            Some(Pending {
                sub,
                admits: Admits::Subscription(passed),
            }) => {
                sub.admit_cluster();
                let _ = passed.send(());
            }
            Some(Pending {
                sub,
                admits: Admits::Channels(channels),
            }) => sub.release_channels(&channels),
            None => {}
        }
    }

    /// The token will never be published (the node halted): its waiter fails at once.
    pub(super) fn cancel(&self, token: u64) {
        lock(&self.pending).remove(&token);
    }

    /// The token could not be published: its registration fails now, its channels are
    /// released (holding them for good would lose everything published later).
    pub(super) fn lost(&self, token: u64) {
        let pending = lock(&self.pending).remove(&token);
        if let Some(Pending {
            sub,
            admits: Admits::Channels(channels),
        }) = pending
        {
            sub.release_channels(&channels);
        }
    }

    /// The listener lost its connection: tokens in flight may never come back, so every
    /// waiting registration fails now rather than at its timeout. Held channels are released
    /// (what was published while the connection was down is lost anyway; holding them for
    /// good would silently lose everything after).
    pub(super) fn fail_all(&self) {
        let pending: Vec<Pending> = lock(&self.pending).drain().map(|(_, p)| p).collect();
        for p in pending {
            if let Admits::Channels(channels) = p.admits {
                p.sub.release_channels(&channels);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Target;

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
    fn added_channels_are_held_until_their_token_is_read() {
        let barriers = Barriers::new();
        let one = Subscription::for_test("one", 1, &["A", "B"], "-1", None, None);
        let chs = ["B".to_string()];
        one.hold_channels(&chs);
        let token = barriers.open_channels(&one, &chs);
        assert!(one.receives_cluster_for(Target::Channel("A"), None));
        assert!(!one.receives_cluster_for(Target::Channel("B"), None));
        assert!(!one.receives_cluster_for(Target::UserId("-1"), Some("B")));
        assert!(one.receives_cluster_for(Target::UserId("-1"), Some("A")));
        assert!(one.receives_cluster_for(Target::All, None));
        barriers.passed(token.to_string().as_bytes());
        assert!(one.receives_cluster_for(Target::Channel("B"), None));
        assert!(one.receives_cluster_for(Target::UserId("-1"), Some("B")));
    }

    #[test]
    fn a_lost_connection_releases_held_channels() {
        let barriers = Barriers::new();
        let one = Subscription::for_test("one", 1, &["B"], "-1", None, None);
        let chs = ["B".to_string()];
        one.hold_channels(&chs);
        barriers.open_channels(&one, &chs);
        barriers.fail_all();
        assert!(one.receives_cluster_for(Target::Channel("B"), None));
    }

    #[test]
    fn private_channels_differ_per_node() {
        assert_ne!(Barriers::new().channel(), Barriers::new().channel());
        assert!(Barriers::new().channel().starts_with("sse:barrier:"));
    }
}
