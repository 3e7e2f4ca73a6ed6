//! The one owner of the lifecycle state: every transition (start, stop, restart, pause, resume,
//! attempt, connected, failed, finished) is a method here that takes the session lock, so the
//! handle and the connection task cannot interleave half-done changes. The handle only states
//! intents; the connection task reports what happened.

use std::future::Future;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use super::reconnect::{Decision, Failure, decide};
use crate::backoff::ReconnectPolicy;
use crate::dispatch::Dispatcher;
use crate::error::Error;
use crate::message::ServerEventConnect;
use crate::rt::Spawner;
use crate::state::{CloseReason, ConnectionState};
use crate::watch;

/// What the client wants the connection task to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Desired {
    Run,
    Pause,
    Stop(CloseReason),
}

/// The intent the connection task follows, observed through a watch channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Control {
    pub(crate) desired: Desired,
    /// Bumped by `restart()` and `resume()`; the task reconnects when it changes.
    pub(crate) restart_generation: u64,
}

/// State shared by the handle and the connection task. Only this module writes the lifecycle
/// fields; `channels` is the subscription's configuration, written by the handle.
pub(crate) struct Session {
    pub(crate) channels: Vec<String>,
    connection: Option<ServerEventConnect>,
    state: ConnectionState,
    times_started: u64,
    task_running: bool,
    disposed: bool,
    /// Set by `connect()` on a client that has not connected yet: its first failure stops it.
    stop_on_first_failure: bool,
    /// A `restart()` was requested and its new connection has not opened (or failed) yet.
    restart_pending: bool,
    spawner: Option<Spawner>,
}

impl Session {
    /// The current subscription, when connected.
    pub(crate) fn connection(&self) -> Option<&ServerEventConnect> {
        self.connection.as_ref()
    }

    pub(crate) fn state(&self) -> &ConnectionState {
        &self.state
    }

    pub(crate) fn times_started(&self) -> u64 {
        self.times_started
    }

    #[cfg(test)]
    pub(crate) fn task_running(&self) -> bool {
        self.task_running
    }
}

/// What `connect()` found.
pub(crate) enum Connecting<W> {
    /// Already connected.
    Open(Box<ServerEventConnect>),
    /// Wait on `W`; spawn the connection task on the spawner when there is one.
    Wait(W, Option<Spawner>),
}

pub(crate) struct Lifecycle {
    session: Mutex<Session>,
    control: watch::Sender<Control>,
    running: watch::Sender<bool>,
}

impl Lifecycle {
    pub(crate) fn new(channels: Vec<String>) -> Self {
        Lifecycle {
            session: Mutex::new(Session {
                channels,
                connection: None,
                state: ConnectionState::Idle,
                times_started: 0,
                task_running: false,
                disposed: false,
                stop_on_first_failure: false,
                restart_pending: false,
                spawner: Spawner::current(),
            }),
            control: watch::Sender::new(Control {
                desired: Desired::Stop(CloseReason::Stopped),
                restart_generation: 0,
            }),
            running: watch::Sender::new(false),
        }
    }

    /// The session, to read it (and to change the channel list).
    pub(crate) fn session(&self) -> MutexGuard<'_, Session> {
        self.session
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The intent, for the connection task.
    pub(crate) fn control(&self) -> watch::Receiver<Control> {
        self.control.subscribe()
    }

    #[cfg(test)]
    pub(crate) fn restart_generation(&self) -> u64 {
        self.control.borrow().restart_generation
    }

    // --- Intents, from the handle ---

    /// Asks for a running client; returns the spawner to start the connection task on when none
    /// is running.
    pub(crate) fn start(&self) -> Result<Option<Spawner>, Error> {
        self.start_locked(self.session())
    }

    fn start_locked(&self, mut session: MutexGuard<'_, Session>) -> Result<Option<Spawner>, Error> {
        if session.disposed {
            return Err(Error::Disposed);
        }
        let spawner = match session.spawner.clone() {
            Some(spawner) => spawner,
            None => Spawner::current().ok_or(Error::NoRuntime)?,
        };
        // Under the session lock, so a task that is just finishing sees the new wish.
        self.control.send_if_modified(|control| {
            let changed = control.desired != Desired::Run;
            control.desired = Desired::Run;
            changed
        });
        if session.task_running {
            return Ok(None);
        }
        session.spawner = Some(spawner.clone());
        session.task_running = true;
        self.running.send_replace(true);
        Ok(Some(spawner))
    }

    /// `connect()`: the current subscription, or a waiter registered (by `register`) under the
    /// same lock as the start, so a task that is just ending (and fails the waiters it finds)
    /// either sees this start or never sees this waiter.
    pub(crate) fn connect<W>(&self, register: impl FnOnce() -> W) -> Result<Connecting<W>, Error> {
        let mut session = self.session();
        if let (Some(info), ConnectionState::Open { .. }) = (&session.connection, &session.state) {
            return Ok(Connecting::Open(Box::new(info.clone())));
        }
        if !session.task_running && session.connection.is_none() {
            session.stop_on_first_failure = true;
        }
        let waiter = register();
        let spawner = self.start_locked(session)?;
        Ok(Connecting::Wait(waiter, spawner))
    }

    /// Asks the task to stop (for good when `dispose`).
    pub(crate) fn stop(&self, reason: CloseReason) {
        let mut session = self.session();
        session.stop_on_first_failure = false;
        if reason == CloseReason::Disposed {
            session.disposed = true;
        }
        self.control.send_modify(|control| {
            if control.desired != Desired::Stop(CloseReason::Disposed) {
                control.desired = Desired::Stop(reason);
            }
        });
    }

