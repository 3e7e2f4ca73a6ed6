//! The subscription registry: the `MemoryServerEvents` equivalent.
//!
//! Indexes (by id, channel, user id, user name and session) live behind one `RwLock`. Notifying
//! takes a snapshot of the recipients under a read lock and then appends to each recipient's
//! own buffer, so a large publish never holds up publishers to other channels. Unsubscriptions
//! discovered while publishing (expired, closed, overflowing or cut streams) are queued and
//! processed after the publish, like ServiceStack's `DoAsyncTasks`.
//!
//! This file holds [`Shared`] and the subscription lifecycle (open, register, pulse, channel
//! updates, lookups, reset, shutdown); `subscription` the per-subscription state, `indexes`
//! the lookup maps, `publish` the notify entry point and frame writes, `housekeeping` the
//! cleanup queue, unsubscription and expiry, `stats` the counters, `events` the public
//! [`ServerEvents`] surface.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};
use std::time::Instant;

use bytes::Bytes;

use crate::auth::AuthStore;
use crate::chat_history::ChatHistory;
use crate::config::ServerConfig;
use crate::faults::Faults;
use crate::frame::{CloseMode, EventStream, StreamCtl};
use crate::hooks::{NewSubscription, StringMap};
use crate::util::{lock, read, string_map_json, unix_ms, write};

mod cluster;
mod events;
mod housekeeping;
mod indexes;
mod publish;
mod stats;
mod subscription;

pub(crate) use cluster::ClusterLink;
pub use events::ServerEvents;
pub(crate) use publish::Target;
pub use stats::ServerStats;
pub use subscription::SubscriptionInfo;
pub(crate) use subscription::{ConnectUrls, DEFAULT_PROFILE_URL, Identity, Subscription};

use housekeeping::{CleanupQueue, Reason};
use indexes::Indexes;
use stats::{Counters, bump};
use subscription::{PROFILE_URL_KEY, SubState};

/// State shared by every handler and by [`ServerEvents`] handles of one server instance.
pub(crate) struct Shared {
    pub(crate) config: ServerConfig,
    pub(crate) faults: Faults,
    /// The sessions: this node's own, or the one store every node of an in-process cluster
    /// shares (standing in for the distributed session cache of a load-balanced deployment).
    pub(crate) auth: Arc<AuthStore>,
    indexes: RwLock<Indexes>,
    cleanup: CleanupQueue<(Arc<Subscription>, Reason)>,
    streams: Mutex<HashMap<u64, Weak<StreamCtl>>>,
    next_serial: AtomicU64,
    anon_seq: AtomicU64,
    chat_seq: AtomicU64,
    sequences: Mutex<HashMap<String, u64>>,
    /// The channel chats kept for `GetChatHistory`.
    pub(crate) chat_history: ChatHistory,
    epoch: Instant,
    last_clean_ms: AtomicU64,
    shutting_down: AtomicBool,
    counters: Counters,
    /// Cancelled when the server shuts down.
    pub(crate) cancel: tokio_util::sync::CancellationToken,
    /// Cancelled (before `cancel`) when the node crashes on purpose (`/test/crash-node`):
    /// connections are cut at once instead of being closed gracefully.
    pub(crate) crashed: tokio_util::sync::CancellationToken,
    /// Cancelled once the accept loop has closed its listening socket.
    pub(crate) listener_closed: tokio_util::sync::CancellationToken,
    /// The other nodes of the in-process cluster this node belongs to, if any.
    cluster_nodes: OnceLock<Arc<crate::cluster::ClusterNodes>>,
    /// The cluster provider's link, when the node shares its subscriptions (Redis).
    cluster: OnceLock<Arc<dyn ClusterLink>>,
}

impl Shared {
    pub(crate) fn new(config: ServerConfig, faults: Faults) -> Arc<Self> {
        Self::with_auth(config, faults, Arc::default())
    }

