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
/// "...", "selector": "cmd.x", "message": <any JSON, written as JSON>, "channel": <filter>}`.
pub(crate) async fn notify(State(state): State<AppState>, req: Req) -> Result<Response, ApiError> {
    let shared = &state.shared;
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
    match target.to_ascii_lowercase().as_str() {
        "all" => shared.notify(Target::All, &selector, &body, filter),
        "channel" => {
            ApiError::check_name("Channel", &to)?;
            shared.notify(Target::Channel(&to), &selector, &body, None);
        }
        "subscription" => shared.notify(Target::Subscription(&to), &selector, &body, filter),
        "userid" => shared.notify(Target::UserId(&to), &selector, &body, filter),
        "username" => shared.notify(Target::UserName(&to), &selector, &body, filter),
        "session" => shared.notify(Target::Session(&to), &selector, &body, filter),
        other => {
            return Err(bad(format!(
                "unknown target {other:?}: all, channel, subscription, userId, userName or session"
            )));
        }
    }
    Ok(empty(StatusCode::NO_CONTENT))
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
