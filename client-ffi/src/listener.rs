//! Callbacks implemented in Kotlin or Swift: the lifecycle listener, `cmd` handlers and trigger
//! listeners, and the set of registered lifecycle listeners the client forwards events to.
//!
//! Every callback returns a result: when Kotlin or Swift code throws, the error goes to every
//! listener's `onException` (as [`ServerEventsError::ListenerFailed`] unless it was a
//! `ServerEventsException`/`ServerEventsError` thrown on purpose) and the client carries on.
//! Callbacks run on the client's background threads, one at a time per client, in the order the
//! events arrived; they must not block for long.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use servicestack_events as core;

use crate::error::ServerEventsError;
use crate::types::{ReconnectInfo, ServerEventCommand, ServerEventConnect, ServerEventMessage};

/// Lifecycle callbacks: register one or more with `addEventListener`.
///
/// Kotlin users extend `ServerEventsListenerAdapter` (or use the `ServerEvents` wrapper's
/// lambdas) and Swift users rely on the protocol extension's defaults, so only the callbacks of
/// interest need writing.
#[uniffi::export(foreign)]
pub trait ServerEventsListener: Send + Sync {
    /// `cmd.onConnect`: the subscription was created (also after every reconnect).
    fn on_connect(&self, info: ServerEventConnect) -> Result<(), ServerEventsError>;
    /// Every application message (everything but the built-in commands), after its handler,
    /// trigger listeners and receiver.
    fn on_message(&self, message: ServerEventMessage) -> Result<(), ServerEventsError>;
    /// Every join, leave and update, after the specific callback.
    fn on_command(&self, command: ServerEventCommand) -> Result<(), ServerEventsError>;
    /// A subscriber joined one of this client's channels (this client included).
    fn on_join(&self, command: ServerEventCommand) -> Result<(), ServerEventsError>;
    /// A subscriber left one of this client's channels.
    fn on_leave(&self, command: ServerEventCommand) -> Result<(), ServerEventsError>;
    /// A subscriber of one of this client's channels changed its channels.
    fn on_update(&self, command: ServerEventCommand) -> Result<(), ServerEventsError>;
    /// `cmd.onHeartbeat`: the server answered a heartbeat.
    fn on_heartbeat(&self, command: ServerEventCommand) -> Result<(), ServerEventsError>;
    /// The client has a new subscription after losing one.
    fn on_reconnect(&self, info: ReconnectInfo) -> Result<(), ServerEventsError>;
    /// Any error: connection failures, malformed events, callbacks that threw. What this
    /// callback itself throws is logged and dropped (it cannot be reported to itself).
    fn on_exception(&self, error: ServerEventsError) -> Result<(), ServerEventsError>;
}

/// A callback for one kind of message: a `cmd.{name}` handler or a `trigger.{name}` listener.
#[uniffi::export(foreign)]
pub trait MessageHandler: Send + Sync {
    /// Handles one message.
    fn handle(&self, message: ServerEventMessage) -> Result<(), ServerEventsError>;
}

/// The lifecycle listeners of one client. The core's callbacks hold this, never the client, so
/// registering callbacks creates no reference cycle.
#[derive(Default)]
pub(crate) struct Listeners {
    next_id: AtomicU64,
    list: RwLock<Vec<(u64, Arc<dyn ServerEventsListener>)>>,
}

