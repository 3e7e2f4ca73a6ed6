//! wasm32: HTTP on the platform's own `fetch` (browsers, Node 20+), behind the transport seam.
//! The event stream is read chunk by chunk from the response body's reader; every request has an
//! `AbortController` that cancels it when its response (or stream) is dropped or a timeout hits;
//! cookies go with the `credentials` mode the options chose; fetch follows redirects itself (and
//! drops `Authorization` on a cross-origin one), so a redirect never reaches the client.
//!
//! Using the platform keeps reqwest, http and httpdate out of the npm package's module.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;
use js_sys::{Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    AbortController, Headers, ReadableStreamDefaultReader, RequestCache, RequestCredentials,
    RequestInit, Response,
};

use crate::auth::{BoxFuture, Credentials};
use crate::error::{Error, redact_url, truncate};
use crate::http_client::{EventBytes, HttpClient};
use crate::rt;
use crate::transport::{Body, Method, TransportOptions, is_auth_failure};

#[wasm_bindgen]
extern "C" {
    /// The global `fetch` (`window.fetch` in browsers, `globalThis.fetch` in Node); throws only
    /// where there is none.
    #[wasm_bindgen(catch, js_name = fetch)]
    fn global_fetch(url: &str, init: &RequestInit) -> Result<Promise, JsValue>;
}

/// The HTTP client shared by the stream, heartbeats and service calls.
pub(crate) struct Transport {
    options: TransportOptions,
    cookies: CookieJar,
}

/// Aborts its request when dropped: a stream nobody reads any more, a timed-out request, or a
/// finished one (where aborting does nothing).
struct AbortOnDrop(AbortController);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A response and the controller that cancels it.
struct Fetched {
    response: Response,
    abort: AbortOnDrop,
}

impl Transport {
    pub(crate) fn new(options: TransportOptions) -> Result<Self, Error> {
        Ok(Transport {
            options,
            cookies: CookieJar::default(),
        })
    }

    /// One fetch with `credentials`; resolves when the response headers arrived (within the
    /// connect timeout for the stream, the request timeout otherwise), and passes only a 2xx
    /// response (see [`check_status`]).
    async fn send_one(
        &self,
        method: Method,
        url: &str,
        body: &Body,
        streaming: bool,
        credentials: &Credentials,
    ) -> Result<Fetched, Error> {
        let redacted = redact_url(url);
        let full_url = with_query(url, &credentials.query)?;
        let headers = Headers::new().map_err(|e| network_error(&redacted, &e))?;
        let header_error = |_| Error::Network {
            url: redacted.clone(),
            message: "a request header is not valid HTTP".into(),
        };
        if let Some(cookies) = self.cookies.header_for(&full_url) {
            headers.set("Cookie", &cookies).map_err(header_error)?;
        }
        if let Some(token) = &credentials.bearer_token {
            let value = format!("Bearer {}", token.expose());
            headers.set("Authorization", &value).map_err(header_error)?;
        }
        for (name, value) in &credentials.headers {
            headers.set(name, value.expose()).map_err(header_error)?;
        }
        let init = RequestInit::new();
        init.set_method(match method {
            Method::Get => "GET",
            Method::Post => "POST",
        });
        if let Body::Json(json) = body {
            headers
                .set("Content-Type", "application/json")
                .map_err(header_error)?;
            init.set_body(&JsValue::from_str(json));
        }
        if streaming {
            headers
                .set("Accept", "text/event-stream")
                .map_err(header_error)?;
            // A Cache-Control request header would force a CORS preflight that ServiceStack's
            // default CorsFeature refuses; the fetch cache mode says it instead.
            init.set_cache(RequestCache::NoStore);
        } else {
            headers
                .set("Accept", "application/json")
                .map_err(header_error)?;
        }
        init.set_headers(&headers);
        init.set_credentials(if self.options.with_credentials {
            RequestCredentials::Include
        } else {
            RequestCredentials::SameOrigin
        });
        let controller = AbortController::new().map_err(|e| network_error(&redacted, &e))?;
        init.set_signal(Some(&controller.signal()));
        let abort = AbortOnDrop(controller);
        let promise = global_fetch(&full_url, &init).map_err(|e| network_error(&redacted, &e))?;
        let limit = if streaming {
            self.options.connect_timeout
        } else {
            self.options.request_timeout
        };
        // On a timeout `abort` is dropped here, which cancels the request.
        match rt::timeout(limit, JsFuture::from(promise)).await {
            None => Err(Error::Timeout {
                operation: format!("waiting for the response headers of {redacted}"),
                after: limit,
            }),
            Some(Err(error)) => Err(network_error(&redacted, &error)),
            Some(Ok(value)) => {
                let response: Response = value.unchecked_into();
                self.cookies.store(&response.url(), &response.headers());
                check_status(url, Fetched { response, abort }).await
            }
        }
    }
}

