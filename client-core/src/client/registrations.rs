//! Handlers, receivers, trigger listeners and lifecycle listeners added and removed while the
//! client runs. Every registration returns a [`RegistrationId`], unique in the process, that
//! [`ServerEventsClient::remove`] takes without the name it was registered under.

use std::sync::Arc;

use super::ServerEventsClient;
use crate::listener::{LifecycleListener, RegistrationId};
use crate::message::ServerEventMessage;
use crate::receiver::MessageReceiver;
use crate::rt::{MaybeSend, MaybeSync};

impl ServerEventsClient {
    /// Handles `cmd.{name}` messages (the name is matched exactly). Replaces an earlier handler
    /// of that name.
    pub fn register_handler<F>(&self, name: &str, handler: F) -> RegistrationId
    where
        F: Fn(&ServerEventsClient, &ServerEventMessage) + MaybeSend + MaybeSync + 'static,
    {
        self.shared
            .dispatcher
            .routes()
            .set_handler(name, Arc::new(handler))
    }

    /// Removes the handler for `cmd.{name}`; whether there was one.
    pub fn remove_handler(&self, name: &str) -> bool {
        self.shared.dispatcher.routes().remove_handler(name)
    }

    /// Registers the global receiver, for `cmd.*` messages (replacing an earlier one).
    pub fn register_receiver(&self, receiver: impl MessageReceiver) -> RegistrationId {
        self.register_named_receiver("cmd", receiver)
    }

    /// Registers a receiver for messages whose op is `op` (`{op}.{target}`), replacing an
    /// earlier one.
    pub fn register_named_receiver(
        &self,
        op: &str,
        receiver: impl MessageReceiver,
    ) -> RegistrationId {
        self.shared
            .dispatcher
            .routes()
            .set_receiver(op, Arc::new(receiver))
    }

    /// Removes the receiver for `op`; whether there was one.
    pub fn unregister_receiver(&self, op: &str) -> bool {
        self.shared.dispatcher.routes().remove_receiver(op)
    }

    /// Adds a listener for `trigger.{name}` messages. Several listeners may share a name.
    pub fn add_listener<F>(&self, name: &str, listener: F) -> RegistrationId
    where
        F: Fn(&ServerEventsClient, &ServerEventMessage) + MaybeSend + MaybeSync + 'static,
    {
        self.shared
            .dispatcher
            .routes()
            .add_listener(name, Arc::new(listener))
    }

    /// Removes every listener of `name`; how many there were.
    pub fn remove_listeners(&self, name: &str) -> usize {
        self.shared.dispatcher.routes().remove_listeners(name)
    }

    /// Whether `name` has listeners.
    pub fn has_listeners(&self, name: &str) -> bool {
        self.shared.dispatcher.routes().listener_count(name) > 0
    }

    /// Adds a lifecycle listener; it hears the next event on.
    pub fn add_lifecycle_listener(&self, listener: impl LifecycleListener) -> RegistrationId {
        self.shared
            .dispatcher
            .add_lifecycle_listener(Arc::new(listener))
    }

    /// Removes the handler, receiver, trigger listener or lifecycle listener registered as
    /// `id`; whether it was registered (an id of another client, or one removed already, is
    /// `false`).
    pub fn remove(&self, id: RegistrationId) -> bool {
        self.shared.dispatcher.remove(id)
    }

    /// Removes every handler, receiver and trigger listener (lifecycle listeners stay).
    pub fn remove_all_registrations(&self) {
        self.shared.dispatcher.routes().clear();
    }
}
