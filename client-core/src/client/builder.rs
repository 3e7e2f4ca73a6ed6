//! [`ClientBuilder`]: every option and the callbacks fixed at build time.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::{Config, HandleGuard, ServerEventsClient, Shared, UrlRewriter, validated_channels};
use crate::auth::{Credentials, CredentialsProvider, ProviderFn, Secret, SharedProvider};
use crate::authorized_http::AuthorizedHttp;
use crate::backoff::ReconnectPolicy;
use crate::dispatch::{Callback, Callbacks, Dispatcher, Handler, LifecycleRef, Routes};
use crate::error::{Error, redact_url};
use crate::http_client::HttpClient;
use crate::listener::LifecycleListener;
use crate::message::{ServerEventCommand, ServerEventConnect, ServerEventMessage};
use crate::options::ClientOptions;
use crate::origin::OriginPolicy;
use crate::receiver::MessageReceiver;
use crate::rt::{MaybeSend, MaybeSync};
use crate::state::ReconnectInfo;
use crate::supervisor::Lifecycle;
use crate::transport::{Transport, TransportOptions};
use crate::user_info;

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
    options: ClientOptions,
    callbacks: Callbacks,
    listeners: Vec<LifecycleRef>,
    routes: Routes,
    provider: Option<SharedProvider>,
    resolve_stream_url: Option<Arc<dyn UrlRewriter>>,
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
            options: ClientOptions::default(),
            callbacks: Callbacks::default(),
            listeners: Vec::new(),
            routes: Routes::default(),
            provider: None,
            resolve_stream_url: None,
        }
    }

    /// Replaces every data option at once (the channels included); the callbacks, handlers,
    /// receivers, credentials provider and stream URL rewriter set so far stay.
    pub fn options(mut self, options: ClientOptions) -> Self {
        self.options = options;
        self
    }

    /// The channels to subscribe to (none means the server's default channel `*`).
    pub fn channels<I, S>(mut self, channels: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.options.channels = channels.into_iter().map(Into::into).collect();
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
        self.routes.set_handler(name, handler);
        self
    }

    /// Registers the global receiver, for `cmd.*` messages.
    pub fn receiver(self, receiver: impl MessageReceiver) -> Self {
        self.named_receiver("cmd", receiver)
    }

    /// Registers a receiver for `{op}.*` messages.
    pub fn named_receiver(mut self, op: &str, receiver: impl MessageReceiver) -> Self {
        self.routes.set_receiver(op, Arc::new(receiver));
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

    /// Adds a lifecycle listener (after the `on_*` callbacks, which run as the first listener).
    /// Listeners can also be added and removed while the client runs
    /// ([`ServerEventsClient::add_lifecycle_listener`]).
    pub fn lifecycle_listener(mut self, listener: impl LifecycleListener) -> Self {
        self.listeners.push(Arc::new(listener));
        self
    }

    /// Sends `Authorization: Bearer <token>` on every request.
    pub fn bearer_token(mut self, token: impl Into<Secret>) -> Self {
        self.options.bearer_token = Some(token.into());
        self
    }

    /// Sends a header on every request (a second value for the same name replaces the first).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<Secret>) -> Self {
        self.options.headers.insert(name.into(), value.into());
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
        self.options.reconnect = policy;
        self
    }

    /// Overrides the heartbeat interval the server asks for.
    pub fn heartbeat_interval(mut self, interval: Duration) -> Self {
        self.options.heartbeat_interval = Some(interval);
        self
    }

    /// Overrides how long the stream may stay silent before it is presumed dead (default: the
    /// server's idle timeout from `cmd.onConnect`).
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.options.idle_timeout = Some(timeout);
        self
    }

    /// How long to wait for a TCP connection and for the stream to deliver `cmd.onConnect`
    /// (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.options.connect_timeout = timeout;
        self
    }

    /// The limit for heartbeats, unregisters and service calls (default 30 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.options.request_timeout = timeout;
        self
    }

    /// The largest event accepted (default 8 MiB); bigger ones are skipped and reported.
    pub fn max_event_size(mut self, bytes: usize) -> Self {
        self.options.max_event_size = bytes;
        self
    }

    /// The stream path (default `/event-stream`).
    pub fn event_stream_path(mut self, path: impl Into<String>) -> Self {
        self.options.event_stream_path = path.into();
        self
    }

    /// The subscribers path (default `/event-subscribers`).
    pub fn subscribers_path(mut self, path: impl Into<String>) -> Self {
        self.options.subscribers_path = path.into();
        self
    }

    /// Browsers only: whether requests to another origin carry the page's cookies (fetch
    /// `credentials: "include"`, the default, as `EventSource`'s `withCredentials`) or only
    /// same-origin ones (`"same-origin"`).
    #[cfg(target_arch = "wasm32")]
    pub fn with_credentials(mut self, include: bool) -> Self {
        self.options.with_credentials = include;
        self
    }

    /// The most unread messages one [`messages()`](ServerEventsClient::messages) stream holds
    /// (default 1024; 0 counts as 1); past it the oldest are dropped and reported.
    pub fn message_buffer(mut self, messages: usize) -> Self {
        self.options.message_buffer = messages;
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
        self.options.allowed_origins = origins.into_iter().map(Into::into).collect();
        self
    }

    /// Receivers match a message by its argument type name only when the member's name matches
    /// too (ServiceStack's `StrictMode`), for every receiver of this client.
    pub fn strict_receiver_matching(mut self, strict: bool) -> Self {
        self.options.strict_receiver_matching = strict;
        self
    }

    /// Builds the client. Nothing connects until [`ServerEventsClient::start`] or
    /// [`ServerEventsClient::connect`].
    // On wasm32 the HTTP client holds JavaScript objects, so nothing here is Send; there are no
    // threads to share it with either.
    #[cfg_attr(target_arch = "wasm32", allow(clippy::arc_with_non_send_sync))]
    pub fn build(self) -> Result<ServerEventsClient, Error> {
        let checked = self.checked()?;
        let transport = Transport::new(TransportOptions {
            connect_timeout: checked.options.connect_timeout,
            request_timeout: checked.options.request_timeout,
            with_credentials: checked.options.with_credentials,
        })?;
        Ok(checked.into_client(Arc::new(transport)))
    }

    /// Builds the client on the given transport (the fake one in unit tests).
    #[cfg(test)]
    pub(crate) fn build_with(
        self,
        transport: Arc<dyn HttpClient>,
    ) -> Result<ServerEventsClient, Error> {
        Ok(self.checked()?.into_client(transport))
    }

    /// Checks the base URL, the allowed origins and the channels, once.
    fn checked(self) -> Result<Checked, Error> {
        let (base_url, basic) = user_info::split(&normalized_base_url(&self.base_url)?)?;
        if basic.is_some() && self.sets_authorization() {
            return Err(Error::InvalidArgument {
                reason: "the base URL's user-info is sent as Authorization: Basic; it cannot be \
                         combined with a bearer token, an Authorization header or a credentials \
                         provider"
                    .into(),
            });
        }
        let origin_policy = OriginPolicy::new(&base_url, &self.options.allowed_origins)?;
        let channels = validated_channels(self.options.channels.clone())?;
        Ok(Checked {
            base_url,
            basic,
            origin_policy,
            channels,
            builder: self,
        })
    }

    /// Whether another credential claims the `Authorization` header.
    fn sets_authorization(&self) -> bool {
        self.options.bearer_token.is_some()
            || self.provider.is_some()
            || self
                .options
                .headers
                .keys()
                .any(|name| name.eq_ignore_ascii_case("authorization"))
    }
}

