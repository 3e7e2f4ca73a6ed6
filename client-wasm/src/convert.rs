//! Messages, commands and subscribers as plain JavaScript objects with camelCase fields, shaped
//! like `@servicestack/client`'s `ServerEventMessage` family.
//!
//! Every message object carries the envelope (`eventId`, `data`, `type`, `channel`, `selector`,
//! `json`, `body`, `op`, `target`, `cssSelector`, `meta`). When the body is a JSON object, its
//! keys are copied onto the message too, as the TypeScript client's `mergedBody` does, except
//! that envelope fields always win (the TypeScript client lets a payload's `channel` replace
//! the message's).

use std::collections::BTreeMap;

use js_sys::{Array, Object};
use servicestack_events::{
    CommandKind, ConnectionState, ReconnectInfo, ServerEventCommand, ServerEventConnect,
    ServerEventMessage, ServerEventUser,
};
use wasm_bindgen::{JsCast, JsValue};

use crate::{error, js};

/// The TypeScript client's `type` for each built-in command.
fn type_name(kind: Option<CommandKind>) -> &'static str {
    match kind {
        Some(CommandKind::Connect) => "ServerEventConnect",
        Some(CommandKind::Heartbeat) => "ServerEventHeartbeat",
        Some(CommandKind::Join) => "ServerEventJoin",
        Some(CommandKind::Leave) => "ServerEventLeave",
        Some(CommandKind::Update) => "ServerEventUpdate",
        None => "ServerEventMessage",
    }
}

/// The envelope of `message`, with its parsed body merged in (envelope fields win).
fn envelope(message: &ServerEventMessage, kind: Option<CommandKind>, meta: &Object) -> Object {
    let object = Object::new();
    let body = js::parse_json(message.json());
    js::put(&object, "eventId", message.event_id() as f64);
    js::put(&object, "data", message.data());
    js::put(&object, "type", type_name(kind));
    js::put(&object, "channel", js::string_or_null(message.channel()));
    js::put(&object, "selector", js::string_or_null(message.selector()));
    js::put(&object, "json", message.json());
    js::put(&object, "op", js::string_or_null(message.op()));
    js::put(&object, "target", js::string_or_null(message.target()));
    js::put(
        &object,
        "cssSelector",
        js::string_or_null(message.css_selector()),
    );
    js::put(&object, "meta", meta.clone());
    if body.is_object() && !Array::is_array(&body) {
        for key in js::own_names(&body) {
            if !js::has(&object, &key) {
                js::put(&object, &key, js::get(&body, &key));
            }
        }
    }
    js::put(&object, "body", body);
    object
}

/// An application message (`ServerEventMessage`).
pub(crate) fn message(message: &ServerEventMessage) -> Object {
    envelope(message, None, &Object::new())
}

/// The parsed body of an application message (`null` when empty or not JSON).
pub(crate) fn body(message: &ServerEventMessage) -> JsValue {
    js::parse_json(message.json())
}

/// A string map as a plain object.
pub(crate) fn string_map(map: &BTreeMap<String, String>) -> Object {
    let object = Object::new();
    for (key, value) in map {
        js::put(&object, key, value.as_str());
    }
    object
}

/// A join, leave, update or heartbeat (`ServerEventCommand`): the envelope, every payload key,
/// and typed `userId`, `displayName`, `profileUrl`, `channels` (comma-joined, as ServiceStack
/// sends it), `isAuthenticated` (a boolean) and `createdAt` (epoch ms or `null`).
pub(crate) fn command(command: &ServerEventCommand) -> Object {
    let object = envelope(
        &command.message,
        Some(command.kind),
        &string_map(&command.meta),
    );
    js::put(&object, "userId", command.user_id.as_str());
    js::put(&object, "displayName", command.display_name.as_str());
    js::put(
        &object,
        "profileUrl",
        js::string_or_null(command.profile_url.as_deref()),
    );
    js::put(&object, "channels", command.channels.join(","));
    js::put(&object, "isAuthenticated", command.is_authenticated);
    js::put(
        &object,
        "createdAt",
        command
            .created_at_ms
            .map_or(JsValue::NULL, |ms| JsValue::from(ms as f64)),
    );
    object
}