    /// [`new`](Self::new) with a session store shared with other nodes.
    pub(crate) fn with_auth(
        config: ServerConfig,
        faults: Faults,
        auth: Arc<AuthStore>,
    ) -> Arc<Self> {
        let chat_history = ChatHistory::new(config.chat_history_size);
        Arc::new(Shared {
            config,
            faults,
            auth,
            indexes: RwLock::new(Indexes::default()),
            cleanup: CleanupQueue::default(),
            streams: Mutex::new(HashMap::new()),
            next_serial: AtomicU64::new(0),
            anon_seq: AtomicU64::new(0),
            chat_seq: AtomicU64::new(0),
            sequences: Mutex::new(HashMap::new()),
            chat_history,
            epoch: Instant::now(),
            last_clean_ms: AtomicU64::new(0),
            shutting_down: AtomicBool::new(false),
            counters: Counters::default(),
            cancel: tokio_util::sync::CancellationToken::new(),
            crashed: tokio_util::sync::CancellationToken::new(),
            listener_closed: tokio_util::sync::CancellationToken::new(),
            cluster_nodes: OnceLock::new(),
            cluster: OnceLock::new(),
        })
    }

    /// Joins this node to an in-process cluster (once, before the server accepts requests).
    pub(crate) fn set_cluster_nodes(&self, nodes: Arc<crate::cluster::ClusterNodes>) {
        if self.cluster_nodes.set(nodes).is_err() {
            tracing::warn!("this node already belongs to a cluster; the second is ignored");
        }
    }

    /// The nodes of the in-process cluster this node belongs to.
    pub(crate) fn cluster_nodes(&self) -> Option<&Arc<crate::cluster::ClusterNodes>> {
        self.cluster_nodes.get()
    }

    /// Installs the cluster link (once, before the server accepts requests).
    pub(crate) fn set_cluster(&self, link: Arc<dyn ClusterLink>) {
        if self.cluster.set(link).is_err() {
            tracing::warn!("a cluster link was already installed; the second is ignored");
        }
    }

    pub(super) fn cluster(&self) -> Option<&Arc<dyn ClusterLink>> {
        self.cluster.get()
    }

    /// Every local subscription, in registration order.
    pub(crate) fn local_subscriptions(&self) -> Vec<Arc<Subscription>> {
        self.all_sorted()
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn idle_ms(&self) -> u64 {
        u64::try_from(self.config.idle_timeout.as_millis()).unwrap_or(u64::MAX)
    }

    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }

