//! [`ClientBuilder`]: every option and the callbacks fixed at build time.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::{Config, HandleGuard, ServerEventsClient, Shared, UrlRewriter, validated_channels};
use crate::auth::{Credentials, CredentialsProvider, ProviderFn, Secret, SharedProvider};
use crate::backoff::ReconnectPolicy;
use crate::bounded_queue::DEFAULT_MESSAGE_BUFFER;
use crate::dispatch::{Callback, Callbacks, Dispatcher, Handler, Routes};
use crate::error::{Error, redact_url};
use crate::http_client::HttpClient;
use crate::message::{ServerEventCommand, ServerEventConnect, ServerEventMessage};
use crate::origin::OriginPolicy;
use crate::receiver::MessageReceiver;
use crate::rt::{MaybeSend, MaybeSync};
use crate::sse::DEFAULT_MAX_EVENT_SIZE;
use crate::state::ReconnectInfo;
use crate::supervisor::Lifecycle;
use crate::transport::{Transport, TransportOptions};

/// Builds a [`ServerEventsClient`].
///
/// ```
/// use std::time::Duration;
/// use servicestack_events::{ReconnectPolicy, ServerEventsClient};
///
/// let client = ServerEventsClient::builder("http://localhost:5000/")
///     .channels(["home", "lobby"])
///     .on_join(|join| println!("{} joined {:?}", join.display_name, join.channel()))
///     .handler("chat", |_client, msg| println!("chat: {}", msg.json()))
///     .bearer_token("secret")
///     .reconnect_policy(ReconnectPolicy::default())
///     .connect_timeout(Duration::from_secs(5))
///     .build()
///     .unwrap();
/// assert_eq!(client.event_stream_url(), "http://localhost:5000/event-stream?channels=home,lobby");
/// ```
pub struct ClientBuilder {
    base_url: String,
    channels: Vec<String>,
    callbacks: Callbacks,
    routes: Routes,
    credentials: Credentials,
    provider: Option<SharedProvider>,
    resolve_stream_url: Option<Arc<dyn UrlRewriter>>,
    reconnect: ReconnectPolicy,
    heartbeat_interval: Option<Duration>,
    idle_timeout: Option<Duration>,
    connect_timeout: Duration,
    request_timeout: Duration,
    max_event_size: usize,
    message_buffer: usize,
    allowed_origins: Vec<String>,
    event_stream_path: String,
    subscribers_path: String,
    with_credentials: bool,
}

