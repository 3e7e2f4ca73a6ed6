//! [`ServerEventsClient`]: the object Kotlin and Swift hold, wrapping `servicestack_events`'s client.
//!
//! Async calls become Kotlin `suspend` functions and Swift `async` functions; they run on the
//! bindings' tokio runtime. A cancelled coroutine or task does not cancel the work in Rust (the
//! call runs to its end and its result is dropped), so stopping is explicit: `stop()`, or
//! `dispose()`, or destroying the object (Kotlin `close()`/`use {}`, Swift `deinit`), which stops
//! the client and unregisters its subscription in the background.

use std::sync::Arc;
use std::time::Duration;

use servicestack_events as core;

use crate::credentials::{CredentialsProvider, ForeignCredentials};
use crate::error::ServerEventsError;
use crate::listener::{ForeignListener, MessageHandler, ServerEventsListener, run_handler};
use crate::options::ClientOptions;
use crate::receiver::{
    ForeignReceiver, ReceiverMember, ReceiverResolver, ServerEventReceiverFactory,
};
use crate::runtime::{on_runtime, runtime};
use crate::stream_url::StreamUrlResolver;
use crate::streams::{MessageStream, StateStream};
use crate::types::{
    ConnectionState, ServerEventCommand, ServerEventConnect, ServerEventMessage, ServerEventUser,
};

type Result<T, E = ServerEventsError> = std::result::Result<T, E>;

/// A ServiceStack Server Events client: one subscription to a host's event stream, with
/// heartbeats and automatic reconnects.
///
/// Build it, register listeners, handlers and receivers, then `connect()`. Callbacks run on the
/// client's background threads, one at a time, in the order the events arrived.
#[derive(uniffi::Object)]
pub struct ServerEventsClient {
    inner: core::ServerEventsClient,
}

impl Drop for ServerEventsClient {
    fn drop(&mut self) {
        // The core's stop is eager: the request is made here and the background task
        // unregisters the subscription; the returned future only waits for that.
        drop(self.inner.dispose());
    }
}

fn duration(timeout_ms: u64) -> Duration {
    Duration::from_millis(timeout_ms)
}

/// `text` as JSON, or an `InvalidArgument` naming what it was for.
fn parse_json(what: &str, text: &str) -> Result<serde_json::Value> {
    serde_json::from_str(text).map_err(|e| ServerEventsError::InvalidArgument {
        reason: format!("{what} is not JSON: {e}"),
    })
}

fn to_json(value: &impl serde::Serialize) -> Result<String> {
    serde_json::to_string(value).map_err(|e| ServerEventsError::Internal {
        detail: format!("cannot write JSON: {e}"),
    })
}

#[uniffi::export]
impl ServerEventsClient {
    /// A client for the ServiceStack host at `base_url` (nothing connects until `connect()` or
    /// `start()`). `credentials`, when given, is asked before every request;
    /// `resolve_stream_url`, when given, rewrites the stream URL before every connect.
    #[uniffi::constructor(default(credentials = None, resolve_stream_url = None, options))]
    pub fn new(
        base_url: String,
        options: ClientOptions,
        credentials: Option<Arc<dyn CredentialsProvider>>,
        resolve_stream_url: Option<Arc<dyn StreamUrlResolver>>,
    ) -> Result<Arc<Self>> {
        let runtime = runtime()?;
        // The core remembers the runtime current at build time and runs its task there.
        let _context = runtime.enter();
        let mut builder = core::ServerEventsClient::builder(base_url).options(options.into());
        if let Some(provider) = credentials {
            builder = builder.credentials_provider(ForeignCredentials(provider));
        }
        if let Some(resolver) = resolve_stream_url {
            builder = builder.resolve_stream_url(move |url| resolver.resolve(url.to_owned()));
        }
        let inner = builder.build()?;
        Ok(Arc::new(ServerEventsClient { inner }))
    }

    // ----- lifecycle -----

