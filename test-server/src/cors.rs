//! Cross-origin access, the global response headers and request tracing.

use std::time::Duration;

use axum::response::Response;
use http::{HeaderName, HeaderValue, header};
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::cors::{AllowHeaders, AllowMethods, AllowOrigin, CorsLayer};
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;

/// The `X-Powered-By` value.
pub(crate) const POWERED_BY: &str = "ServiceStack/8.0 Rust/test-server";

/// Credentialed CORS: the request's `Origin` is echoed with
/// `Access-Control-Allow-Credentials: true`; preflights allow whatever method and headers they
/// ask for.
pub(crate) fn cors_layer() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::mirror_request())
        .allow_credentials(true)
        .allow_methods(AllowMethods::mirror_request())
        .allow_headers(AllowHeaders::mirror_request())
        .allow_private_network(true)
        .expose_headers([
            header::CONTENT_TYPE,
            header::CONTENT_LENGTH,
            header::CACHE_CONTROL,
            header::VARY,
            header::WWW_AUTHENTICATE,
            header::RETRY_AFTER,
            HeaderName::from_static("x-powered-by"),
            HeaderName::from_static("x-accel-buffering"),
        ])
        .max_age(Duration::from_secs(600))
}

/// ServiceStack's global response headers: `Vary: Accept` and `X-Powered-By`.
pub(crate) async fn global_headers(mut resp: Response) -> Response {
    let headers = resp.headers_mut();
    headers.append(header::VARY, HeaderValue::from_static("Accept"));
    headers.insert(
        HeaderName::from_static("x-powered-by"),
        HeaderValue::from_static(POWERED_BY),
    );
    resp
}

/// Request logging at INFO.
pub(crate) fn trace_layer() -> TraceLayer<SharedClassifier<ServerErrorsAsFailures>> {
    TraceLayer::new_for_http()
        .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
        .on_response(DefaultOnResponse::new().level(Level::INFO))
}
