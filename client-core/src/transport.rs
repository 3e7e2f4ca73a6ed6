//! HTTP: reqwest on native targets (rustls, cookie jar); wasm32 builds use the platform's fetch
//! instead (`fetch_transport.rs`). The transport attaches the credentials it is handed and turns
//! failures into [`Error`]s; which credentials, and their refresh on 401/403, are decided above
//! the seam (`authorized_http.rs`).

use std::time::Duration;

#[cfg(not(target_arch = "wasm32"))]
use bytes::Bytes;
#[cfg(not(target_arch = "wasm32"))]
use futures_util::Stream;

#[cfg(not(target_arch = "wasm32"))]
use crate::auth::Credentials;
#[cfg(not(target_arch = "wasm32"))]
use crate::error::{Error, redact_url, truncate};
#[cfg(target_arch = "wasm32")]
pub(crate) use crate::fetch_transport::Transport;
#[cfg(not(target_arch = "wasm32"))]
use crate::rt;

/// The chunks of a streaming response body.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) type ByteStream =
    std::pin::Pin<Box<dyn Stream<Item = Result<Bytes, reqwest::Error>> + Send>>;

/// A request body.
#[derive(Debug, Clone)]
pub(crate) enum Body {
    Empty,
    Json(String),
}

/// HTTP methods the client uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Post,
}

/// Settings for the HTTP layer.
#[derive(Debug, Clone)]
pub(crate) struct TransportOptions {
    pub(crate) connect_timeout: Duration,
    pub(crate) request_timeout: Duration,
    /// wasm32: send cookies (and HTTP auth) cross-origin (`credentials: "include"`) rather than
    /// same-origin only. Native clients always use their own cookie jar.
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    pub(crate) with_credentials: bool,
}

/// The HTTP client shared by the stream, heartbeats and service calls (one cookie jar).
#[cfg(not(target_arch = "wasm32"))]
#[derive(Clone)]
pub(crate) struct Transport {
    http: reqwest::Client,
    options: TransportOptions,
}

#[cfg(not(target_arch = "wasm32"))]
impl Transport {
    pub(crate) fn new(options: TransportOptions) -> Result<Self, Error> {
        Ok(Transport {
            http: build_http_client(&options)?,
            options,
        })
    }

    pub(crate) fn options(&self) -> &TransportOptions {
        &self.options
    }

    /// Opens the event stream at `url`: the headers must arrive within the connect timeout;
    /// the body then streams with no total timeout.
    pub(crate) async fn open_stream(
        &self,
        url: &str,
        credentials: &Credentials,
    ) -> Result<ByteStream, Error> {
        let response = self
            .send_once(Method::Get, url, &Body::Empty, true, credentials)
            .await?;
        let response = self.check_status(url, response).await?;
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
            .unwrap_or_default();
        if !crate::sse::is_event_stream(&content_type) {
            return Err(Error::UnexpectedContentType {
                url: redact_url(url),
                content_type: truncate(&content_type, 100),
            });
        }
        Ok(Box::pin(response.bytes_stream()))
    }

    /// Sends a request and reads the whole response body as text.
    pub(crate) async fn call(
        &self,
        method: Method,
        url: &str,
        body: Body,
        credentials: &Credentials,
    ) -> Result<String, Error> {
        let response = self
            .send_once(method, url, &body, false, credentials)
            .await?;
        let response = self.check_status(url, response).await?;
        let redacted = redact_url(url);
        rt::timeout(self.options.request_timeout, response.text())
            .await
            .ok_or_else(|| Error::Timeout {
                operation: format!("reading the response of {redacted}"),
                after: self.options.request_timeout,
            })?
            .map_err(|e| network_error(&redacted, &e))
    }

    /// Sends one request with `credentials`, and follows redirects to another origin without
    /// any credentials (same-origin ones are followed by reqwest's policy).
    async fn send_once(
        &self,
        method: Method,
        url: &str,
        body: &Body,
        streaming: bool,
        credentials: &Credentials,
    ) -> Result<reqwest::Response, Error> {
        let response = self
            .send_one(method, url, body, streaming, credentials)
            .await?;
        self.follow_foreign_redirects(response, method, body, streaming, credentials)
            .await
    }