/// `cmd.onConnect` (`ServerEventConnect`): a command plus the subscription's id, URLs and
/// intervals (numbers of milliseconds).
pub(crate) fn connect(info: &ServerEventConnect) -> Object {
    let object = command(&info.command);
    js::put(&object, "id", info.id.as_str());
    js::put(
        &object,
        "unRegisterUrl",
        js::string_or_null(info.unregister_url.as_deref()),
    );
    js::put(
        &object,
        "heartbeatUrl",
        js::string_or_null(info.heartbeat_url.as_deref()),
    );
    js::put(
        &object,
        "updateSubscriberUrl",
        js::string_or_null(info.update_subscriber_url.as_deref()),
    );
    js::put(
        &object,
        "heartbeatIntervalMs",
        info.heartbeat_interval.as_millis() as f64,
    );
    js::put(
        &object,
        "idleTimeoutMs",
        info.idle_timeout.as_millis() as f64,
    );
    object
}

/// A strings array.
pub(crate) fn strings(values: &[String]) -> Array {
    values.iter().map(|v| JsValue::from_str(v)).collect()
}

/// A subscriber (`ServerEventUser`): `channels` is an array, as in the TypeScript client.
pub(crate) fn user(user: &ServerEventUser) -> Object {
    let object = Object::new();
    js::put(&object, "userId", user.user_id.as_str());
    js::put(&object, "displayName", user.display_name.as_str());
    js::put(
        &object,
        "profileUrl",
        js::string_or_null(user.profile_url.as_deref()),
    );
    js::put(&object, "channels", strings(&user.channels));
    js::put(&object, "meta", string_map(&user.meta));
    object
}

/// What `onReconnect` receives.
pub(crate) fn reconnect(info: &ReconnectInfo) -> Object {
    let object = Object::new();
    js::put(
        &object,
        "previousSubscriptionId",
        js::string_or_null(info.previous_subscription_id.as_deref()),
    );
    js::put(&object, "subscriptionId", info.subscription_id.as_str());
    js::put(&object, "attempts", info.attempts);
    js::put(
        &object,
        "error",
        info.cause.as_ref().map_or(JsValue::NULL, error::to_js),
    );
    js::put(&object, "possibleGap", info.possible_gap);
    js::put(
        &object,
        "disconnectedForMs",
        info.disconnected_for.as_millis() as f64,
    );
    object
}

/// The name of a connection state: `"idle"`, `"connecting"`, `"open"`, `"reconnecting"`,
/// `"paused"` or `"closed"`.
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

/// What `onStateChange` receives: `{ state, attempt?, delayMs?, subscriptionId?, error?, reason? }`.
pub(crate) fn state(state: &ConnectionState) -> Object {
    let object = Object::new();
    js::put(&object, "state", state_name(state));
    match state {
        ConnectionState::Connecting { attempt } => js::put(&object, "attempt", *attempt),
        ConnectionState::Open { subscription_id } => {
            js::put(&object, "subscriptionId", subscription_id.as_str());
        }
        ConnectionState::Reconnecting {
            attempt,
            delay,
            cause,
        } => {
            js::put(&object, "attempt", *attempt);
            js::put(&object, "delayMs", delay.as_millis() as f64);
            js::put(&object, "error", error::to_js(cause));
        }
        ConnectionState::Closed { reason } => {
            let (name, cause) = close_reason(reason);
            js::put(&object, "reason", name);
            js::put(&object, "error", cause.map_or(JsValue::NULL, error::to_js));
        }
        _ => {}
    }
    object
}

fn close_reason(
    reason: &servicestack_events::CloseReason,
) -> (&'static str, Option<&servicestack_events::Error>) {
    use servicestack_events::CloseReason;
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

/// Reads `value` as an array of strings (an array, a single comma-separated string, or
/// `undefined`/`null` for none).
pub(crate) fn channel_list(value: &JsValue, what: &str) -> Result<Vec<String>, JsValue> {
    if value.is_undefined() || value.is_null() {
        return Ok(Vec::new());
    }
    if let Some(text) = value.as_string() {
        return Ok(text
            .split(',')
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
            .collect());
    }
    let Some(array) = value.dyn_ref::<Array>() else {
        return Err(error::invalid_argument(&format!(
            "{what} must be an array of channel names"
        )));
    };
    array
        .iter()
        .map(|item| {
            item.as_string().ok_or_else(|| {
                error::invalid_argument(&format!("{what} must contain only strings"))
            })
        })
        .collect()
}
