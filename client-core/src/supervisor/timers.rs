//! The timers of one connection, as decisions: when the next heartbeat is due, how long the
//! stream may stay silent, and how long a drain after a heartbeat 404 lasts. The connection task
//! owns the sleeping and the I/O; it tells [`Watch`] what happened and arms its two timers as
//! told, so the timing rules are here, free of I/O and clocks.

use std::time::Duration;

use crate::error::Error;
use crate::rt::Clock as Instant;

/// Stands in for "no deadline": a timer armed this long never fires in practice.
pub(crate) const FOREVER: Duration = Duration::from_secs(24 * 60 * 60);

/// After a heartbeat 404, the longest time frames the server wrote before it dropped the
/// subscription are still read before reconnecting.
pub(crate) const DRAIN_LIMIT: Duration = Duration::from_secs(2);

/// After a heartbeat 404, a pause this long in the stream means it holds nothing more: frames the
/// server already wrote arrive back to back.
pub(crate) const DRAIN_QUIET: Duration = Duration::from_millis(250);

/// The limits `cmd.onConnect` set (after the client's overrides).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    pub(crate) heartbeat_interval: Duration,
    pub(crate) idle_timeout: Duration,
    /// Whether the server gave a heartbeat URL (no URL, no heartbeats).
    pub(crate) heartbeats: bool,
}

/// What to arm the two timers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Arm {
    pub(crate) heartbeat: Option<Duration>,
    pub(crate) silence: Option<Duration>,
}

/// The heartbeat timer fired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HeartbeatDue {
    /// Send a heartbeat now.
    Send,
    /// The drain after a heartbeat 404 reached its limit: end with the 404.
    DrainOver(Error),
}

/// The silence timer fired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Silence {
    /// Data arrived since it was armed: wait this much longer.
    Rearm(Duration),
    /// The drain after a heartbeat 404 went quiet: end with the 404.
    DrainOver(Error),
    /// The stream is presumed dead.
    Dead(Error),
}

/// The timing state of one connection.
#[derive(Debug)]
pub(crate) struct Watch {
    connect_timeout: Duration,
    limits: Option<Limits>,
    last_activity: Instant,
    /// A heartbeat is scheduled (none is in flight).
    heartbeat_due: bool,
    /// Set by a heartbeat 404: the stream is being drained.
    gone: Option<Error>,
}

impl Watch {
    /// A stream just opened at `now`: `cmd.onConnect` must come within the connect timeout.
    pub(crate) fn opened(connect_timeout: Duration, now: Instant) -> (Watch, Arm) {
        let watch = Watch {
            connect_timeout,
            limits: None,
            last_activity: now,
            heartbeat_due: false,
            gone: None,
        };
        let arm = Arm {
            heartbeat: Some(FOREVER),
            silence: Some(connect_timeout),
        };
        (watch, arm)
    }

    /// Whether the heartbeat timer means anything now.
    pub(crate) fn heartbeat_armed(&self) -> bool {
        self.heartbeat_due || self.gone.is_some()
    }

    /// Bytes arrived at `now`.
    pub(crate) fn data(&mut self, now: Instant) {
        self.last_activity = now;
    }

    /// `cmd.onConnect` arrived: heartbeats and the idle watchdog follow its limits.
    pub(crate) fn connected(&mut self, limits: Limits) -> Arm {
        self.limits = Some(limits);
        self.heartbeat_due = limits.heartbeats;
        Arm {
            heartbeat: Some(limits.heartbeat_interval),
            silence: Some(limits.idle_timeout),
        }
    }

    /// A heartbeat was answered: the next one is due an interval later.
    pub(crate) fn heartbeat_answered(&mut self) -> Arm {
        self.heartbeat_due = true;
        Arm {
            heartbeat: Some(self.limits.map_or(FOREVER, |l| l.heartbeat_interval)),
            silence: None,
        }
    }

    /// A heartbeat answered 404 at `now`: drain what the stream still holds, until it goes
    /// quiet for [`DRAIN_QUIET`] or [`DRAIN_LIMIT`] passes.
    pub(crate) fn subscription_gone(&mut self, error: Error, now: Instant) -> Arm {
        self.gone = Some(error);
        self.last_activity = now;
        Arm {
            heartbeat: Some(DRAIN_LIMIT),
            silence: Some(DRAIN_QUIET),
        }
    }

