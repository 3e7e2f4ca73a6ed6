//! Routing of received events to callbacks, handlers, receivers, trigger listeners, waiters and
//! streams. Every user callback runs inside a panic guard: a panicking callback is reported to
//! `on_exception` and the client carries on.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::bounded_queue::{self, Pushed, QueueReceiver, QueueSender};
use crate::client::ServerEventsClient;
use crate::error::Error;
use crate::listener::{LifecycleListener, RegistrationId};
use crate::message::{CommandKind, ServerEventCommand, ServerEventConnect, ServerEventMessage};
use crate::oneshot;
use crate::receiver::{MessageReceiver, ReceiverContext};
use crate::rt::{MaybeSend, MaybeSync};
use crate::state::{ConnectionState, ReconnectInfo};

/// A callback taking one value by reference.
pub trait Callback<T: ?Sized>: Fn(&T) + MaybeSend + MaybeSync {}
impl<T: ?Sized, F: Fn(&T) + MaybeSend + MaybeSync> Callback<T> for F {}

/// A handler for `cmd.{name}` messages or trigger events; it also gets the client.
pub trait Handler: Fn(&ServerEventsClient, &ServerEventMessage) + MaybeSend + MaybeSync {}
impl<F: Fn(&ServerEventsClient, &ServerEventMessage) + MaybeSend + MaybeSync> Handler for F {}

pub(crate) type CallbackRef<T> = Arc<dyn Callback<T>>;
pub(crate) type HandlerRef = Arc<dyn Handler>;
pub(crate) type LifecycleRef = Arc<dyn LifecycleListener>;

/// The builder's lifecycle callbacks: the client's first lifecycle listener.
#[derive(Default, Clone)]
pub(crate) struct Callbacks {
    pub(crate) on_connect: Vec<CallbackRef<ServerEventConnect>>,
    pub(crate) on_message: Vec<CallbackRef<ServerEventMessage>>,
    pub(crate) on_command: Vec<CallbackRef<ServerEventCommand>>,
    pub(crate) on_join: Vec<CallbackRef<ServerEventCommand>>,
    pub(crate) on_leave: Vec<CallbackRef<ServerEventCommand>>,
    pub(crate) on_update: Vec<CallbackRef<ServerEventCommand>>,
    pub(crate) on_heartbeat: Vec<CallbackRef<ServerEventCommand>>,
    pub(crate) on_reconnect: Vec<CallbackRef<ReconnectInfo>>,
    pub(crate) on_exception: Vec<CallbackRef<Error>>,
}

/// Runs each closure of `list` with `value`.
fn each<T: ?Sized>(list: &[CallbackRef<T>], value: &T) -> Result<(), Error> {
    for callback in list {
        callback(value);
    }
    Ok(())
}

impl LifecycleListener for Callbacks {
    fn on_connect(&self, info: &ServerEventConnect) -> Result<(), Error> {
        each(&self.on_connect, info)
    }
    fn on_message(&self, message: &ServerEventMessage) -> Result<(), Error> {
        each(&self.on_message, message)
    }
    fn on_command(&self, command: &ServerEventCommand) -> Result<(), Error> {
        each(&self.on_command, command)
    }
    fn on_join(&self, command: &ServerEventCommand) -> Result<(), Error> {
        each(&self.on_join, command)
    }
    fn on_leave(&self, command: &ServerEventCommand) -> Result<(), Error> {
        each(&self.on_leave, command)
    }
    fn on_update(&self, command: &ServerEventCommand) -> Result<(), Error> {
        each(&self.on_update, command)
    }
    fn on_heartbeat(&self, command: &ServerEventCommand) -> Result<(), Error> {
        each(&self.on_heartbeat, command)
    }
    fn on_reconnect(&self, info: &ReconnectInfo) -> Result<(), Error> {
        each(&self.on_reconnect, info)
    }
    fn on_exception(&self, error: &Error) -> Result<(), Error> {
        each(&self.on_exception, error)
    }
}

/// Handlers, receivers and listeners, which may change while the client runs. Lists, not hash
/// maps: a client has a handful of each, and on wasm32 a hash map links SipHash and its tables.
#[derive(Default)]
pub(crate) struct Routes {
    handlers: Vec<(String, RegistrationId, HandlerRef)>,
    receivers: Vec<(String, RegistrationId, Arc<dyn MessageReceiver>)>,
    listeners: Vec<(String, RegistrationId, HandlerRef)>,
}