    /// The last handle is gone.
    pub(crate) fn dropped(&self) {
        self.control.send_modify(|control| {
            if !matches!(control.desired, Desired::Stop(_)) {
                control.desired = Desired::Stop(CloseReason::Dropped);
            }
        });
    }

    /// Resolves once the connection task has ended.
    pub(crate) fn stopped(&self) -> impl Future<Output = ()> + 'static {
        let mut running = self.running.subscribe();
        async move {
            let _ = running.wait_for(|running| !running).await;
        }
    }

    /// Asks for a new connection; merged into a pending one, ignored on a stopped client.
    pub(crate) fn restart(&self) -> Result<(), Error> {
        let mut session = self.session();
        if session.disposed {
            return Err(Error::Disposed);
        }
        let stopped = matches!(self.control.borrow().desired, Desired::Stop(_));
        if stopped || session.restart_pending {
            return Ok(());
        }
        session.restart_pending = true;
        self.control
            .send_modify(|control| control.restart_generation += 1);
        Ok(())
    }

    pub(crate) fn pause(&self) {
        let _session = self.session();
        self.control.send_modify(|control| {
            if control.desired == Desired::Run {
                control.desired = Desired::Pause;
            }
        });
    }

    /// Leaves a pause with the backoff reset, then starts like [`start`](Self::start).
    pub(crate) fn resume(&self) -> Result<Option<Spawner>, Error> {
        let session = self.session();
        self.control.send_modify(|control| {
            if control.desired == Desired::Pause {
                control.restart_generation += 1;
            }
        });
        self.start_locked(session)
    }

    // --- Events, from the connection task ---

    /// Records a new state and tells the state streams.
    pub(crate) fn set_state(&self, state: ConnectionState, dispatcher: &Dispatcher) {
        {
            let mut session = self.session();
            if session.state == state {
                return;
            }
            session.state = state.clone();
        }
        tracing::debug!(?state, "state");
        dispatcher.state_changed(&state);
    }

    /// A stream open is being attempted.
    pub(crate) fn attempt(&self, attempt: u32, dispatcher: &Dispatcher) {
        self.session().times_started += 1;
        self.set_state(ConnectionState::Connecting { attempt }, dispatcher);
    }

    /// `cmd.onConnect` arrived.
    pub(crate) fn connected(&self, info: &ServerEventConnect, dispatcher: &Dispatcher) {
        {
            let mut session = self.session();
            session.connection = Some(info.clone());
            session.stop_on_first_failure = false;
            session.restart_pending = false;
        }
        self.set_state(
            ConnectionState::Open {
                subscription_id: info.id.clone(),
            },
            dispatcher,
        );
    }

    /// Forgets the current subscription (lost, restarted, paused or stopping) and returns it.
    pub(crate) fn take_connection(&self) -> Option<ServerEventConnect> {
        self.session().connection.take()
    }

    /// Where background work (unregisters) runs.
    pub(crate) fn spawner(&self) -> Option<Spawner> {
        self.session().spawner.clone()
    }

    /// A connection failed: decides what next and, when closing, records the stop before the
    /// `connect()` callers learn of the failure.
    pub(crate) fn failed(
        &self,
        policy: &ReconnectPolicy,
        error: &Error,
        failures: u32,
        healthy_for: Option<Duration>,
        retry_field: Option<Duration>,
        dispatcher: &Dispatcher,
    ) -> Decision {
        let mut session = self.session();
        session.restart_pending = false;
        let decision = decide(
            policy,
            Failure {
                error,
                failures,
                healthy_for,
                first_connect: std::mem::take(&mut session.stop_on_first_failure),
                retry_field,
            },
        );
        if let Decision::Close(reason) = &decision {
            self.control.send_if_modified(|control| {
                if matches!(control.desired, Desired::Stop(_)) {
                    return false;
                }
                control.desired = Desired::Stop(reason.clone());
                true
            });
        }
        // Under the session lock and after the stop above: a `start()` made by a caller woken
        // here (the fallback after a failed `connect()`) takes the lock after us and wins.
        dispatcher.fail_connects(error);
        decision
    }

    /// The reconnect wait begins.
    pub(crate) fn reconnecting(
        &self,
        attempt: u32,
        delay: Duration,
        cause: Error,
        dispatcher: &Dispatcher,
    ) {
        self.set_state(
            ConnectionState::Reconnecting {
                attempt,
                delay,
                cause,
            },
            dispatcher,
        );
    }

    /// The task is about to end with `reason`; returns `false` (and stays running) when a start
    /// raced in since the stop.
    pub(crate) fn finish(&self, reason: &CloseReason, dispatcher: &Dispatcher) -> bool {
        let closed = ConnectionState::Closed {
            reason: reason.clone(),
        };
        {
            let mut session = self.session();
            if !matches!(self.control.borrow().desired, Desired::Stop(_)) {
                return false;
            }
            // All under the session lock, which `start()` takes too: a start after this point
            // spawns a fresh task.
            session.task_running = false;
            session.stop_on_first_failure = false;
            session.restart_pending = false;
            session.state = closed.clone();
            self.running.send_replace(false);
            // Still under the lock: a connect() registered after it belongs to the next task.
            dispatcher.fail_all_connects(&Error::Stopped);
        }
        dispatcher.state_changed(&closed);
        true
    }
}
