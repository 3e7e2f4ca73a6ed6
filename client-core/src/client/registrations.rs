//! Handlers, receivers and trigger listeners added and removed while the client runs.

use std::sync::Arc;

use super::ServerEventsClient;
use crate::dispatch::ListenerId;
use crate::message::ServerEventMessage;
use crate::receiver::MessageReceiver;
use crate::rt::{MaybeSend, MaybeSync};

impl ServerEventsClient {
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