    /// `GetNextSequence("anonUser")`: bumped for every stream connection.
    pub(crate) fn next_anon(&self) -> u64 {
        self.anon_seq.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// `GetNextSequence(name)`: a named process-wide counter starting at 1. `anonUser` is the
    /// one the stream handler bumps for every connection.
    pub(crate) fn next_sequence(&self, name: &str) -> u64 {
        if name == "anonUser" {
            return self.next_anon();
        }
        let mut seqs = lock(&self.sequences);
        let n = seqs.entry(name.to_string()).or_insert(0);
        *n += 1;
        *n
    }

    /// The process-wide `ChatMessage.Id` sequence.
    pub(crate) fn next_chat_id(&self) -> u64 {
        self.chat_seq.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Counts a stream request; every 1000th one sweeps expired subscriptions first.
    pub(crate) fn on_stream_request(&self) {
        if bump(&self.counters.stream_requests).is_multiple_of(1000) {
            self.remove_expired(false);
        }
    }

    fn next_serial(&self) -> u64 {
        self.next_serial.fetch_add(1, Ordering::Relaxed) + 1
    }

    fn track_stream(&self, ctl: &Arc<StreamCtl>) {
        lock(&self.streams).insert(ctl.serial, Arc::downgrade(ctl));
    }

    /// A stream that never becomes a subscription (the stall fault).
    pub(crate) fn open_stalled_stream(self: &Arc<Self>) -> EventStream {
        let ctl = Arc::new(StreamCtl::new(
            self.next_serial(),
            self.config.subscriber_buffer_bytes,
        ));
        self.track_stream(&ctl);
        if self.is_shutting_down() {
            ctl.close(CloseMode::Graceful);
        }
        EventStream::new(ctl, None, self.clone())
    }

    /// Creates, registers and announces a subscription; returns its response body.
    pub(crate) fn open_subscription(
        self: &Arc<Self>,
        id: String,
        identity: Identity,
        channels: Vec<String>,
        urls: ConnectUrls,
    ) -> (Arc<Subscription>, EventStream) {
        let serial = self.next_serial();
        let ctl = Arc::new(StreamCtl::new(serial, self.config.subscriber_buffer_bytes));
        self.track_stream(&ctl);
        let created_at_ms = unix_ms();
        let meta: StringMap = [
            ("userId", identity.user_id.clone()),
            (
                "isAuthenticated",
                if identity.is_authenticated {
                    "true"
                } else {
                    "false"
                }
                .to_string(),
            ),
            ("displayName", identity.display_name.clone()),
            ("channels", channels.join(",")),
            ("createdAt", created_at_ms.to_string()),
            (
                PROFILE_URL_KEY,
                identity
                    .profile_url
                    .clone()
                    .unwrap_or_else(|| DEFAULT_PROFILE_URL.to_string()),
            ),
        ]
        .into_iter()
        .collect();
        let mut draft = NewSubscription {
            id,
            channels,
            user_id: identity.user_id,
            user_name: identity.user_name,
            display_name: identity.display_name,
            is_authenticated: identity.is_authenticated,
            connect_args: StringMap::default(),
            meta,
            server_args: StringMap::default(),
        };
        if let Some(hook) = &self.config.hooks.on_created {
            hook(&mut draft);
        }
        let mut connect = draft.meta.clone();
        for (k, v) in draft.connect_args.iter() {
            connect.insert(k, v);
        }
        connect.insert("id", draft.id.clone());
        if let Some(u) = urls.unregister {
            connect.insert("unRegisterUrl", u);
        }
        if let Some(u) = urls.heartbeat {
            connect.insert("heartbeatUrl", u);
        }
        if let Some(u) = urls.update_subscriber {
            connect.insert("updateSubscriberUrl", u);
        }
        connect.insert(
            "heartbeatIntervalMs",
            self.config.heartbeat_interval.as_millis().to_string(),
        );
        connect.insert(
            "idleTimeoutMs",
            self.config.idle_timeout.as_millis().to_string(),
        );
        let meta: Vec<(String, String)> = draft
            .meta
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let meta_json = Bytes::from(string_map_json(
            meta.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        ));
        let now = self.now_ms();
        let mut sub = Subscription {
            id: draft.id,
            serial,
            user_id: draft.user_id,
            user_name: draft.user_name,
            display_name: draft.display_name,
            session_id: identity.session_id,
            is_authenticated: draft.is_authenticated,
            user_address: identity.user_address,
            created_at_ms,
            connect_args: connect,
            server_args: draft.server_args,
            created_mono_ms: now,
            last_pulse_ms: AtomicU64::new(now),
            state: Mutex::new(SubState {
                channels: draft.channels,
                meta,
                meta_json,
            }),
            stream: ctl.clone(),
            // With a cluster link, the provider admits it once its barrier has passed.
            receives_cluster: AtomicBool::new(self.cluster().is_none()),
            channels_awaiting_barrier: Mutex::new(Vec::new()),
        };
        if let Some(hook) = &self.config.hooks.on_connect {
            let mut args = std::mem::take(&mut sub.connect_args);
            hook(&sub.info(), &mut args);
            sub.connect_args = args;
        }
        let connect_json = Bytes::from(string_map_json(sub.connect_args.iter()));
        let sub = Arc::new(sub);
        let body = EventStream::new(ctl, Some(sub.clone()), self.clone());
        self.register(&sub, connect_json);
        (sub, body)
    }

    /// `RegisterAsync`: indexes first, then `cmd.onConnect`, then joins (or `"\n"` probes).
    fn register(&self, sub: &Arc<Subscription>, connect_json: Bytes) {
        if self.is_shutting_down() {
            sub.stream.close(CloseMode::Graceful);
            return;
        }
        let channels = sub.channels();
        write(&self.indexes).insert(sub, &channels);
        if let Some(link) = self.cluster() {
            link.registered(sub);
        }
        bump(&self.counters.total_connections);
        self.publish_one(sub, "cmd.onConnect", &connect_json);
        if let Some(hook) = &self.config.hooks.on_subscribe {
            hook(&sub.info());
        }
        if self.config.notify_channel_of_subscriptions {
            let meta = sub.meta_json();
            for ch in &channels {
                self.write_to(Target::Channel(ch), "cmd.onJoin", &meta, None);
            }
        } else {
            for ch in &channels {
                self.flush_nop(ch);
            }
        }
        self.process_pending();
    }

    pub(crate) fn get(&self, id: &str) -> Option<Arc<Subscription>> {
        read(&self.indexes).subs.get(id).cloned()
    }

    /// `PulseAsync` plus the `cmd.onHeartbeat` notification. Returns the subscription and the
    /// byte total to wait for, or `None` when it does not exist.
    pub(crate) fn pulse(&self, id: &str) -> Option<(Arc<Subscription>, Option<u64>)> {
        let sub = self.get(id)?;
        sub.last_pulse_ms.store(self.now_ms(), Ordering::Relaxed);
        bump(&self.counters.heartbeats);
        let target = self.publish_one(&sub, "cmd.onHeartbeat", &sub.meta_json());
        self.process_pending();
        Some((sub, target))
    }

    /// Drops a subscription whose registration failed (its record could not be stored): its
    /// stream ends and its channels hear the leave.
    pub(crate) fn forget(&self, sub: &Arc<Subscription>) {
        self.unsubscribe(sub, CloseMode::Abort);
        self.process_pending();
    }

    /// `UnRegisterAsync` for a known subscription.
    pub(crate) fn unregister_sub(&self, sub: &Arc<Subscription>) -> bool {
        let removed = self.unsubscribe(sub, CloseMode::Graceful);
        self.process_pending();
        removed
    }

    /// `UnsubscribeFromChannels` then notifications. False if not registered.
    pub(crate) fn unsubscribe_from_channels(
        &self,
        sub: &Arc<Subscription>,
        channels: &[String],
    ) -> bool {
        if channels.is_empty() {
            return read(&self.indexes).is_registered(sub);
        }
        let merged;
        {
            let mut idx = write(&self.indexes);
            if !idx.is_registered(sub) {
                return false;
            }
            let mut st = lock(&sub.state);
            for ch in channels {
                if st.channels.contains(ch) {
                    Indexes::remove(&mut idx.channels, ch, sub.serial);
                }
            }
            let old = st.channels.clone();
            let new: Vec<String> = old
                .iter()
                .filter(|c| !channels.contains(c))
                .cloned()
                .collect();
            merged = merge_channels(&old, &new);
            st.set_channels(new);
        }
        self.notify_update(sub, &merged);
        true
    }

    /// `SubscribeToChannels` then notifications. False if not registered.
    ///
    /// With a cluster link, topic notifications for the added channels are held until the
    /// provider's barrier passes, so the subscription gets only those published after it
    /// joined them.
    pub(crate) fn subscribe_to_channels(
        &self,
        sub: &Arc<Subscription>,
        channels: &[String],
    ) -> bool {
        self.add_channels(sub, channels, true)
    }

    /// [`subscribe_to_channels`](Self::subscribe_to_channels) for a change read from the
    /// cluster topic: it is already in order with the topic's notifications, so nothing is held.
    pub(crate) fn subscribe_to_channels_from_topic(
        &self,
        sub: &Arc<Subscription>,
        channels: &[String],
    ) -> bool {
        self.add_channels(sub, channels, false)
    }

    fn add_channels(&self, sub: &Arc<Subscription>, channels: &[String], hold: bool) -> bool {
        if channels.is_empty() {
            return read(&self.indexes).is_registered(sub);
        }
        let merged;
        let added;
        {
            let mut idx = write(&self.indexes);
            if !idx.is_registered(sub) {
                return false;
            }
            let mut st = lock(&sub.state);
            let old = st.channels.clone();
            let mut new = old.clone();
            for ch in channels {
                if !new.contains(ch) {
                    new.push(ch.clone());
                }
            }
            added = new[old.len()..].to_vec();
            if hold && !added.is_empty() && self.cluster().is_some() {
                // Held before the index makes it a recipient: the listener reads the index.
                sub.hold_channels(&added);
            }
            for ch in &added {
                Indexes::add(&mut idx.channels, ch, sub);
            }
            merged = merge_channels(&old, &new);
            st.set_channels(new);
        }
        if hold
            && !added.is_empty()
            && let Some(link) = self.cluster()
        {
            // Before the change's own notifications, so they still reach it.
            link.channels_added(sub, &added);
        }
        self.notify_update(sub, &merged);
        true
    }

    fn notify_update(&self, sub: &Arc<Subscription>, merged: &[String]) {
        if let Some(link) = self.cluster() {
            link.changed(sub);
        }
        if let Some(hook) = &self.config.hooks.on_update {
            hook(&sub.info());
        }
        if self.config.notify_channel_of_subscriptions {
            let meta = sub.meta_json();
            for ch in merged {
                self.write_to(Target::Channel(ch), "cmd.onUpdate", &meta, None);
            }
        }
        self.process_pending();
    }

    /// Meta maps of the members of `channels`, in channel order, de-duplicated by id; every
    /// subscription when `channels` is empty. Each item is a serialised JSON object.
    pub(crate) fn details_json(&self, channels: &[String]) -> Vec<Bytes> {
        let subs: Vec<Arc<Subscription>> = {
            let idx = read(&self.indexes);
            if channels.is_empty() {
                let mut all: Vec<_> = idx.subs.values().cloned().collect();
                all.sort_by_key(|s| s.serial);
                all
            } else {
                let mut seen = HashSet::new();
                let mut out = Vec::new();
                for ch in channels {
                    for sub in Indexes::members(&idx.channels, ch) {
                        if seen.insert(sub.id.clone()) {
                            out.push(sub);
                        }
                    }
                }
                out
            }
        };
        subs.iter().map(|s| s.meta_json()).collect()
    }

    fn all_sorted(&self) -> Vec<Arc<Subscription>> {
        let mut all: Vec<_> = read(&self.indexes).subs.values().cloned().collect();
        all.sort_by_key(|s| s.serial);
        all
    }

    /// This node's subscriptions of one user id.
    pub(crate) fn local_by_user_id(&self, user_id: &str) -> Vec<Arc<Subscription>> {
        Indexes::members(&read(&self.indexes).user_ids, user_id)
    }

    pub(crate) fn infos_by_user_id(&self, user_id: &str) -> Vec<SubscriptionInfo> {
        Indexes::members(&read(&self.indexes).user_ids, user_id)
            .iter()
            .map(|s| s.info())
            .collect()
    }

    /// Forgets every subscription (notifying nobody); a cluster provider drops their records.
    pub(crate) fn reset(&self) {
        let forgotten = std::mem::take(&mut *write(&self.indexes));
        if let Some(link) = self.cluster() {
            let mut subs: Vec<_> = forgotten.subs.into_values().collect();
            subs.sort_by_key(|s| s.serial);
            for sub in &subs {
                link.removed(sub);
            }
        }
        self.chat_history.clear();
        self.cleanup.clear();
    }

    pub(crate) fn disconnect_all(&self) {
        for sub in self.all_sorted() {
            if self.unsubscribe(&sub, CloseMode::Abort) {
                bump(&self.counters.broken_connections);
            }
        }
        for ctl in self.live_streams() {
            ctl.close(CloseMode::Abort);
        }
        self.process_pending();
    }

    fn live_streams(&self) -> Vec<Arc<StreamCtl>> {
        lock(&self.streams)
            .values()
            .filter_map(Weak::upgrade)
            .collect()
    }

    /// `Stop()`: ends every stream and forgets every subscription, notifying nobody.
    pub(crate) fn shutdown_streams(&self) {
        self.shutting_down.store(true, Ordering::Release);
        for ctl in self.live_streams() {
            ctl.close(CloseMode::Graceful);
        }
        self.reset();
    }
}

/// `MergedChannels`: the old channels, then the new ones not already present.
fn merge_channels(old: &[String], new: &[String]) -> Vec<String> {
    let mut seen = HashSet::new();
    old.iter()
        .chain(new.iter())
        .filter(|c| seen.insert(c.as_str()))
        .cloned()
        .collect()
}
