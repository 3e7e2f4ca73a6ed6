//! The subscription registry: the `MemoryServerEvents` equivalent.
//!
//! Indexes (by id, channel, user id, user name and session) live behind one `RwLock`. Notifying
//! takes a snapshot of the recipients under a read lock and then appends to each recipient's
//! own buffer, so a large publish never holds up publishers to other channels. Unsubscriptions
//! discovered while publishing (expired, closed, overflowing or cut streams) are queued and
//! processed after the publish, like ServiceStack's `DoAsyncTasks`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::Serialize;

use crate::auth::AuthStore;
use crate::chat_history::ChatHistory;
use crate::config::ServerConfig;
use crate::error::{ServerError, check_channel, check_selector};
use crate::faults::Faults;
use crate::frame::{CloseMode, EventStream, PushOutcome, StreamCtl};
use crate::hooks::{NewSubscription, StringMap};
use crate::util::{lock, read, short_type_name, string_map_json, unix_ms, write};

/// How long a dropped connection stays subscribed before it is unsubscribed (with `onLeave`),
/// so that an unregister racing the close (the TS client closes first) still finds it.
const DISCONNECT_GRACE: Duration = Duration::from_millis(100);

/// The `Meta` key holding the profile URL.
const PROFILE_URL_KEY: &str = "profileUrl";

/// A generic grey user silhouette, in the spirit of `JwtClaimTypes.DefaultProfileUrl`.
pub(crate) const DEFAULT_PROFILE_URL: &str = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 32 32'%3E%3Cstyle%3E.a%7Bfill:none;stroke:%23888;stroke-width:2%7D%3C/style%3E%3Ccircle cx='16' cy='16' r='15' fill='%23e6e6e6'/%3E%3Ccircle class='a' cx='16' cy='12' r='5'/%3E%3Cpath class='a' d='M6.5 26c1.5-5 5.3-7.5 9.5-7.5s8 2.5 9.5 7.5'/%3E%3C/svg%3E";

/// A read-only snapshot of one subscription (`SubscriptionInfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SubscriptionInfo {
    /// The subscription id (20 characters, `[A-Za-z0-9]`).
    pub id: String,
    /// The channels, in subscription order.
    pub channels: Vec<String>,
    /// `-N` for sessions without a `UserAuthId` (every session of this host).
    pub user_id: String,
    /// The session's user name, when it has one.
    pub user_name: Option<String>,
    /// `userN`, or the session's safe display name.
    pub display_name: String,
    /// The `ss-id`/`ss-pid` session id the stream presented, if any.
    pub session_id: Option<String>,
    /// Whether the stream's session was authenticated.
    pub is_authenticated: bool,
    /// The remote IP of the stream request.
    pub user_address: Option<IpAddr>,
    /// Creation time, Unix epoch milliseconds.
    pub created_at_ms: u64,
    /// The id of the last frame written to this subscription.
    pub last_event_id: u64,
    /// The `Meta` map (userId, isAuthenticated, displayName, channels, createdAt, profileUrl,
    /// plus whatever `OnCreated` added).
    pub meta: BTreeMap<String, String>,
    /// The `cmd.onConnect` arguments as sent (after `OnConnect`).
    pub connect_args: BTreeMap<String, String>,
    /// `ServerArgs`: filled by `OnCreated`, never sent.
    pub server_args: BTreeMap<String, String>,
    /// The last heartbeat (or the creation), Unix epoch milliseconds.
    pub last_pulse_at_ms: u64,
    /// True once its stream stopped accepting frames (closing or closed).
    pub is_closed: bool,
}

/// Counters, like `MemoryServerEvents.GetStats()` plus a few for tests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ServerStats {
    /// Subscriptions registered since start.
    pub total_connections: u64,
    /// Subscriptions removed since start (unregister, expiry, broken writes, slow readers).
    pub total_unsubscriptions: u64,
    /// Frames written (every `id:` frame, to every recipient).
    pub notifications_sent: u64,
    /// Successful heartbeats (pulses).
    pub heartbeats: u64,
    /// Requests on the stream route, including failed and stalled ones.
    pub stream_requests: u64,
    /// Subscriptions currently registered.
    pub subscription_count: usize,
    /// Event-stream responses currently open (including stalled and forgotten ones).
    pub open_streams: usize,
    /// Subscriptions dropped because their reader fell more than `subscriber_buffer_bytes` behind.
    pub slow_consumers_dropped: u64,
    /// Subscriptions dropped because their connection was gone or a write was cut.
    pub broken_connections: u64,
    /// Subscriptions expired for missing heartbeats.
    pub expired_subscriptions: u64,
}

