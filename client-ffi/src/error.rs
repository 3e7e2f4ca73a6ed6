//! The one error type of the bindings: `ServerEventsException` in Kotlin, `ServerEventsError`
//! in Swift.
//!
//! Each variant mirrors a [`servicestack_events::Error`] variant with the same fields (durations in
//! milliseconds), plus two of the bindings' own: [`ServerEventsError::ListenerFailed`] when a
//! Kotlin or Swift callback throws, and [`ServerEventsError::Internal`] for anything the bindings
//! cannot classify. `toString()` (Kotlin) and `description` (Swift) give the readable message;
//! `httpStatus()` gives the HTTP status behind the error, when there was one, and `kind()` a
//! stable name shared with the other bindings.

use std::time::Duration;

use servicestack_events::Error;

/// Everything that can go wrong in the client, as seen from Kotlin and Swift.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
#[uniffi::export(Display)]
pub enum ServerEventsError {
    /// A URL given to the client (or received from the server) cannot be used.
    #[error("invalid URL '{url}': {reason}")]
    InvalidUrl {
        /// The offending URL (credentials redacted).
        url: String,
        /// Why it was rejected.
        reason: String,
    },
    /// The server answered with a status that is not a success.
    #[error("HTTP {status} from {url}{}", if body.is_empty() { String::new() } else { format!(": {body}") })]
    Http {
        /// The HTTP status code.
        status: u16,
        /// The request URL (credentials redacted).
        url: String,
        /// The start of the response body, when there was one.
        body: String,
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
    #[error("network error on {url}: {detail}")]
    Network {
        /// The request URL (credentials redacted).
        url: String,
        /// What the HTTP stack reported.
        detail: String,
    },
    /// An operation did not finish in time.
    #[error("{operation} timed out after {after_ms} ms")]
    Timeout {
        /// What was being waited for.
        operation: String,
        /// How long the client waited, in milliseconds.
        after_ms: u64,
    },
    /// The event stream delivered nothing (not even a heartbeat) for longer than the idle timeout.
    #[error("no data on the event stream for {after_ms} ms; the connection is presumed dead")]
    IdleTimeout {
        /// The silence that was tolerated, in milliseconds.
        after_ms: u64,
    },
    /// The stream opened but `cmd.onConnect` never came, typically because a proxy buffers the
    /// response.
    #[error(
        "the event stream opened but no cmd.onConnect arrived within {after_ms} ms; is a proxy buffering the response?"
    )]
    NoConnectEvent {
        /// How long the client waited after the headers, in milliseconds.
        after_ms: u64,
    },
    /// The server ended the event stream.
    #[error("the server closed the event stream")]
    StreamEnded,
    /// The server closed the stream because this client read too slowly (it fell more than the
    /// server's buffer limit behind, typically behind a handler that blocks); the client
    /// reconnects.
    #[error("the server closed the stream because the client read too slowly{}", limit_bytes.map(|n| format!(" (more than {n} bytes behind)")).unwrap_or_default())]
    SlowConsumer {
        /// How many bytes the server lets a reader fall behind, when it said.
        limit_bytes: Option<u64>,
    },
    /// A frame could not be understood (for example a selector without an op). (The core's
    /// `Protocol`; renamed because `.Protocol` means a metatype in Swift.)
    #[error("malformed event: {reason} (data: '{data}')")]
    MalformedEvent {
        /// What is wrong.
        reason: String,
        /// The offending `data:` text, truncated.
        data: String,
    },
    /// An event was larger than the configured maximum; it was skipped.
    #[error("event larger than the {limit}-byte limit was skipped")]
    EventTooLarge {
        /// The configured maximum event size in bytes.
        limit: u64,
    },
    /// An event's data was not valid UTF-8; it was skipped.
    #[error("event '{event_id}' is not valid UTF-8 and was skipped")]
    InvalidUtf8 {
        /// The id of the skipped event.
        event_id: String,
    },
    /// A JSON body could not be read.
    #[error("cannot deserialize {type_name}: {detail}")]
    Deserialize {
        /// What was being read.
        type_name: String,
        /// What the JSON reader reported.
        detail: String,
    },
    /// A Rust callback panicked; the client caught it and kept running.
    #[error("callback for {selector} panicked: {detail}")]
    HandlerPanicked {
        /// The selector (or callback name) being dispatched.
        selector: String,
        /// The panic message.
        detail: String,
    },
    /// A Kotlin or Swift listener, handler or receiver threw; the client kept running.
    #[error("listener {callback} threw: {detail}")]
    ListenerFailed {
        /// Which callback threw (for example `onMessage` or `cmd.chat`).
        callback: String,
        /// What it threw.
        detail: String,
    },
    /// An argument cannot be used (for example a channel name containing `@`, or text that is
    /// not JSON where JSON is expected).
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
    /// The client was closed (disposed) and cannot be started again.
    #[error("the client was closed")]
    Disposed,
    /// The credentials provider failed.
    #[error("credentials provider failed: {detail}")]
    CredentialsFailed {
        /// What the provider reported.
        detail: String,
    },
    /// The event stream answered 200 with a body that is not `text/event-stream`; it was not
    /// read, and the client reconnects by its reconnect policy.
    #[error(
        "the event stream at {url} answered Content-Type '{content_type}', not text/event-stream"
    )]
    UnexpectedContentType {
        /// The stream URL (credentials redacted).
        url: String,
        /// The `Content-Type` the server sent (`""` when none).
        content_type: String,
    },
    /// The server gave a URL on another origin than the base URL; no credentials go there and
    /// `used_url` (the same path and query on the configured origin) is used instead.
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
    /// A message stream's reader fell `bound` messages behind: its oldest messages are being
    /// dropped (reported once per overflow).
    #[error(
        "a message stream holds {bound} unread messages; its oldest messages are being dropped"
    )]
    MessagesDropped {
        /// The stream's bound (the `message_buffer` option).
        bound: u64,
    },
    /// Something the bindings did not expect (a bug: please report it).
    #[error("internal error: {detail}")]
    Internal {
        /// What happened.
        detail: String,
    },
}

