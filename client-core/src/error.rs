//! The one public error type. Every failure, whether returned from a call or delivered to
//! `on_exception`, is one of these variants; bindings map it to their own exceptions at the edge.

use std::time::Duration;

/// Everything that can go wrong in the client.
///
/// Errors are `Clone` so the same failure can be returned to a caller, delivered to
/// `on_exception` and carried in a [`ConnectionState`](crate::ConnectionState).
/// URLs inside errors have their user-info password and the credentials in their query
/// strings redacted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A URL given to the client (or received from the server) cannot be used.
    #[error("invalid URL '{url}': {reason}")]
    InvalidUrl {
        /// The offending URL.
        url: String,
        /// Why it was rejected.
        reason: String,
    },
    /// The server answered with a status that is not a success.
    #[error("HTTP {status} from {url}{}", BodySuffix(body))]
    Http {
        /// The HTTP status code.
        status: u16,
        /// The request URL (credentials redacted).
        url: String,
        /// The start of the response body, when there was one.
        body: String,
        /// How long the server (or a proxy) asked the client to wait, from a `Retry-After`
        /// header in seconds or as an HTTP date. The reconnect waits at least this long, up to
        /// the reconnect policy's `max_delay`.
        retry_after: Option<Duration>,
    },
    /// The server refused the credentials (401 or 403), also after one refresh.
    #[error("unauthorized: HTTP {status} from {url}")]
    Unauthorized {
        /// 401 or 403.
        status: u16,
        /// The request URL (credentials redacted).
        url: String,
    },
    /// A heartbeat was answered 404: the server no longer knows this subscription.
    #[error("subscription {subscription_id} no longer exists on the server")]
    SubscriptionGone {
        /// The subscription the server forgot.
        subscription_id: String,
    },
    /// The request could not be sent or its response could not be read.
    #[error("network error on {url}: {message}")]
    Network {
        /// The request URL (credentials redacted).
        url: String,
        /// What the HTTP stack reported.
        message: String,
    },
    /// An operation did not finish in time.
    #[error("{operation} timed out after {} ms", millis(*after))]
    Timeout {
        /// What was being waited for.
        operation: String,
        /// How long the client waited.
        after: Duration,
    },
    /// The event stream delivered nothing (not even a heartbeat) for longer than the idle timeout.
    #[error(
        "no data on the event stream for {} ms; the connection is presumed dead",
        millis(*after)
    )]
    IdleTimeout {
        /// The silence that was tolerated.
        after: Duration,
    },
    /// The stream opened but `cmd.onConnect` never came, typically because a proxy buffers
    /// the response.
    #[error(
        "the event stream opened but no cmd.onConnect arrived within {} ms; is a proxy buffering the response?",
        millis(*after)
    )]
    NoConnectEvent {
        /// How long the client waited after the headers.
        after: Duration,
    },
    /// The server ended the event stream.
    #[error("the server closed the event stream")]
    StreamEnded,
    /// A frame could not be understood (for example a selector without an op).
    #[error("malformed event: {reason} (data: '{data}')")]
    Protocol {
        /// What is wrong.
        reason: String,
        /// The offending `data:` text, truncated.
        data: String,
    },
    /// An event was larger than the configured maximum; it was skipped.
    #[error("event larger than the {limit}-byte limit was skipped")]
    EventTooLarge {
        /// The configured maximum event size.
        limit: usize,
    },
    /// An event's data was not valid UTF-8; it was skipped.
    #[error("event '{event_id}' is not valid UTF-8 and was skipped")]
    InvalidUtf8 {
        /// The id of the skipped event.
        event_id: String,
    },
    /// A JSON body could not be turned into the requested type.
    #[error("cannot deserialize {type_name}: {message}")]
    Deserialize {
        /// The target type.
        type_name: String,
        /// What serde reported.
        message: String,
    },
    /// A callback panicked; the client caught it and kept running.
    #[error("callback for {selector} panicked: {message}")]
    HandlerPanicked {
        /// The selector (or callback name) being dispatched.
        selector: String,
        /// The panic payload, when it was a string.
        message: String,
    },
    /// The server closed the stream because this client read too slowly: it fell more than
    /// the server's buffer limit behind (the server said so in a comment before closing). The
    /// client reconnects as after any failure; a handler that blocks is the usual cause.
    #[error("the server closed the stream because the client read too slowly{}", BehindBy(*limit_bytes))]
    SlowConsumer {
        /// How many bytes the server lets a reader fall behind, when it said.
        limit_bytes: Option<u64>,
    },
    /// A callback written in another language (Kotlin, Swift, JavaScript) failed; the client
    /// carried on.
    #[error("listener {callback} threw: {detail}")]
    CallbackFailed {
        /// The callback, e.g. `onMessage` or a selector.
        callback: String,
        /// What it threw.
        detail: String,
    },
    /// An argument cannot be used (for example a channel name containing `@`).
    #[error("invalid argument: {reason}")]
    InvalidArgument {
        /// What is wrong with it.
        reason: String,
    },
    /// The operation needs a live subscription and there is none.
    #[error("not connected")]
    NotConnected,
    /// The client was stopped before the operation could finish.
    #[error("the client was stopped")]
    Stopped,
    /// The client was disposed and cannot be started again.
    #[error("the client was disposed")]
    Disposed,
    /// No tokio runtime was running where the client had to start its background task.
    #[error("no tokio runtime is running; start the client from within a tokio runtime")]
    NoRuntime,
    /// The credentials provider failed.
    #[error("credentials provider failed: {0}")]
    Credentials(String),
    /// The event stream answered 200 with a body that is not `text/event-stream` (for example
    /// a login page or a proxy's error page); it was not read. The client reconnects by its
    /// reconnect policy.
    #[error(
        "the event stream at {url} answered Content-Type '{content_type}', not text/event-stream"
    )]
    UnexpectedContentType {
        /// The stream URL (credentials redacted).
        url: String,
        /// The `Content-Type` the server sent (`""` when it sent none).
        content_type: String,
    },
    /// The server gave a URL (`heartbeatUrl`, `unRegisterUrl`, `updateSubscriberUrl`) on another
    /// origin than the configured base URL. No credentials go there: the client uses
    /// `used_url` instead (the same path and query on the configured origin), or the URL as
    /// given when its origin is explicitly allowed (then this is not reported).
    #[error("the server's {field} {url} is on another origin than {origin}; using {used_url}")]
    ForeignUrl {
        /// Which `cmd.onConnect` field held the URL.
        field: String,
        /// The URL the server gave (credentials redacted).
        url: String,
        /// The configured origin.
        origin: String,
        /// The URL used instead (credentials redacted).
        used_url: String,
    },
    /// A [`messages()`](crate::ServerEventsClient::messages) stream was full because its
    /// reader is slower than the stream: the oldest queued messages are being dropped to make
    /// room. Reported once per overflow (again only after the reader caught up to half the
    /// bound).
    #[error(
        "a messages() stream holds {bound} unread messages; its oldest messages are being dropped (read faster or raise the message buffer)"
    )]
    MessagesDropped {
        /// The stream's bound, in messages.
        bound: usize,
    },
}

