//! Lifecycle listeners and registration ids: what a client calls on every connect, message,
//! command, heartbeat, reconnect and error, added and removed while it runs.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::Error;
use crate::message::{ServerEventCommand, ServerEventConnect, ServerEventMessage};
use crate::rt::{MaybeSend, MaybeSync};
use crate::state::ReconnectInfo;

/// Identifies one registration (a handler, receiver, trigger listener or lifecycle listener).
///
/// Ids are unique in the process, across clients and kinds, so one id is enough to remove a
/// registration with [`ServerEventsClient::remove`](crate::ServerEventsClient::remove).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RegistrationId(u64);

impl RegistrationId {
    /// A new id, never handed out before.
    pub(crate) fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        RegistrationId(NEXT.fetch_add(1, Ordering::Relaxed))
    }

    /// The id as a number (for bindings that hand ids to other languages).
    pub fn get(self) -> u64 {
        self.0
    }

    /// The id a binding handed out with [`get`](Self::get).
    pub fn from_raw(raw: u64) -> Self {
        RegistrationId(raw)
    }
}

/// Lifecycle callbacks. Every method does nothing by default: implement the ones of interest.
///
/// An `Err` (or a panic) from any method but `on_exception` goes to every listener's
/// `on_exception`; the client carries on. Listeners run one at a time per client, in the order
/// they were added, on the client's task: they must not block for long.
#[allow(unused_variables)]
pub trait LifecycleListener: MaybeSend + MaybeSync + 'static {
    /// `cmd.onConnect`: the subscription was created (also after every reconnect).
    fn on_connect(&self, info: &ServerEventConnect) -> Result<(), Error> {
        Ok(())
    }
    /// Every application message (everything but the built-in commands), after its handler,
    /// trigger listeners and receiver.
    fn on_message(&self, message: &ServerEventMessage) -> Result<(), Error> {
        Ok(())
    }
    /// Every join, leave and update, after the specific callback.
    fn on_command(&self, command: &ServerEventCommand) -> Result<(), Error> {
        Ok(())
    }
    /// A subscriber joined one of this client's channels (this client included).
    fn on_join(&self, command: &ServerEventCommand) -> Result<(), Error> {
        Ok(())
    }
    /// A subscriber left one of this client's channels.
    fn on_leave(&self, command: &ServerEventCommand) -> Result<(), Error> {
        Ok(())
    }
    /// A subscriber of one of this client's channels changed its channels.
    fn on_update(&self, command: &ServerEventCommand) -> Result<(), Error> {
        Ok(())
    }
    /// `cmd.onHeartbeat`: the server answered a heartbeat.
    fn on_heartbeat(&self, command: &ServerEventCommand) -> Result<(), Error> {
        Ok(())
    }
    /// The client has a new subscription after losing one.
    fn on_reconnect(&self, info: &ReconnectInfo) -> Result<(), Error> {
        Ok(())
    }
    /// Any error: connection failures, malformed events, callbacks that failed. What this
    /// method itself returns or panics with is logged (it cannot be reported to itself).
    fn on_exception(&self, error: &Error) -> Result<(), Error> {
        Ok(())
    }
}
