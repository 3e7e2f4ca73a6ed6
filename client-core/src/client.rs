//! The public handle, [`ServerEventsClient`]: intents to the lifecycle, state and waiters. The
//! builder, the subscriber calls and the run-time registrations are in the submodules.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, MutexGuard, Weak};
use std::time::Duration;

use futures_util::Stream;

use crate::auth::Secret;
use crate::authorized_http::AuthorizedHttp;
use crate::backoff::ReconnectPolicy;
use crate::connection;
use crate::dispatch::Dispatcher;
use crate::error::{Error, redact_url};
use crate::message::{ServerEventCommand, ServerEventConnect, ServerEventMessage};
use crate::origin::OriginPolicy;
use crate::rt::{self, MaybeSend, MaybeSync, Spawner};
use crate::service::ServiceClient;
use crate::state::{CloseReason, ConnectionState};
use crate::supervisor::{Connecting, Lifecycle, Session};

mod builder;
mod registrations;
mod subscribers;

pub use builder::ClientBuilder;

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
    pub(crate) message_buffer: usize,
    pub(crate) origin_policy: OriginPolicy,
    /// Receivers match by argument type name only when the member's name matches too.
    pub(crate) strict_receivers: bool,
}

pub(crate) struct Shared {
    pub(crate) config: Config,
    /// Every request goes through here (credentials and their one refresh).
    pub(crate) transport: Arc<AuthorizedHttp>,
    pub(crate) dispatcher: Dispatcher,
    pub(crate) lifecycle: Lifecycle,
}

impl Shared {
    pub(crate) fn session(&self) -> MutexGuard<'_, Session> {
        self.lifecycle.session()
    }

    pub(crate) fn event_stream_url(&self) -> String {
        let channels = channels_param(&self.session().channels);
        let url = format!(
            "{}{}?channels={channels}",
            self.config.base_url, self.config.event_stream_path,
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

impl ServerEventsClient {
    /// Whether receivers match strictly ([`ClientBuilder::strict_receiver_matching`]).
    pub(crate) fn strict_receivers(&self) -> bool {
        self.shared.config.strict_receivers
    }

    /// Delivers `error` to every lifecycle listener's `on_exception`, as the client does with
    /// its own errors: for callbacks (of a binding, say) that report a failure rather than
    /// panic.
    pub fn report_exception(&self, error: &Error) {
        self.shared.dispatcher.report(error);
    }
}

impl std::fmt::Debug for ServerEventsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerEventsClient")
            .field("base_url", &redact_url(&self.shared.config.base_url))
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

    /// Every application message (not the built-in commands) from now on, in order. Ends when
    /// the client is disposed or dropped.
    ///
    /// The stream holds at most [`message_buffer`](ClientBuilder::message_buffer) unread
    /// messages (default 1024). When its reader falls that far behind, the **oldest** unread
    /// message is dropped for each new one, and [`Error::MessagesDropped`] is reported to
    /// `on_exception` once per overflow: the client never waits for a slow reader, which would
    /// hold up heartbeats and every other callback. Callbacks, handlers and receivers see every
    /// message regardless.
    pub fn messages(&self) -> impl Stream<Item = ServerEventMessage> + 'static {
        self.shared
            .dispatcher
            .message_stream(self.shared.config.message_buffer)
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
}

async fn wait_for<T>(
    what: &'static str,
    timeout: Duration,
    waiter: crate::oneshot::Receiver<T>,
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

/// `channels` percent-encoded and comma-separated, as ServiceStack's `channels` parameter wants
/// them.
fn channels_param(channels: &[String]) -> String {
    let mut param = String::new();
    for (index, channel) in channels.iter().enumerate() {
        if index > 0 {
            param.push(',');
        }
        param.push_str(&crate::percent::encode_component(channel));
    }
    param
}

fn validated_channels<I, S>(channels: I) -> Result<Vec<String>, Error>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let channels: Vec<String> = channels.into_iter().map(Into::into).collect();
    for channel in &channels {
        check_channel(channel)?;
    }
    Ok(channels)
}

/// A channel name cannot hold `@` (it ends the channel in a selector) or `,` (it separates
/// channels in the stream URL). Not generic, so the check is in the module once.
fn check_channel(channel: &str) -> Result<(), Error> {
    if channel.contains('@') || channel.contains(',') {
        Err(Error::InvalidArgument {
            reason: format!("channel '{channel}' may not contain '@' or ','"),
        })
    } else {
        Ok(())
    }
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
    fn start_outside_a_runtime_is_a_clear_error() {
        // Building needs no runtime, with or without TLS; starting does and says so.
        for base_url in ["http://127.0.0.1:9", "https://example.invalid"] {
            let client = ServerEventsClient::new(base_url, ["A"]).unwrap();
            assert_eq!(client.start(), Err(Error::NoRuntime));
        }
    }
}
