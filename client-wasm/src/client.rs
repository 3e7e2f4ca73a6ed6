//! `ServerEventsClient`, the class JavaScript uses: `@servicestack/client`'s API on top of the
//! Rust client.

use std::cell::RefCell;
use std::rc::Rc;

use futures_util::StreamExt;
use js_sys::{Array, Function, Object, Promise};
use servicestack_events::{RegistrationId, ServerEventsClient as CoreClient};
use wasm_bindgen::prelude::*;

use crate::dom::{self, UnloadGuard};
use crate::error::{self, invalid_argument};
use crate::hooks::Hooks;
use crate::js_lifecycle::JsLifecycle;
use crate::js_receiver::JsReceiver;
use crate::message_stream::MessageStream;
use crate::options::JsOptions;
use crate::{convert, js};

/// A trigger listener, kept to remove it by reference.
struct Listener {
    name: String,
    function: Function,
    id: RegistrationId,
}

/// What every handle of one client shares on the JavaScript side.
pub(crate) struct Shared {
    pub(crate) hooks: Rc<Hooks>,
    /// The core's id of each lifecycle handler (`onJoin`, ...), to replace or remove it by name
    /// (a list: there are at most seven, and a map would link another hash table).
    lifecycle_ids: RefCell<Vec<(String, RegistrationId)>>,
    listeners: RefCell<Vec<Listener>>,
    resolver: RefCell<JsValue>,
    unload: RefCell<Option<UnloadGuard>>,
    unregister_on_unload: bool,
    with_credentials: bool,
}

impl Shared {
    /// The current `resolver` option.
    pub(crate) fn resolver(&self) -> JsValue {
        self.resolver.borrow().clone()
    }
}

/// A ServiceStack Server Events client: one subscription to a ServiceStack host's
/// `/event-stream`, with heartbeats, reconnects (ServiceStack's backoff) and unregistering on
/// stop and when the page goes away.
///
/// ```js
/// const client = new ServerEventsClient("https://chat.example.org", ["home"], {
///   handlers: {
///     onConnect: (sub) => console.log("connected as", sub.displayName),
///     chat: (msg, request) => console.log(msg.fromName, msg.message),
///   },
///   onException: (e) => console.error(e),
/// });
/// const info = await client.connect();
/// ```
#[wasm_bindgen]
pub struct ServerEventsClient {
    core: CoreClient,
    shared: Rc<Shared>,
}

/// Another JavaScript handle to the same client (what receivers see as `this.client`).
pub(crate) fn handle(core: &CoreClient, shared: &Rc<Shared>) -> JsValue {
    ServerEventsClient {
        core: core.clone(),
        shared: shared.clone(),
    }
    .into()
}

/// `base` resolved with the platform's WHATWG `URL` (against the page's or worker's location
/// when it is relative): international domain names become punycode, as the browser sends them.
/// Left as it is when `URL` refuses it (the core then reports why).
fn absolute_base_url(base: &str) -> String {
    let trimmed = base.trim();
    let location = js::get(&js::get(&js::global(), "location"), "href").as_string();
    let parsed = match &location {
        Some(href) => web_sys::Url::new_with_base(trimmed, href),
        None => web_sys::Url::new(trimmed),
    };
    parsed.map_or_else(|_| trimmed.to_owned(), |url| url.href())
}

fn rejected(error: JsValue) -> Promise {
    Promise::reject(&error)
}

impl ServerEventsClient {
    fn install_unload_guard(&self) {
        if !self.shared.unregister_on_unload {
            return;
        }
        let mut unload = self.shared.unload.borrow_mut();
        if unload.is_none() {
            *unload = UnloadGuard::install(&self.core);
        }
    }

    /// Registers a `cmd.{name}` handler with the core.
    fn register_command_handler(&self, name: &str, handler: Function) {
        let hooks = self.shared.hooks.clone();
        self.core.register_handler(name, move |_client, message| {
            let request = convert::message(message);
            let body = js::get(&request, "body");
            let this = dom::element_for(message.css_selector());
            hooks.call(
                &handler,
                &this,
                &[body, request.into()],
                message.selector().unwrap_or("cmd"),
            );
        });
    }