/// Puts `(name, id, value)` in place of the entry named `name`, or at the end.
fn replace<T>(list: &mut Vec<(String, RegistrationId, T)>, name: &str, value: T) -> RegistrationId {
    let id = RegistrationId::next();
    match list.iter_mut().find(|(known, _, _)| known == name) {
        Some(entry) => *entry = (name.to_owned(), id, value),
        None => list.push((name.to_owned(), id, value)),
    }
    id
}

/// Removes the entries `matches` accepts; how many there were.
fn remove_where<T>(
    list: &mut Vec<(String, RegistrationId, T)>,
    matches: impl Fn(&str, RegistrationId) -> bool,
) -> usize {
    let before = list.len();
    list.retain(|(name, id, _)| !matches(name, *id));
    before - list.len()
}

/// The value named `name`.
fn named<'a, T>(list: &'a [(String, RegistrationId, T)], name: &str) -> Option<&'a T> {
    list.iter()
        .find(|(known, _, _)| known == name)
        .map(|(_, _, value)| value)
}

impl Routes {
    /// Sets the handler of `cmd.{name}`, replacing an earlier one.
    pub(crate) fn set_handler(&mut self, name: &str, handler: HandlerRef) -> RegistrationId {
        replace(&mut self.handlers, name, handler)
    }

    pub(crate) fn remove_handler(&mut self, name: &str) -> bool {
        remove_where(&mut self.handlers, |known, _| known == name) > 0
    }

    /// Sets the receiver of `{op}.*`, replacing an earlier one.
    pub(crate) fn set_receiver(
        &mut self,
        op: &str,
        receiver: Arc<dyn MessageReceiver>,
    ) -> RegistrationId {
        replace(&mut self.receivers, op, receiver)
    }

    pub(crate) fn remove_receiver(&mut self, op: &str) -> bool {
        remove_where(&mut self.receivers, |known, _| known == op) > 0
    }

    pub(crate) fn add_listener(&mut self, name: &str, listener: HandlerRef) -> RegistrationId {
        let id = RegistrationId::next();
        self.listeners.push((name.to_owned(), id, listener));
        id
    }

    /// Removes the handler, receiver or trigger listener registered as `id`.
    pub(crate) fn remove(&mut self, id: RegistrationId) -> bool {
        let is_id = |_: &str, known| known == id;
        remove_where(&mut self.handlers, is_id)
            + remove_where(&mut self.receivers, is_id)
            + remove_where(&mut self.listeners, is_id)
            > 0
    }

    pub(crate) fn remove_listeners(&mut self, name: &str) -> usize {
        remove_where(&mut self.listeners, |known, _| known == name)
    }

    pub(crate) fn listener_count(&self, name: &str) -> usize {
        self.listeners
            .iter()
            .filter(|(known, _, _)| known == name)
            .count()
    }

    pub(crate) fn clear(&mut self) {
        self.handlers.clear();
        self.receivers.clear();
        self.listeners.clear();
    }
}

/// One-shot waiters and open streams.
#[derive(Default)]
struct Observers {
    connect: Vec<oneshot::Sender<Result<ServerEventConnect, Error>>>,
    /// `wait_for_next_connect()` calls: unlike `connect()`, failed attempts do not end them.
    next_connect: Vec<oneshot::Sender<Result<ServerEventConnect, Error>>>,
    message: Vec<oneshot::Sender<ServerEventMessage>>,
    command: Vec<oneshot::Sender<ServerEventCommand>>,
    heartbeat: Vec<oneshot::Sender<ServerEventCommand>>,
    message_streams: Vec<QueueSender<ServerEventMessage>>,
    /// Unbounded in effect (a state stream never drops a state).
    state_streams: Vec<QueueSender<ConnectionState>>,
}

/// Invokes callbacks in the order ServiceStack's C# and Java clients do.
pub(crate) struct Dispatcher {
    /// Lifecycle listeners in the order they were added (the builder's callbacks first).
    lifecycle: Mutex<Vec<(RegistrationId, LifecycleRef)>>,
    routes: Mutex<Routes>,
    observers: Mutex<Observers>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding these locks cannot leave them inconsistent (no user code runs under
    // them), so a poisoned lock is still usable.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned())
}

impl Dispatcher {
    pub(crate) fn new(listeners: Vec<LifecycleRef>, routes: Routes) -> Self {
        let mut lifecycle = Vec::with_capacity(listeners.len());
        for listener in listeners {
            lifecycle.push((RegistrationId::next(), listener));
        }
        Dispatcher {
            lifecycle: Mutex::new(lifecycle),
            routes: Mutex::new(routes),
            observers: Mutex::new(Observers::default()),
        }
    }

    pub(crate) fn routes(&self) -> MutexGuard<'_, Routes> {
        lock(&self.routes)
    }

