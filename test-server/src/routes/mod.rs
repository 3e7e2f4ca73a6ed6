//! HTTP routes: the feature endpoints, the test-host services, auth and the test controls.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};

use crate::auth::Credentials;
use crate::binding::Req;
use crate::config::{update_route, validate_path};
use crate::cors;
use crate::provider::{Provider, ProviderError, SubRef};
use crate::registry::Shared;
use crate::respond::ApiError;

pub(crate) mod auth;
pub(crate) mod control;
pub(crate) mod heartbeat;
pub(crate) mod instances;
pub(crate) mod predefined;
pub(crate) mod static_files;
pub(crate) mod stream;
pub(crate) mod subscribers;
pub(crate) mod test_services;
pub(crate) mod unregister;

/// Router state.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) shared: Arc<Shared>,
    /// Where subscriptions live (this process, or every node on one Redis).
    pub(crate) provider: Arc<dyn Provider>,
    pub(crate) instances: instances::Instances,
}

/// Fixed routes, which configured feature paths must not shadow.
const FIXED_ROUTES: &[&str] = &[
    "/api/{name}",
    "/json/reply/{name}",
    "/channels/{channel}/chat",
    "/channels/{channel}/raw",
    "/channels/{channel}/object",
    "/auth",
    "/auth/{provider}",
    "/reset-serverevents",
    "/chathistory",
    "/test/faults",
    "/test/raw",
    "/test/disconnect-all",
    "/test/notify",
    "/test/crash-node",
    "/test/stats",
    "/test/expire-tokens",
    "/test/reset",
    "/test/servers",
    "/test/shutdown",
];

/// Why a caller may not act on a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Denied {
    /// `ValidateUserAddress`: the request comes from another address than the stream.
    Address,
    /// The stream was opened by a signed-in session (cookie or bearer token) and the caller is
    /// not that session.
    Identity,
}

/// May this caller act on that subscription (heartbeat, unregister, update, chat as it)?
///
/// ServiceStack checks only the address. A subscription created by a signed-in session is also
/// bound to that session, so an anonymous caller or another session cannot pulse, move,
/// unregister or impersonate it even from the same address.
pub(crate) fn check_access(
    shared: &Shared,
    sub: &SubRef,
    remote: Option<IpAddr>,
    creds: &Credentials,
) -> Result<(), Denied> {
    if shared.config.validate_user_address
        && let (Some(a), Some(b)) = (sub.user_address, remote)
        && a != b
    {
        return Err(Denied::Address);
    }
    if sub.is_authenticated {
        let same_session = matches!(
            creds,
            Credentials::Authenticated { session_id, .. } if sub.session_id.as_deref() == Some(session_id)
        );
        if !same_session {
            return Err(Denied::Identity);
        }
    }
    Ok(())
}

/// The subscription a service request names by `key` (`id`, or `from` for chat posts), once
/// its token is valid (else 401), the subscription exists (else 404) and the caller may act on
/// it (else 403).
pub(crate) async fn requested_subscription_by(
    state: &AppState,
    req: &Req,
    key: &str,
    not_found: impl FnOnce(&str) -> ApiError,
) -> Result<SubRef, ApiError> {
    let shared = &state.shared;
    let creds = reject_invalid_token(shared, req)?;
    let id = req.params.str(key).unwrap_or_default();
    let sub = state
        .provider
        .find(&id)
        .await
        .map_err(unavailable)?
        .ok_or_else(|| not_found(&id))?;
    if check_access(shared, &sub, req.remote, &creds).is_err() {
        return Err(ApiError::subscription_forbidden(&id));
    }
    Ok(sub)
}

/// [`requested_subscription_by`] the `id` parameter.
pub(crate) async fn requested_subscription(
    state: &AppState,
    req: &Req,
) -> Result<SubRef, ApiError> {
    requested_subscription_by(state, req, "id", ApiError::subscription_not_found).await
}

