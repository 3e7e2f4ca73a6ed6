//! The values that cross the boundary: messages, commands, subscription info, subscribers,
//! reconnect notices and connection states, as plain records (Kotlin data classes, Swift
//! structs) converted from `client-core`'s types.

use std::collections::{BTreeMap, HashMap};

use servicestack_events as core;

use crate::error::{ServerEventsError, millis};

/// One event received from the server, with its selector split into parts:
/// `[channel@]op.target[$cssSelector] json`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ServerEventMessage {
    /// The SSE event id (`0` when the event had none).
    pub event_id: u64,
    /// The whole `data:` text, channel prefix included.
    pub data: String,
    /// The channel the message was published to, when it carried a `channel@` prefix.
    pub channel: Option<String>,
    /// The selector without its channel prefix, e.g. `cmd.chat`.
    pub selector: Option<String>,
    /// The part of the selector before the first `.`, e.g. `cmd`.
    pub op: Option<String>,
    /// The part after the op and before any `$`, with `%20` decoded to spaces.
    pub target: Option<String>,
    /// The part after the first `$`, when there was one.
    pub css_selector: Option<String>,
    /// The body text after the selector (may be empty); usually JSON.
    pub json: String,
}

impl From<&core::ServerEventMessage> for ServerEventMessage {
    fn from(message: &core::ServerEventMessage) -> Self {
        ServerEventMessage {
            event_id: message.event_id(),
            data: message.data().to_owned(),
            channel: message.channel().map(str::to_owned),
            selector: message.selector().map(str::to_owned),
            op: message.op().map(str::to_owned),
            target: message.target().map(str::to_owned),
            css_selector: message.css_selector().map(str::to_owned),
            json: message.json().to_owned(),
        }
    }
}

/// Which built-in command a [`ServerEventCommand`] carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum CommandKind {
    /// `cmd.onConnect`: this client's own subscription was created.
    Connect,
    /// `cmd.onJoin`: a subscriber joined a channel.
    Join,
    /// `cmd.onLeave`: a subscriber left a channel.
    Leave,
    /// `cmd.onUpdate`: a subscriber's channels changed.
    Update,
    /// `cmd.onHeartbeat`: the server answered this client's heartbeat.
    Heartbeat,
}

impl From<core::CommandKind> for CommandKind {
    fn from(kind: core::CommandKind) -> Self {
        match kind {
            core::CommandKind::Connect => CommandKind::Connect,
            core::CommandKind::Join => CommandKind::Join,
            core::CommandKind::Leave => CommandKind::Leave,
            core::CommandKind::Update => CommandKind::Update,
            core::CommandKind::Heartbeat => CommandKind::Heartbeat,
        }
    }
}

fn hash_map(map: &BTreeMap<String, String>) -> HashMap<String, String> {
    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// A built-in command about a subscriber: join, leave, update or heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ServerEventCommand {
    /// Which command this is.
    pub kind: CommandKind,
    /// The channel the notification was published on (join, leave and update carry one).
    pub channel: Option<String>,
    /// The subscriber's user id (`-N` for anonymous users).
    pub user_id: String,
    /// The subscriber's display name.
    pub display_name: String,
    /// The subscriber's profile image URL.
    pub profile_url: Option<String>,
    /// Whether the subscriber is authenticated.
    pub is_authenticated: bool,
    /// The subscriber's channels.
    pub channels: Vec<String>,
    /// When the subscription was created, in Unix epoch milliseconds.
    pub created_at_ms: Option<i64>,
    /// Every key of the payload, as strings.
    pub meta: HashMap<String, String>,
    /// The raw message.
    pub message: ServerEventMessage,
}

impl From<&core::ServerEventCommand> for ServerEventCommand {
    fn from(command: &core::ServerEventCommand) -> Self {
        ServerEventCommand {
            kind: command.kind.into(),
            channel: command.channel().map(str::to_owned),
            user_id: command.user_id.clone(),
            display_name: command.display_name.clone(),
            profile_url: command.profile_url.clone(),
            is_authenticated: command.is_authenticated,
            channels: command.channels.clone(),
            created_at_ms: command.created_at_ms,
            meta: hash_map(&command.meta),
            message: (&command.message).into(),
        }
    }
}

