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
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
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
    /// How long to wait for a TCP connection and for `cmd.onConnect`, in milliseconds.
    #[uniffi(default = 10000)]
    pub connect_timeout_ms: u64,
    /// The limit for heartbeats, unregisters and service calls, in milliseconds.
    #[uniffi(default = 30000)]
    pub request_timeout_ms: u64,
    /// The largest event accepted, in bytes; bigger ones are skipped and reported.
    #[uniffi(default = 8388608)]
    pub max_event_size: u64,
    /// Sent as `Authorization: Bearer …` on every request.
    #[uniffi(default = None)]
    pub bearer_token: Option<String>,
    /// Extra headers sent on every request.
    #[uniffi(default)]
    pub headers: HashMap<String, String>,
    /// How to wait between reconnect attempts.
    #[uniffi(default = None)]
    pub reconnect_policy: Option<ReconnectPolicy>,
    /// The stream path.
    #[uniffi(default = "/event-stream")]
    pub event_stream_path: String,
    /// The subscribers path.
    #[uniffi(default = "/event-subscribers")]
    pub subscribers_path: String,
    /// The most unread messages one `messages()` stream (Kotlin `messageFlow()`, Swift
    /// `messageStream()`) holds; past it the oldest are dropped and a `MessagesDropped` error
    /// goes to `onException` once per overflow.
    #[uniffi(default = 1024)]
    pub message_buffer: u32,
    /// Origins (`https://host:port`) besides the base URL's that may receive credentials. The
    /// server's heartbeat, unregister and update URLs on any other origin are moved onto the
    /// base URL's origin (same path and query), reported once as `ForeignUrl`.
    #[uniffi(default)]
    pub allowed_origins: Vec<String>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            channels: Vec::new(),
            heartbeat_interval_ms: None,
            idle_timeout_ms: None,
            connect_timeout_ms: 10_000,
            request_timeout_ms: 30_000,
            max_event_size: 8 * 1024 * 1024,
            bearer_token: None,
            headers: HashMap::new(),
            reconnect_policy: None,
            event_stream_path: "/event-stream".into(),
            subscribers_path: "/event-subscribers".into(),
            message_buffer: 1024,
            allowed_origins: Vec::new(),
        }
    }
}

impl ClientOptions {
    /// Applies these options to a core builder.
    pub(crate) fn apply(&self, mut builder: core::ClientBuilder) -> core::ClientBuilder {
        builder = builder
            .channels(self.channels.iter().cloned())
            .connect_timeout(Duration::from_millis(self.connect_timeout_ms))
            .request_timeout(Duration::from_millis(self.request_timeout_ms))
            .max_event_size(usize::try_from(self.max_event_size).unwrap_or(usize::MAX))
            .event_stream_path(self.event_stream_path.clone())
            .subscribers_path(self.subscribers_path.clone())
            .message_buffer(usize::try_from(self.message_buffer).unwrap_or(usize::MAX))
            .allowed_origins(self.allowed_origins.iter().cloned());
        if let Some(ms) = self.heartbeat_interval_ms {
            builder = builder.heartbeat_interval(Duration::from_millis(ms));
        }
        if let Some(ms) = self.idle_timeout_ms {
            builder = builder.idle_timeout(Duration::from_millis(ms));
        }
        if let Some(token) = &self.bearer_token {
            builder = builder.bearer_token(token.as_str());
        }
        // Sorted, so requests carry the headers in a stable order.
        let mut headers: Vec<(&String, &String)> = self.headers.iter().collect();
        headers.sort();
        for (name, value) in headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if let Some(policy) = &self.reconnect_policy {
            builder = builder.reconnect_policy(policy.into());
        }
        builder
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_reach_the_core_builder() {
        let options = ClientOptions {
            channels: vec!["A".into(), "B C".into()],
            event_stream_path: "sse".into(),
            ..ClientOptions::default()
        };
        let client = options
            .apply(core::ServerEventsClient::builder("http://h"))
            .build()
            .unwrap();
        assert_eq!(client.event_stream_url(), "http://h/sse?channels=A,B%20C");
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
