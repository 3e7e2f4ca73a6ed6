//! The public handle, [`ServerEventsClient`], and its builder.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, MutexGuard, Weak};
use std::time::Duration;

use futures_util::Stream;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Serialize;

use crate::auth::{Credentials, CredentialsProvider, ProviderFn, Secret, SharedProvider};
use crate::backoff::ReconnectPolicy;
use crate::connection;
use crate::dispatch::{Callback, Callbacks, Dispatcher, Handler, ListenerId, Routes};
use crate::error::{Error, redact_url};
use crate::http_client::HttpClient;
use crate::message::{
    ServerEventCommand, ServerEventConnect, ServerEventMessage, ServerEventUser, string_map,
};
use crate::receiver::MessageReceiver;
use crate::rt::{self, MaybeSend, MaybeSync, Spawner};
use crate::service::ServiceClient;
use crate::sse::DEFAULT_MAX_EVENT_SIZE;
use crate::state::{CloseReason, ConnectionState, ReconnectInfo};
use crate::supervisor::{Connecting, Lifecycle, Session};
use crate::transport::{Body, Method, Transport, TransportOptions};

/// Characters kept as they are in channel names on the stream URL; the rest is percent-encoded.
const CHANNEL_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Rewrites the stream URL before each connect (for example to add a token).
pub trait UrlRewriter: Fn(&str) -> String + MaybeSend + MaybeSync {}
impl<F: Fn(&str) -> String + MaybeSend + MaybeSync> UrlRewriter for F {}

/// Settings fixed at build time.
pub(crate) struct Config {
    pub(crate) base_url: String,
    pub(crate) event_stream_path: String,
    pub(crate) subscribers_path: String,
    pub(crate) resolve_stream_url: Option<Arc<dyn UrlRewriter>>,
    pub(crate) reconnect: ReconnectPolicy,
    pub(crate) heartbeat_interval: Option<Duration>,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) max_event_size: usize,
}

pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) transport: Arc<dyn HttpClient>,
    pub(crate) dispatcher: Dispatcher,
    pub(crate) lifecycle: Lifecycle,
}

impl Shared {
    pub(crate) fn session(&self) -> MutexGuard<'_, Session> {
        self.lifecycle.session()
    }

    pub(crate) fn event_stream_url(&self) -> String {
        let channels = self.session().channels.clone();
        let encoded: Vec<String> = channels
            .iter()
            .map(|channel| utf8_percent_encode(channel, CHANNEL_ENCODE).to_string())
            .collect();
        let url = format!(
            "{}{}?channels={}",
            self.config.base_url,
            self.config.event_stream_path,
            encoded.join(",")
        );
        match &self.config.resolve_stream_url {
            Some(rewrite) => rewrite(&url),
            None => url,
        }
    }

    pub(crate) fn url_for(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_owned()
        } else if path.starts_with('/') {
            format!("{}{}", self.config.base_url, path)
        } else {
            format!("{}/{}", self.config.base_url, path)
        }
    }
}

/// Stops the client when the last handle is dropped.
struct HandleGuard {
    shared: Arc<Shared>,
}

impl Drop for HandleGuard {
    fn drop(&mut self) {
        self.shared.lifecycle.dropped();
    }
}

/// A ServiceStack Server Events client.
///
/// Cheap to clone; all clones drive the same connection. A background task owns the event stream,
/// the heartbeat timer and the reconnect loop. Dropping the last clone stops the client and
/// unregisters its subscription (in the background, on the runtime it was started on).
///
/// Callbacks for one client never run concurrently: events are dispatched one at a time, in the
/// order they arrived.
///
/// ```no_run
/// use servicestack_events::ServerEventsClient;
///
/// # async fn demo() -> Result<(), servicestack_events::Error> {
/// let client = ServerEventsClient::builder("http://localhost:5000")
///     .channels(["home"])
///     .on_message(|msg| println!("{:?}: {}", msg.selector(), msg.json()))
///     .build()?;
/// let info = client.connect().await?;
/// println!("connected as {}", info.display_name);
/// client.stop().await;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct ServerEventsClient {
    shared: Arc<Shared>,
    guard: Arc<HandleGuard>,
}

