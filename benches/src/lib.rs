//! Benchmarks B1–B3 and B5 of the Server Events SDK, side by side with what users would pick instead
//! (see `design.md`, section Benchmarks). `cargo xtask bench` drives them and rewrites
//! `BENCHMARKS.md`; nothing here asserts on time.
//!
//! The library holds what the criterion bench (`benches/decode.rs`) and the `sdk-bench` binary
//! share: the B1 corpora and decoder adapters, a counting allocator, and small OS helpers.

pub mod alloc_count;
pub mod chat;
pub mod corpus;
pub mod decoders;
pub mod stats;
pub mod sys;
