//! The test AppHost's services: `PostChatToChannel`, `PostRawToChannel`,
//! `PostObjectToChannel` and `ResetServerEvents`.

use std::collections::HashMap;

use axum::extract::State;
use axum::response::Response;
use bytes::Bytes;
use http::StatusCode;
use serde::Serialize;
use serde_json::Value;

use super::{AppState, reject_invalid_token, requested_subscription_by, unavailable};
use crate::auth::Credentials;
use crate::binding::Req;
use crate::provider::SubRef;
use crate::registry::Target;
use crate::respond::{ApiError, empty, json};

/// `ChatMessage`, serialised camelCase with nulls omitted.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct ChatMessage {
    id: u64,
    from_user_id: String,
    from_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
    private: bool,
}

/// `CustomType` / `SetterType`: `{id:int, name}`.
#[derive(Debug, Clone, Serialize)]
struct NamedType {
    id: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
}

fn named_type(obj: HashMap<String, Value>, field: &str) -> Result<NamedType, ApiError> {
    let bad = || {
        ApiError::bad_request(
            "SerializationException",
            format!("'{field}.id' must be a 32-bit integer"),
        )
    };
    let id = match obj.get("id") {
        None | Some(Value::Null) => 0,
        Some(Value::Number(n)) => n
            .as_i64()
            .and_then(|v| i32::try_from(v).ok())
            .ok_or_else(bad)?,
        Some(Value::String(s)) => s.trim().parse::<i32>().map_err(|_| bad())?,
        Some(_) => return Err(bad()),
    };
    let name = match obj.get("name") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    };
    Ok(NamedType { id, name })
}

/// Channel (default `*`) and selector, both free of `@` and line breaks.
fn channel_and_selector(
    req: &Req,
    require_selector: bool,
) -> Result<(String, Option<String>), ApiError> {
    let channel = req.params.str("channel").unwrap_or_else(|| "*".to_string());
    ApiError::check_name("Channel", &channel)?;
    let selector = req.params.str("selector");
    match &selector {
        Some(s) => ApiError::check_name("Selector", s)?,
        None if require_selector => {
            return Err(ApiError::bad_request(
                "ArgumentNullException",
                "Selector is required",
            ));
        }
        None => {}
    }
    Ok((channel, selector))
}

/// The sender subscription `From`: it must exist (404) and the caller must be allowed to act
/// on it (403), so a post cannot speak for somebody else's subscription.
async fn require_from(state: &AppState, req: &Req) -> Result<SubRef, ApiError> {
    requested_subscription_by(state, req, "from", |from| {
        ApiError::not_found(format!("Subscription {from} does not exist"))
    })
    .await
}

/// The subscriptions of `ToUserId`: a private message to a user with none would reach nobody,
/// so it is refused (404) rather than silently dropped.
async fn require_user(state: &AppState, to_user_id: &str) -> Result<Vec<SubRef>, ApiError> {
    let recipients = state
        .provider
        .by_user_id(to_user_id)
        .await
        .map_err(unavailable)?;
    if recipients.is_empty() {
        return Err(ApiError::not_found(format!(
            "User {to_user_id} is not connected"
        )));
    }
    Ok(recipients)
}

fn to_body<T: Serialize>(value: &T) -> Bytes {
    Bytes::from(serde_json::to_string(value).unwrap_or_default())
}

/// `PostChatToChannel` at `/channels/{Channel}/chat`.
pub(crate) async fn chat(State(state): State<AppState>, req: Req) -> Result<Response, ApiError> {
    handle_chat(&state, req).await
}

pub(crate) async fn handle_chat(state: &AppState, req: Req) -> Result<Response, ApiError> {
    let shared = &state.shared;
    let from_sub = require_from(state, &req).await?;
    state.provider.ready().map_err(unavailable)?;
    let (channel, selector) = channel_and_selector(&req, true)?;
    let selector = selector.unwrap_or_default();
    let mut msg = ChatMessage {
        id: shared.next_chat_id(),
        from_user_id: from_sub.user_id.clone(),
        from_name: from_sub.display_name.clone(),
        message: req.params.str("message"),
        private: false,
    };
    match req.params.str("toUserId") {
        Some(to_user_id) => {
            let recipients = require_user(state, &to_user_id).await?;
            msg.private = true;
            shared.notify(Target::UserId(&to_user_id), &selector, &to_body(&msg), None);
            let text = msg.message.clone().unwrap_or_default();
            for to_sub in recipients {
                msg.message = Some(format!("@{}: {}", to_sub.display_name, text));
                shared.notify(
                    Target::Subscription(&from_sub.id),
                    &selector,
                    &to_body(&msg),
                    None,
                );
            }
        }
        None => {
            let body = to_body(&msg);
            shared.chat_history.record(&channel, msg.id, body.clone());
            shared.notify(Target::Channel(&channel), &selector, &body, None);
        }
    }
    Ok(json(StatusCode::OK, &msg))
}

