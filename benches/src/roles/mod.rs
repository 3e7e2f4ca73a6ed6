//! The processes `sdk-bench run` starts. Each prints JSON lines on stdout (`{"ready":…}`, then
//! its result) and logs to stderr.

pub mod ack;
pub mod client;
pub mod fanout;
pub mod floor;
pub mod server;

use std::io::Write as _;

/// Prints one JSON line on stdout and flushes it.
pub fn emit(value: &serde_json::Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{value}");
    let _ = out.flush();
}

/// A multi-thread tokio runtime with the default worker count, as `#[tokio::main]` builds.
pub fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start tokio: {e}"))
}