    /// Runs `future` (a core call) as a Promise of what `convert` makes of its result.
    fn promise<T, F>(future: F, convert: impl FnOnce(T) -> JsValue + 'static) -> Promise
    where
        F: std::future::Future<Output = Result<T, servicestack_events::Error>> + 'static,
        T: 'static,
    {
        js::promise(async move { future.await.map(convert).map_err(|e| error::to_js(&e)) })
    }

    /// Watches the core's state: `onStateChange`, and `onStop` plus removing the page listener
    /// when the client closes.
    fn watch_state(core: &CoreClient, shared: &Rc<Shared>) {
        let mut states = core.state_changes();
        let shared = shared.clone();
        wasm_bindgen_futures::spawn_local(async move {
            // The first item is the state at construction (idle).
            let _ = states.next().await;
            while let Some(state) = states.next().await {
                let closed = matches!(state, servicestack_events::ConnectionState::Closed { .. });
                if closed {
                    let guard = shared.unload.borrow_mut().take();
                    drop(guard);
                }
                shared.hooks.state_changed(convert::state(&state).into());
                if closed {
                    shared.hooks.stopped();
                }
            }
        });
    }
}

#[wasm_bindgen]
impl ServerEventsClient {
    /// A client for the ServiceStack host at `baseUrl` (absolute, or relative to the page),
    /// subscribing to `channels` (an array, a comma-separated string, or nothing for the
    /// server's default channel `*`). Nothing connects until `start()` or `connect()`.
    ///
    /// Throws a `TypeError` for options of the wrong type and an `InvalidUrlError` or
    /// `InvalidArgumentError` for an unusable URL or channel name.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(js_name = baseUrl)] base_url: &str,
        #[wasm_bindgen(unchecked_optional_param_type = "string[] | string")] channels: Option<
            JsValue,
        >,
        #[wasm_bindgen(unchecked_optional_param_type = "ServerEventsClientOptions")]
        options: Option<JsValue>,
    ) -> Result<ServerEventsClient, JsValue> {
        let channels = convert::channel_list(&channels.unwrap_or(JsValue::UNDEFINED), "channels")?;
        let options = JsOptions::read(&options.unwrap_or(JsValue::UNDEFINED))?;
        let hooks = Rc::new(Hooks::new(
            options.on_exception.clone(),
            options.on_reconnect.clone(),
            options.on_state_change.clone(),
        ));
        let shared = Rc::new(Shared {
            hooks: hooks.clone(),
            lifecycle_ids: RefCell::default(),
            listeners: RefCell::default(),
            resolver: RefCell::new(options.resolver.clone()),
            unload: RefCell::default(),
            unregister_on_unload: options.core.unregister_on_unload,
            with_credentials: options.core.with_credentials,
        });
        let builder = options
            .configure(CoreClient::builder(absolute_base_url(base_url)), &hooks)
            .channels(channels)
            .on_message({
                let hooks = hooks.clone();
                // Before the `onMessage` handlers: they are lifecycle listeners added later.
                let success = options.success.clone();
                move |message| {
                    let op = message.op();
                    if op == Some("css") {
                        dom::apply_css(message, &convert::body(message), &hooks);
                    }
                    if op == Some("trigger") {
                        let request: JsValue = convert::message(message).into();
                        dom::raise_trigger(message, &js::get(&request, "body"), &request, &hooks);
                    }
                    // ss-utils' `success(selector, msg, json)`, once the message is handled.
                    if let Some(success) = &success {
                        let args = [
                            js::string_or_null(message.selector()),
                            convert::body(message),
                            JsValue::from_str(message.json()),
                        ];
                        hooks.call(success, &JsValue::UNDEFINED, &args, "success");
                    }
                }
            })
            .on_reconnect({
                let hooks = hooks.clone();
                move |info| hooks.reconnected(convert::reconnect(info).into())
            })
            .on_exception({
                let hooks = hooks.clone();
                move |error| hooks.report(error)
            });
        let core = builder.build().map_err(|e| error::to_js(&e))?;
        let client = ServerEventsClient { core, shared };
        for (name, handler) in options.handlers {
            client.set_handler(&name, handler);
        }
        for (op, receiver) in options.receivers {
            client.add_receiver(&op, receiver);
        }
        Self::watch_state(&client.core, &client.shared);
        Ok(client)
    }

    /// Sets handler `name`, replacing an earlier one: a core lifecycle listener for the
    /// lifecycle events, `onStop`/`onException` in the hooks, else a `cmd.{name}` handler.
    fn set_handler(&self, name: &str, handler: Function) {
        if let Some(listener) = JsLifecycle::new(name, handler.clone(), self.shared.hooks.clone()) {
            let id = self.core.add_lifecycle_listener(listener);
            let replaced = {
                let mut ids = self.shared.lifecycle_ids.borrow_mut();
                match ids.iter_mut().find(|(known, _)| known == name) {
                    Some((_, slot)) => Some(std::mem::replace(slot, id)),
                    None => {
                        ids.push((name.to_owned(), id));
                        None
                    }
                }
            };
            if let Some(old) = replaced {
                self.core.remove(old);
            }
        } else if !self.shared.hooks.set_handler(name, Some(handler.clone())) {
            self.register_command_handler(name, handler);
        }
    }