#[uniffi::export]
impl ServerEventsError {
    /// The HTTP status behind this error, when there was one (404 for a forgotten subscription).
    pub fn http_status(&self) -> Option<u16> {
        match self {
            ServerEventsError::Http { status, .. }
            | ServerEventsError::Unauthorized { status, .. } => Some(*status),
            ServerEventsError::SubscriptionGone { .. } => Some(404),
            _ => None,
        }
    }

    /// A stable name for the kind of error, the same in every binding (the npm package's
    /// `error.kind`): `http`, `unauthorized`, `subscriptionGone`, `network`, `timeout`,
    /// `idleTimeout`, `protocol`, `handlerFailed` (a callback threw or panicked), … and `other`
    /// for an internal error.
    pub fn kind(&self) -> String {
        match self {
            ServerEventsError::InvalidUrl { .. } => "invalidUrl",
            ServerEventsError::Http { .. } => "http",
            ServerEventsError::Unauthorized { .. } => "unauthorized",
            ServerEventsError::SubscriptionGone { .. } => "subscriptionGone",
            ServerEventsError::Network { .. } => "network",
            ServerEventsError::Timeout { .. } => "timeout",
            ServerEventsError::IdleTimeout { .. } => "idleTimeout",
            ServerEventsError::NoConnectEvent { .. } => "noConnectEvent",
            ServerEventsError::StreamEnded => "streamEnded",
            ServerEventsError::SlowConsumer { .. } => "slowConsumer",
            ServerEventsError::MalformedEvent { .. } => "protocol",
            ServerEventsError::EventTooLarge { .. } => "eventTooLarge",
            ServerEventsError::InvalidUtf8 { .. } => "invalidUtf8",
            ServerEventsError::Deserialize { .. } => "deserialize",
            ServerEventsError::HandlerPanicked { .. }
            | ServerEventsError::ListenerFailed { .. } => "handlerFailed",
            ServerEventsError::InvalidArgument { .. } => "invalidArgument",
            ServerEventsError::NotConnected => "notConnected",
            ServerEventsError::Stopped => "stopped",
            ServerEventsError::Disposed => "disposed",
            ServerEventsError::CredentialsFailed { .. } => "credentials",
            ServerEventsError::UnexpectedContentType { .. } => "unexpectedContentType",
            ServerEventsError::ForeignUrl { .. } => "foreignUrl",
            ServerEventsError::MessagesDropped { .. } => "messagesDropped",
            ServerEventsError::Internal { .. } => "other",
        }
        .to_owned()
    }
}