    /// Connects and waits for `cmd.onConnect`, returning the subscription.
    ///
    /// On a connected client it returns the current subscription at once. On a client that has
    /// never connected, a failed first attempt is thrown and the client stops (nothing retries
    /// behind the caller's back); use `start()` to keep retrying instead.
    pub async fn connect(&self) -> Result<ServerEventConnect> {
        let inner = self.inner.clone();
        on_runtime(async move { Ok(ServerEventConnect::from(&inner.connect().await?)) }).await
    }

    /// Starts connecting in the background and returns at once; the client keeps reconnecting
    /// after failures until it is stopped.
    pub fn start(&self) -> Result<()> {
        Ok(self.inner.start()?)
    }

    /// Stops the client: ends the stream and the heartbeats and unregisters the subscription.
    /// Returns once the subscription is unregistered. Safe to call from a callback only without
    /// waiting for it (launch it in another coroutine or task).
    pub async fn stop(&self) {
        self.inner.stop().await;
    }

    /// Stops the client for good, like `stop()`; later starts throw `Disposed`. Destroying the
    /// object does the same without waiting.
    pub async fn dispose(&self) {
        self.inner.dispose().await;
    }

    /// Drops the current connection and reconnects at once with the current channels. Like the
    /// C# and Java clients it does nothing on a stopped client: `start()` or `connect()` that.
    pub fn restart(&self) -> Result<()> {
        Ok(self.inner.restart()?)
    }

    /// Pauses the client (for a backgrounded app): unregisters and disconnects until `resume()`.
    pub fn pause(&self) {
        self.inner.pause();
    }

    /// Resumes a paused client: reconnects at once.
    pub fn resume(&self) -> Result<()> {
        Ok(self.inner.resume()?)
    }

    // ----- state -----

    /// The current connection state.
    pub fn state(&self) -> ConnectionState {
        ConnectionState::from(&self.inner.state())
    }

    /// Every state change from now on, starting with the current state.
    pub fn state_changes(&self) -> Arc<StateStream> {
        StateStream::new(self.inner.state_changes())
    }

    /// Every application message from now on, in order (nothing is dropped).
    pub fn messages(&self) -> Arc<MessageStream> {
        MessageStream::new(self.inner.messages())
    }

    /// The current subscription, when connected.
    pub fn connection_info(&self) -> Option<ServerEventConnect> {
        self.inner
            .connection_info()
            .as_ref()
            .map(ServerEventConnect::from)
    }

    /// The current subscription id, when connected.
    pub fn subscription_id(&self) -> Option<String> {
        self.inner.subscription_id()
    }

    /// The display name of the current subscription, or `"(not connected)"`.
    pub fn connection_display_name(&self) -> String {
        self.inner.connection_display_name()
    }

    /// How many times the client has opened (or tried to open) the event stream.
    pub fn times_started(&self) -> u64 {
        self.inner.times_started()
    }

    /// The base URL of the host.
    pub fn base_url(&self) -> String {
        self.inner.base_url().to_owned()
    }

    /// The URL the next connect will open.
    pub fn event_stream_url(&self) -> String {
        self.inner.event_stream_url()
    }

    // ----- channels and subscribers -----

    /// The channels the client subscribes to.
    pub fn channels(&self) -> Vec<String> {
        self.inner.channels()
    }

    /// Replaces the channel list locally; it takes effect on the next (re)connect.
    pub fn set_channels(&self, channels: Vec<String>) -> Result<()> {
        Ok(self.inner.set_channels(channels)?)
    }

    /// Subscribes the live subscription to more channels.
    pub async fn subscribe_to_channels(&self, channels: Vec<String>) -> Result<()> {
        let inner = self.inner.clone();
        on_runtime(async move { Ok(inner.subscribe_to_channels(channels).await?) }).await
    }

    /// Unsubscribes the live subscription from channels.
    pub async fn unsubscribe_from_channels(&self, channels: Vec<String>) -> Result<()> {
        let inner = self.inner.clone();
        on_runtime(async move { Ok(inner.unsubscribe_from_channels(channels).await?) }).await
    }