    /// Follows a redirect to another origin (where reqwest's policy stopped) without any
    /// credentials, also removing query credentials the server echoed into the `Location`.
    async fn follow_foreign_redirects(
        &self,
        mut response: reqwest::Response,
        mut method: Method,
        body: &Body,
        streaming: bool,
        credentials: &Credentials,
    ) -> Result<reqwest::Response, Error> {
        use crate::origin::{MAX_REDIRECTS, redirect_target, without_query_keys};
        let none = Credentials::default();
        let query_names: Vec<&str> = credentials.query.iter().map(|(n, _)| n.as_str()).collect();
        let mut body = body.clone();
        let first_url = redact_url(response.url().as_str());
        for _ in 0..MAX_REDIRECTS {
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|value| value.to_str().ok());
            let status = response.status().as_u16();
            let Some(next) = redirect_target(response.url(), status, location) else {
                return Ok(response);
            };
            let next = without_query_keys(&next, &query_names);
            if status == 303 || (matches!(status, 301 | 302) && method == Method::Post) {
                (method, body) = (Method::Get, Body::Empty);
            }
            tracing::debug!(to = %redact_url(next.as_str()), "following a redirect to another origin without credentials");
            response = self
                .send_one(method, next.as_str(), &body, streaming, &none)
                .await?;
        }
        Err(Error::Network {
            url: first_url,
            message: "too many redirects".into(),
        })
    }

    async fn send_one(
        &self,
        method: Method,
        url: &str,
        body: &Body,
        streaming: bool,
        credentials: &Credentials,
    ) -> Result<reqwest::Response, Error> {
        let redacted = redact_url(url);
        let full_url = with_query(url, &credentials.query)?;
        let method = match method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
        };
        let mut request = self.http.request(method, full_url);
        if let Some(token) = &credentials.bearer_token {
            request = request.bearer_auth(token.expose());
        }
        for (name, value) in &credentials.headers {
            request = request.header(name.as_str(), value.expose());
        }
        request = match body {
            Body::Empty => request,
            Body::Json(json) => request
                .header("Content-Type", "application/json")
                .body(json.clone()),
        };
        if streaming {
            request = request.header("Accept", "text/event-stream");
            // A compressed stream makes proxies and decoders buffer; ask for identity.
            request = request
                .header("Accept-Encoding", "identity")
                .header("Cache-Control", "no-cache");
        } else {
            request = request
                .header("Accept", "application/json")
                .timeout(self.options.request_timeout);
        }
        let limit = if streaming {
            self.options.connect_timeout
        } else {
            self.options.request_timeout
        };
        match rt::timeout(limit, request.send()).await {
            None => Err(Error::Timeout {
                operation: format!("waiting for the response headers of {redacted}"),
                after: limit,
            }),
            Some(Err(error)) if error.is_timeout() => Err(Error::Timeout {
                operation: format!("request to {redacted}"),
                after: limit,
            }),
            Some(Err(error)) => Err(network_error(&redacted, &error)),
            Some(Ok(response)) => Ok(response),
        }
    }

    /// Passes a 2xx response; 401/403 become [`Error::Unauthorized`] (refreshing is decided
    /// above the seam), anything else [`Error::Http`] with the start of its body and its
    /// `Retry-After`.
    async fn check_status(
        &self,
        url: &str,
        response: reqwest::Response,
    ) -> Result<reqwest::Response, Error> {
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(response);
        }
        if is_auth_failure(status) {
            return Err(Error::Unauthorized {
                status,
                url: redact_url(url),
            });
        }
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| parse_retry_after(value, rt::SystemTime::now()));
        let body = rt::timeout(Duration::from_secs(2), response.text())
            .await
            .and_then(Result::ok)
            .unwrap_or_default();
        Err(Error::Http {
            status,
            url: redact_url(url),
            body: truncate(body.trim(), 300),
            retry_after,
        })
    }
}