#[derive(Default)]
struct Counters {
    total_connections: AtomicU64,
    total_unsubscriptions: AtomicU64,
    notifications_sent: AtomicU64,
    heartbeats: AtomicU64,
    stream_requests: AtomicU64,
    slow_consumers_dropped: AtomicU64,
    broken_connections: AtomicU64,
    expired_subscriptions: AtomicU64,
}

fn bump(c: &AtomicU64) -> u64 {
    c.fetch_add(1, Ordering::Relaxed) + 1
}

struct SubState {
    channels: Vec<String>,
    meta: Vec<(String, String)>,
    meta_json: Bytes,
}

impl SubState {
    fn set_channels(&mut self, channels: Vec<String>) {
        let joined = channels.join(",");
        for (k, v) in &mut self.meta {
            if k == "channels" {
                *v = joined.clone();
            }
        }
        self.channels = channels;
        self.meta_json = Bytes::from(string_map_json(
            self.meta.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        ));
    }
}

/// One registered (or forgotten) subscription.
pub(crate) struct Subscription {
    pub(crate) id: String,
    pub(crate) serial: u64,
    pub(crate) user_id: String,
    pub(crate) user_name: Option<String>,
    pub(crate) display_name: String,
    pub(crate) session_id: Option<String>,
    pub(crate) is_authenticated: bool,
    pub(crate) user_address: Option<IpAddr>,
    pub(crate) created_at_ms: u64,
    connect_args: StringMap,
    server_args: StringMap,
    /// `last_pulse_ms` at creation, to turn it into wall-clock time.
    created_mono_ms: u64,
    last_pulse_ms: AtomicU64,
    state: Mutex<SubState>,
    pub(crate) stream: Arc<StreamCtl>,
}

impl Subscription {
    pub(crate) fn channels(&self) -> Vec<String> {
        lock(&self.state).channels.clone()
    }

    pub(crate) fn meta_json(&self) -> Bytes {
        lock(&self.state).meta_json.clone()
    }

    fn has_channel(&self, filter: Option<&str>) -> bool {
        match filter {
            None => true,
            Some(ch) => lock(&self.state).channels.iter().any(|c| c == ch),
        }
    }

    pub(crate) fn info(&self) -> SubscriptionInfo {
        let last_pulse_at_ms = self.created_at_ms.saturating_add(
            self.last_pulse_ms
                .load(Ordering::Relaxed)
                .saturating_sub(self.created_mono_ms),
        );
        let st = lock(&self.state);
        SubscriptionInfo {
            id: self.id.clone(),
            channels: st.channels.clone(),
            user_id: self.user_id.clone(),
            user_name: self.user_name.clone(),
            display_name: self.display_name.clone(),
            session_id: self.session_id.clone(),
            is_authenticated: self.is_authenticated,
            user_address: self.user_address,
            created_at_ms: self.created_at_ms,
            last_event_id: self.stream.last_event_id(),
            meta: st.meta.iter().cloned().collect(),
            connect_args: self
                .connect_args
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            server_args: self
                .server_args
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            last_pulse_at_ms,
            is_closed: self.stream.is_closed(),
        }
    }
}

/// Who a new subscription belongs to.
pub(crate) struct Identity {
    pub(crate) user_id: String,
    pub(crate) user_name: Option<String>,
    pub(crate) display_name: String,
    pub(crate) session_id: Option<String>,
    pub(crate) is_authenticated: bool,
    pub(crate) user_address: Option<IpAddr>,
    pub(crate) profile_url: Option<String>,
}

/// The absolute URLs advertised in `cmd.onConnect`.
pub(crate) struct ConnectUrls {
    pub(crate) unregister: Option<String>,
    pub(crate) heartbeat: Option<String>,
    pub(crate) update_subscriber: Option<String>,
}

type Members = BTreeMap<u64, Arc<Subscription>>;

#[derive(Default)]
struct Indexes {
    subs: HashMap<String, Arc<Subscription>>,
    channels: HashMap<String, Members>,
    user_ids: HashMap<String, Members>,
    user_names: HashMap<String, Members>,
    sessions: HashMap<String, Members>,
}