impl HttpClient for Transport {
    fn open_stream<'a>(
        &'a self,
        url: &'a str,
        credentials: Credentials,
    ) -> BoxFuture<'a, Result<EventBytes, Error>> {
        Box::pin(async move {
            let fetched = self
                .send_one(Method::Get, url, &Body::Empty, true, &credentials)
                .await?;
            let content_type = header(&fetched.response, "content-type").unwrap_or_default();
            if !crate::sse::is_event_stream(&content_type) {
                return Err(Error::UnexpectedContentType {
                    url: redact_url(url),
                    content_type: truncate(&content_type, 100),
                });
            }
            let redacted = redact_url(url);
            let Some(body) = fetched.response.body() else {
                return Err(Error::Network {
                    url: redacted,
                    message: "the event stream has no body".into(),
                });
            };
            let reader: ReadableStreamDefaultReader = body.get_reader().unchecked_into();
            Ok(body_chunks(reader, fetched.abort, redacted))
        })
    }

    fn call<'a>(
        &'a self,
        method: Method,
        url: &'a str,
        body: Body,
        credentials: Credentials,
    ) -> BoxFuture<'a, Result<String, Error>> {
        Box::pin(async move {
            let fetched = self
                .send_one(method, url, &body, false, &credentials)
                .await?;
            let redacted = redact_url(url);
            let limit = self.options.request_timeout;
            let text = fetched
                .response
                .text()
                .map_err(|e| network_error(&redacted, &e))?;
            match rt::timeout(limit, JsFuture::from(text)).await {
                None => Err(Error::Timeout {
                    operation: format!("reading the response of {redacted}"),
                    after: limit,
                }),
                Some(Err(error)) => Err(network_error(&redacted, &error)),
                Some(Ok(text)) => Ok(text.as_string().unwrap_or_default()),
            }
        })
    }

    fn connect_timeout(&self) -> Duration {
        self.options.connect_timeout
    }
}

/// The body's chunks as they arrive; the stream ends when the body does, and dropping it aborts
/// the request.
fn body_chunks(reader: ReadableStreamDefaultReader, abort: AbortOnDrop, url: String) -> EventBytes {
    Box::pin(BodyChunks {
        open: Some((reader, abort)),
        read: None,
        url,
    })
}

/// The stream behind [`body_chunks`]: one `reader.read()` in flight at a time. (Written out
/// rather than built with `stream::unfold`, whose generic state machine is several times larger
/// in the wasm module.)
struct BodyChunks {
    /// The reader and the request, until the body ended or broke (then dropped, which aborts
    /// what is left of the request).
    open: Option<(ReadableStreamDefaultReader, AbortOnDrop)>,
    /// The pending `reader.read()`.
    read: Option<JsFuture>,
    /// The stream URL (redacted), for errors.
    url: String,
}

