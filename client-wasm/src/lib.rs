//! The browser (and Node) build of the ServiceStack Server Events client, published as an npm
//! package.
//!
//! The module exports one low-level class, `Core` ([`core::Core`]): the Rust client
//! (`servicestack-events`: the stream, SSE decoding, heartbeats, idle timeout, reconnects,
//! channels, credentials) behind primitive values, with one callback into JavaScript for every
//! message and lifecycle event. The public API (`ServerEventsClient`, option checking, handlers,
//! receivers, resolvers, `css.*`, `pagehide`) is the package's hand-written JavaScript
//! (`client-wasm/npm/`), which is smaller than its wasm-bindgen equivalent.
//!
//! Everything is compiled for `wasm32` only; on other targets this crate is empty. There is no
//! panic hook: a panic (a bug) traps as `unreachable`, and its message formatting is not linked.

#![warn(missing_docs)]

/// The allocator: talc instead of Rust's default dlmalloc, measured smaller in this module
/// (the package is downloaded by every page that uses it). Single-threaded wasm only.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

#[cfg(target_arch = "wasm32")]
pub mod core;
#[cfg(target_arch = "wasm32")]
mod error;
#[cfg(target_arch = "wasm32")]
mod fields;
#[cfg(target_arch = "wasm32")]
mod js;