/// A builder whose base URL, origins and channels were checked.
struct Checked {
    base_url: String,
    /// `Authorization: Basic …` from the base URL's user-info.
    basic: Option<Secret>,
    origin_policy: OriginPolicy,
    channels: Vec<String>,
    builder: ClientBuilder,
}

impl std::ops::Deref for Checked {
    type Target = ClientBuilder;

    fn deref(&self) -> &ClientBuilder {
        &self.builder
    }
}

impl Checked {
    #[cfg_attr(target_arch = "wasm32", allow(clippy::arc_with_non_send_sync))]
    fn into_client(self, transport: Arc<dyn HttpClient>) -> ServerEventsClient {
        let Checked {
            base_url,
            basic,
            origin_policy,
            channels,
            builder,
        } = self;
        let http = AuthorizedHttp::new(
            transport,
            static_credentials(&builder, basic),
            builder.provider.clone(),
            origin_policy.clone(),
        );
        let options = builder.options;
        // The builder's callbacks first, then the listeners in the order they were added.
        let mut listeners: Vec<LifecycleRef> = Vec::with_capacity(1 + builder.listeners.len());
        listeners.push(Arc::new(builder.callbacks));
        listeners.extend(builder.listeners);
        let shared = Arc::new(Shared {
            config: Config {
                base_url,
                event_stream_path: with_leading_slash(options.event_stream_path.clone()),
                subscribers_path: with_leading_slash(options.subscribers_path.clone()),
                resolve_stream_url: builder.resolve_stream_url,
                reconnect: options.reconnect.clone(),
                heartbeat_interval: options.effective_heartbeat_interval(),
                idle_timeout: options.effective_idle_timeout(),
                max_event_size: options.max_event_size,
                message_buffer: options.effective_message_buffer(),
                origin_policy,
                strict_receivers: options.strict_receiver_matching,
            },
            transport: Arc::new(http),
            dispatcher: Dispatcher::new(listeners, builder.routes),
            lifecycle: Lifecycle::new(channels),
        });
        ServerEventsClient {
            guard: Arc::new(HandleGuard {
                shared: shared.clone(),
            }),
            shared,
        }
    }
}

/// The static credentials: the bearer token, the headers and the base URL's user-info.
fn static_credentials(builder: &ClientBuilder, basic: Option<Secret>) -> Credentials {
    let mut headers = Vec::with_capacity(builder.options.headers.len() + 1);
    for (name, value) in &builder.options.headers {
        headers.push((name.clone(), value.clone()));
    }
    if let Some(value) = basic {
        headers.push(("Authorization".to_owned(), value));
    }
    Credentials {
        bearer_token: builder.options.bearer_token.clone(),
        headers,
        query: Vec::new(),
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