    /// The heartbeat timer fired.
    pub(crate) fn heartbeat_timer(&mut self) -> HeartbeatDue {
        if let Some(error) = self.gone.take() {
            return HeartbeatDue::DrainOver(error);
        }
        self.heartbeat_due = false;
        HeartbeatDue::Send
    }

    /// The silence timer fired at `now`.
    pub(crate) fn silence_timer(&mut self, now: Instant) -> Silence {
        let limit = match (&self.gone, &self.limits) {
            (Some(_), _) => DRAIN_QUIET,
            (None, Some(limits)) => limits.idle_timeout,
            (None, None) => self.connect_timeout,
        };
        let silent_for = now.saturating_duration_since(self.last_activity);
        if silent_for < limit {
            return Silence::Rearm(limit - silent_for);
        }
        if let Some(error) = self.gone.take() {
            return Silence::DrainOver(error);
        }
        Silence::Dead(match self.limits {
            Some(_) => Error::IdleTimeout { after: limit },
            None => Error::NoConnectEvent { after: limit },
        })
    }

    /// The stream ended: the 404 that started a drain, if one did.
    pub(crate) fn take_gone(&mut self) -> Option<Error> {
        self.gone.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gone() -> Error {
        Error::SubscriptionGone {
            subscription_id: "s1".into(),
        }
    }

    const LIMITS: Limits = Limits {
        heartbeat_interval: Duration::from_secs(10),
        idle_timeout: Duration::from_secs(30),
        heartbeats: true,
    };

    #[test]
    fn before_connect_the_connect_timeout_watches_the_stream() {
        let start = Instant::now();
        let (mut watch, arm) = Watch::opened(Duration::from_secs(5), start);
        assert_eq!(arm.silence, Some(Duration::from_secs(5)));
        assert!(!watch.heartbeat_armed());
        watch.data(start + Duration::from_secs(2));
        assert_eq!(
            watch.silence_timer(start + Duration::from_secs(5)),
            Silence::Rearm(Duration::from_secs(2))
        );
        assert_eq!(
            watch.silence_timer(start + Duration::from_secs(7)),
            Silence::Dead(Error::NoConnectEvent {
                after: Duration::from_secs(5)
            })
        );
    }

    #[test]
    fn after_connect_heartbeats_follow_the_interval_and_silence_the_idle_timeout() {
        let start = Instant::now();
        let (mut watch, _) = Watch::opened(Duration::from_secs(5), start);
        let arm = watch.connected(LIMITS);
        assert_eq!(arm.heartbeat, Some(Duration::from_secs(10)));
        assert_eq!(arm.silence, Some(Duration::from_secs(30)));
        assert!(watch.heartbeat_armed());
        assert_eq!(watch.heartbeat_timer(), HeartbeatDue::Send);
        assert!(
            !watch.heartbeat_armed(),
            "none is due while one is in flight"
        );
        assert_eq!(
            watch.heartbeat_answered().heartbeat,
            Some(Duration::from_secs(10))
        );
        assert!(watch.heartbeat_armed());
        assert_eq!(
            watch.silence_timer(start + Duration::from_secs(30)),
            Silence::Dead(Error::IdleTimeout {
                after: Duration::from_secs(30)
            })
        );
        let no_url = Watch::opened(Duration::from_secs(5), start)
            .0
            .connected(Limits {
                heartbeats: false,
                ..LIMITS
            });
        assert_eq!(no_url.heartbeat, Some(Duration::from_secs(10)));
    }

    #[test]
    fn a_drain_ends_when_the_stream_goes_quiet_or_at_its_limit() {
        let start = Instant::now();
        let (mut watch, _) = Watch::opened(Duration::from_secs(5), start);
        watch.connected(LIMITS);
        let arm = watch.subscription_gone(gone(), start);
        assert_eq!(arm.heartbeat, Some(DRAIN_LIMIT));
        assert_eq!(arm.silence, Some(DRAIN_QUIET));
        watch.data(start + Duration::from_millis(100));
        assert_eq!(
            watch.silence_timer(start + DRAIN_QUIET),
            Silence::Rearm(Duration::from_millis(100))
        );
        assert_eq!(
            watch.silence_timer(start + Duration::from_millis(350)),
            Silence::DrainOver(gone())
        );
        let (mut limited, _) = Watch::opened(Duration::from_secs(5), start);
        limited.subscription_gone(gone(), start);
        assert_eq!(limited.heartbeat_timer(), HeartbeatDue::DrainOver(gone()));
        assert_eq!(limited.take_gone(), None);
    }
}