/// `PostRawToChannel` at `/channels/{Channel}/raw`.
pub(crate) async fn raw(State(state): State<AppState>, req: Req) -> Result<Response, ApiError> {
    handle_raw(&state, req).await
}

pub(crate) async fn handle_raw(state: &AppState, req: Req) -> Result<Response, ApiError> {
    let shared = &state.shared;
    if shared.config.limit_remote_control_to_authenticated_users
        && !matches!(
            reject_invalid_token(shared, &req)?,
            Credentials::Authenticated { .. }
        )
    {
        return Err(ApiError::forbidden(
            "Remote control is limited to authenticated users",
        ));
    }
    require_from(state, &req).await?;
    state.provider.ready().map_err(unavailable)?;
    let (channel, selector) = channel_and_selector(&req, true)?;
    let selector = selector.unwrap_or_default();
    // A string message is JSON-quoted; null gives an empty body.
    let body = match req.params.str("message") {
        Some(m) => to_body(&m),
        None => Bytes::new(),
    };
    match req.params.str("toUserId") {
        Some(to) => {
            require_user(state, &to).await?;
            shared.notify(Target::UserId(&to), &selector, &body, None)
        }
        None => shared.notify(Target::Channel(&channel), &selector, &body, None),
    }
    Ok(empty(StatusCode::NO_CONTENT))
}

/// `PostObjectToChannel` at `/channels/{Channel}/object`.
pub(crate) async fn object(State(state): State<AppState>, req: Req) -> Result<Response, ApiError> {
    handle_object(&state, req).await
}

pub(crate) async fn handle_object(state: &AppState, req: Req) -> Result<Response, ApiError> {
    let shared = &state.shared;
    state.provider.ready().map_err(unavailable)?;
    let (channel, selector) = channel_and_selector(&req, false)?;
    let custom = req
        .params
        .object("customType")?
        .map(|o| named_type(o, "customType"))
        .transpose()?;
    let setter = req
        .params
        .object("setterType")?
        .map(|o| named_type(o, "setterType"))
        .transpose()?;
    let to_user_id = req.params.str("toUserId");
    let items = [(custom, "cmd.CustomType"), (setter, "cmd.SetterType")];
    for (value, default_selector) in items {
        let Some(value) = value else { continue };
        let sel = selector.as_deref().unwrap_or(default_selector);
        let body = to_body(&value);
        match &to_user_id {
            Some(to) => shared.notify(Target::UserId(to), sel, &body, None),
            None => shared.notify(Target::Channel(&channel), sel, &body, None),
        }
    }
    Ok(empty(StatusCode::NO_CONTENT))
}

/// `GetChatHistory` at `/chathistory`: the channel chats kept for `channels` (default `*`),
/// oldest first, those with an id above `afterId` only, at most `take`; answers
/// `{"results":[ChatMessage...]}`.
pub(crate) async fn chat_history(
    State(state): State<AppState>,
    req: Req,
) -> Result<Response, ApiError> {
    handle_chat_history(&state, req)
}

pub(crate) fn handle_chat_history(state: &AppState, req: Req) -> Result<Response, ApiError> {
    let channels = req
        .params
        .list("channels")
        .unwrap_or_else(|| vec!["*".to_string()]);
    let number = |key: &str| -> Result<Option<u64>, ApiError> {
        req.params
            .str(key)
            .map(|v| {
                v.trim().parse::<u64>().map_err(|_| {
                    ApiError::bad_request(
                        "SerializationException",
                        format!("'{key}' must be a non-negative integer"),
                    )
                })
            })
            .transpose()
    };
    let after = number("afterId")?.unwrap_or(0);
    let take = number("take")?.map(|t| usize::try_from(t).unwrap_or(usize::MAX));
    let messages = state.shared.chat_history.after(&channels, after, take);
    let mut out = b"{\"results\":[".to_vec();
    for (i, m) in messages.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(m);
    }
    out.extend_from_slice(b"]}");
    Ok(crate::respond::json_text(StatusCode::OK, out))
}

/// `ResetServerEvents`: forget every subscription (streams stay open and silent).
pub(crate) async fn reset(State(state): State<AppState>) -> Response {
    state.shared.reset();
    empty(StatusCode::NO_CONTENT)
}