/// `": {body}"`, or nothing for an empty body (written straight into the message, with no
/// string of its own).
struct BodySuffix<'a>(&'a str);

impl std::fmt::Display for BodySuffix<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            Ok(())
        } else {
            write!(f, ": {}", self.0)
        }
    }
}

/// `" (more than {n} bytes behind)"` when the server said how far, else nothing.
struct BehindBy(Option<u64>);

impl std::fmt::Display for BehindBy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(n) => write!(f, " (more than {n} bytes behind)"),
            None => Ok(()),
        }
    }
}

/// A duration in whole milliseconds for messages (Duration's `Debug` would link its
/// float-style formatting into the wasm module).
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl Error {
    /// Whether this error means the credentials were refused.
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, Error::Unauthorized { .. })
    }

    /// A stable camelCase name for the kind of error, the same in every binding (the npm
    /// package's `error.kind`, the Kotlin and Swift `kind()`), for code to switch on and for logs.
    ///
    /// ```
    /// use servicestack_events::Error;
    /// assert_eq!(Error::StreamEnded.kind(), "streamEnded");
    /// assert_eq!(Error::Credentials("no token".into()).kind(), "credentials");
    /// ```
    pub fn kind(&self) -> &'static str {
        match self {
            Error::InvalidUrl { .. } => "invalidUrl",
            Error::Http { .. } => "http",
            Error::Unauthorized { .. } => "unauthorized",
            Error::SubscriptionGone { .. } => "subscriptionGone",
            Error::Network { .. } => "network",
            Error::Timeout { .. } => "timeout",
            Error::IdleTimeout { .. } => "idleTimeout",
            Error::NoConnectEvent { .. } => "noConnectEvent",
            Error::StreamEnded => "streamEnded",
            Error::SlowConsumer { .. } => "slowConsumer",
            Error::Protocol { .. } => "protocol",
            Error::EventTooLarge { .. } => "eventTooLarge",
            Error::InvalidUtf8 { .. } => "invalidUtf8",
            Error::Deserialize { .. } => "deserialize",
            Error::HandlerPanicked { .. } | Error::CallbackFailed { .. } => "handlerFailed",
            Error::InvalidArgument { .. } => "invalidArgument",
            Error::NotConnected => "notConnected",
            Error::Stopped => "stopped",
            Error::Disposed => "disposed",
            Error::NoRuntime => "noRuntime",
            Error::Credentials(_) => "credentials",
            Error::UnexpectedContentType { .. } => "unexpectedContentType",
            Error::ForeignUrl { .. } => "foreignUrl",
            Error::MessagesDropped { .. } => "messagesDropped",
        }
    }

    /// How long the server asked the client to wait before trying again (`Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Http { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The HTTP status behind this error, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Http { status, .. } | Error::Unauthorized { status, .. } => Some(*status),
            Error::SubscriptionGone { .. } => Some(404),
            _ => None,
        }
    }
}

/// A `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) use crate::redact::redact_url;

/// The first `max` characters of `text`, for error messages.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", text.get(..cut).unwrap_or(text)),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_parts_of_messages_appear_only_when_present() {
        let http = |body: &str| {
            Error::Http {
                status: 503,
                url: "http://h/x".into(),
                body: body.into(),
                retry_after: None,
            }
            .to_string()
        };
        assert_eq!(http(""), "HTTP 503 from http://h/x");
        assert_eq!(http("busy"), "HTTP 503 from http://h/x: busy");
        let slow = |limit_bytes| Error::SlowConsumer { limit_bytes }.to_string();
        assert_eq!(
            slow(None),
            "the server closed the stream because the client read too slowly"
        );
        assert_eq!(
            slow(Some(7)),
            "the server closed the stream because the client read too slowly (more than 7 bytes behind)"
        );
    }

    #[test]
    fn truncates_on_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "hé…");
        assert_eq!(truncate("hi", 5), "hi");
    }
}