    /// Changes the live subscription's channels in one request.
    pub async fn update_subscriber(
        &self,
        subscribe: Vec<String>,
        unsubscribe: Vec<String>,
    ) -> Result<()> {
        let inner = self.inner.clone();
        on_runtime(async move { Ok(inner.update_subscriber(subscribe, unsubscribe).await?) }).await
    }

    /// The subscribers of this client's channels.
    pub async fn get_channel_subscribers(&self) -> Result<Vec<ServerEventUser>> {
        let inner = self.inner.clone();
        on_runtime(async move {
            let users = inner.get_channel_subscribers().await?;
            Ok(users.into_iter().map(Into::into).collect())
        })
        .await
    }

    /// The subscribers of `channels` (every subscriber when empty).
    pub async fn get_subscribers(&self, channels: Vec<String>) -> Result<Vec<ServerEventUser>> {
        let inner = self.inner.clone();
        on_runtime(async move {
            let users = inner.get_subscribers(&channels).await?;
            Ok(users.into_iter().map(Into::into).collect())
        })
        .await
    }

    // ----- services and authentication -----

    /// Signs in with ServiceStack's credentials provider (`POST /auth/credentials`); returns
    /// the `AuthenticateResponse` as JSON. The session cookies are used by the stream,
    /// heartbeats and service calls from then on.
    pub async fn authenticate(&self, user_name: String, password: String) -> Result<String> {
        let inner = self.inner.clone();
        on_runtime(async move {
            let response = inner.authenticate(&user_name, password).await?;
            to_json(&response)
        })
        .await
    }

    /// POSTs `request_json` to a service and returns the JSON response (`null` for an empty
    /// one). A `path` starting with `/` is appended to the base URL, an absolute URL is used as
    /// it is, and a bare name is a ServiceStack DTO at `/api/{name}`. Cookies and credentials
    /// are shared with the event stream.
    pub async fn post_json(&self, path: String, request_json: String) -> Result<String> {
        let request = parse_json("the request", &request_json)?;
        let service = self.inner.service_client();
        on_runtime(async move {
            let response: serde_json::Value = service.post(&path, &request).await?;
            to_json(&response)
        })
        .await
    }

    /// GETs a service and returns the JSON response (paths as for `postJson`).
    pub async fn get_json(&self, path: String) -> Result<String> {
        let service = self.inner.service_client();
        on_runtime(async move {
            let response: serde_json::Value = service.get(&path).await?;
            to_json(&response)
        })
        .await
    }

    // ----- waiting -----

    /// Waits up to `timeout_ms` for the next application message received after this call.
    pub async fn wait_for_next_message(&self, timeout_ms: u64) -> Result<ServerEventMessage> {
        // Registered on the first poll, which the bindings make before the call returns to the
        // caller's code, so an event that arrives while the task is being scheduled is not missed.
        let next = self.inner.wait_for_next_message(duration(timeout_ms));
        on_runtime(async move {
            let message = next.await?;
            Ok(ServerEventMessage::from(&message))
        })
        .await
    }

    /// Waits up to `timeout_ms` for the next join, leave or update received after this call.
    pub async fn wait_for_next_command(&self, timeout_ms: u64) -> Result<ServerEventCommand> {
        // Registered on the first poll, which the bindings make before the call returns to the
        // caller's code, so an event that arrives while the task is being scheduled is not missed.
        let next = self.inner.wait_for_next_command(duration(timeout_ms));
        on_runtime(async move {
            let command = next.await?;
            Ok(ServerEventCommand::from(&command))
        })
        .await
    }

    /// Waits up to `timeout_ms` for the next `cmd.onHeartbeat` received after this call.
    pub async fn wait_for_next_heartbeat(&self, timeout_ms: u64) -> Result<ServerEventCommand> {
        // Registered on the first poll, which the bindings make before the call returns to the
        // caller's code, so an event that arrives while the task is being scheduled is not missed.
        let next = self.inner.wait_for_next_heartbeat(duration(timeout_ms));
        on_runtime(async move {
            let command = next.await?;
            Ok(ServerEventCommand::from(&command))
        })
        .await
    }

