//! What a client is built with: [`ClientOptions`] (every field has a default, so Kotlin can
//! write `ClientOptions(channels = listOf("home"))` and Swift `ClientOptions(channels: ["home"])`)
//! and the [`ReconnectPolicy`].

use std::collections::HashMap;
use std::time::Duration;

use servicestack_events as core;

/// How long to wait before reconnecting after a failure.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum ReconnectPolicy {
    /// ServiceStack's schedule (the default): no wait after the first failure, then a random
    /// wait in `[n³, (n+1)³]` ms after the n-th consecutive failure, capped at 60 s.
    ServiceStack,
    /// Doubling waits from `initial_ms` with full jitter, capped at `max_delay_ms`.
    Exponential {
        /// The first wait, in milliseconds.
        initial_ms: u64,
        /// The longest wait, in milliseconds.
        max_delay_ms: u64,
    },
    /// The same wait after every failure.
    Fixed {
        /// The wait, in milliseconds.
        delay_ms: u64,
    },
    /// Never reconnect: the first failure closes the client.
    Never,
}

impl From<&ReconnectPolicy> for core::ReconnectPolicy {
    fn from(policy: &ReconnectPolicy) -> Self {
        match policy {
            ReconnectPolicy::ServiceStack => core::ReconnectPolicy::servicestack(),
            ReconnectPolicy::Exponential {
                initial_ms,
                max_delay_ms,
            } => core::ReconnectPolicy::exponential(
                Duration::from_millis(*initial_ms),
                Duration::from_millis(*max_delay_ms),
            ),
            ReconnectPolicy::Fixed { delay_ms } => {
                core::ReconnectPolicy::fixed(Duration::from_millis(*delay_ms))
            }
            ReconnectPolicy::Never => core::ReconnectPolicy::never(),
        }
    }
}

/// Settings of a [`ServerEventsClient`](crate::ServerEventsClient), fixed when it is built.
///
/// Every field may be left out: an absent (`null`) field keeps the core's default
/// (`servicestack_events::ClientOptions::default()`, stated in each field's doc), so Kotlin can
/// write `ClientOptions(channels = listOf("home"))` and Swift `ClientOptions(channels: ["home"])`.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct ClientOptions {
    /// The channels to subscribe to (none means the server's default channel `*`).
    #[uniffi(default)]
    pub channels: Vec<String>,
    /// Overrides the heartbeat interval the server asks for, in milliseconds.
    #[uniffi(default = None)]
    pub heartbeat_interval_ms: Option<u64>,
    /// Overrides how long the stream may stay silent before it is presumed dead, in
    /// milliseconds (default: the server's idle timeout).
    #[uniffi(default = None)]
    pub idle_timeout_ms: Option<u64>,
    /// How long to wait for a TCP connection and for `cmd.onConnect`, in milliseconds
    /// (default 10000).
    #[uniffi(default = None)]
    pub connect_timeout_ms: Option<u64>,
    /// The limit for heartbeats, unregisters and service calls, in milliseconds (default
    /// 30000).
    #[uniffi(default = None)]
    pub request_timeout_ms: Option<u64>,
    /// The largest event accepted, in bytes (default 8 MiB); bigger ones are skipped and
    /// reported.
    #[uniffi(default = None)]
    pub max_event_size: Option<u64>,
    /// Sent as `Authorization: Bearer …` on every request.
    #[uniffi(default = None)]
    pub bearer_token: Option<String>,
    /// Extra headers sent on every request.
    #[uniffi(default)]
    pub headers: HashMap<String, String>,
    /// How to wait between reconnect attempts (default `ServiceStack`).
    #[uniffi(default = None)]
    pub reconnect_policy: Option<ReconnectPolicy>,
    /// The stream path (default `/event-stream`).
    #[uniffi(default = None)]
    pub event_stream_path: Option<String>,
    /// The subscribers path (default `/event-subscribers`).
    #[uniffi(default = None)]
    pub subscribers_path: Option<String>,
    /// The most unread messages one `messages()` stream (Kotlin `messageFlow()`, Swift
    /// `messageStream()`) holds (default 1024); past it the oldest are dropped and a
    /// `MessagesDropped` error goes to `onException` once per overflow.
    #[uniffi(default = None)]
    pub message_buffer: Option<u32>,
    /// Origins (`https://host:port`) besides the base URL's that may receive credentials. The
    /// server's heartbeat, unregister and update URLs on any other origin are moved onto the
    /// base URL's origin (same path and query), reported once as `ForeignUrl`.
    #[uniffi(default)]
    pub allowed_origins: Vec<String>,
    /// Receivers match a message by its argument type name only when the member's name matches
    /// too (ServiceStack's `StrictMode`; default `false`).
    #[uniffi(default = None)]
    pub strict_receiver_matching: Option<bool>,
}