    fn add_receiver(&self, op: &str, receiver: JsValue) {
        self.core
            .register_named_receiver(op, JsReceiver::new(receiver, self.shared.clone()));
    }

    /// Starts connecting in the background (and keeps reconnecting until `stop()`). Resolves
    /// with the client at once; `connect()` waits for the connection instead.
    #[wasm_bindgen(skip_typescript)]
    pub fn start(&self) -> Promise {
        match self.core.start() {
            Ok(()) => {
                self.install_unload_guard();
                Promise::resolve(&JsValue::UNDEFINED)
            }
            Err(e) => rejected(error::to_js(&e)),
        }
    }

    /// Connects and resolves with the connection info (`cmd.onConnect`). On a client that never
    /// connected, a failed first attempt rejects (an `HttpError`, `UnauthorizedError`,
    /// `NetworkError`, ...) and the client stops rather than retrying behind the caller's back.
    #[wasm_bindgen(unchecked_return_type = "Promise<ServerEventConnect>")]
    pub fn connect(&self) -> Promise {
        let core = self.core.clone();
        self.install_unload_guard();
        Self::promise(async move { core.connect().await }, |info| {
            convert::connect(&info).into()
        })
    }

    /// Stops: closes the stream, stops heartbeats and unregisters the subscription. Resolves
    /// once it is unregistered.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn stop(&self) -> Promise {
        let guard = self.shared.unload.borrow_mut().take();
        drop(guard);
        let stopped = self.core.stop();
        js::promise(async move {
            stopped.await;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Every application message from now on, as an async iterator:
    /// `for await (const message of client.messages()) { ... }`. Nothing is dropped while the
    /// loop is busy; `break` ends it.
    pub fn messages(&self) -> MessageStream {
        MessageStream::new(self.core.messages().boxed_local())
    }

    /// Drops the connection and reconnects at once with the current channels.
    pub fn restart(&self) -> Result<(), JsValue> {
        self.core.restart().map_err(|e| error::to_js(&e))?;
        self.install_unload_guard();
        Ok(())
    }

    /// Unregisters and disconnects until `resume()` (for example while the tab is hidden).
    pub fn pause(&self) {
        self.core.pause();
    }

    /// Reconnects a paused client at once.
    pub fn resume(&self) -> Result<(), JsValue> {
        self.core.resume().map_err(|e| error::to_js(&e))
    }

    /// Adds a listener for `trigger.{name}` messages; it receives the message.
    #[wasm_bindgen(js_name = addListener, skip_typescript)]
    pub fn add_listener(
        &self,
        name: &str,
        #[wasm_bindgen(unchecked_param_type = "(message: ServerEventMessage) => void")]
        listener: Function,
    ) {
        let hooks = self.shared.hooks.clone();
        let function = listener.clone();
        let id = self.core.add_listener(name, move |_client, message| {
            hooks.call(
                &function,
                &JsValue::UNDEFINED,
                &[convert::message(message).into()],
                message.selector().unwrap_or("trigger"),
            );
        });
        self.shared.listeners.borrow_mut().push(Listener {
            name: name.to_owned(),
            function: listener,
            id,
        });
    }

    /// Removes a listener added with `addListener` (the same function).
    #[wasm_bindgen(js_name = removeListener, skip_typescript)]
    pub fn remove_listener(
        &self,
        name: &str,
        #[wasm_bindgen(unchecked_param_type = "(message: ServerEventMessage) => void")]
        listener: &Function,
    ) {
        let removed: Vec<RegistrationId> = {
            let mut listeners = self.shared.listeners.borrow_mut();
            let mut removed = Vec::new();
            listeners.retain(|entry| {
                let matches = entry.name == name && Object::is(&entry.function, listener);
                if matches {
                    removed.push(entry.id);
                }
                !matches
            });
            removed
        };
        for id in removed {
            self.core.remove(id);
        }
    }

    /// Sets a handler: `onConnect`, `onJoin`, `onLeave`, `onUpdate`, `onCommand`, `onMessage`,
    /// `onHeartbeat`, `onStop`, or any other name for `cmd.{name}` messages (called with
    /// `(body, request)` and `this` bound to the element the `$css` part selects).
    #[wasm_bindgen(js_name = registerHandler, skip_typescript)]
    pub fn register_handler(
        &self,
        name: &str,
        #[wasm_bindgen(unchecked_param_type = "(...args: any[]) => void")] handler: Function,
    ) {
        self.set_handler(name, handler);
    }

    /// Removes the handler `name`.
    #[wasm_bindgen(js_name = unregisterHandler, skip_typescript)]
    pub fn unregister_handler(&self, name: &str) {
        if JsLifecycle::is_core_event(name) {
            let removed = {
                let mut ids = self.shared.lifecycle_ids.borrow_mut();
                let found = ids.iter().position(|(known, _)| known == name);
                found.map(|index| ids.swap_remove(index).1)
            };
            if let Some(id) = removed {
                self.core.remove(id);
            }
        } else if !self.shared.hooks.set_handler(name, None) {
            self.core.remove_handler(name);
        }
    }

    /// Registers the global receiver (for `cmd.*` messages): an object, or a class resolved
    /// through the resolver.
    #[wasm_bindgen(js_name = registerReceiver, skip_typescript)]
    pub fn register_receiver(
        &self,
        #[wasm_bindgen(unchecked_param_type = "object | (new () => object)")] receiver: JsValue,
    ) -> Result<(), JsValue> {
        self.register_named_receiver("cmd", receiver)
    }

    /// Registers a receiver for `{name}.*` messages: an object (a plain object, an instance,
    /// or `document`), or a class resolved through the resolver.
    #[wasm_bindgen(js_name = registerNamedReceiver, skip_typescript)]
    pub fn register_named_receiver(
        &self,
        name: &str,
        #[wasm_bindgen(unchecked_param_type = "object | (new () => object)")] receiver: JsValue,
    ) -> Result<(), JsValue> {
        if !js::is_object_like(&receiver) {
            return Err(invalid_argument("a receiver must be an object or a class"));
        }
        self.add_receiver(name, receiver);
        Ok(())
    }

    /// Removes the receiver for `name` (default `"cmd"`, the global receiver).
    #[wasm_bindgen(js_name = unregisterReceiver, skip_typescript)]
    pub fn unregister_receiver(&self, name: Option<String>) {
        self.core
            .unregister_receiver(name.as_deref().unwrap_or("cmd"));
    }

    /// Sets the resolver for receivers given as classes (used from the next message on).
    #[wasm_bindgen(js_name = setResolver, skip_typescript)]
    pub fn set_resolver(
        &self,
        #[wasm_bindgen(unchecked_param_type = "IResolver")] resolver: JsValue,
    ) -> Result<(), JsValue> {
        if js::as_function(&js::get(&resolver, "tryResolve")).is_none() {
            return Err(invalid_argument("a resolver must have a tryResolve method"));
        }
        *self.shared.resolver.borrow_mut() = resolver;
        Ok(())
    }

    /// Subscribes the live subscription to more channels (an array or a comma-separated string).
    #[wasm_bindgen(js_name = subscribeToChannels, skip_typescript)]
    pub fn subscribe_to_channels(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string[] | string")] channels: JsValue,
    ) -> Promise {
        let channels = match convert::channel_list(&channels, "channels") {
            Ok(channels) => channels,
            Err(e) => return rejected(e),
        };
        let core = self.core.clone();
        Self::promise(
            async move { core.subscribe_to_channels(channels).await },
            |()| JsValue::UNDEFINED,
        )
    }

    /// Unsubscribes the live subscription from channels.
    #[wasm_bindgen(js_name = unsubscribeFromChannels, skip_typescript)]
    pub fn unsubscribe_from_channels(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string[] | string")] channels: JsValue,
    ) -> Promise {
        let channels = match convert::channel_list(&channels, "channels") {
            Ok(channels) => channels,
            Err(e) => return rejected(e),
        };
        let core = self.core.clone();
        Self::promise(
            async move { core.unsubscribe_from_channels(channels).await },
            |()| JsValue::UNDEFINED,
        )
    }

    /// Changes the live subscription: `{ subscribeChannels?, unsubscribeChannels? }`.
    #[wasm_bindgen(js_name = updateSubscriber, unchecked_return_type = "Promise<void>")]
    pub fn update_subscriber(
        &self,
        #[wasm_bindgen(unchecked_param_type = "UpdateEventSubscriber")] request: JsValue,
    ) -> Promise {
        let read = |key: &str| convert::channel_list(&js::get(&request, key), key);
        let (subscribe, unsubscribe) =
            match (read("subscribeChannels"), read("unsubscribeChannels")) {
                (Ok(s), Ok(u)) => (s, u),
                (Err(e), _) | (_, Err(e)) => return rejected(e),
            };
        let core = self.core.clone();
        Self::promise(
            async move { core.update_subscriber(subscribe, unsubscribe).await },
            |()| JsValue::UNDEFINED,
        )
    }

    /// Replaces the channel list locally; it is used from the next (re)connect.
    #[wasm_bindgen(js_name = updateChannels)]
    pub fn update_channels(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string[] | string")] channels: JsValue,
    ) -> Result<(), JsValue> {
        let channels = convert::channel_list(&channels, "channels")?;
        self.core
            .set_channels(channels)
            .map_err(|e| error::to_js(&e))
    }

    /// The subscribers of this client's channels.
    #[wasm_bindgen(js_name = getChannelSubscribers, unchecked_return_type = "Promise<ServerEventUser[]>")]
    pub fn get_channel_subscribers(&self) -> Promise {
        let core = self.core.clone();
        Self::promise(
            async move { core.get_channel_subscribers().await },
            |users| users.iter().map(convert::user).collect::<Array>().into(),
        )
    }

    /// The subscribers of `channels` (every subscriber when empty).
    #[wasm_bindgen(js_name = getSubscribers, unchecked_return_type = "Promise<ServerEventUser[]>")]
    pub fn get_subscribers(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string[] | string")] channels: JsValue,
    ) -> Promise {
        let channels = match convert::channel_list(&channels, "channels") {
            Ok(channels) => channels,
            Err(e) => return rejected(e),
        };
        let core = self.core.clone();
        Self::promise(
            async move { core.get_subscribers(&channels).await },
            |users| users.iter().map(convert::user).collect::<Array>().into(),
        )
    }

    /// Signs in with ServiceStack's credentials provider (`POST /auth/credentials`); the
    /// session cookies it sets are used by the stream from the next connect on. Resolves with
    /// the `AuthenticateResponse`.
    #[wasm_bindgen(unchecked_return_type = "Promise<Record<string, any>>")]
    pub fn authenticate(
        &self,
        #[wasm_bindgen(js_name = userName)] user_name: String,
        password: String,
    ) -> Promise {
        let core = self.core.clone();
        Self::promise(
            async move {
                let text = core
                    .service_client()
                    .authenticate_text(&user_name, password)
                    .await?;
                js::parse_response(&text)
            },
            |value| value,
        )
    }

    /// POSTs `request` as JSON to `path` (a path on the host, an absolute URL, or a DTO name
    /// reached at `/api/{name}`) and resolves with the parsed response (`null` when empty).
    #[wasm_bindgen(unchecked_return_type = "Promise<any>")]
    pub fn post(&self, path: String, request: JsValue) -> Promise {
        let body = match js::stringify(&request) {
            Ok(body) => body,
            Err(e) => return rejected(e),
        };
        let core = self.core.clone();
        Self::promise(
            async move {
                let text = core.service_client().post_json_text(&path, body).await?;
                js::parse_response(&text)
            },
            |value| value,
        )
    }

    /// GETs `path` and resolves with the parsed JSON response.
    #[wasm_bindgen(unchecked_return_type = "Promise<any>")]
    pub fn get(&self, path: String) -> Promise {
        let core = self.core.clone();
        Self::promise(
            async move {
                let text = core.service_client().get_text(&path).await?;
                js::parse_response(&text)
            },
            |value| value,
        )
    }

    /// The current connection info; throws a `NotConnectedError` when not connected.
    #[wasm_bindgen(js_name = getConnectionInfo, unchecked_return_type = "ServerEventConnect")]
    pub fn get_connection_info(&self) -> Result<JsValue, JsValue> {
        self.core
            .connection_info()
            .map(|info| convert::connect(&info).into())
            .ok_or_else(|| error::to_js(&servicestack_events::Error::NotConnected))
    }

    /// The current subscription id; throws a `NotConnectedError` when not connected.
    #[wasm_bindgen(js_name = getSubscriptionId)]
    pub fn get_subscription_id(&self) -> Result<String, JsValue> {
        self.core
            .subscription_id()
            .ok_or_else(|| error::to_js(&servicestack_events::Error::NotConnected))
    }

    /// Whether the client has a subscription now.
    #[wasm_bindgen(js_name = hasConnected)]
    pub fn has_connected(&self) -> bool {
        self.core.connection_info().is_some()
    }

    /// The channels the client subscribes to.
    #[wasm_bindgen(getter, unchecked_return_type = "string[]")]
    pub fn channels(&self) -> Array {
        convert::strings(&self.core.channels())
    }

    /// The URL the next connect opens, e.g. `https://host/event-stream?channels=A,B`.
    #[wasm_bindgen(getter, js_name = eventStreamUri)]
    pub fn event_stream_uri(&self) -> String {
        self.core.event_stream_url()
    }

    /// The host's base URL (absolute, without a trailing slash).
    #[wasm_bindgen(getter, js_name = baseUrl)]
    pub fn base_url(&self) -> String {
        self.core.base_url().to_owned()
    }

    /// `"idle"`, `"connecting"`, `"open"`, `"reconnecting"`, `"paused"` or `"closed"`.
    #[wasm_bindgen(getter, unchecked_return_type = "ConnectionStateName")]
    pub fn state(&self) -> String {
        convert::state_name(&self.core.state()).to_owned()
    }

    /// How many times the client has opened (or tried to open) the event stream.
    #[wasm_bindgen(getter, js_name = timesStarted)]
    pub fn times_started(&self) -> f64 {
        self.core.times_started() as f64
    }

    /// Whether cross-origin requests carry the page's cookies (the `withCredentials` option).
    #[wasm_bindgen(getter, js_name = withCredentials)]
    pub fn with_credentials(&self) -> bool {
        self.shared.with_credentials
    }

    /// `{ withCredentials }`, as the TypeScript client reports it.
    #[wasm_bindgen(js_name = getEventSourceOptions, unchecked_return_type = "{ withCredentials: boolean }")]
    pub fn get_event_source_options(&self) -> JsValue {
        let object = Object::new();
        js::put(&object, "withCredentials", self.shared.with_credentials);
        object.into()
    }

    /// Resolves with the next application message received after this call; rejects with a
    /// `TimeoutError` after `timeoutMs`. The wait starts when this is called, so a message that
    /// arrives before the promise is awaited is not missed.
    #[wasm_bindgen(js_name = waitForNextMessage, unchecked_return_type = "Promise<ServerEventMessage>")]
    pub fn wait_for_next_message(
        &self,
        #[wasm_bindgen(js_name = timeoutMs)] timeout_ms: f64,
    ) -> Promise {
        let next = self.core.wait_for_next_message(millis(timeout_ms));
        Self::promise(next, |message| convert::message(&message).into())
    }

    /// Resolves with the next join, leave or update received after this call (started at once,
    /// like `waitForNextMessage`).
    #[wasm_bindgen(js_name = waitForNextCommand, unchecked_return_type = "Promise<ServerEventCommand>")]
    pub fn wait_for_next_command(
        &self,
        #[wasm_bindgen(js_name = timeoutMs)] timeout_ms: f64,
    ) -> Promise {
        let next = self.core.wait_for_next_command(millis(timeout_ms));
        Self::promise(next, |command| convert::command(&command).into())
    }

    /// Resolves with the next heartbeat answer (`cmd.onHeartbeat`) received after this call.
    #[wasm_bindgen(js_name = waitForNextHeartbeat, unchecked_return_type = "Promise<ServerEventHeartbeat>")]
    pub fn wait_for_next_heartbeat(
        &self,
        #[wasm_bindgen(js_name = timeoutMs)] timeout_ms: f64,
    ) -> Promise {
        let next = self.core.wait_for_next_heartbeat(millis(timeout_ms));
        Self::promise(next, |command| convert::command(&command).into())
    }

    /// Removes every `cmd.{name}` handler, receiver and trigger listener (lifecycle handlers such
    /// as `onConnect` stay).
    #[wasm_bindgen(js_name = removeAllRegistrations)]
    pub fn remove_all_registrations(&self) {
        self.shared.listeners.borrow_mut().clear();
        self.core.remove_all_registrations();
    }
}

/// A JavaScript millisecond count as a duration, to the microsecond (negative and NaN as
/// zero). The float-to-integer cast saturates, so a huge count cannot panic the way
/// `Duration::from_secs_f64` does (which also links its float checks and messages).
fn millis(ms: f64) -> std::time::Duration {
    if ms.is_finite() && ms > 0.0 {
        std::time::Duration::from_micros((ms * 1000.0) as u64)
    } else {
        std::time::Duration::ZERO
    }
}