impl BodyChunks {
    /// Ends the stream; `Some(error)` is its last item.
    fn end(&mut self, message: Option<String>) -> Poll<Option<Result<Bytes, Error>>> {
        self.open = None;
        self.read = None;
        Poll::Ready(message.map(|message| {
            Err(Error::Network {
                url: self.url.clone(),
                message,
            })
        }))
    }
}

impl Stream for BodyChunks {
    type Item = Result<Bytes, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let Some((reader, _)) = &this.open else {
            return Poll::Ready(None);
        };
        let read = this
            .read
            .get_or_insert_with(|| JsFuture::from(reader.read()));
        let result = match Pin::new(read).poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Ok(result)) => result,
            Poll::Ready(Err(error)) => {
                let message = format!("the event stream broke: {}", js_message(&error));
                return this.end(Some(message));
            }
        };
        this.read = None;
        let done = Reflect::get(&result, &JsValue::from_str("done"))
            .ok()
            .and_then(|done| done.as_bool())
            .unwrap_or(true);
        if done {
            return this.end(None);
        }
        let value = Reflect::get(&result, &JsValue::from_str("value")).unwrap_or(JsValue::NULL);
        match value.dyn_into::<Uint8Array>() {
            Ok(bytes) => Poll::Ready(Some(Ok(Bytes::from(bytes.to_vec())))),
            Err(_) => this.end(Some(
                "the event stream delivered something other than bytes".into(),
            )),
        }
    }
}

/// Passes a 2xx response; 401/403 become [`Error::Unauthorized`] (refreshing is decided above
/// the seam), anything else [`Error::Http`] with the start of its body and its `Retry-After`.
async fn check_status(url: &str, fetched: Fetched) -> Result<Fetched, Error> {
    let status = fetched.response.status();
    if (200..300).contains(&status) {
        return Ok(fetched);
    }
    if is_auth_failure(status) {
        return Err(Error::Unauthorized {
            status,
            url: redact_url(url),
        });
    }
    let retry_after = header(&fetched.response, "retry-after")
        .and_then(|value| parse_retry_after(&value, js_sys::Date::now()));
    let body = match fetched.response.text() {
        Ok(text) => rt::timeout(Duration::from_secs(2), JsFuture::from(text))
            .await
            .and_then(Result::ok)
            .and_then(|text| text.as_string())
            .unwrap_or_default(),
        Err(_) => String::new(),
    };
    Err(Error::Http {
        status,
        url: redact_url(url),
        body: truncate(body.trim(), 300),
        retry_after,
    })
}

fn header(response: &Response, name: &str) -> Option<String> {
    response.headers().get(name).ok().flatten()
}

/// A `Retry-After` value: delay-seconds, or an HTTP date (read by the platform's `Date.parse`;
/// a date in the past means no wait). `now_ms` is milliseconds since the Unix epoch.
fn parse_retry_after(value: &str, now_ms: f64) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    if !value.contains(' ') {
        // Not an HTTP date (Date.parse would also take forms such as "2015-10-21").
        return None;
    }
    let at_ms = js_sys::Date::parse(value);
    if at_ms.is_nan() {
        return None;
    }
    Some(Duration::from_millis((at_ms - now_ms).max(0.0) as u64))
}

/// A rejected fetch: the platform's message (a `TypeError` such as "Failed to fetch" in
/// browsers, "fetch failed" and its cause in Node), which names no URL.
fn network_error(redacted_url: &str, error: &JsValue) -> Error {
    Error::Network {
        url: redacted_url.to_owned(),
        message: js_message(error),
    }
}