    pub(crate) fn add_lifecycle_listener(&self, listener: LifecycleRef) -> RegistrationId {
        let id = RegistrationId::next();
        lock(&self.lifecycle).push((id, listener));
        id
    }

    /// Removes the registration `id`, whatever its kind; whether there was one.
    pub(crate) fn remove(&self, id: RegistrationId) -> bool {
        if self.routes().remove(id) {
            return true;
        }
        let mut lifecycle = lock(&self.lifecycle);
        let before = lifecycle.len();
        lifecycle.retain(|(existing, _)| *existing != id);
        lifecycle.len() != before
    }

    /// The lifecycle listeners now, so they run without the lock (they may add or remove
    /// listeners).
    fn listeners(&self) -> Vec<LifecycleRef> {
        let lifecycle = lock(&self.lifecycle);
        let mut listeners = Vec::with_capacity(lifecycle.len());
        for (_, listener) in lifecycle.iter() {
            listeners.push(listener.clone());
        }
        listeners
    }

    /// Calls `callback` on every lifecycle listener; an error or a panic goes to
    /// `on_exception`.
    fn each_listener(
        &self,
        what: &str,
        callback: impl Fn(&dyn LifecycleListener) -> Result<(), Error>,
    ) {
        for listener in self.listeners() {
            let mut outcome = Ok(());
            self.guarded(what, || outcome = callback(listener.as_ref()));
            if let Err(error) = outcome {
                self.report(&error);
            }
        }
    }

    /// Runs `callback`; a panic becomes an [`Error::HandlerPanicked`] for `on_exception`.
    fn guarded(&self, what: &str, callback: impl FnOnce()) {
        if let Err(payload) = catch_unwind(AssertUnwindSafe(callback)) {
            self.report(&Error::HandlerPanicked {
                selector: what.to_owned(),
                message: panic_message(payload.as_ref()),
            });
        }
    }

    /// Delivers an error to every `on_exception` callback.
    pub(crate) fn report(&self, error: &Error) {
        tracing::warn!(%error, "server events error");
        for listener in self.listeners() {
            match catch_unwind(AssertUnwindSafe(|| listener.on_exception(error))) {
                Ok(Ok(())) => {}
                Ok(Err(failure)) => {
                    tracing::error!(%failure, "on_exception failed while handling an error");
                }
                Err(payload) => {
                    tracing::error!(panic = %panic_message(payload.as_ref()), "on_exception panicked");
                }
            }
        }
    }

    // Each dispatch takes its waiters before running callbacks: a wait started by a callback (or
    // by code that saw the callback) is for the next event, never for the one being dispatched.
    pub(crate) fn connected(&self, info: &ServerEventConnect) {
        let waiters = {
            let mut observers = lock(&self.observers);
            let mut waiters = std::mem::take(&mut observers.connect);
            waiters.append(&mut observers.next_connect);
            waiters
        };
        self.each_listener("cmd.onConnect", |l| l.on_connect(info));
        for waiter in waiters {
            let _ = waiter.send(Ok(info.clone()));
        }
    }

    pub(crate) fn command(&self, command: &ServerEventCommand) {
        let waiters = std::mem::take(&mut lock(&self.observers).command);
        let selector = match command.kind {
            CommandKind::Join => "cmd.onJoin",
            CommandKind::Leave => "cmd.onLeave",
            _ => "cmd.onUpdate",
        };
        self.each_listener(selector, |l| match command.kind {
            CommandKind::Join => l.on_join(command),
            CommandKind::Leave => l.on_leave(command),
            _ => l.on_update(command),
        });
        self.each_listener(selector, |l| l.on_command(command));
        for waiter in waiters {
            let _ = waiter.send(command.clone());
        }
    }

    pub(crate) fn heartbeat(&self, heartbeat: &ServerEventCommand) {
        let waiters = std::mem::take(&mut lock(&self.observers).heartbeat);
        self.each_listener("cmd.onHeartbeat", |l| l.on_heartbeat(heartbeat));
        for waiter in waiters {
            let _ = waiter.send(heartbeat.clone());
        }
    }

    pub(crate) fn reconnected(&self, info: &ReconnectInfo) {
        self.each_listener("on_reconnect", |l| l.on_reconnect(info));
    }