macro_rules! callback_setter {
    ($(#[$doc:meta])* $name:ident, $field:ident, $ty:ty) => {
        $(#[$doc])*
        ///
        /// May be called several times; the callbacks run in the order they were added.
        pub fn $name<F>(mut self, callback: F) -> Self
        where
            F: Fn(&$ty) + MaybeSend + MaybeSync + 'static,
        {
            let callback: Arc<dyn Callback<$ty>> = Arc::new(callback);
            self.callbacks.$field.push(callback);
            self
        }
    };
}

impl ClientBuilder {
    pub(super) fn new(base_url: impl Into<String>) -> Self {
        ClientBuilder {
            base_url: base_url.into(),
            channels: Vec::new(),
            callbacks: Callbacks::default(),
            routes: Routes::default(),
            credentials: Credentials::default(),
            provider: None,
            resolve_stream_url: None,
            reconnect: ReconnectPolicy::default(),
            heartbeat_interval: None,
            idle_timeout: None,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_event_size: DEFAULT_MAX_EVENT_SIZE,
            message_buffer: DEFAULT_MESSAGE_BUFFER,
            allowed_origins: Vec::new(),
            event_stream_path: "/event-stream".into(),
            subscribers_path: "/event-subscribers".into(),
            with_credentials: true,
        }
    }

    /// The channels to subscribe to (none means the server's default channel `*`).
    pub fn channels<I, S>(mut self, channels: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.channels = channels.into_iter().map(Into::into).collect();
        self
    }

    callback_setter!(
        /// Called with the subscription info on every `cmd.onConnect`.
        on_connect, on_connect, ServerEventConnect);
    callback_setter!(
        /// Called for every application message (everything but the built-in commands), after
        /// its handler, trigger listeners and receiver.
        on_message, on_message, ServerEventMessage);
    callback_setter!(
        /// Called for every join, leave and update (after the specific callback).
        on_command, on_command, ServerEventCommand);
    callback_setter!(
        /// Called when a subscriber joins one of this client's channels (itself included).
        on_join, on_join, ServerEventCommand);
    callback_setter!(
        /// Called when a subscriber leaves one of this client's channels.
        on_leave, on_leave, ServerEventCommand);
    callback_setter!(
        /// Called when a subscriber of one of this client's channels changes its channels.
        on_update, on_update, ServerEventCommand);
    callback_setter!(
        /// Called on every `cmd.onHeartbeat`, the server's answer to a heartbeat.
        on_heartbeat, on_heartbeat, ServerEventCommand);
    callback_setter!(
        /// Called when the client has a new subscription after losing one.
        on_reconnect, on_reconnect, ReconnectInfo);
    callback_setter!(
        /// Called with every error: connection failures, malformed or oversized events,
        /// handler panics.
        on_exception, on_exception, Error);

    /// Handles `cmd.{name}` messages.
    pub fn handler<F>(mut self, name: &str, handler: F) -> Self
    where
        F: Fn(&ServerEventsClient, &ServerEventMessage) + MaybeSend + MaybeSync + 'static,
    {
        let handler: Arc<dyn Handler> = Arc::new(handler);
        self.routes.handlers.insert(name.to_owned(), handler);
        self
    }

    /// Registers the global receiver, for `cmd.*` messages.
    pub fn receiver(self, receiver: impl MessageReceiver) -> Self {
        self.named_receiver("cmd", receiver)
    }

    /// Registers a receiver for `{op}.*` messages.
    pub fn named_receiver(mut self, op: &str, receiver: impl MessageReceiver) -> Self {
        self.routes
            .receivers
            .insert(op.to_owned(), Arc::new(receiver));
        self
    }

    /// Adds a listener for `trigger.{name}` messages.
    pub fn listener<F>(mut self, name: &str, listener: F) -> Self
    where
        F: Fn(&ServerEventsClient, &ServerEventMessage) + MaybeSend + MaybeSync + 'static,
    {
        self.routes.add_listener(name, Arc::new(listener));
        self
    }

    /// Sends `Authorization: Bearer <token>` on every request.
    pub fn bearer_token(mut self, token: impl Into<Secret>) -> Self {
        self.credentials.bearer_token = Some(token.into());
        self
    }

    /// Sends a header on every request.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<Secret>) -> Self {
        self.credentials.headers.push((name.into(), value.into()));
        self
    }

    /// Asks `provider` for credentials before every request (see [`CredentialsProvider`]).
    pub fn credentials_provider(mut self, provider: impl CredentialsProvider) -> Self {
        self.provider = Some(Arc::new(provider));
        self
    }

    /// Asks an async closure for credentials before every request; it receives `true` when the
    /// previous credentials were refused and should be refreshed.
    pub fn credentials_fn<F, Fut>(self, provider: F) -> Self
    where
        F: Fn(bool) -> Fut + MaybeSend + MaybeSync + 'static,
        Fut: Future<Output = Result<Credentials, String>> + MaybeSend + 'static,
    {
        self.credentials_provider(ProviderFn(provider))
    }

    /// Rewrites the stream URL before every connect.
    pub fn resolve_stream_url<F>(mut self, rewrite: F) -> Self
    where
        F: Fn(&str) -> String + MaybeSend + MaybeSync + 'static,
    {
        self.resolve_stream_url = Some(Arc::new(rewrite));
        self
    }

    /// How to wait between reconnect attempts.
    pub fn reconnect_policy(mut self, policy: ReconnectPolicy) -> Self {
        self.reconnect = policy;
        self
    }

    /// Overrides the heartbeat interval the server asks for.
    pub fn heartbeat_interval(mut self, interval: Duration) -> Self {
        self.heartbeat_interval = Some(interval);
        self
    }

    /// Overrides how long the stream may stay silent before it is presumed dead (default: the
    /// server's idle timeout from `cmd.onConnect`).
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = Some(timeout);
        self
    }

    /// How long to wait for a TCP connection and for the stream to deliver `cmd.onConnect`
    /// (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The limit for heartbeats, unregisters and service calls (default 30 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// The largest event accepted (default 8 MiB); bigger ones are skipped and reported.
    pub fn max_event_size(mut self, bytes: usize) -> Self {
        self.max_event_size = bytes;
        self
    }

    /// The stream path (default `/event-stream`).
    pub fn event_stream_path(mut self, path: impl Into<String>) -> Self {
        self.event_stream_path = path.into();
        self
    }

    /// The subscribers path (default `/event-subscribers`).
    pub fn subscribers_path(mut self, path: impl Into<String>) -> Self {
        self.subscribers_path = path.into();
        self
    }

    /// Browsers only: whether requests to another origin carry the page's cookies (fetch
    /// `credentials: "include"`, the default, as `EventSource`'s `withCredentials`) or only
    /// same-origin ones (`"same-origin"`).
    #[cfg(target_arch = "wasm32")]
    pub fn with_credentials(mut self, include: bool) -> Self {
        self.with_credentials = include;
        self
    }

    /// The most unread messages one [`messages()`](ServerEventsClient::messages) stream holds
    /// (default 1024, at least 1); past it the oldest are dropped and reported.
    pub fn message_buffer(mut self, messages: usize) -> Self {
        self.message_buffer = messages.max(1);
        self
    }

    /// Origins (`scheme://host[:port]`) besides the base URL's that may receive credentials.
    ///
    /// The server's `heartbeatUrl`, `unRegisterUrl` and `updateSubscriberUrl` on one of these
    /// origins are used as given, with credentials. On any other foreign origin they are moved
    /// to the base URL's origin (same path and query) and the move is reported once through
    /// `on_exception` as [`Error::ForeignUrl`]. Redirects to another origin never carry
    /// credentials. An entry that is not an http(s) origin makes [`build`](Self::build) fail.
    pub fn allowed_origins<I, S>(mut self, origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allowed_origins = origins.into_iter().map(Into::into).collect();
        self
    }

    /// Builds the client. Nothing connects until [`ServerEventsClient::start`] or
    /// [`ServerEventsClient::connect`].
    // On wasm32 the HTTP client holds JavaScript objects, so nothing here is Send; there are no
    // threads to share it with either.
    #[cfg_attr(target_arch = "wasm32", allow(clippy::arc_with_non_send_sync))]
    pub fn build(self) -> Result<ServerEventsClient, Error> {
        let origin_policy = self.origin_policy()?;
        let transport = Transport::new(
            TransportOptions {
                origins: origin_policy,
                connect_timeout: self.connect_timeout,
                request_timeout: self.request_timeout,
                with_credentials: self.with_credentials,
            },
            self.credentials.clone(),
            self.provider.clone(),
        )?;
        self.build_with(Arc::new(transport))
    }

    /// Builds the client on the given transport (the fake one in unit tests).
    #[cfg_attr(target_arch = "wasm32", allow(clippy::arc_with_non_send_sync))]
    pub(crate) fn build_with(
        self,
        transport: Arc<dyn HttpClient>,
    ) -> Result<ServerEventsClient, Error> {
        let origin_policy = self.origin_policy()?;
        let base_url = normalized_base_url(&self.base_url)?;
        let channels = validated_channels(self.channels)?;
        let shared = Arc::new(Shared {
            config: Config {
                base_url,
                event_stream_path: with_leading_slash(self.event_stream_path),
                subscribers_path: with_leading_slash(self.subscribers_path),
                resolve_stream_url: self.resolve_stream_url,
                reconnect: self.reconnect,
                heartbeat_interval: self.heartbeat_interval,
                idle_timeout: self.idle_timeout,
                max_event_size: self.max_event_size,
                message_buffer: self.message_buffer,
                origin_policy,
            },
            transport,
            dispatcher: Dispatcher::new(self.callbacks, self.routes),
            lifecycle: Lifecycle::new(channels),
        });
        Ok(ServerEventsClient {
            guard: Arc::new(HandleGuard {
                shared: shared.clone(),
            }),
            shared,
        })
    }
}

impl ClientBuilder {
    /// Which origins may receive credentials: the base URL's and the allowed ones.
    fn origin_policy(&self) -> Result<OriginPolicy, Error> {
        OriginPolicy::new(&normalized_base_url(&self.base_url)?, &self.allowed_origins)
    }
}

fn with_leading_slash(path: String) -> String {
    if path.starts_with('/') {
        path
    } else {
        format!("/{path}")
    }
}

fn normalized_base_url(raw: &str) -> Result<String, Error> {
    let parsed = crate::platform_url::PlatformUrl::parse(raw.trim()).map_err(|reason| {
        Error::InvalidUrl {
            url: redact_url(raw),
            reason,
        }
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(Error::InvalidUrl {
            url: redact_url(raw),
            reason: "the base URL must be http or https".into(),
        });
    }
    if parsed.host().is_empty() {
        return Err(Error::InvalidUrl {
            url: redact_url(raw),
            reason: "the base URL has no host".into(),
        });
    }
    Ok(parsed.as_str().trim_end_matches('/').to_owned())
}
