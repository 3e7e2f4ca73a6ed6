//! ServiceStack's three Server Events integration suites (C#, TypeScript, Java), ported, plus
//! fault cases, run against the reference server (`test-server`) over loopback.
//!
//! The scenarios are data: `scenarios/scenarios.json`, in the format of `scenarios/FORMAT.md`,
//! shared with the browser, Node, Kotlin and Swift legs. This crate is the Rust leg's
//! interpreter:
//! - [`scenario`]: the file as types, with validation;
//! - [`matching`]: variables and `match` objects;
//! - [`recorder`]: each client's event log, and waiting on it with deadlines;
//! - [`receivers`]: the four upstream test receivers;
//! - [`client`]: a client-core client whose callbacks record events;
//! - [`runner`]: runs a scenario step by step against a fresh server;
//! - [`server`], [`http`], [`wait`]: server profiles, plain HTTP calls, polling with deadlines.
//!
//! The tests live in `tests/`: `scenarios.rs` (one test per scenario of the Rust leg),
//! `faults.rs` and `core.rs` (hand-written cases that need Rust-only facilities).

pub mod client;
pub mod http;
pub mod matching;
pub mod receivers;
pub mod recorder;
pub mod runner;
pub mod scenario;
pub mod server;
pub mod wait;

pub use runner::run_scenario;