/// The payload of `cmd.onConnect`: this client's subscription and the URLs that manage it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ServerEventConnect {
    /// The subscription id.
    pub id: String,
    /// The user id (`-N` for anonymous users).
    pub user_id: String,
    /// The display name.
    pub display_name: String,
    /// The profile image URL.
    pub profile_url: Option<String>,
    /// Whether the user is authenticated.
    pub is_authenticated: bool,
    /// The channels the server subscribed this client to.
    pub channels: Vec<String>,
    /// When the subscription was created, in Unix epoch milliseconds.
    pub created_at_ms: Option<i64>,
    /// Where to unregister this subscription.
    pub unregister_url: Option<String>,
    /// Where heartbeats go.
    pub heartbeat_url: Option<String>,
    /// Where to change this subscription's channels.
    pub update_subscriber_url: Option<String>,
    /// How often the server wants heartbeats, in milliseconds.
    pub heartbeat_interval_ms: u64,
    /// After how much silence the server drops a subscription, in milliseconds.
    pub idle_timeout_ms: u64,
    /// Every key of the payload, as strings.
    pub meta: HashMap<String, String>,
}

impl From<&core::ServerEventConnect> for ServerEventConnect {
    fn from(info: &core::ServerEventConnect) -> Self {
        ServerEventConnect {
            id: info.id.clone(),
            user_id: info.user_id.clone(),
            display_name: info.display_name.clone(),
            profile_url: info.profile_url.clone(),
            is_authenticated: info.is_authenticated,
            channels: info.channels.clone(),
            created_at_ms: info.created_at_ms,
            unregister_url: info.unregister_url.clone(),
            heartbeat_url: info.heartbeat_url.clone(),
            update_subscriber_url: info.update_subscriber_url.clone(),
            heartbeat_interval_ms: millis(info.heartbeat_interval),
            idle_timeout_ms: millis(info.idle_timeout),
            meta: hash_map(&info.meta),
        }
    }
}

/// A subscriber, as listed by `/event-subscribers`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ServerEventUser {
    /// The user id.
    pub user_id: String,
    /// The display name.
    pub display_name: String,
    /// The profile image URL.
    pub profile_url: Option<String>,
    /// The channels the subscriber is in.
    pub channels: Vec<String>,
    /// Every other key (for example `isAuthenticated`, `createdAt`).
    pub meta: HashMap<String, String>,
}

impl From<core::ServerEventUser> for ServerEventUser {
    fn from(user: core::ServerEventUser) -> Self {
        ServerEventUser {
            meta: hash_map(&user.meta),
            user_id: user.user_id,
            display_name: user.display_name,
            profile_url: user.profile_url,
            channels: user.channels,
        }
    }
}

/// Sent to `onReconnect` each time the client has a new subscription after losing one.
///
/// ServiceStack never replays missed events: anything published while the client was
/// disconnected is lost, so apps that need every message should resync when they see this.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ReconnectInfo {
    /// The subscription that was lost (the client unregistered it).
    pub previous_subscription_id: Option<String>,
    /// The new subscription.
    pub subscription_id: String,
    /// How many attempts the reconnect took.
    pub attempts: u32,
    /// Why the previous connection ended (`null`/`nil` for a requested restart or resume).
    pub cause: Option<ServerEventsError>,
    /// Whether events may have been missed (with ServiceStack, every reconnect).
    pub possible_gap: bool,
    /// How long the client had no subscription, in milliseconds.
    pub disconnected_for_ms: u64,
}

impl From<&core::ReconnectInfo> for ReconnectInfo {
    fn from(info: &core::ReconnectInfo) -> Self {
        ReconnectInfo {
            previous_subscription_id: info.previous_subscription_id.clone(),
            subscription_id: info.subscription_id.clone(),
            attempts: info.attempts,
            cause: info.cause.clone().map(Into::into),
            possible_gap: info.possible_gap,
            disconnected_for_ms: millis(info.disconnected_for),
        }
    }
}

/// Why a client closed.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum CloseReason {
    /// `stop()` was called.
    Stopped,
    /// `close()` was called (or the object was destroyed).
    Disposed,
    /// The last handle to the client was dropped.
    Dropped,
    /// The first connection, started by `connect()`, failed.
    ConnectFailed {
        /// Why.
        error: ServerEventsError,
    },
    /// The server refused the credentials, also after a refresh.
    Unauthorized {
        /// The refusal.
        error: ServerEventsError,
    },
    /// The reconnect policy gave up.
    GaveUp {
        /// The last failure.
        error: ServerEventsError,
    },
}

