//! `POST|GET /event-heartbeat?id=` (`ServerEventsHeartbeatHandler`).

use std::time::Duration;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::StatusCode;

use super::{AppState, Denied, check_access, unavailable};
use crate::auth::Credentials;
use crate::binding::{parse_query, query_value};
use crate::provider::Pulsed;
use crate::respond::{ApiError, RemoteAddr, empty, plain_status};

/// How long a heartbeat waits for its `cmd.onHeartbeat` frame to reach the connection.
const DELIVERY_WAIT: Duration = Duration::from_secs(1);

/// Pulses the subscription and writes `cmd.onHeartbeat` to it before answering 200.
pub(crate) async fn heartbeat(
    State(state): State<AppState>,
    parts: http::request::Parts,
) -> Response {
    let shared = &state.shared;
    let query = parse_query(parts.uri.query());
    let token = query
        .iter()
        .find(|(k, _)| k == "ss-tok")
        .map(|(_, v)| v.as_str());
    let creds = shared.auth.resolve(&parts.headers, token);
    if let Credentials::Invalid { message } = creds {
        return ApiError::unauthorized(message).into_response();
    }
    if let Some(status) = shared.faults.take_reject_heartbeat() {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return plain_status(status, "Heartbeat rejected (injected fault)");
    }

    // Housekeeping, throttled by HouseKeepingInterval.
    shared.remove_expired(true);
    if let Some(hook) = &shared.config.hooks.on_heartbeat_init
        && let Err(status) = hook(&parts)
    {
        return plain_status(status, "Heartbeat refused by OnHeartbeatInit");
    }

    let id = query_value(&query, "id").unwrap_or_default();
    let not_found = || {
        plain_status(
            StatusCode::NOT_FOUND,
            &format!("Subscription '{id}' does not exist"),
        )
    };
    let sub = match state.provider.find(&id).await {
        Ok(Some(sub)) => sub,
        Ok(None) => return not_found(),
        Err(e) => return unavailable(e).into_response(),
    };
    let remote = parts.extensions.get::<RemoteAddr>().map(|r| r.ip());
    match check_access(shared, &sub, remote, &creds) {
        Ok(()) => {}
        Err(Denied::Address) => return plain_status(StatusCode::FORBIDDEN, "Invalid User Address"),
        Err(Denied::Identity) => {
            return plain_status(
                StatusCode::FORBIDDEN,
                &format!("Access to Subscription '{id}' is forbidden"),
            );
        }
    }
    match state.provider.pulse(&sub).await {
        Err(e) => unavailable(e).into_response(),
        Ok(Pulsed::NotFound) => not_found(),
        Ok(Pulsed::Remote) => empty(StatusCode::OK),
        Ok(Pulsed::Local(sub, target)) => {
            if let Some(target) = target {
                sub.stream.wait_delivered(target, DELIVERY_WAIT).await;
            }
            empty(StatusCode::OK)
        }
    }
}
