//! A client for [ServiceStack Server Events](https://docs.servicestack.net/server-events):
//! publish/subscribe over Server-Sent Events, with channels, selectors, heartbeats and automatic
//! reconnects.
//!
//! One [`ServerEventsClient`] holds one subscription. A background task owns the event stream,
//! sends heartbeats, watches for silence and reconnects with ServiceStack's backoff; events are
//! dispatched one at a time, in order, to callbacks, `cmd` handlers, receivers, trigger listeners,
//! waiters and streams.
//!
//! # Quick start
//!
//! ```no_run
//! use std::time::Duration;
//! use servicestack_events::ServerEventsClient;
//!
//! #[derive(serde::Deserialize, Debug)]
//! struct ChatMessage { from_name: String, message: String }
//!
//! # async fn demo() -> Result<(), servicestack_events::Error> {
//! let client = ServerEventsClient::builder("http://localhost:5000")
//!     .channels(["home"])
//!     .on_join(|join| println!("{} joined", join.display_name))
//!     .handler("chat", |_client, msg| {
//!         if let Ok(chat) = msg.parse_json::<ChatMessage>() {
//!             println!("{}: {}", chat.from_name, chat.message);
//!         }
//!     })
//!     .on_exception(|error| eprintln!("{error}"))
//!     .build()?;
//!
//! let info = client.connect().await?;
//! println!("subscribed as {} ({})", info.display_name, info.id);
//!
//! client.subscribe_to_channels(["lobby"]).await?;
//! let next = client.wait_for_next_message(Duration::from_secs(30)).await?;
//! println!("{:?}", next.selector());
//! client.stop().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Beyond ServiceStack's own clients
//!
//! - Credentials as an async [`CredentialsProvider`], asked before every request and once more
//!   on 401/403; then [`Error::Unauthorized`] and a stop, never a loop.
//! - [`ReconnectInfo`] on every reconnect (old and new subscription, possible gap); the lost
//!   subscription is unregistered and the current channel list is used.
//! - [`pause`](ServerEventsClient::pause) and [`resume`](ServerEventsClient::resume) for
//!   backgrounded apps and hidden tabs; a typed [`ConnectionState`] stream.
//! - A linear-time, bounded-memory SSE decoder ([`sse`]) that handles the whole format.
//! - Malformed, oversized and non-UTF-8 events and panicking callbacks are reported to
//!   `on_exception`; the stream carries on.
//!
//! The crate compiles for `wasm32-unknown-unknown`, where it streams with `fetch`.
//!
//! # Life of an event
//!
//! From the socket to your callback, one event passes these steps, all on the client's one
//! background task and in arrival order:
//!
//! 1. **Transport.** The HTTP layer (reqwest; `fetch` in browsers) yields the response body of
//!    `GET /event-stream` as byte chunks. It sits behind a crate-private seam that only does
//!    I/O, so the lifecycle is unit-tested on a scripted fake; the credentials and their one
//!    refresh on 401/403 are decided above it, the same on every target.
//! 2. **Connection task.** Each turn it first checks the handle's intents (stop, pause,
//!    restart), then the heartbeat and idle timers, and only then reads the next chunk, so a busy
//!    stream cannot starve the heartbeats.
//! 3. **Decoder.** [`sse::SseDecoder`] splits the chunks into events (any line ending, any
//!    chunking), skipping and reporting events over
//!    [`max_event_size`](ClientBuilder::max_event_size) and events that are not UTF-8.
//! 4. **Parsing.** [`ServerEventMessage::parse`] splits the `data:` text into channel, selector
//!    (`op.target$cssSelector`, `%20` decoded) and body.
//! 5. **Classification.** `cmd.onConnect`, `cmd.onHeartbeat` and `cmd.onJoin`/`onLeave`/
//!    `onUpdate` become typed [`ServerEventConnect`] and [`ServerEventCommand`]s; everything
//!    else stays a message. A malformed built-in command is reported, not delivered.
//! 6. **Lifecycle.** `cmd.onConnect` records the subscription (state
//!    [`Open`](ConnectionState::Open)), arms the heartbeat and idle timers, and runs
//!    `on_connect`, then `on_reconnect` with the [`ReconnectInfo`] when a subscription was lost.
//! 7. **Dispatch.** A command runs its specific callback (`on_join`, ...), then `on_command`; a
//!    heartbeat runs `on_heartbeat`. A message runs its `cmd` [handler](ClientBuilder::handler),
//!    its `trigger` [listeners](ClientBuilder::listener), the [receiver](ClientBuilder::receiver)
//!    of its op, then `on_message`. Then the waiters (`wait_for_next_*`) that began before this
//!    dispatch and the [`messages`](ServerEventsClient::messages) stream get it (a wait begun
//!    in a callback is for the next event). A panicking callback is caught
//!    and reported to `on_exception`; the next one still runs.

#![warn(missing_docs)]

mod auth;
mod authorized_http;
mod backoff;
mod bounded_queue;
mod client;
mod connection;
#[cfg(not(target_arch = "wasm32"))]
mod cookies;
#[cfg(test)]
mod credential_refresh_tests;
mod dispatch;
mod error;
#[cfg(test)]
mod fake_transport;
#[cfg(target_arch = "wasm32")]
mod fetch_transport;
mod flat_json;
mod http_client;
mod json;
#[cfg(test)]
mod lifecycle_tests;
mod listener;
mod message;
mod oneshot;
mod options;
mod origin;
mod percent;
mod platform_url;
mod receiver;
mod redact;
#[cfg(test)]
mod registration_tests;
mod resolver;
pub mod rt;
mod service;
pub mod sse;
mod state;
mod supervisor;
mod user_info;
#[cfg(test)]
mod waiter_tests;
mod watch;

/// The workspace README's Rust quick start, compiled as a doctest so it stays true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeQuickStart;
mod transport;

pub use auth::{BoxFuture, Credentials, CredentialsProvider, Secret};
pub use backoff::ReconnectPolicy;
pub use client::{ClientBuilder, ServerEventsClient, UrlRewriter};
pub use dispatch::{Callback, Handler};
pub use error::{Error, Result};
pub use listener::{LifecycleListener, RegistrationId};
pub use message::{
    CommandKind, DEFAULT_HEARTBEAT_INTERVAL, DEFAULT_IDLE_TIMEOUT, ServerEventCommand,
    ServerEventConnect, ServerEventMessage, ServerEventUser,
};
pub use options::ClientOptions;
pub use receiver::{MessageReceiver, Receiver, ReceiverContext};
pub use resolver::Resolver;
pub use service::ServiceClient;
pub use state::{CloseReason, ConnectionState, ReconnectInfo};
