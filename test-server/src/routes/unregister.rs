//! Any verb on `/event-unregister` (`UnRegisterEventSubscriber`).

use std::time::Duration;

use axum::extract::State;
use axum::response::Response;
use http::StatusCode;

use super::{AppState, requested_subscription, unavailable};
use crate::binding::Req;
use crate::respond::{ApiError, json_text};

/// How long an unregister waits for the stream to end before answering anyway.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// Unregisters, closes the stream, sends `cmd.onLeave`, then answers the Meta JSON.
pub(crate) async fn unregister(
    State(state): State<AppState>,
    req: Req,
) -> Result<Response, ApiError> {
    handle(&state, req).await
}

pub(crate) async fn handle(state: &AppState, req: Req) -> Result<Response, ApiError> {
    let sub = requested_subscription(state, &req).await?;
    let meta = sub.meta_json.clone();
    state.provider.unregister(&sub).await.map_err(unavailable)?;
    if let Some(local) = &sub.local {
        local.stream.wait_ended(CLOSE_WAIT).await;
    }
    Ok(json_text(StatusCode::OK, meta))
}
