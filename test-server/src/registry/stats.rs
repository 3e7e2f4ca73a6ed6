//! Counters, like `MemoryServerEvents.GetStats()`.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

use super::Shared;
use crate::util::{lock, read};

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
pub(super) struct Counters {
    pub(super) total_connections: AtomicU64,
    pub(super) total_unsubscriptions: AtomicU64,
    pub(super) notifications_sent: AtomicU64,
    pub(super) heartbeats: AtomicU64,
    pub(super) stream_requests: AtomicU64,
    pub(super) slow_consumers_dropped: AtomicU64,
    pub(super) broken_connections: AtomicU64,
    pub(super) expired_subscriptions: AtomicU64,
}

pub(super) fn bump(c: &AtomicU64) -> u64 {
    c.fetch_add(1, Ordering::Relaxed) + 1
}

impl Shared {
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