impl std::fmt::Debug for ServerEventsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerEventsClient")
            .field("base_url", &self.shared.config.base_url)
            .field("channels", &self.channels())
            .field("state", &self.state())
            .finish()
    }
}

/// A handle the connection task keeps without keeping the client alive.
pub(crate) struct WeakClient {
    shared: Arc<Shared>,
    guard: Weak<HandleGuard>,
}

impl WeakClient {
    pub(crate) fn upgrade(&self) -> Option<ServerEventsClient> {
        self.guard.upgrade().map(|guard| ServerEventsClient {
            shared: self.shared.clone(),
            guard,
        })
    }
}

impl ServerEventsClient {
    /// Starts building a client for the ServiceStack host at `base_url`.
    pub fn builder(base_url: impl Into<String>) -> ClientBuilder {
        ClientBuilder::new(base_url)
    }

    /// A client with default settings subscribed to `channels`.
    pub fn new<I, S>(base_url: impl Into<String>, channels: I) -> Result<Self, Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::builder(base_url).channels(channels).build()
    }

    pub(crate) fn downgrade(&self) -> WeakClient {
        WeakClient {
            shared: self.shared.clone(),
            guard: Arc::downgrade(&self.guard),
        }
    }

    /// Starts connecting in the background and returns at once. The client keeps reconnecting
    /// after failures until it is stopped. Calling it on a running client does nothing.
    pub fn start(&self) -> Result<(), Error> {
        let spawner = self.shared.lifecycle.start()?;
        self.spawn_task(spawner);
        Ok(())
    }

    /// Runs the connection task on `spawner`, when the lifecycle asked for one.
    fn spawn_task(&self, spawner: Option<Spawner>) {
        if let Some(spawner) = spawner {
            spawner.spawn(connection::run(self.shared.clone(), self.downgrade()));
        }
    }

    /// Connects and waits for `cmd.onConnect`, returning the subscription info.
    ///
    /// On a client that is already connected it returns the current info at once. On a client
    /// that has never connected, a failed first attempt (refused connection, HTTP error, 401,
    /// timeout) is returned as the error and the client stops, so nothing retries behind the
    /// caller's back; use [`start`](Self::start) to keep retrying instead.
    pub async fn connect(&self) -> Result<ServerEventConnect, Error> {
        let dispatcher = &self.shared.dispatcher;
        let waiter = match self
            .shared
            .lifecycle
            .connect(|| dispatcher.wait_connect())?
        {
            Connecting::Open(info) => return Ok(*info),
            Connecting::Wait(waiter, spawner) => {
                self.spawn_task(spawner);
                waiter
            }
        };
        waiter.await.unwrap_or(Err(Error::Stopped))
    }

    /// Stops the client: ends the stream and the heartbeats and unregisters the subscription.
    ///
    /// The stop is requested as soon as this is called; the returned future resolves once the
    /// subscription is unregistered and the background task has ended. It is safe to call from
    /// inside a callback: spawn the future (or just drop it) there, since a callback cannot wait
    /// for the task that is running it.
    pub fn stop(&self) -> impl Future<Output = ()> + 'static {
        self.shared.lifecycle.stop(CloseReason::Stopped);
        self.shared.lifecycle.stopped()
    }

    /// Stops the client for good: like [`stop`](Self::stop), and later starts fail with
    /// [`Error::Disposed`].
    pub fn dispose(&self) -> impl Future<Output = ()> + 'static {
        self.shared.lifecycle.stop(CloseReason::Disposed);
        self.shared.lifecycle.stopped()
    }

    /// Drops the current connection and reconnects at once with the current channels.
    ///
    /// Like ServiceStack's C# and Java clients, it does nothing on a client that is stopped
    /// (or was never started): use [`start`](Self::start) for that. Restarts requested while an
    /// earlier one has not connected yet (for example from several threads at once) are merged
    /// into it.
    pub fn restart(&self) -> Result<(), Error> {
        self.shared.lifecycle.restart()
    }

    /// Pauses the client (for a backgrounded app or a hidden tab): unregisters and disconnects
    /// until [`resume`](Self::resume). Nothing reconnects while paused.
    pub fn pause(&self) {
        self.shared.lifecycle.pause();
    }

    /// Resumes a paused client: reconnects at once with the backoff reset.
    pub fn resume(&self) -> Result<(), Error> {
        let spawner = self.shared.lifecycle.resume()?;
        self.spawn_task(spawner);
        Ok(())
    }

    /// The current connection state.
    pub fn state(&self) -> ConnectionState {
        self.shared.session().state().clone()
    }

    /// Every state change from now on, starting with the current state. Ends when the client is
    /// disposed or dropped.
    pub fn state_changes(&self) -> impl Stream<Item = ConnectionState> + 'static {
        let current = self.state();
        self.shared.dispatcher.state_stream(current)
    }

    /// Every application message (not the built-in commands) from now on, in order. Nothing is
    /// dropped: the stream buffers what its reader has not taken yet. Ends when the client is
    /// disposed or dropped.
    pub fn messages(&self) -> impl Stream<Item = ServerEventMessage> + 'static {
        self.shared.dispatcher.message_stream()
    }

    /// The current subscription, when connected.
    pub fn connection_info(&self) -> Option<ServerEventConnect> {
        self.shared.session().connection().cloned()
    }

    /// The current subscription id, when connected.
    pub fn subscription_id(&self) -> Option<String> {
        self.shared
            .session()
            .connection()
            .map(|info| info.id.clone())
    }

    /// The display name of the current subscription, or `"(not connected)"`.
    pub fn connection_display_name(&self) -> String {
        self.shared.session().connection().map_or_else(
            || "(not connected)".to_owned(),
            |info| info.display_name.clone(),
        )
    }

    /// How many times the client has opened (or tried to open) the event stream.
    pub fn times_started(&self) -> u64 {
        self.shared.session().times_started()
    }

    /// The base URL of the ServiceStack host.
    pub fn base_url(&self) -> &str {
        &self.shared.config.base_url
    }

    /// The channels the client subscribes to (what the next connect will ask for).
    pub fn channels(&self) -> Vec<String> {
        self.shared.session().channels.clone()
    }

    /// Replaces the channel list locally; it takes effect on the next (re)connect. To change
    /// the live subscription, use [`subscribe_to_channels`](Self::subscribe_to_channels) and
    /// [`unsubscribe_from_channels`](Self::unsubscribe_from_channels).
    pub fn set_channels<I, S>(&self, channels: I) -> Result<(), Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let channels = validated_channels(channels)?;
        self.shared.session().channels = channels;
        Ok(())
    }

    /// The URL the next connect will open, e.g. `http://host/event-stream?channels=A,B`.
    pub fn event_stream_url(&self) -> String {
        self.shared.event_stream_url()
    }

    /// Waits for the next application message received after this call.
    ///
    /// The waiter is registered when this is called, not when the future is first polled, so
    /// `let next = client.wait_for_next_message(t); trigger().await; next.await` cannot miss
    /// the message.
    pub fn wait_for_next_message(
        &self,
        timeout: Duration,
    ) -> impl Future<Output = Result<ServerEventMessage, Error>> + 'static {
        wait_for("message", timeout, self.shared.dispatcher.wait_message())
    }

    /// Waits for the next join, leave or update received after this call (registered at once,
    /// like [`wait_for_next_message`](Self::wait_for_next_message)).
    pub fn wait_for_next_command(
        &self,
        timeout: Duration,
    ) -> impl Future<Output = Result<ServerEventCommand, Error>> + 'static {
        wait_for("command", timeout, self.shared.dispatcher.wait_command())
    }

    /// Waits for the next `cmd.onHeartbeat` received after this call (registered at once).
    pub fn wait_for_next_heartbeat(
        &self,
        timeout: Duration,
    ) -> impl Future<Output = Result<ServerEventCommand, Error>> + 'static {
        wait_for(
            "heartbeat",
            timeout,
            self.shared.dispatcher.wait_heartbeat(),
        )
    }

    /// Waits for the next `cmd.onConnect` received after this call (for example the one that
    /// follows a reconnect; registered at once). Failed attempts in between do not end the
    /// wait; the timeout and a stop ([`Error::Stopped`]) do. Unlike [`connect`](Self::connect)
    /// it does not start the client.
    pub fn wait_for_next_connect(
        &self,
        timeout: Duration,
    ) -> impl Future<Output = Result<ServerEventConnect, Error>> + 'static {
        let waiter = wait_for(
            "connect",
            timeout,
            self.shared.dispatcher.wait_next_connect(),
        );
        async move { waiter.await? }
    }

    /// Subscribes the live subscription to more channels, then adds them to the local list.
    pub async fn subscribe_to_channels<I, S>(&self, channels: I) -> Result<(), Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.update_subscriber(validated_channels(channels)?, Vec::new())
            .await
    }

    /// Unsubscribes the live subscription from channels, then removes them from the local list.
    pub async fn unsubscribe_from_channels<I, S>(&self, channels: I) -> Result<(), Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.update_subscriber(Vec::new(), validated_channels(channels)?)
            .await
    }

    /// Changes the live subscription's channels through the server's `updateSubscriberUrl`;
    /// the local list changes only after the server accepted.
    pub async fn update_subscriber(
        &self,
        subscribe: Vec<String>,
        unsubscribe: Vec<String>,
    ) -> Result<(), Error> {
        validated_channels(subscribe.iter().chain(&unsubscribe).cloned())?;
        let (id, url) = {
            let session = self.shared.session();
            let info = session.connection().ok_or(Error::NotConnected)?;
            let url = info.update_subscriber_url.clone().unwrap_or_else(|| {
                self.shared
                    .url_for(&format!("/event-subscribers/{}", info.id))
            });
            (info.id.clone(), url)
        };
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct UpdateEventSubscriber<'a> {
            id: &'a str,
            #[serde(skip_serializing_if = "<[String]>::is_empty")]
            subscribe_channels: &'a [String],
            #[serde(skip_serializing_if = "<[String]>::is_empty")]
            unsubscribe_channels: &'a [String],
        }
        let body = serde_json::to_string(&UpdateEventSubscriber {
            id: &id,
            subscribe_channels: &subscribe,
            unsubscribe_channels: &unsubscribe,
        })
        .unwrap_or_default();
        self.shared
            .transport
            .call(Method::Post, &url, Body::Json(body))
            .await?;
        let mut session = self.shared.session();
        session
            .channels
            .retain(|channel| !unsubscribe.contains(channel));
        for channel in subscribe {
            if !session.channels.contains(&channel) {
                session.channels.push(channel);
            }
        }
        Ok(())
    }

    /// The subscribers of this client's channels (all subscribers when it has none).
    pub async fn get_channel_subscribers(&self) -> Result<Vec<ServerEventUser>, Error> {
        let channels = self.channels();
        self.get_subscribers(&channels).await
    }

    /// The subscribers of `channels`, de-duplicated by the server (all subscribers when empty).
    pub async fn get_subscribers(
        &self,
        channels: &[String],
    ) -> Result<Vec<ServerEventUser>, Error> {
        let encoded: Vec<String> = channels
            .iter()
            .map(|channel| utf8_percent_encode(channel, CHANNEL_ENCODE).to_string())
            .collect();
        let mut url = self.shared.url_for(&self.shared.config.subscribers_path);
        if !encoded.is_empty() {
            url = format!("{url}?channels={}", encoded.join(","));
        }
        let text = self
            .shared
            .transport
            .call(Method::Get, &url, Body::Empty)
            .await?;
        let entries: Vec<serde_json::Value> =
            serde_json::from_str(&text).map_err(|e| Error::Deserialize {
                type_name: "subscriber list".into(),
                message: e.to_string(),
            })?;
        entries
            .into_iter()
            .map(|entry| {
                string_map(&entry.to_string())
                    .map(ServerEventUser::from_map)
                    .map_err(|message| Error::Deserialize {
                        type_name: "subscriber".into(),
                        message,
                    })
            })
            .collect()
    }

    /// A client for the host's services, sharing this client's cookies and credentials.
    pub fn service_client(&self) -> ServiceClient {
        ServiceClient::new(self.shared.clone())
    }

    /// Signs in with ServiceStack's credentials provider (`POST /auth/credentials`). The session
    /// cookies it sets are used by the stream, heartbeats and service calls from then on.
    pub async fn authenticate(
        &self,
        user_name: &str,
        password: impl Into<Secret>,
    ) -> Result<BTreeMap<String, serde_json::Value>, Error> {
        self.service_client()
            .authenticate(user_name, password)
            .await
    }

    /// Handles `cmd.{name}` messages (the name is matched exactly). Replaces an earlier handler
    /// of that name.
    pub fn register_handler<F>(&self, name: &str, handler: F)
    where
        F: Fn(&ServerEventsClient, &ServerEventMessage) + MaybeSend + MaybeSync + 'static,
    {
        self.shared
            .dispatcher
            .routes()
            .handlers
            .insert(name.to_owned(), Arc::new(handler));
    }

    /// Removes the handler for `cmd.{name}`; whether there was one.
    pub fn remove_handler(&self, name: &str) -> bool {
        self.shared
            .dispatcher
            .routes()
            .handlers
            .remove(name)
            .is_some()
    }

    /// Registers the global receiver, for `cmd.*` messages.
    pub fn register_receiver(&self, receiver: impl MessageReceiver) {
        self.register_named_receiver("cmd", receiver);
    }

    /// Registers a receiver for messages whose op is `op` (`{op}.{target}`).
    pub fn register_named_receiver(&self, op: &str, receiver: impl MessageReceiver) {
        self.shared
            .dispatcher
            .routes()
            .receivers
            .insert(op.to_owned(), Arc::new(receiver));
    }

    /// Removes the receiver for `op`; whether there was one.
    pub fn unregister_receiver(&self, op: &str) -> bool {
        self.shared
            .dispatcher
            .routes()
            .receivers
            .remove(op)
            .is_some()
    }

    /// Adds a listener for `trigger.{name}` messages. Several listeners may share a name.
    pub fn add_listener<F>(&self, name: &str, listener: F) -> ListenerId
    where
        F: Fn(&ServerEventsClient, &ServerEventMessage) + MaybeSend + MaybeSync + 'static,
    {
        self.shared
            .dispatcher
            .routes()
            .add_listener(name, Arc::new(listener))
    }

    /// Removes one listener; whether it was registered.
    pub fn remove_listener(&self, name: &str, id: ListenerId) -> bool {
        self.shared.dispatcher.routes().remove_listener(name, id)
    }

    /// Removes every listener of `name`; how many there were.
    pub fn remove_listeners(&self, name: &str) -> usize {
        self.shared.dispatcher.routes().remove_listeners(name)
    }

    /// Whether `name` has listeners.
    pub fn has_listeners(&self, name: &str) -> bool {
        self.shared.dispatcher.routes().listener_count(name) > 0
    }

    /// Removes every handler, receiver and listener.
    pub fn remove_all_registrations(&self) {
        self.shared.dispatcher.routes().clear();
    }
}

