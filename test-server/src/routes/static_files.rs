//! The fallback route: static files from `static_dir`, or ServiceStack's 404.

use std::path::{Component, Path, PathBuf};

use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Method, StatusCode, header};

use super::AppState;
use crate::respond::ApiError;

fn content_type(path: &Path) -> &'static str {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
        .as_deref()
    {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json" | "map") => "application/json",
        Some("wasm") => "application/wasm",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("ico") => "image/x-icon",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Maps a request path under `root`, refusing anything that could escape it.
fn resolve(root: &Path, request_path: &str) -> Option<PathBuf> {
    let decoded = percent_encoding::percent_decode_str(request_path)
        .decode_utf8()
        .ok()?;
    let mut path = root.to_path_buf();
    for component in Path::new(decoded.trim_start_matches('/')).components() {
        match component {
            Component::Normal(part) => path.push(part),
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(path)
}

fn not_found(path: &str) -> Response {
    ApiError::not_found(format!(
        "Handler for Request not found (404):\n  Request.PathInfo: {path}"
    ))
    .into_response()
}

/// Serves `GET`/`HEAD` from the static directory when configured.
pub(crate) async fn fallback(
    State(state): State<AppState>,
    method: Method,
    uri: http::Uri,
) -> Response {
    let Some(root) = state.shared.config.static_dir.as_ref() else {
        return not_found(uri.path());
    };
    if method != Method::GET && method != Method::HEAD {
        return not_found(uri.path());
    }
    let Some(mut path) = resolve(root, uri.path()) else {
        return not_found(uri.path());
    };
    if tokio::fs::metadata(&path).await.is_ok_and(|m| m.is_dir()) {
        path.push("index.html");
    }
    match tokio::fs::read(&path).await {
        Ok(bytes) => {
            let mut resp = Response::new(if method == Method::HEAD {
                Body::empty()
            } else {
                Body::from(bytes)
            });
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(content_type(&path)),
            );
            resp.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            resp
        }
        Err(_) => {
            let mut resp = not_found(uri.path());
            *resp.status_mut() = StatusCode::NOT_FOUND;
            resp
        }
    }
}