/// Milliseconds, saturating (a `u64` of milliseconds covers 584 million years).
pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl From<Error> for ServerEventsError {
    fn from(error: Error) -> Self {
        match error {
            Error::InvalidUrl { url, reason } => ServerEventsError::InvalidUrl { url, reason },
            Error::Http {
                status, url, body, ..
            } => ServerEventsError::Http { status, url, body },
            Error::Unauthorized { status, url } => ServerEventsError::Unauthorized { status, url },
            Error::SubscriptionGone { subscription_id } => {
                ServerEventsError::SubscriptionGone { subscription_id }
            }
            Error::Network { url, message } => ServerEventsError::Network {
                url,
                detail: message,
            },
            Error::Timeout { operation, after } => ServerEventsError::Timeout {
                operation,
                after_ms: millis(after),
            },
            Error::IdleTimeout { after } => ServerEventsError::IdleTimeout {
                after_ms: millis(after),
            },
            Error::NoConnectEvent { after } => ServerEventsError::NoConnectEvent {
                after_ms: millis(after),
            },
            Error::StreamEnded => ServerEventsError::StreamEnded,
            Error::SlowConsumer { limit_bytes } => ServerEventsError::SlowConsumer { limit_bytes },
            Error::Protocol { reason, data } => ServerEventsError::MalformedEvent { reason, data },
            Error::EventTooLarge { limit } => ServerEventsError::EventTooLarge {
                limit: u64::try_from(limit).unwrap_or(u64::MAX),
            },
            Error::InvalidUtf8 { event_id } => ServerEventsError::InvalidUtf8 { event_id },
            Error::Deserialize { type_name, message } => ServerEventsError::Deserialize {
                type_name,
                detail: message,
            },
            Error::CallbackFailed { callback, detail } => {
                ServerEventsError::ListenerFailed { callback, detail }
            }
            Error::HandlerPanicked { selector, message } => ServerEventsError::HandlerPanicked {
                selector,
                detail: message,
            },
            Error::InvalidArgument { reason } => ServerEventsError::InvalidArgument { reason },
            Error::NotConnected => ServerEventsError::NotConnected,
            Error::Stopped => ServerEventsError::Stopped,
            Error::Disposed => ServerEventsError::Disposed,
            Error::Credentials(detail) => ServerEventsError::CredentialsFailed { detail },
            Error::UnexpectedContentType { url, content_type } => {
                ServerEventsError::UnexpectedContentType { url, content_type }
            }
            Error::ForeignUrl {
                field,
                url,
                origin,
                used_url,
            } => ServerEventsError::ForeignUrl {
                field,
                url,
                origin,
                used_url,
            },
            Error::MessagesDropped { bound } => ServerEventsError::MessagesDropped {
                bound: u64::try_from(bound).unwrap_or(u64::MAX),
            },
            // The bindings always start clients inside their own runtime, so this is a bug.
            Error::NoRuntime => ServerEventsError::Internal {
                detail: Error::NoRuntime.to_string(),
            },
            // `servicestack_events::Error` is non-exhaustive: a variant added later still arrives, as text.
            other => ServerEventsError::Internal {
                detail: other.to_string(),
            },
        }
    }
}

/// A Kotlin or Swift callback threw something that is not a `ServerEventsException` /
/// `ServerEventsError`; uniffi hands us its description.
impl From<uniffi::UnexpectedUniFFICallbackError> for ServerEventsError {
    fn from(error: uniffi::UnexpectedUniFFICallbackError) -> Self {
        ServerEventsError::ListenerFailed {
            callback: "callback".into(),
            detail: error.reason,
        }
    }
}