/// The `message` of a JavaScript error (and of its `cause`, as Node's fetch reports the reason
/// there).
fn js_message(error: &JsValue) -> String {
    let field = |value: &JsValue, name: &str| {
        Reflect::get(value, &JsValue::from_str(name))
            .ok()
            .filter(|v| !v.is_undefined() && !v.is_null())
    };
    let message = field(error, "message")
        .and_then(|m| m.as_string())
        .or_else(|| error.as_string())
        .unwrap_or_else(|| "request failed".into());
    match field(error, "cause")
        .and_then(|cause| field(&cause, "message"))
        .and_then(|m| m.as_string())
    {
        Some(cause) if !cause.is_empty() => format!("{message}: {cause}"),
        _ => message,
    }
}

/// `url` with `query` appended, through the platform's `URL` and `URLSearchParams`.
fn with_query(url: &str, query: &[(String, crate::Secret)]) -> Result<String, Error> {
    if query.is_empty() {
        return Ok(url.to_owned());
    }
    let parsed = web_sys::Url::new(url).map_err(|_| Error::InvalidUrl {
        url: redact_url(url),
        reason: "not an absolute URL".into(),
    })?;
    let params = parsed.search_params();
    for (name, value) in query {
        params.append(name, value.expose());
    }
    Ok(parsed.href())
}

/// A minimal cookie jar for Node. Browsers keep cookies themselves (and hide `Set-Cookie` from
/// scripts and drop a script's `Cookie` header, so this jar stays empty there); Node's `fetch`
/// keeps none, so without it a session signed in with `authenticate` would not reach the
/// stream. Like the native client's jar it is per client, keyed by host, and honours expiry
/// through `Max-Age`; other attributes are not interpreted.
#[derive(Default)]
struct CookieJar {
    /// `(host, name, value)`.
    cookies: RefCell<Vec<(String, String, String)>>,
}

fn host_of(url: &str) -> Option<String> {
    let host = web_sys::Url::new(url).ok()?.hostname();
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// The response's `Set-Cookie` lines (`Headers.getSetCookie`, where the platform shows them).
fn set_cookie_lines(headers: &Headers) -> Vec<String> {
    let Ok(method) = Reflect::get(headers, &JsValue::from_str("getSetCookie")) else {
        return Vec::new();
    };
    let Some(method) = method.dyn_ref::<js_sys::Function>() else {
        return Vec::new();
    };
    match method.call0(headers) {
        Ok(lines) => js_sys::Array::from(&lines)
            .iter()
            .filter_map(|line| line.as_string())
            .collect(),
        Err(_) => Vec::new(),
    }
}

impl CookieJar {
    /// Remembers the cookies a response from `url` sets.
    fn store(&self, url: &str, headers: &Headers) {
        let lines = set_cookie_lines(headers);
        if lines.is_empty() {
            return;
        }
        let Some(host) = host_of(url) else { return };
        let mut cookies = self.cookies.borrow_mut();
        for text in lines {
            let mut parts = text.split(';');
            let Some((name, value)) = parts.next().and_then(|pair| pair.split_once('=')) else {
                continue;
            };
            let (name, value) = (name.trim().to_owned(), value.trim().to_owned());
            let expired = parts.any(|attribute| {
                attribute
                    .split_once('=')
                    .filter(|(key, _)| key.trim().eq_ignore_ascii_case("max-age"))
                    .is_some_and(|(_, age)| age.trim().parse::<i64>().is_ok_and(|age| age <= 0))
            });
            cookies.retain(|(h, n, _)| !(h == &host && n == &name));
            if !expired {
                cookies.push((host.clone(), name, value));
            }
        }
    }

    /// The `Cookie` header for a request to `url`, when the jar has cookies for its host.
    fn header_for(&self, url: &str) -> Option<String> {
        let cookies = self.cookies.borrow();
        if cookies.is_empty() {
            return None;
        }
        let host = host_of(url)?;
        let mut header = String::new();
        for (_, name, value) in cookies.iter().filter(|(h, _, _)| *h == host) {
            if !header.is_empty() {
                header.push_str("; ");
            }
            header.push_str(name);
            header.push('=');
            header.push_str(value);
        }
        (!header.is_empty()).then_some(header)
    }
}