/// 503 for a provider that cannot answer (Redis down).
pub(crate) fn unavailable(e: ProviderError) -> ApiError {
    ApiError::new(
        http::StatusCode::SERVICE_UNAVAILABLE,
        "ServiceUnavailable",
        format!("The subscription store is unavailable: {e}"),
    )
}

/// Rejects requests presenting an unknown or expired bearer token (401).
pub(crate) fn reject_invalid_token(shared: &Shared, req: &Req) -> Result<Credentials, ApiError> {
    match shared.auth.resolve(&req.parts.headers, req.query_token()) {
        Credentials::Invalid { message } => Err(ApiError::unauthorized(message)),
        creds => Ok(creds),
    }
}

/// The `delay_responses` fault; the `/test/*` controls are exempt.
async fn delay(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if !req.uri().path().starts_with("/test/") {
        let delay = state.shared.faults.delay();
        if !delay.is_zero() {
            let _held = state.shared.faults.hold_for_delay();
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = state.shared.cancel.cancelled() => {
                    return ApiError::new(
                        http::StatusCode::SERVICE_UNAVAILABLE,
                        "ServiceUnavailable",
                        "The server is shutting down",
                    )
                    .into_response();
                }
            }
        }
    }
    next.run(req).await
}

/// Builds the application router.
pub(crate) fn router(shared: Arc<Shared>, provider: Arc<dyn Provider>) -> Result<Router, String> {
    let paths = shared.config.paths.clone();
    let state = AppState {
        shared,
        provider,
        instances: instances::Instances::default(),
    };

    let mut seen: HashSet<String> = FIXED_ROUTES.iter().map(|s| s.to_string()).collect();
    let mut claim = |route: &str| -> Result<(), String> {
        if seen.insert(route.to_string()) {
            Ok(())
        } else {
            Err(format!("route path {route:?} is used twice"))
        }
    };

    let mut r: Router<AppState> = Router::new();
    if let Some(p) = &paths.stream {
        validate_path(p)?;
        claim(p)?;
        r = r.route(p, get(stream::stream));
    }
    if let Some(p) = &paths.heartbeat {
        validate_path(p)?;
        claim(p)?;
        r = r.route(p, get(heartbeat::heartbeat).post(heartbeat::heartbeat));
    }
    if let Some(p) = &paths.unregister {
        validate_path(p)?;
        claim(p)?;
        r = r.route(p, any(unregister::unregister));
    }
    if let Some(p) = &paths.subscribers {
        validate_path(p)?;
        claim(p)?;
        r = r.route(p, any(subscribers::get_subscribers));
    }
    if let Some(p) = &paths.update_subscribers {
        let (route, _) = update_route(p)?;
        claim(&route)?;
        r = r.route(&route, any(subscribers::update_subscriber));
    }

    r = r
        .route("/api/{name}", any(predefined::dispatch))
        .route("/json/reply/{name}", any(predefined::dispatch))
        .route("/channels/{channel}/chat", any(test_services::chat))
        .route("/channels/{channel}/raw", any(test_services::raw))
        .route("/channels/{channel}/object", any(test_services::object))
        .route("/auth", any(auth::authenticate))
        .route("/auth/{provider}", any(auth::authenticate))
        .route("/reset-serverevents", any(test_services::reset))
        .route("/chathistory", any(test_services::chat_history))
        .route(
            "/test/faults",
            post(control::faults).get(control::faults_get),
        )
        .route("/test/raw", post(control::raw))
        .route("/test/disconnect-all", post(control::disconnect_all))
        .route("/test/notify", post(control::notify))
        .route("/test/crash-node", post(control::crash_node))
        .route("/test/stats", get(control::stats))
        .route("/test/expire-tokens", post(control::expire_tokens))
        .route("/test/reset", post(test_services::reset))
        .route("/test/servers", post(instances::start_instance))
        .route("/test/shutdown", post(instances::shutdown))
        .fallback(static_files::fallback);

    let router = r
        .layer(middleware::from_fn_with_state(state.clone(), delay))
        .layer(cors::trace_layer())
        .layer(cors::cors_layer())
        .layer(middleware::map_response(cors::global_headers))
        .with_state(state);
    Ok(router)
}
