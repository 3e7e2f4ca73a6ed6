//! ServiceStack's predefined routes: `/api/{Name}` and `/json/reply/{Name}`.

use axum::extract::State;
use axum::response::Response;
use http::StatusCode;

use super::{AppState, auth, subscribers, test_services, unregister};
use crate::binding::Req;
use crate::respond::{ApiError, empty};

/// Dispatches a predefined route to its service by (case-insensitive) request DTO name.
pub(crate) async fn dispatch(
    State(state): State<AppState>,
    req: Req,
) -> Result<Response, ApiError> {
    let name = req
        .parts
        .uri
        .path()
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let paths = &state.shared.config.paths;
    match name.as_str() {
        "geteventsubscribers" if paths.subscribers.is_some() => {
            subscribers::handle_get(&state, req).await
        }
        "updateeventsubscriber" if paths.update_subscribers.is_some() => {
            subscribers::handle_update(&state, req).await
        }
        "unregistereventsubscriber" if paths.unregister.is_some() => {
            unregister::handle(&state, req).await
        }
        "postchattochannel" => test_services::handle_chat(&state, req).await,
        "postrawtochannel" => test_services::handle_raw(&state, req).await,
        "postobjecttochannel" => test_services::handle_object(&state, req).await,
        "getchathistory" => test_services::handle_chat_history(&state, req),
        "authenticate" => auth::handle(&state, req),
        "resetserverevents" => {
            state.shared.reset();
            Ok(empty(StatusCode::NO_CONTENT))
        }
        _ => Err(ApiError::not_found(format!(
            "The operation '{name}' does not exist for this service"
        ))),
    }
}
