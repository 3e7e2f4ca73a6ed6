//! [`ClientOptions`]: every setting of a client that is plain data, each with its default,
//! written once. The builder is built on it, and the bindings hand their users' options to it
//! (JavaScript as an options object, Kotlin and Swift as a record), so the platforms cannot
//! drift. The serialized form uses the JavaScript option names (`connectTimeoutMs`, ...).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::auth::Secret;
use crate::backoff::ReconnectPolicy;
use crate::sse::DEFAULT_MAX_EVENT_SIZE;

/// The default for [`ClientOptions::connect_timeout`].
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The default for [`ClientOptions::request_timeout`].
const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The default for [`ClientOptions::message_buffer`].
const DEFAULT_MESSAGE_BUFFER: usize = 1024;

/// Every data setting of a client, with its default.
///
/// Build a client from it with [`ClientBuilder::options`](crate::ClientBuilder::options), or
/// set the fields one by one through the builder's methods of the same names. Serde reads and
/// writes it with the JavaScript option names (`camelCase`, durations as `…Ms` milliseconds);
/// a missing field keeps its default.
///
/// ```
/// use std::time::Duration;
/// use servicestack_events::{ClientOptions, ReconnectPolicy};
///
/// let options: ClientOptions = serde_json::from_str(
///     r#"{"channels": ["home"], "connectTimeoutMs": 2500, "reconnect": {"delayMs": 100}}"#,
/// ).unwrap();
/// assert_eq!(options.connect_timeout, Duration::from_millis(2500));
/// assert_eq!(options.reconnect, ReconnectPolicy::fixed(Duration::from_millis(100)));
/// assert_eq!(options.request_timeout, ClientOptions::default().request_timeout);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ClientOptions {
    /// The channels to subscribe to (default none: the server's default channel `*`).
    pub channels: Vec<String>,
    /// Overrides the heartbeat interval the server asks for (default `None`: the server's;
    /// zero counts as `None`).
    #[serde(rename = "heartbeatIntervalMs", with = "optional_millis")]
    pub heartbeat_interval: Option<Duration>,
    /// Overrides how long the stream may stay silent before it is presumed dead (default
    /// `None`: the server's idle timeout from `cmd.onConnect`; zero counts as `None`).
    #[serde(rename = "idleTimeoutMs", with = "optional_millis")]
    pub idle_timeout: Option<Duration>,
    /// How long to wait for a TCP connection and for the stream to deliver `cmd.onConnect`
    /// (default 10 s).
    #[serde(rename = "connectTimeoutMs", with = "millis")]
    pub connect_timeout: Duration,
    /// The limit for heartbeats, unregisters and service calls (default 30 s).
    #[serde(rename = "requestTimeoutMs", with = "millis")]
    pub request_timeout: Duration,
    /// The largest event accepted, in bytes (default 8 MiB); bigger ones are skipped and
    /// reported.
    pub max_event_size: usize,
    /// The most unread messages one [`messages()`](crate::ServerEventsClient::messages) stream
    /// holds (default 1024; 0 counts as 1); past it the oldest are dropped and reported once
    /// per overflow as [`Error::MessagesDropped`](crate::Error::MessagesDropped).
    pub message_buffer: usize,
    /// Origins (`scheme://host[:port]`) besides the base URL's that may receive credentials
    /// (default none). See [`ClientBuilder::allowed_origins`](crate::ClientBuilder::allowed_origins).
    pub allowed_origins: Vec<String>,
    /// The stream path (default `/event-stream`).
    pub event_stream_path: String,
    /// The subscribers path (default `/event-subscribers`).
    pub subscribers_path: String,
    /// Sent as `Authorization: Bearer …` on every request to the configured origins (default
    /// none).
    pub bearer_token: Option<Secret>,
    /// Headers sent on every request to the configured origins (default none).
    pub headers: BTreeMap<String, Secret>,
    /// How to wait between reconnect attempts (default [`ReconnectPolicy::servicestack`]).
    /// Serialized as `"servicestack"`, `"never"`, `{"delayMs": n}` or
    /// `{"initialMs": n, "maxMs": m}` (`maxMs` defaults to 60000).
    pub reconnect: ReconnectPolicy,
    /// Browsers only: whether requests to another origin carry the page's cookies (fetch
    /// `credentials: "include"`, the default `true`) or only same-origin ones.
    pub with_credentials: bool,
    /// Browsers only: in a page, unregister with `navigator.sendBeacon` when the page goes away
    /// (`pagehide`; default `true`).
    pub unregister_on_unload: bool,
    /// Receivers match a message's member by type name only when the member's name matches
    /// too (ServiceStack's `StrictMode`; default `false`). JavaScript receivers have no
    /// argument types and always match by member name.
    pub strict_receiver_matching: bool,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            channels: Vec::new(),
            heartbeat_interval: None,
            idle_timeout: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            max_event_size: DEFAULT_MAX_EVENT_SIZE,
            message_buffer: DEFAULT_MESSAGE_BUFFER,
            allowed_origins: Vec::new(),
            event_stream_path: "/event-stream".into(),
            subscribers_path: "/event-subscribers".into(),
            bearer_token: None,
            headers: BTreeMap::new(),
            reconnect: ReconnectPolicy::default(),
            with_credentials: true,
            unregister_on_unload: true,
            strict_receiver_matching: false,
        }
    }
}

