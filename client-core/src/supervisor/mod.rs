//! The connection lifecycle's decisions, kept free of I/O and clocks so they can be tested as
//! tables. The connection task (`connection`) applies them.

mod reconnect;

pub(crate) use reconnect::{Decision, Failure, decide};