impl Indexes {
    fn is_registered(&self, sub: &Arc<Subscription>) -> bool {
        matches!(self.subs.get(&sub.id), Some(s) if Arc::ptr_eq(s, sub))
    }

    fn add(map: &mut HashMap<String, Members>, key: &str, sub: &Arc<Subscription>) {
        map.entry(key.to_string())
            .or_default()
            .insert(sub.serial, sub.clone());
    }

    fn remove(map: &mut HashMap<String, Members>, key: &str, serial: u64) {
        if let Some(members) = map.get_mut(key) {
            members.remove(&serial);
            if members.is_empty() {
                map.remove(key);
            }
        }
    }

    fn members(map: &HashMap<String, Members>, key: &str) -> Vec<Arc<Subscription>> {
        map.get(key)
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }
}

/// State shared by every handler and by [`ServerEvents`] handles of one server instance.
pub(crate) struct Shared {
    pub(crate) config: ServerConfig,
    pub(crate) faults: Faults,
    pub(crate) auth: AuthStore,
    indexes: RwLock<Indexes>,
    pending: Mutex<Vec<(Arc<Subscription>, Reason)>>,
    draining: AtomicBool,
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
}

impl Shared {
    pub(crate) fn new(config: ServerConfig, faults: Faults) -> Arc<Self> {
        let chat_history = ChatHistory::new(config.chat_history_size);
        Arc::new(Shared {
            config,
            faults,
            auth: AuthStore::default(),
            indexes: RwLock::new(Indexes::default()),
            pending: Mutex::new(Vec::new()),
            draining: AtomicBool::new(false),
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
        })
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
        {
            let mut idx = write(&self.indexes);
            for ch in &channels {
                Indexes::add(&mut idx.channels, ch, sub);
            }
            idx.subs.insert(sub.id.clone(), sub.clone());
            Indexes::add(&mut idx.user_ids, &sub.user_id, sub);
            if let Some(name) = &sub.user_name {
                Indexes::add(&mut idx.user_names, name, sub);
            }
            if let Some(session) = &sub.session_id {
                Indexes::add(&mut idx.sessions, session, sub);
            }
        }
        bump(&self.counters.total_connections);
        self.publish_one(sub, "cmd.onConnect", &connect_json);
        if let Some(hook) = &self.config.hooks.on_subscribe {
            hook(&sub.info());
        }
        if self.config.notify_channel_of_subscriptions {
            let meta = sub.meta_json();
            for ch in &channels {
                self.notify_channel_internal(ch, "cmd.onJoin", &meta);
            }
        } else {
            for ch in &channels {
                self.flush_nop(ch);
            }
        }
        self.process_pending();
    }

    /// `FlushNopAsync`: a bare `"\n"` to every member of the channel.
    fn flush_nop(&self, channel: &str) {
        let members = Indexes::members(&read(&self.indexes).channels, channel);
        let now = self.now_ms();
        for sub in members {
            if self.is_expired(&sub, now) {
                self.queue_unsubscribe(sub.clone(), Reason::Expired);
            }
            self.handle_outcome(&sub, sub.stream.push_raw(Bytes::from_static(b"\n")));
        }
    }

    fn is_expired(&self, sub: &Subscription, now: u64) -> bool {
        now.saturating_sub(sub.last_pulse_ms.load(Ordering::Relaxed)) > self.idle_ms()
    }

    fn queue_unsubscribe(&self, sub: Arc<Subscription>, reason: Reason) {
        lock(&self.pending).push((sub, reason));
    }

    fn handle_outcome(&self, sub: &Arc<Subscription>, outcome: PushOutcome) -> Option<u64> {
        match outcome {
            PushOutcome::Queued(total) => Some(total),
            PushOutcome::Closed => {
                self.queue_unsubscribe(sub.clone(), Reason::Broken);
                None
            }
            PushOutcome::Overflow => {
                self.queue_unsubscribe(sub.clone(), Reason::SlowConsumer);
                None
            }
            PushOutcome::Cut => {
                bump(&self.counters.notifications_sent);
                self.queue_unsubscribe(sub.clone(), Reason::Broken);
                None
            }
        }
    }

