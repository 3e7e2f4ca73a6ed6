//! Callbacks implemented in Kotlin or Swift: the lifecycle listener, `cmd` handlers and trigger
//! listeners, and the set of registered lifecycle listeners the client forwards events to.
//!
//! Every callback returns a result: when Kotlin or Swift code throws, the error goes to every
//! listener's `onException` (as [`ServerEventsError::ListenerFailed`] unless it was a
//! `ServerEventsException`/`ServerEventsError` thrown on purpose) and the client carries on.
//! Callbacks run on the client's background threads, one at a time per client, in the order the
//! events arrived; they must not block for long.

use std::sync::Arc;

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

/// A Kotlin or Swift lifecycle listener as the core's [`core::LifecycleListener`]: the core
/// keeps the list, runs them in order and sends what one throws to every `onException`.
pub(crate) struct ForeignListener(pub(crate) Arc<dyn ServerEventsListener>);

/// What a foreign callback threw, as the core reports it (the callback named).
fn thrown(name: &str, result: Result<(), ServerEventsError>) -> Result<(), core::Error> {
    result.map_err(|error| error.into_core(name))
}

impl core::LifecycleListener for ForeignListener {
    fn on_connect(&self, info: &core::ServerEventConnect) -> Result<(), core::Error> {
        thrown("onConnect", self.0.on_connect(info.into()))
    }
    fn on_message(&self, message: &core::ServerEventMessage) -> Result<(), core::Error> {
        thrown("onMessage", self.0.on_message(message.into()))
    }
    fn on_command(&self, command: &core::ServerEventCommand) -> Result<(), core::Error> {
        thrown("onCommand", self.0.on_command(command.into()))
    }
    fn on_join(&self, command: &core::ServerEventCommand) -> Result<(), core::Error> {
        thrown("onJoin", self.0.on_join(command.into()))
    }
    fn on_leave(&self, command: &core::ServerEventCommand) -> Result<(), core::Error> {
        thrown("onLeave", self.0.on_leave(command.into()))
    }
    fn on_update(&self, command: &core::ServerEventCommand) -> Result<(), core::Error> {
        thrown("onUpdate", self.0.on_update(command.into()))
    }
    fn on_heartbeat(&self, command: &core::ServerEventCommand) -> Result<(), core::Error> {
        thrown("onHeartbeat", self.0.on_heartbeat(command.into()))
    }
    fn on_reconnect(&self, info: &core::ReconnectInfo) -> Result<(), core::Error> {
        thrown("onReconnect", self.0.on_reconnect(info.into()))
    }
    fn on_exception(&self, error: &core::Error) -> Result<(), core::Error> {
        thrown("onException", self.0.on_exception(error.clone().into()))
    }
}

/// Runs a `cmd.{name}` handler or `trigger.{name}` listener written in Kotlin or Swift; what it
/// throws goes to the client's `onException` listeners.
pub(crate) fn run_handler(
    what: &str,
    handler: &dyn MessageHandler,
    client: &core::ServerEventsClient,
    message: &core::ServerEventMessage,
) {
    if let Err(error) = handler.handle(message.into()) {
        client.report_exception(&error.into_core(what));
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
    fn what_a_listener_throws_reaches_the_core_named() {
        let failing = ForeignListener(Arc::new(Recorder {
            fail_messages: true,
            ..Recorder::default()
        }));
        let message = core::ServerEventMessage::parse(1, "cmd.chat {}".into()).unwrap();
        let error = core::LifecycleListener::on_message(&failing, &message).unwrap_err();
        assert_eq!(
            error,
            core::Error::CallbackFailed {
                callback: "onMessage".into(),
                detail: "boom".into()
            }
        );
        assert_eq!(
            ServerEventsError::from(error).to_string(),
            "listener onMessage threw: boom"
        );
        let good = Arc::new(Recorder::default());
        let listener = ForeignListener(good.clone());
        core::LifecycleListener::on_message(&listener, &message).unwrap();
        assert_eq!(*good.seen.lock().unwrap(), ["message {}"]);
    }
}
