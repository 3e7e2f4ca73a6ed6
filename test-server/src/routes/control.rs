//! The `/test/*` control routes: fault switches, raw writes, disconnects, stats, token expiry.

use std::time::Duration;

use axum::extract::State;
use axum::response::Response;
use http::StatusCode;
use serde::Serialize;
use serde_json::Value;

use super::AppState;
use crate::binding::{RawReq, Req, query_value};
use crate::faults::FaultsSnapshot;
use crate::registry::{ServerStats, Target};
use crate::respond::{ApiError, empty, json};
use crate::server::CrashSpare;

fn bad(message: String) -> ApiError {
    ApiError::bad_request("ArgumentException", message)
}

/// A count: a non-negative integer, `-1`/`"max"`/`"unlimited"` for "until cleared"; absent = 1.
fn count_of(v: Option<&Value>, field: &str) -> Result<usize, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(1),
        Some(Value::Number(n)) => match (n.as_u64(), n.as_i64()) {
            (Some(c), _) => Ok(usize::try_from(c).unwrap_or(usize::MAX)),
            (None, Some(-1)) => Ok(usize::MAX),
            _ => Err(bad(format!(
                "'{field}' count must be a non-negative integer or -1"
            ))),
        },
        Some(Value::String(s)) => {
            let s = s.trim();
            if s.eq_ignore_ascii_case("max") || s.eq_ignore_ascii_case("unlimited") || s == "-1" {
                Ok(usize::MAX)
            } else {
                s.parse::<usize>().map_err(|_| {
                    bad(format!(
                        "'{field}' count must be a non-negative integer or -1"
                    ))
                })
            }
        }
        Some(_) => Err(bad(format!("'{field}' count must be a number"))),
    }
}

fn number_of(v: Option<&Value>, field: &str) -> Result<Option<u64>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .map(Some)
            .ok_or_else(|| bad(format!("'{field}' must be a non-negative integer"))),
        Some(Value::String(s)) => s
            .trim()
            .parse::<u64>()
            .map(Some)
            .map_err(|_| bad(format!("'{field}' must be a non-negative integer"))),
        Some(_) => Err(bad(format!("'{field}' must be a number"))),
    }
}

fn status_of(v: Option<&Value>, field: &str) -> Result<u16, ApiError> {
    let status = number_of(v, field)?.unwrap_or(500);
    u16::try_from(status)
        .ok()
        .filter(|s| (100..=999).contains(s))
        .ok_or_else(|| bad(format!("'{field}' status must be between 100 and 999")))
}

/// A fault value: a bare count, or an object with `status`/`count`/`ms` keys (any case).
fn fault_args(
    req: &Req,
    key: &str,
) -> Result<Option<std::collections::HashMap<String, Value>>, ApiError> {
    if !req.params.has(key) {
        return Ok(None);
    }
    match req.params.object(key) {
        Ok(Some(obj)) => Ok(Some(obj)),
        Ok(None) => Ok(None),
        Err(_) => {
            // A bare value: the count (or the delay in ms).
            let raw = req.params.str(key).unwrap_or_default();
            let value = serde_json::from_str::<Value>(&raw).unwrap_or(Value::String(raw));
            Ok(Some(
                [
                    ("count".to_string(), value.clone()),
                    ("ms".to_string(), value),
                ]
                .into_iter()
                .collect(),
            ))
        }
    }
}