    /// Writes one frame to one subscription, expiring it instead when it is idle or closed.
    /// Returns the stream's enqueued byte total when the frame was queued.
    fn publish_one(&self, sub: &Arc<Subscription>, selector: &str, body: &Bytes) -> Option<u64> {
        if self.is_expired(sub, self.now_ms()) {
            self.queue_unsubscribe(sub.clone(), Reason::Expired);
            return None;
        }
        let outcome = sub.stream.push_frame(
            selector,
            body,
            self.config.newlines_before_frame,
            &self.faults,
        );
        if matches!(outcome, PushOutcome::Queued(_)) {
            bump(&self.counters.notifications_sent);
            if let Some(hook) = &self.config.hooks.on_publish {
                hook(&sub.id, selector, body);
            }
        }
        self.handle_outcome(sub, outcome)
    }

    fn publish_to(&self, subs: &[Arc<Subscription>], selector: &str, body: &Bytes) {
        for sub in subs {
            self.publish_one(sub, selector, body);
        }
    }

    fn notify_channel_internal(&self, channel: &str, selector: &str, body: &Bytes) {
        let members = Indexes::members(&read(&self.indexes).channels, channel);
        if members.is_empty() {
            return;
        }
        let selector = format!("{channel}@{selector}");
        self.publish_to(&members, &selector, body);
    }

    /// Removes a subscription from every index, closes its stream and sends `cmd.onLeave` to
    /// the remaining members of its channels. Returns false if it was not registered.
    fn unsubscribe(&self, sub: &Arc<Subscription>, mode: CloseMode) -> bool {
        let channels;
        {
            let mut idx = write(&self.indexes);
            if !idx.is_registered(sub) {
                return false;
            }
            idx.subs.remove(&sub.id);
            channels = sub.channels();
            for ch in &channels {
                Indexes::remove(&mut idx.channels, ch, sub.serial);
            }
            Indexes::remove(&mut idx.user_ids, &sub.user_id, sub.serial);
            if let Some(name) = &sub.user_name {
                Indexes::remove(&mut idx.user_names, name, sub.serial);
            }
            if let Some(session) = &sub.session_id {
                Indexes::remove(&mut idx.sessions, session, sub.serial);
            }
        }
        bump(&self.counters.total_unsubscriptions);
        if let Some(hook) = &self.config.hooks.on_unsubscribe {
            hook(&sub.info());
        }
        sub.stream.close(mode);
        if self.config.notify_channel_of_subscriptions && !self.is_shutting_down() {
            let meta = sub.meta_json();
            for ch in &channels {
                self.notify_channel_internal(ch, "cmd.onLeave", &meta);
            }
        }
        true
    }

    /// Processes queued unsubscriptions until none are left.
    fn process_pending(&self) {
        loop {
            if self
                .draining
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
            {
                // Another caller is draining and will pick up what we queued.
                return;
            }
            loop {
                let batch = std::mem::take(&mut *lock(&self.pending));
                if batch.is_empty() {
                    break;
                }
                for (sub, reason) in batch {
                    let mode = match reason {
                        Reason::Expired => CloseMode::Graceful,
                        Reason::Broken | Reason::SlowConsumer => CloseMode::Abort,
                    };
                    if self.unsubscribe(&sub, mode) {
                        bump(match reason {
                            Reason::Expired => &self.counters.expired_subscriptions,
                            Reason::Broken => &self.counters.broken_connections,
                            Reason::SlowConsumer => &self.counters.slow_consumers_dropped,
                        });
                    }
                }
            }
            self.draining.store(false, Ordering::Release);
            if lock(&self.pending).is_empty() {
                return;
            }
        }
    }

