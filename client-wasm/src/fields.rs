//! Messages, commands, subscribers and states as arrays of plain values, in the order the
//! package's JavaScript (`npm/fields.js`) reads them into objects. Bodies stay JSON text: the
//! JavaScript side parses them with `JSON.parse`.

use std::collections::BTreeMap;

use js_sys::Array;
use servicestack_events::{
    CloseReason, CommandKind, ConnectionState, ReconnectInfo, ServerEventCommand,
    ServerEventConnect, ServerEventMessage, ServerEventUser,
};
use wasm_bindgen::JsValue;

use crate::error;
use crate::js::{array, string_or_null};

/// `[eventId, data, channel, selector, json, op, target, cssSelector]`.
pub(crate) fn message(message: &ServerEventMessage) -> Array {
    array([
        JsValue::from(message.event_id() as f64),
        message.data().into(),
        string_or_null(message.channel()),
        string_or_null(message.selector()),
        message.json().into(),
        string_or_null(message.op()),
        string_or_null(message.target()),
        string_or_null(message.css_selector()),
    ])
}

/// `[key, value, key, value, ...]`.
fn pairs(map: &BTreeMap<String, String>) -> Array {
    map.iter()
        .flat_map(|(key, value)| [JsValue::from_str(key), JsValue::from_str(value)])
        .collect()
}

fn strings(values: &[String]) -> Array {
    values
        .iter()
        .map(|value| JsValue::from_str(value))
        .collect()
}

/// The TypeScript client's `type` for each built-in command.
fn type_name(kind: CommandKind) -> &'static str {
    match kind {
        CommandKind::Connect => "ServerEventConnect",
        CommandKind::Heartbeat => "ServerEventHeartbeat",
        CommandKind::Join => "ServerEventJoin",
        CommandKind::Leave => "ServerEventLeave",
        _ => "ServerEventUpdate",
    }
}

/// The message's fields, then `[type, meta pairs, userId, displayName, profileUrl, channels
/// (comma-joined), isAuthenticated, createdAt]`.
pub(crate) fn command(command: &ServerEventCommand) -> Array {
    let fields = message(&command.message);
    for value in [
        type_name(command.kind).into(),
        pairs(&command.meta).into(),
        command.user_id.as_str().into(),
        command.display_name.as_str().into(),
        string_or_null(command.profile_url.as_deref()),
        command.channels.join(",").into(),
        command.is_authenticated.into(),
        command
            .created_at_ms
            .map_or(JsValue::NULL, |ms| JsValue::from(ms as f64)),
    ] {
        fields.push(&value);
    }
    fields
}

/// The command's fields, then `[id, unRegisterUrl, heartbeatUrl, updateSubscriberUrl,
/// heartbeatIntervalMs, idleTimeoutMs]`.
pub(crate) fn connect(info: &ServerEventConnect) -> Array {
    let fields = command(&info.command);
    for value in [
        info.id.as_str().into(),
        string_or_null(info.unregister_url.as_deref()),
        string_or_null(info.heartbeat_url.as_deref()),
        string_or_null(info.update_subscriber_url.as_deref()),
        JsValue::from(info.heartbeat_interval.as_millis() as f64),
        JsValue::from(info.idle_timeout.as_millis() as f64),
    ] {
        fields.push(&value);
    }
    fields
}

/// `[userId, displayName, profileUrl, channels, meta pairs]`.
pub(crate) fn user(user: &ServerEventUser) -> Array {
    array([
        user.user_id.as_str().into(),
        user.display_name.as_str().into(),
        string_or_null(user.profile_url.as_deref()),
        strings(&user.channels).into(),
        pairs(&user.meta).into(),
    ])
}

/// `[previousSubscriptionId, subscriptionId, attempts, error, possibleGap, disconnectedForMs]`.
pub(crate) fn reconnect(info: &ReconnectInfo) -> Array {
    array([
        string_or_null(info.previous_subscription_id.as_deref()),
        info.subscription_id.as_str().into(),
        info.attempts.into(),
        info.cause.as_ref().map_or(JsValue::NULL, error::to_js),
        info.possible_gap.into(),
        JsValue::from(info.disconnected_for.as_millis() as f64),
    ])
}

/// The name of a connection state.
pub(crate) fn state_name(state: &ConnectionState) -> &'static str {
    match state {
        ConnectionState::Idle => "idle",
        ConnectionState::Connecting { .. } => "connecting",
        ConnectionState::Open { .. } => "open",
        ConnectionState::Reconnecting { .. } => "reconnecting",
        ConnectionState::Paused => "paused",
        ConnectionState::Closed { .. } => "closed",
        _ => "unknown",
    }
}

/// `[state, attempt, delayMs, subscriptionId, error, reason]`, `undefined` where the state has
/// no such field.
pub(crate) fn state(state: &ConnectionState) -> Array {
    const NONE: JsValue = JsValue::UNDEFINED;
    let (attempt, delay, id, cause, reason) = match state {
        ConnectionState::Connecting { attempt } => ((*attempt).into(), NONE, None, NONE, NONE),
        ConnectionState::Open { subscription_id } => {
            (NONE, NONE, Some(subscription_id.as_str()), NONE, NONE)
        }
        ConnectionState::Reconnecting {
            attempt,
            delay,
            cause,
        } => (
            (*attempt).into(),
            JsValue::from(delay.as_millis() as f64),
            None,
            error::to_js(cause),
            NONE,
        ),
        ConnectionState::Closed { reason } => {
            let (name, cause) = close_reason(reason);
            (
                NONE,
                NONE,
                None,
                cause.map_or(JsValue::NULL, error::to_js),
                name.into(),
            )
        }
        _ => (NONE, NONE, None, NONE, NONE),
    };
    array([
        state_name(state).into(),
        attempt,
        delay,
        id.map_or(JsValue::UNDEFINED, JsValue::from_str),
        cause,
        reason,
    ])
}

fn close_reason(reason: &CloseReason) -> (&'static str, Option<&servicestack_events::Error>) {
    match reason {
        CloseReason::Stopped => ("stopped", None),
        CloseReason::Disposed => ("disposed", None),
        CloseReason::Dropped => ("dropped", None),
        CloseReason::ConnectFailed(error) => ("connectFailed", Some(error)),
        CloseReason::Unauthorized(error) => ("unauthorized", Some(error)),
        CloseReason::GaveUp(error) => ("gaveUp", Some(error)),
        _ => ("other", None),
    }
}