/// `POST /test/faults`: sets fault switches from a JSON (or form/query) body, e.g.
/// `{"failStreams":{"status":503,"count":1,"retryAfter":2}}` or `{"clear":true}`; answers the
/// new state.
pub(crate) async fn faults(State(state): State<AppState>, req: Req) -> Result<Response, ApiError> {
    let faults = &state.shared.faults;
    if req
        .params
        .str("clear")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    {
        faults.clear();
    }
    if let Some(args) = fault_args(&req, "failStreams")? {
        let status = status_of(args.get("status"), "failStreams")?;
        let count = count_of(args.get("count"), "failStreams")?;
        let retry_after = number_of(args.get("retryafter"), "failStreams.retryAfter")?;
        faults.fail_streams_with_retry_after(status, count, retry_after.map(Duration::from_secs));
    }
    if let Some(args) = fault_args(&req, "stallStreams")? {
        faults.stall_streams(count_of(args.get("count"), "stallStreams")?);
    }
    if let Some(args) = fault_args(&req, "cutStreamsMidFrame")? {
        faults.cut_streams_mid_frame(count_of(args.get("count"), "cutStreamsMidFrame")?);
    }
    if let Some(args) = fault_args(&req, "rejectHeartbeats")? {
        let status = status_of(args.get("status"), "rejectHeartbeats")?;
        faults.reject_heartbeats(status, count_of(args.get("count"), "rejectHeartbeats")?);
    }
    if let Some(args) = fault_args(&req, "foreignConnectUrls")? {
        let origin = args
            .get("origin")
            .and_then(Value::as_str)
            .filter(|o| !o.is_empty());
        faults.foreign_connect_urls(origin, count_of(args.get("count"), "foreignConnectUrls")?);
    }
    if let Some(args) = fault_args(&req, "htmlStreams")? {
        faults.html_streams(count_of(args.get("count"), "htmlStreams")?);
    }
    if let Some(args) = fault_args(&req, "redirectStreams")? {
        let origin = args
            .get("origin")
            .and_then(Value::as_str)
            .filter(|o| o.starts_with("http://") || o.starts_with("https://"))
            .ok_or_else(|| bad("'redirectStreams' needs an http(s) 'origin'".into()))?;
        faults.redirect_streams(origin, count_of(args.get("count"), "redirectStreams")?);
    }
    if let Some(args) = fault_args(&req, "delayResponses")? {
        let ms = number_of(args.get("ms").or(args.get("millis")), "delayResponses")?.unwrap_or(0);
        faults.delay_responses(Duration::from_millis(ms));
    }
    if let Some(ms) = req.params.str("delayResponsesMs") {
        let ms = ms
            .trim()
            .parse::<u64>()
            .map_err(|_| bad("'delayResponsesMs' must be a non-negative integer".into()))?;
        faults.delay_responses(Duration::from_millis(ms));
    }
    Ok(json(StatusCode::OK, &faults.snapshot()))
}

/// `GET /test/faults`: the current switches.
pub(crate) async fn faults_get(State(state): State<AppState>) -> Response {
    json(StatusCode::OK, &state.shared.faults.snapshot())
}

/// `POST /test/raw?id=<subId>`: writes the body bytes to that stream as they are.
pub(crate) async fn raw(State(state): State<AppState>, req: RawReq) -> Result<Response, ApiError> {
    let id = query_value(&req.query, "id").unwrap_or_default();
    if state.shared.publish_raw(&id, &req.body) {
        Ok(empty(StatusCode::NO_CONTENT))
    } else {
        Err(ApiError::subscription_not_found(&id))
    }
}