    /// Called when an event-stream body is dropped (connection gone or response finished).
    pub(crate) fn stream_gone(self: &Arc<Self>, serial: u64, sub: Option<Arc<Subscription>>) {
        lock(&self.streams).remove(&serial);
        let Some(sub) = sub else { return };
        if self.is_shutting_down() || !read(&self.indexes).is_registered(&sub) {
            return;
        }
        let shared = self.clone();
        let finish = move || {
            if shared.unsubscribe(&sub, CloseMode::Abort) {
                bump(&shared.counters.broken_connections);
            }
            shared.process_pending();
        };
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(async move {
                    tokio::time::sleep(DISCONNECT_GRACE).await;
                    finish();
                });
            }
            Err(_) => finish(),
        }
    }

    pub(crate) fn get(&self, id: &str) -> Option<Arc<Subscription>> {
        read(&self.indexes).subs.get(id).cloned()
    }

    /// `RemoveExpiredSubscriptions`; `throttled` applies the housekeeping interval.
    pub(crate) fn remove_expired(&self, throttled: bool) -> usize {
        let now = self.now_ms();
        if throttled {
            let interval =
                u64::try_from(self.config.housekeeping_interval.as_millis()).unwrap_or(u64::MAX);
            let last = self.last_clean_ms.load(Ordering::Acquire);
            if now.saturating_sub(last) <= interval
                || self
                    .last_clean_ms
                    .compare_exchange(last, now, Ordering::AcqRel, Ordering::Acquire)
                    .is_err()
            {
                self.process_pending();
                return 0;
            }
        } else {
            self.last_clean_ms.store(now, Ordering::Release);
        }
        let expired: Vec<Arc<Subscription>> = read(&self.indexes)
            .subs
            .values()
            .filter(|s| self.is_expired(s, now))
            .cloned()
            .collect();
        let count = expired.len();
        for sub in expired {
            self.queue_unsubscribe(sub, Reason::Expired);
        }
        self.process_pending();
        count
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
    pub(crate) fn subscribe_to_channels(
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
            let old = st.channels.clone();
            let mut new = old.clone();
            for ch in channels {
                if new.contains(ch) {
                    continue;
                }
                new.push(ch.clone());
                Indexes::add(&mut idx.channels, ch, sub);
            }
            merged = merge_channels(&old, &new);
            st.set_channels(new);
        }
        self.notify_update(sub, &merged);
        true
    }

    fn notify_update(&self, sub: &Arc<Subscription>, merged: &[String]) {
        if let Some(hook) = &self.config.hooks.on_update {
            hook(&sub.info());
        }
        if self.config.notify_channel_of_subscriptions {
            let meta = sub.meta_json();
            for ch in merged {
                self.notify_channel_internal(ch, "cmd.onUpdate", &meta);
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

    fn recipients(&self, target: Target<'_>, filter: Option<&str>) -> Vec<Arc<Subscription>> {
        let subs = match target {
            Target::All => self.all_sorted(),
            Target::Subscription(id) => self.get(id).into_iter().collect(),
            Target::UserId(k) => Indexes::members(&read(&self.indexes).user_ids, k),
            Target::UserName(k) => Indexes::members(&read(&self.indexes).user_names, k),
            Target::Session(k) => Indexes::members(&read(&self.indexes).sessions, k),
        };
        if filter.is_none() {
            return subs;
        }
        subs.into_iter().filter(|s| s.has_channel(filter)).collect()
    }

    pub(crate) fn notify(
        &self,
        target: Target<'_>,
        selector: &str,
        body: &Bytes,
        filter: Option<&str>,
    ) {
        let subs = self.recipients(target, filter);
        self.publish_to(&subs, selector, body);
        self.process_pending();
    }

    pub(crate) fn notify_channel(&self, channel: &str, selector: &str, body: &Bytes) {
        self.notify_channel_internal(channel, selector, body);
        self.process_pending();
    }

    pub(crate) fn infos_by_user_id(&self, user_id: &str) -> Vec<SubscriptionInfo> {
        Indexes::members(&read(&self.indexes).user_ids, user_id)
            .iter()
            .map(|s| s.info())
            .collect()
    }

    pub(crate) fn publish_raw(&self, id: &str, bytes: &[u8]) -> bool {
        let Some(sub) = self.get(id) else {
            return false;
        };
        let ok = self
            .handle_outcome(&sub, sub.stream.push_raw(Bytes::copy_from_slice(bytes)))
            .is_some();
        self.process_pending();
        ok
    }

    pub(crate) fn reset(&self) {
        *write(&self.indexes) = Indexes::default();
        self.chat_history.clear();
        lock(&self.pending).clear();
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

    pub(crate) fn stats(&self) -> ServerStats {
        let c = &self.counters;
        ServerStats {
            total_connections: c.total_connections.load(Ordering::Relaxed),
            total_unsubscriptions: c.total_unsubscriptions.load(Ordering::Relaxed),
            notifications_sent: c.notifications_sent.load(Ordering::Relaxed),
            heartbeats: c.heartbeats.load(Ordering::Relaxed),
            stream_requests: c.stream_requests.load(Ordering::Relaxed),
            subscription_count: read(&self.indexes).subs.len(),
            open_streams: lock(&self.streams).len(),
            slow_consumers_dropped: c.slow_consumers_dropped.load(Ordering::Relaxed),
            broken_connections: c.broken_connections.load(Ordering::Relaxed),
            expired_subscriptions: c.expired_subscriptions.load(Ordering::Relaxed),
        }
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

/// Why a subscription is being dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reason {
    /// Idle for longer than the idle timeout: the stream is ended cleanly.
    Expired,
    /// Its connection is gone or a write was cut: the connection is aborted.
    Broken,
    /// It fell more than `subscriber_buffer_bytes` behind: the connection is aborted.
    SlowConsumer,
}

/// Recipients of a notification without a channel prefix.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target<'a> {
    All,
    Subscription(&'a str),
    UserId(&'a str),
    UserName(&'a str),
    Session(&'a str),
}

/// The `MemoryServerEvents` equivalent of one server: publish to subscriptions and inspect them.
///
/// Cheap to clone; every clone talks to the same registry.
#[derive(Clone)]
pub struct ServerEvents {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for ServerEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerEvents")
            .field("subscriptions", &self.subscription_count())
            .finish()
    }
}

/// Serialises a message like ServiceStack's typed notify APIs: JSON, with `null` as empty body.
fn body_of<T: Serialize + ?Sized>(message: &T) -> Result<Bytes, ServerError> {
    let json = serde_json::to_string(message).map_err(|e| ServerError::Serialize(e.to_string()))?;
    Ok(if json == "null" {
        Bytes::new()
    } else {
        Bytes::from(json)
    })
}

fn typed_selector<T: ?Sized>() -> String {
    format!("cmd.{}", short_type_name(std::any::type_name::<T>()))
}

impl ServerEvents {
    fn send<T: Serialize + ?Sized>(
        &self,
        target: Target<'_>,
        selector: &str,
        message: &T,
        filter: Option<&str>,
    ) {
        match body_of(message) {
            Ok(body) => self.shared.notify(target, selector, &body, filter),
            Err(e) => tracing::warn!("notify {selector}: {e}"),
        }
    }

    fn send_channel(
        &self,
        channel: &str,
        selector: &str,
        body: Result<Bytes, ServerError>,
    ) -> Result<(), ServerError> {
        check_channel(channel)?;
        check_selector(selector)?;
        let body = body?;
        self.shared.notify_channel(channel, selector, &body);
        Ok(())
    }

    /// `NotifyAll`: every subscription, no channel prefix.
    pub fn notify_all<T: Serialize + ?Sized>(&self, selector: &str, message: &T) {
        self.send(Target::All, selector, message, None);
    }

    /// `NotifyChannel`: the members of `channel`, selector written as `channel@selector`.
    /// `@` in the channel or selector is rejected, as ServiceStack does.
    pub fn notify_channel<T: Serialize + ?Sized>(
        &self,
        channel: &str,
        selector: &str,
        message: &T,
    ) -> Result<(), ServerError> {
        self.send_channel(channel, selector, body_of(message))
    }

    /// `NotifySubscription`: one subscription (optionally only if it is in `channel_filter`).
    pub fn notify_subscription<T: Serialize + ?Sized>(
        &self,
        subscription_id: &str,
        selector: &str,
        message: &T,
        channel_filter: Option<&str>,
    ) {
        self.send(
            Target::Subscription(subscription_id),
            selector,
            message,
            channel_filter,
        );
    }

    /// `NotifyUserId`: every subscription of that user id.
    pub fn notify_user_id<T: Serialize + ?Sized>(
        &self,
        user_id: &str,
        selector: &str,
        message: &T,
        channel_filter: Option<&str>,
    ) {
        self.send(Target::UserId(user_id), selector, message, channel_filter);
    }

    /// `NotifyUserName`: every subscription of that user name.
    pub fn notify_user_name<T: Serialize + ?Sized>(
        &self,
        user_name: &str,
        selector: &str,
        message: &T,
        channel_filter: Option<&str>,
    ) {
        self.send(
            Target::UserName(user_name),
            selector,
            message,
            channel_filter,
        );
    }

    /// `NotifySession`: every subscription of that session id.
    pub fn notify_session<T: Serialize + ?Sized>(
        &self,
        session_id: &str,
        selector: &str,
        message: &T,
        channel_filter: Option<&str>,
    ) {
        self.send(
            Target::Session(session_id),
            selector,
            message,
            channel_filter,
        );
    }

    /// `NotifyAllJson`: the body is written verbatim.
    pub fn notify_all_json(&self, selector: &str, json: &str) {
        let body = Bytes::copy_from_slice(json.as_bytes());
        self.shared.notify(Target::All, selector, &body, None);
    }

    /// `NotifyChannelJson`: the body is written verbatim.
    pub fn notify_channel_json(
        &self,
        channel: &str,
        selector: &str,
        json: &str,
    ) -> Result<(), ServerError> {
        self.send_channel(
            channel,
            selector,
            Ok(Bytes::copy_from_slice(json.as_bytes())),
        )
    }

    /// `NotifySubscriptionJson`: the body is written verbatim.
    pub fn notify_subscription_json(
        &self,
        subscription_id: &str,
        selector: &str,
        json: &str,
        channel_filter: Option<&str>,
    ) {
        let body = Bytes::copy_from_slice(json.as_bytes());
        self.shared.notify(
            Target::Subscription(subscription_id),
            selector,
            &body,
            channel_filter,
        );
    }

    /// `NotifyUserIdJson`: the body is written verbatim.
    pub fn notify_user_id_json(
        &self,
        user_id: &str,
        selector: &str,
        json: &str,
        channel_filter: Option<&str>,
    ) {
        let body = Bytes::copy_from_slice(json.as_bytes());
        self.shared
            .notify(Target::UserId(user_id), selector, &body, channel_filter);
    }

    /// `NotifyUserNameJson`: the body is written verbatim.
    pub fn notify_user_name_json(
        &self,
        user_name: &str,
        selector: &str,
        json: &str,
        channel_filter: Option<&str>,
    ) {
        let body = Bytes::copy_from_slice(json.as_bytes());
        self.shared
            .notify(Target::UserName(user_name), selector, &body, channel_filter);
    }

    /// `NotifySessionJson`: the body is written verbatim.
    pub fn notify_session_json(
        &self,
        session_id: &str,
        selector: &str,
        json: &str,
        channel_filter: Option<&str>,
    ) {
        let body = Bytes::copy_from_slice(json.as_bytes());
        self.shared
            .notify(Target::Session(session_id), selector, &body, channel_filter);
    }

    /// `NotifyAll` with the default selector `cmd.<TypeName>` (e.g. `cmd.CustomType`).
    pub fn notify_all_typed<T: Serialize + ?Sized>(&self, message: &T) {
        self.notify_all(&typed_selector::<T>(), message);
    }

    /// `NotifyChannel` with the default selector `cmd.<TypeName>`.
    pub fn notify_channel_typed<T: Serialize + ?Sized>(
        &self,
        channel: &str,
        message: &T,
    ) -> Result<(), ServerError> {
        self.notify_channel(channel, &typed_selector::<T>(), message)
    }

    /// `NotifySubscription` with the default selector `cmd.<TypeName>`.
    pub fn notify_subscription_typed<T: Serialize + ?Sized>(
        &self,
        subscription_id: &str,
        message: &T,
        channel_filter: Option<&str>,
    ) {
        self.notify_subscription(
            subscription_id,
            &typed_selector::<T>(),
            message,
            channel_filter,
        );
    }

    /// `NotifyUserId` with the default selector `cmd.<TypeName>`.
    pub fn notify_user_id_typed<T: Serialize + ?Sized>(
        &self,
        user_id: &str,
        message: &T,
        channel_filter: Option<&str>,
    ) {
        self.notify_user_id(user_id, &typed_selector::<T>(), message, channel_filter);
    }

    /// `NotifyUserName` with the default selector `cmd.<TypeName>`.
    pub fn notify_user_name_typed<T: Serialize + ?Sized>(
        &self,
        user_name: &str,
        message: &T,
        channel_filter: Option<&str>,
    ) {
        self.notify_user_name(user_name, &typed_selector::<T>(), message, channel_filter);
    }

    /// `NotifySession` with the default selector `cmd.<TypeName>`.
    pub fn notify_session_typed<T: Serialize + ?Sized>(
        &self,
        session_id: &str,
        message: &T,
        channel_filter: Option<&str>,
    ) {
        self.notify_session(session_id, &typed_selector::<T>(), message, channel_filter);
    }

    /// `PublishRaw`: writes `bytes` to that subscription's stream as they are (no id, no
    /// framing). Returns false when the subscription does not exist or the stream is closed.
    pub fn publish_raw(&self, subscription_id: &str, bytes: &[u8]) -> bool {
        self.shared.publish_raw(subscription_id, bytes)
    }

    /// `Reset()`: forgets every subscription without closing or notifying anyone. The streams
    /// stay open and silent; their next heartbeat gets 404.
    pub fn reset(&self) {
        self.shared.reset();
    }

    /// Closes every stream as if its TCP connection broke and the break was detected: each
    /// subscription is unsubscribed in turn (`cmd.onLeave` to the others still registered) and
    /// its connection aborted. Stalled and forgotten streams are aborted too.
    pub fn disconnect_all(&self) {
        self.shared.disconnect_all();
    }

    /// How many subscriptions are registered.
    pub fn subscription_count(&self) -> usize {
        read(&self.shared.indexes).subs.len()
    }

    /// `GetSubscriptionInfo(id)`.
    pub fn get_subscription_info(&self, id: &str) -> Option<SubscriptionInfo> {
        self.shared.get(id).map(|s| s.info())
    }

    /// `GetSubscriptionInfosByUserId(userId)`.
    pub fn get_subscription_infos_by_user_id(&self, user_id: &str) -> Vec<SubscriptionInfo> {
        self.shared.infos_by_user_id(user_id)
    }

    /// `GetAllSubscriptionInfos()`, in registration order.
    pub fn all_subscription_infos(&self) -> Vec<SubscriptionInfo> {
        self.shared.all_sorted().iter().map(|s| s.info()).collect()
    }

    /// `GetAllSubscriptionsDetails()`: every subscription's Meta map, in registration order.
    pub fn all_subscriptions_details(&self) -> Vec<BTreeMap<String, String>> {
        self.shared
            .all_sorted()
            .iter()
            .map(|s| lock(&s.state).meta.iter().cloned().collect())
            .collect()
    }

    /// `GetSubscriptionsDetails(channels)`: Meta maps of the members of those channels, in
    /// channel order, de-duplicated by subscription id.
    pub fn get_subscriptions_details(&self, channels: &[&str]) -> Vec<BTreeMap<String, String>> {
        let channels: Vec<String> = channels.iter().map(|c| c.to_string()).collect();
        self.shared
            .details_json(&channels)
            .iter()
            .filter_map(|j| serde_json::from_slice(j).ok())
            .collect()
    }

    /// `UnRegisterAsync(id)`: unsubscribes, ends its stream and sends `cmd.onLeave`.
    /// Returns false when no such subscription exists.
    pub fn unregister(&self, id: &str) -> bool {
        match self.shared.get(id) {
            Some(sub) => self.shared.unregister_sub(&sub),
            None => false,
        }
    }

    /// `SubscribeToChannels(id, channels)`, with `cmd.onUpdate`. False when unknown.
    pub fn subscribe_to_channels(&self, id: &str, channels: &[&str]) -> bool {
        let channels: Vec<String> = channels.iter().map(|c| c.to_string()).collect();
        match self.shared.get(id) {
            Some(sub) => self.shared.subscribe_to_channels(&sub, &channels),
            None => false,
        }
    }

    /// `UnsubscribeFromChannels(id, channels)`, with `cmd.onUpdate`. False when unknown.
    pub fn unsubscribe_from_channels(&self, id: &str, channels: &[&str]) -> bool {
        let channels: Vec<String> = channels.iter().map(|c| c.to_string()).collect();
        match self.shared.get(id) {
            Some(sub) => self.shared.unsubscribe_from_channels(&sub, &channels),
            None => false,
        }
    }

    /// `Pulse(id)`: refreshes the idle timer and sends `cmd.onHeartbeat`. False when unknown.
    pub fn pulse(&self, id: &str) -> bool {
        self.shared.pulse(id).is_some()
    }

    /// `RemoveExpiredSubscriptions()` without the housekeeping throttle. Returns how many
    /// subscriptions were expired.
    pub fn remove_expired_subscriptions(&self) -> usize {
        self.shared.remove_expired(false)
    }

    /// Invalidates every bearer token issued so far; later requests presenting one get 401.
    pub fn expire_tokens(&self) {
        self.shared.auth.expire_tokens();
    }

    /// Counters (`GetStats()`).
    pub fn stats(&self) -> ServerStats {
        self.shared.stats()
    }

    /// `GetNextSequence(name)`: the next value of a named process-wide counter (from 1).
    /// `anonUser` is the counter behind anonymous `-N` / `userN` identities, bumped for every
    /// stream connection.
    pub fn get_next_sequence(&self, name: &str) -> u64 {
        self.shared.next_sequence(name)
    }
}
