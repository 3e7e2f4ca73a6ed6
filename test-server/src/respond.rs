//! Response helpers: ServiceStack error bodies, JSON, status text, request metadata.

use std::net::{IpAddr, SocketAddr};

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

/// The remote address of the connection a request came in on (set by the accept loop).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RemoteAddr(pub(crate) SocketAddr);

/// Request extension: cancelling it closes the request's connection once the response is done,
/// and drops it outright (unsent bytes and all) after a grace period, for readers that stopped
/// reading and so would hold their buffers forever.
#[derive(Clone)]
pub(crate) struct ConnectionAbort(pub(crate) tokio_util::sync::CancellationToken);

impl RemoteAddr {
    /// The IP, with IPv4-mapped IPv6 addresses normalised to IPv4.
    pub(crate) fn ip(&self) -> IpAddr {
        match self.0.ip() {
            IpAddr::V6(v6) => v6
                .to_ipv4_mapped()
                .map(IpAddr::V4)
                .unwrap_or(IpAddr::V6(v6)),
            ip => ip,
        }
    }
}

/// Sets a custom HTTP/1 status text (`StatusDescription`) when it is a valid reason phrase.
pub(crate) fn set_reason(resp: &mut Response, text: &str) {
    if text.len() <= 512
        && let Ok(reason) = hyper::ext::ReasonPhrase::try_from(text.as_bytes())
    {
        resp.extensions_mut().insert(reason);
    }
}

/// A ServiceStack-style error: `{"responseStatus":{"errorCode":..,"message":..,"errors":[]}}`.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) code: String,
    pub(crate) message: String,
    pub(crate) www_authenticate: Option<&'static str>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code: code.to_string(),
            message: message.into(),
            www_authenticate: None,
        }
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NotFound", message)
    }

    pub(crate) fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "Forbidden", message)
    }

    pub(crate) fn bad_request(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub(crate) fn unauthorized(message: impl Into<String>) -> Self {
        ApiError {
            www_authenticate: Some("credentials realm=\"/auth/credentials\""),
            ..Self::new(StatusCode::UNAUTHORIZED, "Unauthorized", message)
        }
    }

    pub(crate) fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            format!("Request body exceeds the limit of {limit} bytes"),
        )
    }

    /// Rejects a channel or selector name that contains `@` (ServiceStack's `AssertChannel` /
    /// `AssertSelector`) or a line break (which would corrupt the framing of every recipient).
    pub(crate) fn check_name(kind: &str, name: &str) -> Result<(), ApiError> {
        if name.contains('@') {
            Err(Self::bad_request(
                "ArgumentException",
                format!("{kind} '{name}' must not contain '@'"),
            ))
        } else if name.contains(['\r', '\n']) {
            Err(Self::bad_request(
                "ArgumentException",
                format!("{kind} {name:?} must not contain line breaks"),
            ))
        } else {
            Ok(())
        }
    }

    /// `Subscription '<id>' does not exist`.
    pub(crate) fn subscription_not_found(id: &str) -> Self {
        Self::not_found(format!("Subscription '{id}' does not exist"))
    }

    /// `Access to Subscription '<id>' is forbidden`.
    pub(crate) fn subscription_forbidden(id: &str) -> Self {
        Self::forbidden(format!("Access to Subscription '{id}' is forbidden"))
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResponseStatus<'a> {
    error_code: &'a str,
    message: &'a str,
    errors: [(); 0],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorBody<'a> {
    response_status: ResponseStatus<'a>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_string(&ErrorBody {
            response_status: ResponseStatus {
                error_code: &self.code,
                message: &self.message,
                errors: [],
            },
        })
        .unwrap_or_default();
        let mut resp = json_text(self.status, body);
        if let Some(challenge) = self.www_authenticate {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        set_reason(&mut resp, &self.message);
        resp
    }
}

/// A JSON response from already-serialised text.
pub(crate) fn json_text(status: StatusCode, body: impl Into<Body>) -> Response {
    let mut resp = Response::new(body.into());
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    resp
}

/// A JSON response from a serialisable value.
pub(crate) fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_string(value) {
        Ok(body) => json_text(status, body),
        Err(e) => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "SerializationException",
            e.to_string(),
        )
        .into_response(),
    }
}

/// A status with a custom status text and the same text as a plain body (the raw handlers'
/// `StatusDescription` responses: heartbeat 404/403).
pub(crate) fn plain_status(status: StatusCode, text: &str) -> Response {
    let mut resp = Response::new(Body::from(text.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    set_reason(&mut resp, text);
    resp
}

/// An empty response with no content type.
pub(crate) fn empty(status: StatusCode) -> Response {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = status;
    resp
}

/// The absolute base URL the client used: scheme (https when `X-Forwarded-Proto: https`) and
/// the `Host` header (or the URI authority for HTTP/2).
pub(crate) fn base_url(parts: &http::request::Parts) -> String {
    let https = parts
        .headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"));
    let scheme = if https { "https" } else { "http" };
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|h| valid_host(h))
        .map(str::to_string)
        .or_else(|| parts.uri.authority().map(|a| a.as_str().to_string()))
        .unwrap_or_else(|| "localhost".to_string());
    format!("{scheme}://{host}")
}

fn valid_host(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 255
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-_:[]%".contains(&b))
}