impl Listeners {
    pub(crate) fn add(&self, listener: Arc<dyn ServerEventsListener>) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        self.list
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push((id, listener));
        id
    }

    pub(crate) fn remove(&self, id: u64) -> bool {
        let mut list = self
            .list
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let before = list.len();
        list.retain(|(existing, _)| *existing != id);
        list.len() != before
    }

    /// A copy of the list, so callbacks run without the lock (they may add or remove listeners).
    fn snapshot(&self) -> Vec<Arc<dyn ServerEventsListener>> {
        self.list
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
            .map(|(_, listener)| listener.clone())
            .collect()
    }

    /// Calls `callback` on every listener; a failure goes to `on_exception`.
    fn each(
        &self,
        name: &str,
        callback: impl Fn(&dyn ServerEventsListener) -> Result<(), ServerEventsError>,
    ) {
        for listener in self.snapshot() {
            if let Err(error) = callback(listener.as_ref()) {
                self.exception(&error.in_callback(name));
            }
        }
    }

    /// Delivers an error to every listener's `on_exception`.
    pub(crate) fn exception(&self, error: &ServerEventsError) {
        for listener in self.snapshot() {
            if let Err(failure) = listener.on_exception(error.clone()) {
                tracing::error!(%error, %failure, "onException threw while handling an error");
            }
        }
    }

    /// Runs a handler registered for `what`; a failure goes to `on_exception`.
    pub(crate) fn run_handler(
        &self,
        what: &str,
        handler: &dyn MessageHandler,
        message: &core::ServerEventMessage,
    ) {
        if let Err(error) = handler.handle(message.into()) {
            self.exception(&error.in_callback(what));
        }
    }

    /// Registers the core callbacks that forward every lifecycle event to these listeners.
    pub(crate) fn attach(self: &Arc<Self>, builder: core::ClientBuilder) -> core::ClientBuilder {
        let on_connect = self.clone();
        let on_message = self.clone();
        let on_command = self.clone();
        let on_join = self.clone();
        let on_leave = self.clone();
        let on_update = self.clone();
        let on_heartbeat = self.clone();
        let on_reconnect = self.clone();
        let on_exception = self.clone();
        builder
            .on_connect(move |info| {
                let info = ServerEventConnect::from(info);
                on_connect.each("onConnect", |l| l.on_connect(info.clone()));
            })
            .on_message(move |message| {
                let message = ServerEventMessage::from(message);
                on_message.each("onMessage", |l| l.on_message(message.clone()));
            })
            .on_join(move |command| {
                let command = ServerEventCommand::from(command);
                on_join.each("onJoin", |l| l.on_join(command.clone()));
            })
            .on_leave(move |command| {
                let command = ServerEventCommand::from(command);
                on_leave.each("onLeave", |l| l.on_leave(command.clone()));
            })
            .on_update(move |command| {
                let command = ServerEventCommand::from(command);
                on_update.each("onUpdate", |l| l.on_update(command.clone()));
            })
            .on_command(move |command| {
                let command = ServerEventCommand::from(command);
                on_command.each("onCommand", |l| l.on_command(command.clone()));
            })
            .on_heartbeat(move |command| {
                let command = ServerEventCommand::from(command);
                on_heartbeat.each("onHeartbeat", |l| l.on_heartbeat(command.clone()));
            })
            .on_reconnect(move |info| {
                let info = ReconnectInfo::from(info);
                on_reconnect.each("onReconnect", |l| l.on_reconnect(info.clone()));
            })
            .on_exception(move |error| on_exception.exception(&error.clone().into()))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[derive(Default)]
    struct Recorder {
        seen: Mutex<Vec<String>>,
        fail_messages: bool,
    }

    impl ServerEventsListener for Recorder {
        fn on_connect(&self, info: ServerEventConnect) -> Result<(), ServerEventsError> {
            self.seen
                .lock()
                .unwrap()
                .push(format!("connect {}", info.id));
            Ok(())
        }
        fn on_message(&self, message: ServerEventMessage) -> Result<(), ServerEventsError> {
            if self.fail_messages {
                return Err(ServerEventsError::ListenerFailed {
                    callback: "callback".into(),
                    detail: "boom".into(),
                });
            }
            self.seen
                .lock()
                .unwrap()
                .push(format!("message {}", message.json));
            Ok(())
        }
        fn on_command(&self, _: ServerEventCommand) -> Result<(), ServerEventsError> {
            Ok(())
        }
        fn on_join(&self, _: ServerEventCommand) -> Result<(), ServerEventsError> {
            Ok(())
        }
        fn on_leave(&self, _: ServerEventCommand) -> Result<(), ServerEventsError> {
            Ok(())
        }
        fn on_update(&self, _: ServerEventCommand) -> Result<(), ServerEventsError> {
            Ok(())
        }
        fn on_heartbeat(&self, _: ServerEventCommand) -> Result<(), ServerEventsError> {
            Ok(())
        }
        fn on_reconnect(&self, _: ReconnectInfo) -> Result<(), ServerEventsError> {
            Ok(())
        }
        fn on_exception(&self, error: ServerEventsError) -> Result<(), ServerEventsError> {
            self.seen.lock().unwrap().push(format!("exception {error}"));
            Ok(())
        }
    }

    #[test]
    fn a_listener_that_fails_is_reported_and_the_others_still_run() {
        let listeners = Listeners::default();
        let failing = Arc::new(Recorder {
            fail_messages: true,
            ..Recorder::default()
        });
        let good = Arc::new(Recorder::default());
        listeners.add(failing.clone());
        let id = listeners.add(good.clone());
        let message = ServerEventMessage::from(
            &core::ServerEventMessage::parse(1, "cmd.chat {}".into()).unwrap(),
        );
        listeners.each("onMessage", |l| l.on_message(message.clone()));
        assert_eq!(
            *good.seen.lock().unwrap(),
            ["exception listener onMessage threw: boom", "message {}"]
        );
        assert!(listeners.remove(id));
        assert!(!listeners.remove(id));
        listeners.each("onMessage", |l| l.on_message(message.clone()));
        assert_eq!(good.seen.lock().unwrap().len(), 2);
    }
}
