//! `/event-subscribers` (`GetEventSubscribers`) and `/event-subscribers/{id}`
//! (`UpdateEventSubscriber`).

use axum::extract::State;
use axum::response::Response;
use bytes::{BufMut, BytesMut};
use http::StatusCode;

use super::{AppState, reject_invalid_token, requested_subscription, unavailable};
use crate::auth::Credentials;
use crate::binding::{Req, query_value};
use crate::respond::{ApiError, json_text};

/// Meta maps of the members of the requested channels (all subscriptions when none).
pub(crate) async fn get_subscribers(
    State(state): State<AppState>,
    req: Req,
) -> Result<Response, ApiError> {
    handle_get(&state, req).await
}

pub(crate) async fn handle_get(state: &AppState, req: Req) -> Result<Response, ApiError> {
    // The list follows the stream's rule: who may not subscribe may not see who did.
    let creds = reject_invalid_token(&state.shared, &req)?;
    if state.shared.config.limit_to_authenticated_users
        && !matches!(creds, Credentials::Authenticated { .. })
    {
        return Err(ApiError::unauthorized("Not Authenticated"));
    }
    let mut channels = Vec::new();
    // The deprecated raw `channel` query value first, then the typed `Channels`.
    if let Some(raw) = query_value(&req.query, "channel").filter(|v| !v.is_empty()) {
        channels.extend(raw.split(',').map(str::to_string));
    }
    if let Some(typed) = req.params.list("channels") {
        channels.extend(typed);
    }
    let items = state
        .provider
        .details(&channels)
        .await
        .map_err(unavailable)?;
    let mut out = BytesMut::with_capacity(2 + items.iter().map(|i| i.len() + 1).sum::<usize>());
    out.put_u8(b'[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.put_u8(b',');
        }
        out.put_slice(item);
    }
    out.put_u8(b']');
    Ok(json_text(StatusCode::OK, out.freeze()))
}

/// Unsubscribes, then subscribes, sending `cmd.onUpdate`, then answers `{}`.
pub(crate) async fn update_subscriber(
    State(state): State<AppState>,
    req: Req,
) -> Result<Response, ApiError> {
    handle_update(&state, req).await
}

pub(crate) async fn handle_update(state: &AppState, req: Req) -> Result<Response, ApiError> {
    let sub = requested_subscription(state, &req).await?;
    let subscribe = req.params.list("subscribeChannels");
    let unsubscribe = req.params.list("unsubscribeChannels");
    for ch in subscribe.iter().chain(unsubscribe.iter()).flatten() {
        ApiError::check_name("Channel", ch)?;
    }
    let updated = state
        .provider
        .update(
            &sub,
            &unsubscribe.unwrap_or_default(),
            &subscribe.unwrap_or_default(),
        )
        .await
        .map_err(unavailable)?;
    if !updated {
        return Err(ApiError::subscription_not_found(&sub.id));
    }
    Ok(json_text(StatusCode::OK, "{}"))
}
