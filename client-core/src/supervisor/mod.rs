//! The connection lifecycle: [`Lifecycle`] owns every state transition and [`decide`] is the
//! reconnect decision, free of I/O and clocks; [`timers`] holds the heartbeat, idle and drain
//! timing rules. The connection task (`connection`) drives the stream and timers and reports
//! to them.

mod lifecycle;
mod reconnect;
pub(crate) mod timers;

pub(crate) use lifecycle::{Connecting, Control, Desired, Lifecycle, Session};
pub(crate) use reconnect::Decision;