impl ServerEventsError {
    /// What a Kotlin or Swift callback named `callback` threw, as the core reports it: the
    /// kinds the core has keep their kind, anything else is a `CallbackFailed` naming the
    /// callback (`ListenerFailed` again on the way out).
    pub(crate) fn into_core(self, callback: &str) -> Error {
        match self {
            ServerEventsError::Deserialize { type_name, detail } => Error::Deserialize {
                type_name,
                message: detail,
            },
            ServerEventsError::InvalidArgument { reason } => Error::InvalidArgument { reason },
            ServerEventsError::ListenerFailed { detail, .. } => Error::CallbackFailed {
                callback: callback.to_owned(),
                detail,
            },
            other => Error::CallbackFailed {
                callback: callback.to_owned(),
                detail: other.to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_errors_keep_their_fields_and_text() {
        let core = Error::Http {
            status: 503,
            url: "http://h/x".into(),
            body: "busy".into(),
            retry_after: None,
        };
        let text = core.to_string();
        let ffi = ServerEventsError::from(core);
        assert_eq!(ffi.to_string(), text);
        assert_eq!(ffi.http_status(), Some(503));
        let timeout = ServerEventsError::from(Error::Timeout {
            operation: "connect".into(),
            after: Duration::from_millis(1500),
        });
        assert_eq!(
            timeout,
            ServerEventsError::Timeout {
                operation: "connect".into(),
                after_ms: 1500
            }
        );
        assert_eq!(
            ServerEventsError::from(Error::SubscriptionGone {
                subscription_id: "x".into()
            })
            .http_status(),
            Some(404)
        );
        assert_eq!(ServerEventsError::NotConnected.http_status(), None);
        assert_eq!(ffi.kind(), "http");
        assert_eq!(
            ServerEventsError::ListenerFailed {
                callback: "x".into(),
                detail: "y".into()
            }
            .kind(),
            "handlerFailed"
        );
    }

    #[test]
    fn kinds_match_the_core_and_the_other_bindings() {
        let core_errors = [
            Error::InvalidUrl {
                url: "u".into(),
                reason: "r".into(),
            },
            Error::Unauthorized {
                status: 401,
                url: "u".into(),
            },
            Error::Network {
                url: "u".into(),
                message: "m".into(),
            },
            Error::IdleTimeout {
                after: Duration::from_secs(1),
            },
            Error::Protocol {
                reason: "r".into(),
                data: "d".into(),
            },
            Error::EventTooLarge { limit: 1 },
            Error::SlowConsumer {
                limit_bytes: Some(64),
            },
            Error::CallbackFailed {
                callback: "c".into(),
                detail: "d".into(),
            },
            Error::HandlerPanicked {
                selector: "s".into(),
                message: "m".into(),
            },
            Error::Disposed,
            Error::Credentials("c".into()),
        ];
        for core in core_errors {
            let kind = core.kind();
            assert_eq!(ServerEventsError::from(core).kind(), kind);
        }
        assert_eq!(ServerEventsError::from(Error::NoRuntime).kind(), "other");
    }

    #[test]
    fn foreign_failures_are_named_after_the_callback() {
        let error = ServerEventsError::from(uniffi::UnexpectedUniFFICallbackError {
            reason: "java.lang.IllegalStateException: boom".into(),
        })
        .into_core("onMessage");
        assert_eq!(
            ServerEventsError::from(error).to_string(),
            "listener onMessage threw: java.lang.IllegalStateException: boom"
        );
        // A kind the core has keeps its kind; the others are named after the callback.
        let deserialize = ServerEventsError::Deserialize {
            type_name: "T".into(),
            detail: "bad".into(),
        };
        assert_eq!(deserialize.into_core("cmd.x").kind(), "deserialize");
        assert_eq!(
            ServerEventsError::Stopped.into_core("x"),
            Error::CallbackFailed {
                callback: "x".into(),
                detail: ServerEventsError::Stopped.to_string()
            }
        );
    }
}
