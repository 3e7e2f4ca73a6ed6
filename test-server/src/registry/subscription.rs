//! One subscription: its identity, channels, Meta and stream, and the public snapshot of it.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use super::publish::Target;
use crate::frame::StreamCtl;
use crate::hooks::StringMap;
use crate::util::{lock, string_map_json};

/// The `Meta` key holding the profile URL.
pub(super) const PROFILE_URL_KEY: &str = "profileUrl";

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

pub(super) struct SubState {
    pub(super) channels: Vec<String>,
    pub(super) meta: Vec<(String, String)>,
    pub(super) meta_json: Bytes,
}

impl SubState {
    pub(super) fn set_channels(&mut self, channels: Vec<String>) {
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
    pub(super) connect_args: StringMap,
    pub(super) server_args: StringMap,
    /// `last_pulse_ms` at creation, to turn it into wall-clock time.
    pub(super) created_mono_ms: u64,
    pub(super) last_pulse_ms: AtomicU64,
    pub(super) state: Mutex<SubState>,
    pub(crate) stream: Arc<StreamCtl>,
    /// Whether notifications read from the cluster topic are written to it. On a Redis node
    /// it starts false and turns true when the node's subscription barrier comes back through
    /// its topic connection, so the subscription gets exactly the notifications Redis
    /// published after it was created (see `provider::redis::barrier`). Always true
    /// without a cluster.
    pub(super) receives_cluster: AtomicBool,
    /// Channels just added on this node whose barrier has not come back yet: topic
    /// notifications for them were published before it joined them and are not written to it.
    pub(super) channels_awaiting_barrier: Mutex<Vec<String>>,
}

impl Subscription {
    /// A bare subscription for unit tests of the indexes.
    #[cfg(test)]
    pub(crate) fn for_test(
        id: &str,
        serial: u64,
        channels: &[&str],
        user_id: &str,
        user_name: Option<&str>,
        session_id: Option<&str>,
    ) -> Arc<Subscription> {
        Arc::new(Subscription {
            id: id.to_string(),
            serial,
            user_id: user_id.to_string(),
            user_name: user_name.map(str::to_string),
            display_name: format!("user{serial}"),
            session_id: session_id.map(str::to_string),
            is_authenticated: false,
            user_address: None,
            created_at_ms: 0,
            connect_args: StringMap::default(),
            server_args: StringMap::default(),
            created_mono_ms: 0,
            last_pulse_ms: AtomicU64::new(0),
            state: Mutex::new(SubState {
                channels: channels.iter().map(|c| c.to_string()).collect(),
                meta: Vec::new(),
                meta_json: Bytes::new(),
            }),
            stream: Arc::new(StreamCtl::new(serial, 1024)),
            receives_cluster: AtomicBool::new(true),
            channels_awaiting_barrier: Mutex::new(Vec::new()),
        })
    }

    /// See [`Subscription::receives_cluster`]'s field.
    pub(crate) fn receives_cluster(&self) -> bool {
        self.receives_cluster.load(Ordering::Acquire)
    }

    /// The subscription's barrier passed: notifications from the topic now reach it.
    pub(crate) fn admit_cluster(&self) {
        self.receives_cluster.store(true, Ordering::Release);
    }

    /// Whether a notification read from the cluster topic for `target` (within `filter`) is
    /// this subscription's: not before its barrier, nor for a channel whose barrier is pending.
    pub(crate) fn receives_cluster_for(&self, target: Target<'_>, filter: Option<&str>) -> bool {
        if !self.receives_cluster() {
            return false;
        }
        let held = lock(&self.channels_awaiting_barrier);
        if held.is_empty() {
            return true;
        }
        let is_held = |ch: &str| held.iter().any(|h| h == ch);
        match target {
            Target::Channel(ch) if is_held(ch) => false,
            _ => !filter.is_some_and(is_held),
        }
    }

    /// Holds topic notifications for `channels` (being added) until
    /// [`release_channels`](Self::release_channels).
    pub(crate) fn hold_channels(&self, channels: &[String]) {
        lock(&self.channels_awaiting_barrier).extend(channels.iter().cloned());
    }

    /// The barrier of a channel change passed: topic notifications for `channels` reach it.
    pub(crate) fn release_channels(&self, channels: &[String]) {
        let mut held = lock(&self.channels_awaiting_barrier);
        for ch in channels {
            // One entry per hold: a channel added twice stays held until both barriers pass.
            if let Some(i) = held.iter().position(|h| h == ch) {
                held.swap_remove(i);
            }
        }
    }

    /// Makes a [`for_test`](Self::for_test) subscription wait for its barrier, as a Redis
    /// node's new subscriptions do.
    #[cfg(test)]
    pub(crate) fn block_cluster_for_test(&self) {
        self.receives_cluster.store(false, Ordering::Release);
    }

    pub(crate) fn channels(&self) -> Vec<String> {
        lock(&self.state).channels.clone()
    }

    pub(crate) fn meta_json(&self) -> Bytes {
        lock(&self.state).meta_json.clone()
    }

    pub(super) fn has_channel(&self, filter: Option<&str>) -> bool {
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
