//! `GET /event-stream`: the handshake (`ServerEventsHandler`).

use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

use super::AppState;
use crate::auth::{Credentials, cookies, session_id_of};
use crate::binding::{parse_query, query_value};
use crate::config::update_path_for;
use crate::frame::EventStream;
use crate::registry::{ConnectUrls, Identity};
use crate::respond::{ApiError, ConnectionAbort, RemoteAddr, base_url};
use crate::util::random_id;

/// `EventSubscription.UnknownChannel`.
const UNKNOWN_CHANNEL: &str = "*";

fn stream_response(body: EventStream) -> Response {
    let mut resp = Response::new(Body::from_stream(body));
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    resp
}

/// `base` with its host replaced by `127.0.0.2`, a loopback address this server does not
/// listen on (the foreign-URL fault's default).
fn foreign_host(base: &str) -> String {
    let Some((scheme, rest)) = base.split_once("://") else {
        return base.to_owned();
    };
    let port = rest.rsplit_once(':').map(|(_, port)| port);
    match port {
        Some(port) if port.chars().all(|c| c.is_ascii_digit()) => {
            format!("{scheme}://127.0.0.2:{port}")
        }
        _ => format!("{scheme}://127.0.0.2"),
    }
}

/// The html-stream fault's answer: a `200 text/html` page whose lines look like SSE frames.
fn html_page() -> Response {
    let page = "<!doctype html>\n<title>Sign in</title>\n\
        id: 1\ndata: cmd.onConnect {\"id\":\"html-page\",\"heartbeatIntervalMs\":\"10000\",\"idleTimeoutMs\":\"30000\"}\n\n\
        id: 2\ndata: cmd.chat {\"message\":\"from an html page\"}\n\n";
    let mut response = Response::new(Body::from(page));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

/// The channel list: `channel` then `channels`, each split on `,` without trimming; `*` when
/// both are absent or empty.
pub(crate) fn channels_of(query: &[(String, String)]) -> Vec<String> {
    let mut channels = Vec::new();
    for key in ["channel", "channels"] {
        if let Some(v) = query_value(query, key).filter(|v| !v.is_empty()) {
            channels.extend(v.split(',').map(str::to_string));
        }
    }
    if channels.is_empty() {
        channels.push(UNKNOWN_CHANNEL.to_string());
    }
    channels
}

/// `GET <StreamPath>`.
pub(crate) async fn stream(State(state): State<AppState>, parts: http::request::Parts) -> Response {
    let shared = &state.shared;
    shared.on_stream_request();
    if shared.is_shutting_down() {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            "The server is shutting down",
        )
        .into_response();
    }
    if let Some((status, retry_after_secs)) = shared.faults.take_fail_stream() {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response =
            ApiError::new(status, "InjectedFault", "Injected stream failure").into_response();
        if retry_after_secs > 0 {
            response
                .headers_mut()
                .insert(http::header::RETRY_AFTER, retry_after_secs.into());
        }
        return response;
    }

    let query = parse_query(parts.uri.query());
    let token = query
        .iter()
        .find(|(k, _)| k == "ss-tok")
        .map(|(_, v)| v.as_str());
    let limit = shared.config.limit_to_authenticated_users;
    let creds = match shared.auth.resolve(&parts.headers, token) {
        Credentials::Invalid { message } if limit => {
            return ApiError::unauthorized(message).into_response();
        }
        // Without the limit an unusable token leaves the caller anonymous.
        Credentials::Invalid { .. } => Credentials::Anonymous {
            session_id: session_id_of(&cookies(&parts.headers)),
        },
        creds => creds,
    };
    let authenticated = matches!(creds, Credentials::Authenticated { .. });
    let user_name = match &creds {
        Credentials::Authenticated { session, .. } => Some(session.user_name.clone()),
        _ => None,
    };
    if limit && !authenticated {
        return ApiError::unauthorized("Not Authenticated").into_response();
    }

    let channels = channels_of(&query);
    if let Err(e) = channels
        .iter()
        .try_for_each(|c| ApiError::check_name("Channel", c))
    {
        return e.into_response();
    }

    if let Some(hook) = &shared.config.hooks.on_init
        && let Err(status) = hook(&parts)
    {
        return ApiError::new(status, "Rejected", "The stream was refused by OnInit")
            .into_response();
    }

    if shared.faults.take_stall_stream() {
        return stream_response(shared.open_stalled_stream());
    }
    if shared.faults.take_html_stream() {
        return html_page();
    }
    if let Some(origin) = shared.faults.take_redirect_stream() {
        let target = format!(
            "{origin}{}",
            parts.uri.path_and_query().map_or("/", |p| p.as_str())
        );
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::FOUND;
        if let Ok(location) = HeaderValue::from_str(&target) {
            response.headers_mut().insert(header::LOCATION, location);
        }
        return response;
    }

    let anon = match state.provider.next_anon().await {
        Ok(anon) => anon,
        Err(e) => return super::unavailable(e).into_response(),
    };
    let id = random_id(20);
    let base = match shared.faults.take_foreign_connect_urls() {
        None => base_url(&parts),
        Some(origin) if !origin.is_empty() => origin,
        Some(_) => foreign_host(&base_url(&parts)),
    };
    let paths = &shared.config.paths;
    let urls = ConnectUrls {
        unregister: paths
            .unregister
            .as_ref()
            .map(|p| format!("{base}{p}?id={id}")),
        heartbeat: paths
            .heartbeat
            .as_ref()
            .map(|p| format!("{base}{p}?id={id}")),
        update_subscriber: paths
            .update_subscribers
            .as_ref()
            .map(|p| format!("{base}{}", update_path_for(p, &id))),
    };
    let identity = Identity {
        // No user repository: sessions have no UserAuthId, so authenticated streams are `-N`
        // too, and the safe display name falls back to `userN` (spec §3.1). The session's user
        // name is kept, so NotifyUserName reaches signed-in streams.
        user_id: format!("-{anon}"),
        user_name,
        display_name: format!("user{anon}"),
        session_id: creds.session_id().map(str::to_string),
        is_authenticated: authenticated,
        user_address: parts.extensions.get::<RemoteAddr>().map(|r| r.ip()),
        profile_url: None,
    };
    let (sub, body) = shared.open_subscription(id, identity, channels, urls);
    if let Some(abort) = parts.extensions.get::<ConnectionAbort>() {
        sub.stream.set_connection(abort.0.clone());
    }
    // Store first (`RegisterAsync`): the client cannot read `cmd.onConnect` before every node
    // can find the subscription, because the body is returned only after this.
    if let Err(e) = state.provider.stored(sub.clone()).await {
        shared.forget(&sub);
        return super::unavailable(e).into_response();
    }
    stream_response(body)
}
