//! The connection's observable state and the reconnect notification.

use std::time::Duration;

use crate::error::Error;

/// Where the client's connection is. Observe it with
/// [`ServerEventsClient::state`](crate::ServerEventsClient::state) and
/// [`ServerEventsClient::state_changes`](crate::ServerEventsClient::state_changes).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionState {
    /// Built and never started.
    Idle,
    /// Opening the event stream (`attempt` counts from 1 since the last healthy connection).
    Connecting {
        /// Which attempt this is.
        attempt: u32,
    },
    /// Connected: `cmd.onConnect` arrived.
    Open {
        /// The subscription id the server gave.
        subscription_id: String,
    },
    /// The connection failed; the client waits `delay`, then tries again.
    Reconnecting {
        /// Consecutive failures so far.
        attempt: u32,
        /// The wait before the next attempt.
        delay: Duration,
        /// Why the previous connection ended.
        cause: Error,
    },
    /// Paused by [`pause`](crate::ServerEventsClient::pause): unregistered and disconnected
    /// until [`resume`](crate::ServerEventsClient::resume).
    Paused,
    /// Stopped; the client does not reconnect by itself.
    Closed {
        /// Why it closed.
        reason: CloseReason,
    },
}

/// Why a client closed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// [`stop`](crate::ServerEventsClient::stop) was called.
    Stopped,
    /// [`dispose`](crate::ServerEventsClient::dispose) was called.
    Disposed,
    /// The last handle to the client was dropped.
    Dropped,
    /// The first connection, started by [`connect`](crate::ServerEventsClient::connect), failed.
    ConnectFailed(Error),
    /// The server refused the credentials, also after a refresh.
    Unauthorized(Error),
    /// The reconnect policy gave up.
    GaveUp(Error),
}

/// Sent to `on_reconnect` each time the client has a new subscription after losing one.
///
/// ServiceStack never replays missed events, so anything published while the client was
/// disconnected is lost: apps that need every message should resync when they see this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconnectInfo {
    /// The subscription that was lost (the client unregistered it).
    pub previous_subscription_id: Option<String>,
    /// The new subscription.
    pub subscription_id: String,
    /// How many attempts the reconnect took.
    pub attempts: u32,
    /// Why the previous connection ended (`None` for a requested restart or resume).
    pub cause: Option<Error>,
    /// Whether events may have been missed: `true` whenever the previous subscription received
    /// events the client never saw, which with ServiceStack (no replay) is every reconnect.
    pub possible_gap: bool,
    /// How long the client had no subscription.
    pub disconnected_for: Duration,
}