impl From<ClientOptions> for core::ClientOptions {
    /// The core's options: each field given here replaces the core's default.
    fn from(options: ClientOptions) -> Self {
        let defaults = core::ClientOptions::default();
        let millis = |ms: Option<u64>, default: Duration| ms.map_or(default, Duration::from_millis);
        core::ClientOptions {
            channels: options.channels,
            heartbeat_interval: options.heartbeat_interval_ms.map(Duration::from_millis),
            idle_timeout: options.idle_timeout_ms.map(Duration::from_millis),
            connect_timeout: millis(options.connect_timeout_ms, defaults.connect_timeout),
            request_timeout: millis(options.request_timeout_ms, defaults.request_timeout),
            max_event_size: options
                .max_event_size
                .map_or(defaults.max_event_size, |bytes| {
                    usize::try_from(bytes).unwrap_or(usize::MAX)
                }),
            message_buffer: options.message_buffer.map_or(defaults.message_buffer, |n| {
                usize::try_from(n).unwrap_or(usize::MAX)
            }),
            allowed_origins: options.allowed_origins,
            event_stream_path: options
                .event_stream_path
                .unwrap_or(defaults.event_stream_path),
            subscribers_path: options
                .subscribers_path
                .unwrap_or(defaults.subscribers_path),
            bearer_token: options.bearer_token.map(Into::into),
            headers: options
                .headers
                .into_iter()
                .map(|(name, value)| (name, value.into()))
                .collect(),
            reconnect: options
                .reconnect_policy
                .as_ref()
                .map_or(defaults.reconnect, Into::into),
            with_credentials: defaults.with_credentials,
            unregister_on_unload: defaults.unregister_on_unload,
            strict_receiver_matching: options
                .strict_receiver_matching
                .unwrap_or(defaults.strict_receiver_matching),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_reach_the_core_builder() {
        let options = ClientOptions {
            channels: vec!["A".into(), "B C".into()],
            event_stream_path: Some("sse".into()),
            ..ClientOptions::default()
        };
        let client = core::ServerEventsClient::builder("http://h")
            .options(options.into())
            .build()
            .unwrap();
        assert_eq!(client.event_stream_url(), "http://h/sse?channels=A,B%20C");
    }

    #[test]
    fn absent_fields_keep_the_core_defaults() {
        let options: core::ClientOptions = ClientOptions::default().into();
        assert_eq!(options, core::ClientOptions::default());
    }

    #[test]
    fn given_fields_replace_the_core_defaults() {
        let options: core::ClientOptions = ClientOptions {
            connect_timeout_ms: Some(1500),
            message_buffer: Some(3),
            strict_receiver_matching: Some(true),
            headers: HashMap::from([("X-A".to_owned(), "1".to_owned())]),
            ..ClientOptions::default()
        }
        .into();
        assert_eq!(options.connect_timeout, Duration::from_millis(1500));
        assert_eq!(options.message_buffer, 3);
        assert!(options.strict_receiver_matching);
        assert_eq!(options.headers["X-A"].expose(), "1");
    }

    #[test]
    fn reconnect_policies_map_to_the_core_schedules() {
        let never: core::ReconnectPolicy = (&ReconnectPolicy::Never).into();
        assert_eq!(never.delay_for(1), None);
        let fixed: core::ReconnectPolicy = (&ReconnectPolicy::Fixed { delay_ms: 250 }).into();
        assert_eq!(fixed.delay_for(7), Some(Duration::from_millis(250)));
        let default: core::ReconnectPolicy = (&ReconnectPolicy::ServiceStack).into();
        assert_eq!(default, core::ReconnectPolicy::default());
    }
}