impl From<&core::CloseReason> for CloseReason {
    fn from(reason: &core::CloseReason) -> Self {
        match reason {
            core::CloseReason::Stopped => CloseReason::Stopped,
            core::CloseReason::Disposed => CloseReason::Disposed,
            core::CloseReason::Dropped => CloseReason::Dropped,
            core::CloseReason::ConnectFailed(error) => CloseReason::ConnectFailed {
                error: error.clone().into(),
            },
            core::CloseReason::Unauthorized(error) => CloseReason::Unauthorized {
                error: error.clone().into(),
            },
            core::CloseReason::GaveUp(error) => CloseReason::GaveUp {
                error: error.clone().into(),
            },
            // `CloseReason` is non-exhaustive in the core; a later variant reads as a stop.
            _ => CloseReason::Stopped,
        }
    }
}

/// Where the client's connection is.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
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
    /// The connection failed; the client waits `delay_ms`, then tries again.
    Reconnecting {
        /// Consecutive failures so far.
        attempt: u32,
        /// The wait before the next attempt, in milliseconds.
        delay_ms: u64,
        /// Why the previous connection ended.
        cause: ServerEventsError,
    },
    /// Paused by `pause()`: unregistered and disconnected until `resume()`.
    Paused,
    /// Stopped; the client does not reconnect by itself.
    Closed {
        /// Why it closed.
        reason: CloseReason,
    },
}

impl From<&core::ConnectionState> for ConnectionState {
    fn from(state: &core::ConnectionState) -> Self {
        match state {
            core::ConnectionState::Idle => ConnectionState::Idle,
            core::ConnectionState::Connecting { attempt } => {
                ConnectionState::Connecting { attempt: *attempt }
            }
            core::ConnectionState::Open { subscription_id } => ConnectionState::Open {
                subscription_id: subscription_id.clone(),
            },
            core::ConnectionState::Reconnecting {
                attempt,
                delay,
                cause,
            } => ConnectionState::Reconnecting {
                attempt: *attempt,
                delay_ms: millis(*delay),
                cause: cause.clone().into(),
            },
            core::ConnectionState::Paused => ConnectionState::Paused,
            core::ConnectionState::Closed { reason } => ConnectionState::Closed {
                reason: reason.into(),
            },
            // `ConnectionState` is non-exhaustive in the core; a later variant reads as idle.
            _ => ConnectionState::Idle,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_keeps_every_selector_part() {
        let core =
            core::ServerEventMessage::parse(7, "home@css.background-image$#top \"url(x)\"".into())
                .unwrap();
        let message = ServerEventMessage::from(&core);
        assert_eq!(message.event_id, 7);
        assert_eq!(message.channel.as_deref(), Some("home"));
        assert_eq!(
            message.selector.as_deref(),
            Some("css.background-image$#top")
        );
        assert_eq!(message.op.as_deref(), Some("css"));
        assert_eq!(message.target.as_deref(), Some("background-image"));
        assert_eq!(message.css_selector.as_deref(), Some("#top"));
        assert_eq!(message.json, "\"url(x)\"");
    }

    #[test]
    fn connect_info_is_flattened_with_milliseconds() {
        let core = core::ServerEventMessage::parse(
            1,
            r#"cmd.onConnect {"id":"abc","userId":"-1","displayName":"user1","channels":"A,B","heartbeatIntervalMs":"200","idleTimeoutMs":"30000","isAuthenticated":"true"}"#.into(),
        )
        .unwrap();
        let info = ServerEventConnect::from(&core::ServerEventConnect::from_message(core).unwrap());
        assert_eq!(info.id, "abc");
        assert_eq!(info.channels, ["A", "B"]);
        assert_eq!(
            (info.heartbeat_interval_ms, info.idle_timeout_ms),
            (200, 30_000)
        );
        assert!(info.is_authenticated);
        assert_eq!(info.meta.get("userId").map(String::as_str), Some("-1"));
    }

    #[test]
    fn states_carry_their_causes() {
        let state = ConnectionState::from(&core::ConnectionState::Closed {
            reason: core::CloseReason::ConnectFailed(core::Error::StreamEnded),
        });
        assert_eq!(
            state,
            ConnectionState::Closed {
                reason: CloseReason::ConnectFailed {
                    error: ServerEventsError::StreamEnded
                }
            }
        );
    }
}