    /// Waits up to `timeout_ms` for the next `cmd.onConnect` (for example after a reconnect).
    /// Failed attempts in between do not end the wait; a stop does (`Stopped`). Does not start
    /// the client.
    pub async fn wait_for_next_connect(&self, timeout_ms: u64) -> Result<ServerEventConnect> {
        // Registered on the first poll, which the bindings make before the call returns to the
        // caller's code, so an event that arrives while the task is being scheduled is not missed.
        let next = self.inner.wait_for_next_connect(duration(timeout_ms));
        on_runtime(async move {
            let info = next.await?;
            Ok(ServerEventConnect::from(&info))
        })
        .await
    }

    // ----- callbacks -----

    /// Adds a lifecycle listener; returns its id for `remove`.
    pub fn add_event_listener(&self, listener: Arc<dyn ServerEventsListener>) -> u64 {
        self.inner
            .add_lifecycle_listener(ForeignListener(listener))
            .get()
    }

    /// Removes the registration `id` (a lifecycle listener, handler, receiver or trigger
    /// listener: ids are unique across kinds and clients); whether it was registered.
    pub fn remove(&self, id: u64) -> bool {
        self.inner.remove(core::RegistrationId::from_raw(id))
    }

    /// Handles `cmd.{name}` messages (the name is matched exactly); replaces an earlier handler
    /// of that name. Returns its id for `remove`.
    pub fn register_handler(&self, name: String, handler: Arc<dyn MessageHandler>) -> u64 {
        let what = format!("cmd.{name}");
        self.inner
            .register_handler(&name, move |client, message| {
                run_handler(&what, handler.as_ref(), client, message);
            })
            .get()
    }

    /// Removes the handler of `cmd.{name}`; whether there was one.
    pub fn remove_handler(&self, name: String) -> bool {
        self.inner.remove_handler(&name)
    }

    /// Registers the global receiver, for `cmd.*` messages. Returns its id for `remove`.
    #[uniffi::method(default(resolver = None))]
    pub fn register_receiver(
        &self,
        members: Vec<ReceiverMember>,
        factory: Arc<dyn ServerEventReceiverFactory>,
        resolver: Option<Arc<ReceiverResolver>>,
    ) -> u64 {
        self.register_named_receiver("cmd".into(), members, factory, resolver)
    }

    /// Registers a receiver for `{op}.*` messages; replaces an earlier one for `op`. `factory`
    /// creates its instances and `resolver` (default: a new instance per message) decides when.
    /// Returns its id for `remove`.
    #[uniffi::method(default(resolver = None))]
    pub fn register_named_receiver(
        &self,
        op: String,
        members: Vec<ReceiverMember>,
        factory: Arc<dyn ServerEventReceiverFactory>,
        resolver: Option<Arc<ReceiverResolver>>,
    ) -> u64 {
        let receiver = ForeignReceiver::new(members, factory, resolver);
        self.inner.register_named_receiver(&op, receiver).get()
    }

    /// Removes the receiver of `op`; whether there was one.
    pub fn unregister_receiver(&self, op: String) -> bool {
        self.inner.unregister_receiver(&op)
    }

    /// Adds a listener for `trigger.{name}` messages (several may share a name); returns its id
    /// for `remove`.
    pub fn add_listener(&self, name: String, listener: Arc<dyn MessageHandler>) -> u64 {
        let what = format!("trigger.{name}");
        self.inner
            .add_listener(&name, move |client, message| {
                run_handler(&what, listener.as_ref(), client, message);
            })
            .get()
    }

    /// Removes every trigger listener of `name`; how many there were.
    pub fn remove_listeners(&self, name: String) -> u32 {
        u32::try_from(self.inner.remove_listeners(&name)).unwrap_or(u32::MAX)
    }

    /// Whether `name` has trigger listeners.
    pub fn has_listeners(&self, name: String) -> bool {
        self.inner.has_listeners(&name)
    }

    /// Removes every `cmd.{name}` handler, receiver and trigger listener (lifecycle listeners
    /// added with `addEventListener` stay).
    pub fn remove_all_registrations(&self) {
        self.inner.remove_all_registrations();
    }
}