    /// Routes an application message: `cmd` handler, trigger listeners, the receiver for its op,
    /// then `on_message`, waiters and streams.
    pub(crate) fn message(&self, client: &ServerEventsClient, message: &ServerEventMessage) {
        let selector = message.selector().unwrap_or("message");
        let waiters = std::mem::take(&mut lock(&self.observers).message);
        let (handler, listeners, receiver) = {
            let routes = lock(&self.routes);
            let target = message.target().unwrap_or_default();
            let handler = match message.op() {
                Some("cmd") => named(&routes.handlers, target).cloned(),
                _ => None,
            };
            let mut listeners: Vec<HandlerRef> = Vec::new();
            if message.op() == Some("trigger") {
                for (name, _, listener) in &routes.listeners {
                    if name == target {
                        listeners.push(listener.clone());
                    }
                }
            }
            let receiver = message
                .op()
                .and_then(|op| named(&routes.receivers, op).cloned());
            (handler, listeners, receiver)
        };
        if let Some(handler) = handler {
            self.guarded(selector, || handler(client, message));
        }
        for listener in listeners {
            self.guarded(selector, || listener(client, message));
        }
        if let Some(receiver) = receiver {
            let context = ReceiverContext { client, message };
            let mut outcome = Ok(());
            self.guarded(selector, || outcome = receiver.receive(&context));
            if let Err(error) = outcome {
                self.report(&error);
            }
        }
        self.each_listener(selector, |l| l.on_message(message));
        for waiter in waiters {
            let _ = waiter.send(message.clone());
        }
        let mut observers = lock(&self.observers);
        let mut overflowed = None;
        observers
            .message_streams
            .retain(|stream| match stream.push(message.clone()) {
                Pushed::Abandoned => false,
                Pushed::DroppedOldestFirst => {
                    overflowed = Some(stream.bound());
                    true
                }
                Pushed::Queued | Pushed::DroppedOldest => true,
            });
        drop(observers);
        if let Some(bound) = overflowed {
            self.report(&Error::MessagesDropped { bound });
        }
    }

    pub(crate) fn state_changed(&self, state: &ConnectionState) {
        lock(&self.observers)
            .state_streams
            .retain(|stream| stream.push(state.clone()) != Pushed::Abandoned);
    }

    pub(crate) fn wait_connect(&self) -> oneshot::Receiver<Result<ServerEventConnect, Error>> {
        let (sender, receiver) = oneshot::channel();
        lock(&self.observers).connect.push(sender);
        receiver
    }

    pub(crate) fn wait_next_connect(&self) -> oneshot::Receiver<Result<ServerEventConnect, Error>> {
        let (sender, receiver) = oneshot::channel();
        lock(&self.observers).next_connect.push(sender);
        receiver
    }

    pub(crate) fn wait_message(&self) -> oneshot::Receiver<ServerEventMessage> {
        let (sender, receiver) = oneshot::channel();
        lock(&self.observers).message.push(sender);
        receiver
    }

    pub(crate) fn wait_command(&self) -> oneshot::Receiver<ServerEventCommand> {
        let (sender, receiver) = oneshot::channel();
        lock(&self.observers).command.push(sender);
        receiver
    }

    pub(crate) fn wait_heartbeat(&self) -> oneshot::Receiver<ServerEventCommand> {
        let (sender, receiver) = oneshot::channel();
        lock(&self.observers).heartbeat.push(sender);
        receiver
    }

    pub(crate) fn message_stream(&self, bound: usize) -> QueueReceiver<ServerEventMessage> {
        let (sender, receiver) = bounded_queue::bounded(bound);
        lock(&self.observers).message_streams.push(sender);
        receiver
    }

    pub(crate) fn state_stream(&self, current: ConnectionState) -> QueueReceiver<ConnectionState> {
        // No bound in practice: states are few, and a reader must see every one of them.
        let (sender, receiver) = bounded_queue::bounded(usize::MAX);
        sender.push(current);
        lock(&self.observers).state_streams.push(sender);
        receiver
    }

    /// Fails every pending `connect()` with `error`.
    pub(crate) fn fail_connects(&self, error: &Error) {
        for waiter in std::mem::take(&mut lock(&self.observers).connect) {
            let _ = waiter.send(Err(error.clone()));
        }
    }

    /// Fails every pending `connect()` and `wait_for_next_connect()`: the client stopped.
    pub(crate) fn fail_all_connects(&self, error: &Error) {
        self.fail_connects(error);
        for waiter in std::mem::take(&mut lock(&self.observers).next_connect) {
            let _ = waiter.send(Err(error.clone()));
        }
    }

    /// Ends every open stream and waiter (the client closed for good).
    pub(crate) fn close_observers(&self) {
        let mut observers = lock(&self.observers);
        observers.message.clear();
        observers.command.clear();
        observers.heartbeat.clear();
        observers.message_streams.clear();
        observers.state_streams.clear();
    }
}