impl ClientOptions {
    /// The heartbeat override in effect (zero means none).
    pub(crate) fn effective_heartbeat_interval(&self) -> Option<Duration> {
        self.heartbeat_interval.filter(|d| !d.is_zero())
    }

    /// The idle-timeout override in effect (zero means none).
    pub(crate) fn effective_idle_timeout(&self) -> Option<Duration> {
        self.idle_timeout.filter(|d| !d.is_zero())
    }

    /// The `messages()` bound in effect (at least one message).
    pub(crate) fn effective_message_buffer(&self) -> usize {
        self.message_buffer.max(1)
    }
}

fn to_millis(duration: &Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// A [`Duration`] as whole milliseconds.
mod millis {
    use super::*;

    pub(super) fn serialize<S: Serializer>(value: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(to_millis(value))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

/// An optional [`Duration`] as whole milliseconds (`null` for none).
mod optional_millis {
    use super::*;

    pub(super) fn serialize<S: Serializer>(
        value: &Option<Duration>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        value.as_ref().map(to_millis).serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        Option::<u64>::deserialize(d).map(|ms| ms.map(Duration::from_millis))
    }
}

impl Serialize for Secret {
    /// The secret itself: serializing options is how they are handed on, so nothing is hidden
    /// here (`Debug` and `Display` hide it).
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.expose())
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_object_is_the_defaults() {
        let options: ClientOptions = serde_json::from_str("{}").unwrap();
        assert_eq!(options, ClientOptions::default());
        assert_eq!(options.connect_timeout, Duration::from_secs(10));
        assert_eq!(options.request_timeout, Duration::from_secs(30));
        assert_eq!(options.max_event_size, 8 * 1024 * 1024);
        assert_eq!(options.message_buffer, 1024);
        assert_eq!(options.event_stream_path, "/event-stream");
        assert_eq!(options.subscribers_path, "/event-subscribers");
        assert!(options.with_credentials);
        assert!(options.unregister_on_unload);
        assert!(!options.strict_receiver_matching);
        assert_eq!(options.reconnect, ReconnectPolicy::servicestack());
    }

    #[test]
    fn every_option_reads_its_javascript_name() {
        let options: ClientOptions = serde_json::from_str(
            r#"{
                "channels": ["a", "b"],
                "heartbeatIntervalMs": 1500,
                "idleTimeoutMs": 0,
                "connectTimeoutMs": 1,
                "requestTimeoutMs": 2,
                "maxEventSize": 3,
                "messageBuffer": 4,
                "allowedOrigins": ["http://other:1"],
                "eventStreamPath": "/sse",
                "subscribersPath": "/subs",
                "bearerToken": "tok",
                "headers": {"X-A": "1"},
                "reconnect": "never",
                "withCredentials": false,
                "unregisterOnUnload": false,
                "strictReceiverMatching": true
            }"#,
        )
        .unwrap();
        assert_eq!(options.channels, ["a", "b"]);
        assert_eq!(
            options.effective_heartbeat_interval(),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(options.idle_timeout, Some(Duration::ZERO));
        assert_eq!(options.effective_idle_timeout(), None);
        assert_eq!(options.connect_timeout, Duration::from_millis(1));
        assert_eq!(options.request_timeout, Duration::from_millis(2));
        assert_eq!(options.max_event_size, 3);
        assert_eq!(options.message_buffer, 4);
        assert_eq!(options.allowed_origins, ["http://other:1"]);
        assert_eq!(options.event_stream_path, "/sse");
        assert_eq!(options.subscribers_path, "/subs");
        assert_eq!(options.bearer_token, Some(Secret::from("tok")));
        assert_eq!(options.headers["X-A"], Secret::from("1"));
        assert_eq!(options.reconnect, ReconnectPolicy::never());
        assert!(!options.with_credentials);
        assert!(!options.unregister_on_unload);
        assert!(options.strict_receiver_matching);
        let again: ClientOptions =
            serde_json::from_str(&serde_json::to_string(&options).unwrap()).unwrap();
        assert_eq!(again, options);
    }

    #[test]
    fn values_of_the_wrong_type_are_refused() {
        for bad in [
            r#"{"withCredentials": "yes"}"#,
            r#"{"heartbeatIntervalMs": -1}"#,
            r#"{"connectTimeoutMs": 1.5}"#,
            r#"{"headers": {"X-A": 1}}"#,
            r#"{"allowedOrigins": "http://a"}"#,
            r#"{"reconnect": "sometimes"}"#,
            r#"{"reconnect": {"delay": 5}}"#,
        ] {
            assert!(
                serde_json::from_str::<ClientOptions>(bad).is_err(),
                "{bad} was accepted"
            );
        }
    }

    #[test]
    fn debug_hides_the_token_and_header_values() {
        let options = ClientOptions {
            bearer_token: Some("s3cret-token".into()),
            headers: BTreeMap::from([("X-Key".to_owned(), Secret::from("s3cret-header"))]),
            ..ClientOptions::default()
        };
        let shown = format!("{options:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("X-Key"), "{shown}");
    }
}