#[cfg(not(target_arch = "wasm32"))]
/// A `Retry-After` value: delay-seconds, or an HTTP date (a date in the past means no wait).
fn parse_retry_after(value: &str, now: rt::SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value)
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    let now = now.duration_since(rt::UNIX_EPOCH).ok()?;
    Some(at.saturating_sub(now))
}

/// 401 and 403: the credentials were refused (the core may refresh them once).
pub(crate) fn is_auth_failure(status: u16) -> bool {
    status == 401 || status == 403
}

#[cfg(not(target_arch = "wasm32"))]
fn network_error(redacted_url: &str, error: &reqwest::Error) -> Error {
    // reqwest's Display includes the URL (and so any token in it); report the cause chain only.
    let mut message = String::new();
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(error);
    while let Some(cause) = source {
        if !message.is_empty() {
            message.push_str(": ");
        }
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    if message.is_empty() {
        message = if error.is_connect() {
            "connection failed".into()
        } else if error.is_body() || error.is_decode() {
            "the response body could not be read".into()
        } else {
            "request failed".into()
        };
    }
    Error::Network {
        url: redacted_url.to_owned(),
        message,
    }
}

#[cfg(not(target_arch = "wasm32"))]
/// `url` with `query` appended.
fn with_query(url: &str, query: &[(String, crate::Secret)]) -> Result<String, Error> {
    if query.is_empty() {
        return Ok(url.to_owned());
    }
    let mut parsed = url::Url::parse(url).map_err(|e| Error::InvalidUrl {
        url: redact_url(url),
        reason: e.to_string(),
    })?;
    {
        let mut pairs = parsed.query_pairs_mut();
        for (name, value) in query {
            pairs.append_pair(name, value.expose());
        }
    }
    Ok(parsed.into())
}

/// The TLS configuration every client shares: building it (the platform verifier) costs tens of
/// milliseconds, and each client needs its own HTTP client for its own cookie jar.
#[cfg(not(target_arch = "wasm32"))]
fn shared_tls_config() -> Result<rustls::ClientConfig, Error> {
    use std::sync::{Arc, OnceLock};
    static CONFIG: OnceLock<Result<rustls::ClientConfig, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            // reqwest is built without a default crypto provider; use ring unless the app
            // installed another one.
            let _ = rustls::crypto::ring::default_provider().install_default();
            let provider = rustls::crypto::CryptoProvider::get_default()
                .cloned()
                .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
            let verifier = rustls_platform_verifier::Verifier::new(provider.clone())
                .map_err(|e| format!("cannot load the platform certificate verifier: {e}"))?;
            let mut config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| format!("invalid TLS versions: {e}"))?
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
                .with_no_client_auth();
            config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
            Ok(config)
        })
        .clone()
        .map_err(|message| Error::Network {
            url: String::new(),
            message,
        })
}

#[cfg(not(target_arch = "wasm32"))]
fn build_http_client(options: &TransportOptions) -> Result<reqwest::Client, Error> {
    reqwest::Client::builder()
        .tls_backend_preconfigured(shared_tls_config()?)
        .cookie_provider(std::sync::Arc::new(
            crate::cookies::QuietCookieJar::default(),
        ))
        .redirect(crate::origin::redirect_policy())
        .connect_timeout(options.connect_timeout)
        .tcp_nodelay(true)
        .build()
        .map_err(|e| Error::Network {
            url: String::new(),
            message: format!("cannot build the HTTP client: {e}"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = rt::UNIX_EPOCH + Duration::from_secs(1_445_412_480); // 2015-10-21 07:28:00 GMT
        assert_eq!(
            parse_retry_after(" 120 ", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO),
            "a date in the past: no wait"
        );
        assert_eq!(parse_retry_after("-1", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn query_credentials_are_appended_and_encoded() {
        let url = with_query(
            "http://h/event-stream?channels=A",
            &[("ss-tok".into(), "a b&c".into())],
        )
        .unwrap();
        assert_eq!(url, "http://h/event-stream?channels=A&ss-tok=a+b%26c");
        assert!(with_query("not a url", &[("k".into(), "v".into())]).is_err());
        assert_eq!(with_query("whatever", &[]).unwrap(), "whatever");
    }
}
