//! Any verb on `/event-unregister` (`UnRegisterEventSubscriber`).

use std::time::Duration;

use axum::extract::State;
use axum::response::Response;
use http::StatusCode;

use super::{AppState, requested_subscription};
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
    let shared = &state.shared;
    let sub = requested_subscription(shared, &req)?;
    let meta = sub.meta_json();
    shared.unregister_sub(&sub);
    sub.stream.wait_ended(CLOSE_WAIT).await;
    Ok(json_text(StatusCode::OK, meta))
}
