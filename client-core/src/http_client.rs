//! The transport seam: the two things the client asks of HTTP (open the event stream; send a
//! request and read the answer), each with the credentials to attach. Native builds use reqwest
//! ([`Transport`]), wasm32 builds the platform's fetch (`fetch_transport.rs`); unit tests use a
//! scripted fake with tokio's paused clock, so the lifecycle is testable without a server. Which
//! credentials go where, and their refresh on 401/403, are decided above the seam
//! (`authorized_http.rs`).

use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;
#[cfg(not(target_arch = "wasm32"))]
use futures_util::StreamExt;

use crate::auth::{BoxFuture, Credentials};
use crate::error::Error;
#[cfg(not(target_arch = "wasm32"))]
use crate::error::redact_url;
use crate::rt::{MaybeSend, MaybeSync};
#[cfg(not(target_arch = "wasm32"))]
use crate::transport::Transport;
use crate::transport::{Body, Method};

/// The chunks of an event stream; an error ends it.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) type EventBytes = std::pin::Pin<Box<dyn Stream<Item = Result<Bytes, Error>> + Send>>;
/// The chunks of an event stream; an error ends it.
#[cfg(target_arch = "wasm32")]
pub(crate) type EventBytes = std::pin::Pin<Box<dyn Stream<Item = Result<Bytes, Error>>>>;

/// What the client needs from HTTP: I/O only. An implementation attaches exactly the
/// `credentials` it is given (none on a redirect to another origin), reports 401 and 403 as
/// [`Error::Unauthorized`] and any other non-2xx status as [`Error::Http`]; it never retries.
pub(crate) trait HttpClient: MaybeSend + MaybeSync + 'static {
    /// Opens the event stream at `url`; resolves once the response headers arrived.
    fn open_stream<'a>(
        &'a self,
        url: &'a str,
        credentials: Credentials,
    ) -> BoxFuture<'a, Result<EventBytes, Error>>;

    /// Sends a request and reads the whole response body as text.
    fn call<'a>(
        &'a self,
        method: Method,
        url: &'a str,
        body: Body,
        credentials: Credentials,
    ) -> BoxFuture<'a, Result<String, Error>>;

    /// How long the stream may take to deliver `cmd.onConnect` once opened.
    fn connect_timeout(&self) -> Duration;
}

#[cfg(not(target_arch = "wasm32"))]
impl HttpClient for Transport {
    fn open_stream<'a>(
        &'a self,
        url: &'a str,
        credentials: Credentials,
    ) -> BoxFuture<'a, Result<EventBytes, Error>> {
        Box::pin(async move {
            let redacted = redact_url(url);
            let stream = Transport::open_stream(self, url, &credentials).await?;
            let stream: EventBytes = Box::pin(stream.map(move |chunk| {
                chunk.map_err(|error| Error::Network {
                    url: redacted.clone(),
                    message: format!("the event stream broke: {}", error_chain(&error)),
                })
            }));
            Ok(stream)
        })
    }

    fn call<'a>(
        &'a self,
        method: Method,
        url: &'a str,
        body: Body,
        credentials: Credentials,
    ) -> BoxFuture<'a, Result<String, Error>> {
        Box::pin(async move { Transport::call(self, method, url, body, &credentials).await })
    }

    fn connect_timeout(&self) -> Duration {
        self.options().connect_timeout
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = String::new();
    let mut source = error.source();
    while let Some(cause) = source {
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    if text.is_empty() {
        "connection lost".to_owned()
    } else {
        text
    }
}