/// `POST /test/notify`: the server-side notify APIs over HTTP, for legs that cannot call the
/// library: `{"target": "all"|"channel"|"subscription"|"userId"|"userName"|"session", "to":
/// "...", "selector": "cmd.x", "message": <any JSON, written as JSON>, "channel": <filter>,
/// "elsewhere": <bool>}`. With `"elsewhere": true` (cluster nodes only) the notification is
/// published by a node that holds none of its recipients (409 when there is none), so it
/// reaches them through Redis.
pub(crate) async fn notify(State(state): State<AppState>, req: Req) -> Result<Response, ApiError> {
    let target = req.params.str("target").unwrap_or_default();
    let to = req.params.str("to").unwrap_or_default();
    let selector = req
        .params
        .str("selector")
        .ok_or_else(|| bad("'selector' is required".into()))?;
    ApiError::check_name("Selector", &selector)?;
    let filter = req.params.str("channel");
    if let Some(ch) = &filter {
        ApiError::check_name("Channel", ch)?;
    }
    let body = match req.params.value("message") {
        None | Some(Value::Null) => bytes::Bytes::new(),
        Some(v) => bytes::Bytes::from(v.to_string()),
    };
    let filter = filter.as_deref();
    let (target, filter) = match target.to_ascii_lowercase().as_str() {
        "all" => (Target::All, filter),
        "channel" => {
            ApiError::check_name("Channel", &to)?;
            (Target::Channel(&to), None)
        }
        "subscription" => (Target::Subscription(&to), filter),
        "userid" => (Target::UserId(&to), filter),
        "username" => (Target::UserName(&to), filter),
        "session" => (Target::Session(&to), filter),
        other => {
            return Err(bad(format!(
                "unknown target {other:?}: all, channel, subscription, userId, userName or session"
            )));
        }
    };
    let elsewhere = match req.params.value("elsewhere") {
        None | Some(Value::Null | Value::Bool(false)) => false,
        Some(Value::Bool(true)) => true,
        Some(_) => return Err(bad("'elsewhere' must be true or false".into())),
    };
    if !elsewhere {
        state.shared.notify(target, &selector, &body, filter);
        return Ok(empty(StatusCode::NO_CONTENT));
    }
    // Published by a node that holds none of the recipients, so it has to cross Redis.
    let nodes = state
        .shared
        .cluster_nodes()
        .ok_or_else(|| bad("'elsewhere' needs a node of a cluster (the cluster profile)".into()))?;
    let node = nodes.not_holding(target, filter).ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "Conflict",
            "every running node of this cluster holds a recipient of that notification",
        )
    })?;
    node.shared.notify(target, &selector, &body, filter);
    Ok(empty(StatusCode::NO_CONTENT))
}

/// `POST /test/crash-node?id=<subId>` (nodes of the cluster profile only, else 404): crashes
/// the node that holds that subscription, like a killed process (see
/// [`crash`](crate::cluster::crash)). Only the subscription's own caller may ask, by the rules
/// of `/event-unregister`: its address (`ValidateUserAddress`) and, for a signed-in stream,
/// its session (401 bad token, 404 unknown subscription, 403 anyone else). Answers
/// `{"node": <index>}` once the crashed node has stopped listening, with `Connection: close`.
pub(crate) async fn crash_node(
    State(state): State<AppState>,
    req: Req,
) -> Result<Response, ApiError> {
    let nodes = state.shared.cluster_nodes().cloned().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            "/test/crash-node exists on the nodes of the cluster profile only",
        )
    })?;
    let sub = super::requested_subscription(&state, &req).await?;
    let holder = nodes.holder_of(&sub.id).ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "Conflict",
            format!(
                "no running node of this cluster holds subscription {}",
                sub.id
            ),
        )
    })?;
    if std::sync::Arc::ptr_eq(&holder.shared, &state.shared)
        && let Some(spare) = req.parts.extensions.get::<CrashSpare>()
    {
        spare.spare();
    }
    crate::cluster::crash(&holder).await;
    let mut response = json(StatusCode::OK, &serde_json::json!({ "node": holder.index }));
    response.headers_mut().insert(
        http::header::CONNECTION,
        http::HeaderValue::from_static("close"),
    );
    Ok(response)
}

/// `POST /test/disconnect-all`.
pub(crate) async fn disconnect_all(State(state): State<AppState>) -> Response {
    state.shared.disconnect_all();
    empty(StatusCode::NO_CONTENT)
}

/// `POST /test/expire-tokens`.
pub(crate) async fn expire_tokens(State(state): State<AppState>) -> Response {
    state.shared.auth.expire_tokens();
    empty(StatusCode::NO_CONTENT)
}

#[derive(Serialize)]
struct StatsBody {
    #[serde(flatten)]
    stats: ServerStats,
    faults: FaultsSnapshot,
}

/// `GET /test/stats`: [`ServerStats`] (incl. `subscriptionCount`) plus the fault switches.
pub(crate) async fn stats(State(state): State<AppState>) -> Response {
    json(
        StatusCode::OK,
        &StatsBody {
            stats: state.shared.stats(),
            faults: state.shared.faults.snapshot(),
        },
    )
}
