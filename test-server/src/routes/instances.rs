//! `POST /test/servers` and `POST /test/shutdown`: fresh server instances on demand, for test
//! legs that cannot start processes themselves (a page in a browser), so every scenario still
//! gets a server of its own.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::response::Response;
use http::StatusCode;
use serde_json::json as json_value;

use super::AppState;
use crate::binding::Req;
use crate::config::ServerConfig;
use crate::respond::{ApiError, empty, json};
use crate::server::TestServer;

/// The instances started through this server; they stop when it stops.
pub(crate) type Instances = Arc<Mutex<Vec<TestServer>>>;

/// `POST /test/servers` with `{"profile": "default"}`: starts a fresh instance with that
/// profile on a new loopback port and answers `{"baseUrl": "http://127.0.0.1:PORT"}`.
pub(crate) async fn start_instance(
    State(state): State<AppState>,
    req: Req,
) -> Result<Response, ApiError> {
    let profile = req
        .params
        .str("profile")
        .unwrap_or_else(|| "default".into());
    if profile == "cluster" {
        // An instance here is one node; a cluster is several nodes, Redis and a front.
        return Err(ApiError::bad_request(
            "ArgumentException",
            "the cluster profile runs several nodes: start the binary with --profile cluster",
        ));
    }
    let mut config = ServerConfig::for_profile(&profile).ok_or_else(|| {
        ApiError::bad_request(
            "ArgumentException",
            format!(
                "unknown profile {profile:?}; expected one of {:?}",
                ServerConfig::PROFILES
            ),
        )
    })?;
    config.static_dir = state.shared.config.static_dir.clone();
    let instance = TestServer::start(config).await.map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "IOException",
            format!("cannot start an instance: {e}"),
        )
    })?;
    let base_url = instance.base_url().to_owned();
    state
        .instances
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .push(instance);
    Ok(json(
        StatusCode::OK,
        &json_value!({ "baseUrl": base_url, "profile": profile }),
    ))
}

/// `POST /test/shutdown`: stops this server (closing every stream) once the answer is sent.
pub(crate) async fn shutdown(State(state): State<AppState>) -> Response {
    // In-flight connections, this one included, get the server's shutdown grace to finish.
    state.shared.cancel.cancel();
    empty(StatusCode::ACCEPTED)
}