async fn wait_for<T>(
    what: &'static str,
    timeout: Duration,
    waiter: futures_channel::oneshot::Receiver<T>,
) -> Result<T, Error> {
    match rt::timeout(timeout, waiter).await {
        Some(Ok(value)) => Ok(value),
        Some(Err(_)) => Err(Error::Stopped),
        None => Err(Error::Timeout {
            operation: format!("waiting for the next {what}"),
            after: timeout,
        }),
    }
}

fn validated_channels<I, S>(channels: I) -> Result<Vec<String>, Error>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    channels
        .into_iter()
        .map(Into::into)
        .map(|channel: String| {
            if channel.contains('@') || channel.contains(',') {
                Err(Error::InvalidArgument {
                    reason: format!("channel {channel:?} may not contain '@' or ','"),
                })
            } else {
                Ok(channel)
            }
        })
        .collect()
}

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
    fn new(base_url: impl Into<String>) -> Self {
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

    /// Builds the client. Nothing connects until [`ServerEventsClient::start`] or
    /// [`ServerEventsClient::connect`].
    // On wasm32 the HTTP client holds JavaScript objects, so nothing here is Send; there are no
    // threads to share it with either.
    #[cfg_attr(target_arch = "wasm32", allow(clippy::arc_with_non_send_sync))]
    pub fn build(self) -> Result<ServerEventsClient, Error> {
        let transport = Transport::new(
            TransportOptions {
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

fn with_leading_slash(path: String) -> String {
    if path.starts_with('/') {
        path
    } else {
        format!("/{path}")
    }
}

fn normalized_base_url(raw: &str) -> Result<String, Error> {
    let parsed = url::Url::parse(raw.trim()).map_err(|e| Error::InvalidUrl {
        url: redact_url(raw),
        reason: e.to_string(),
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(Error::InvalidUrl {
            url: redact_url(raw),
            reason: "the base URL must be http or https".into(),
        });
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(Error::InvalidUrl {
            url: redact_url(raw),
            reason: "the base URL has no host".into(),
        });
    }
    let text = String::from(parsed);
    Ok(text.trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_url_encodes_channels_like_servicestack_clients() {
        let client = ServerEventsClient::new("http://h:1/app/", ["A", "B C", "*", "x_y"]).unwrap();
        assert_eq!(
            client.event_stream_url(),
            "http://h:1/app/event-stream?channels=A,B%20C,%2A,x_y"
        );
        let none = ServerEventsClient::new("http://h", Vec::<String>::new()).unwrap();
        assert_eq!(none.event_stream_url(), "http://h/event-stream?channels=");
    }

    #[test]
    fn international_host_names_become_punycode() {
        let client = ServerEventsClient::new("http://BÜCHER.example:8080/api", ["A"]).unwrap();
        assert_eq!(client.base_url(), "http://xn--bcher-kva.example:8080/api");
    }

    #[test]
    fn bad_base_urls_and_channels_are_rejected() {
        for url in ["", "localhost:5000", "ftp://h", "http://"] {
            assert!(
                matches!(
                    ServerEventsClient::new(url, ["A"]),
                    Err(Error::InvalidUrl { .. })
                ),
                "{url}"
            );
        }
        assert!(matches!(
            ServerEventsClient::new("http://h", ["a@b"]),
            Err(Error::InvalidArgument { .. })
        ));
        assert!(matches!(
            ServerEventsClient::new("http://h", ["a,b"]),
            Err(Error::InvalidArgument { .. })
        ));
    }

    #[test]
    fn resolve_stream_url_rewrites() {
        let client = ServerEventsClient::builder("http://h")
            .channels(["A"])
            .resolve_stream_url(|url| format!("{url}&ss-tok=x"))
            .build()
            .unwrap();
        assert_eq!(
            client.event_stream_url(),
            "http://h/event-stream?channels=A&ss-tok=x"
        );
    }

    #[test]
    fn set_channels_changes_the_url_only() {
        let client = ServerEventsClient::new("http://h", ["home"]).unwrap();
        client.set_channels(["Foo", "Bar"]).unwrap();
        assert!(client.event_stream_url().ends_with("?channels=Foo,Bar"));
        assert_eq!(client.state(), ConnectionState::Idle);
        assert_eq!(client.connection_display_name(), "(not connected)");
    }

    #[tokio::test]
    async fn restart_does_nothing_on_a_client_that_is_not_running() {
        let client = ServerEventsClient::new("http://127.0.0.1:9", ["A"]).unwrap();
        assert_eq!(client.restart(), Ok(()));
        assert_eq!(client.state(), ConnectionState::Idle);
        assert!(!client.shared.session().task_running());
        assert_eq!(client.shared.lifecycle.restart_generation(), 0);
    }

    #[test]
    fn clients_build_without_a_runtime_and_share_tls_setup() {
        let clients: Vec<_> = (0..20)
            .map(|i| ServerEventsClient::new("https://example.invalid", [format!("c{i}")]).unwrap())
            .collect();
        assert_eq!(clients.len(), 20);
    }

    #[test]
    fn start_outside_a_runtime_is_a_clear_error() {
        let client = ServerEventsClient::new("http://127.0.0.1:9", ["A"]).unwrap();
        assert_eq!(client.start(), Err(Error::NoRuntime));
    }
}
