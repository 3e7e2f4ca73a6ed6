//! The browser (and Node) build of the ServiceStack Server Events client, published as an npm
//! package. It wraps `client-core` with wasm-bindgen behind a JavaScript API that follows
//! `@servicestack/client`'s `ServerEventsClient`:
//!
//! ```js
//! import init, { ServerEventsClient } from "servicestack-server-events";
//! await init();
//! const client = new ServerEventsClient("/", ["home"], {
//!   handlers: { chat: (msg) => console.log(msg.fromName, msg.message) },
//!   onException: (error) => console.error(error.name, error.status, error.message),
//! });
//! const info = await client.connect();
//! ```
//!
//! The stream is read with `fetch` (credentials included, so cookie sessions work across
//! origins), timers come from the core's platform shim, and the subscription is unregistered on
//! `stop()` and, in a page, on `pagehide` (with `navigator.sendBeacon`).
//!
//! Everything is compiled for `wasm32` only; on other targets this crate is empty.

#![warn(missing_docs)]

/// The allocator: talc instead of Rust's default dlmalloc, measured smaller in this module
/// (the package is downloaded by every page that uses it). Single-threaded wasm only.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

#[cfg(target_arch = "wasm32")]
mod client;
#[cfg(target_arch = "wasm32")]
mod convert;
#[cfg(target_arch = "wasm32")]
mod dom;
#[cfg(target_arch = "wasm32")]
mod error;
#[cfg(target_arch = "wasm32")]
mod hooks;
#[cfg(target_arch = "wasm32")]
mod js;
#[cfg(target_arch = "wasm32")]
mod js_lifecycle;
#[cfg(target_arch = "wasm32")]
mod js_receiver;
#[cfg(target_arch = "wasm32")]
mod message_stream;
#[cfg(target_arch = "wasm32")]
mod options;
#[cfg(target_arch = "wasm32")]
mod resolver;
#[cfg(target_arch = "wasm32")]
mod types;

#[cfg(target_arch = "wasm32")]
pub use client::ServerEventsClient;
#[cfg(target_arch = "wasm32")]
pub use message_stream::MessageStream;
#[cfg(target_arch = "wasm32")]
pub use resolver::{NewInstanceResolver, SingletonInstanceResolver};

/// Runs once when the module is instantiated: panics (which would be bugs) are written to the
/// console with their message instead of an opaque `unreachable`.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen(start, skip_typescript)]
fn on_load() {
    console_error_panic_hook::set_once();
}
