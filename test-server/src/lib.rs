//! Reference ServiceStack Server Events host.
//!
//! An in-process HTTP server that behaves like a ServiceStack AppHost running
//! `ServerEventsFeature` with `MemoryServerEvents`, plus the services of ServiceStack's own
//! Server Events integration-test AppHost (`PostChatToChannel`, `PostRawToChannel`,
//! `PostObjectToChannel`, `ResetServerEvents`, credentials `Authenticate`). A client that works
//! against it should work against ServiceStack.
//!
//! On top of that it has fault injection ([`Faults`], also reachable over HTTP at
//! `POST /test/faults`) and inspection hooks for tests.
//!
//! # Example
//!
//! ```no_run
//! use servicestack_events_server::{ServerConfig, TestServer};
//!
//! # async fn demo() -> std::io::Result<()> {
//! // 200 ms heartbeat, like the C# suite's AppHost.
//! let server = TestServer::start(ServerConfig::for_tests()).await?;
//! println!("stream at {}/event-stream?channels=home", server.base_url());
//!
//! // Publish as ServiceStack's IServerEvents would: `home@cmd.announce "hello"`.
//! server.events().notify_channel("home", "cmd.announce", "hello").unwrap();
//!
//! // Make the next stream request fail with 500 before any header.
//! server.faults().fail_streams(500, 1);
//!
//! server.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Routes
//!
//! - Feature routes (configurable through [`ServerPaths`]): `GET /event-stream`,
//!   `GET|POST /event-heartbeat`, any verb on `/event-unregister`, `/event-subscribers` and
//!   `/event-subscribers/{id}`.
//! - Predefined routes `/api/{Name}` and `/json/reply/{Name}` for `GetEventSubscribers`,
//!   `UpdateEventSubscriber`, `UnRegisterEventSubscriber`, the test services, `GetChatHistory`, `Authenticate`
//!   and `ResetServerEvents`.
//! - Test services: `/channels/{Channel}/chat|raw|object`, `/chathistory`, `/reset-serverevents`,
//!   `/auth/{provider}`, `/auth`.
//! - Test controls: `POST /test/faults`, `POST /test/raw?id=`, `POST /test/disconnect-all`,
//!   `GET /test/stats`, `POST /test/expire-tokens`, `POST /test/reset`, `POST /test/notify`.
//! - Hooks ([`ServerHooks`]) and custom `Meta` / `ConnectArgs` / `ServerArgs` through [`ServerConfig::hooks`].
//!
//! # Scale-out through Redis
//!
//! With [`ServerConfig::redis_url`] a server is one node of a cluster, like ServiceStack's
//! `RedisServerEvents` (same keys, `sse:topic` grammar and record shape): notifications reach
//! subscribers on every node, and any node answers heartbeat, unregister, update and
//! subscriber-list requests for any subscription. [`TestCluster`] starts several nodes on one
//! Redis behind a [`RoundRobinFront`]; [`RedisProcess`] is a throwaway `redis-server`.
//! [`ServerEvents`] publishes to the whole cluster; its inspection methods see this node's
//! streams.
#![warn(missing_docs)]

mod auth;
mod binding;
mod chat_history;
mod cluster;
mod config;
mod cors;
mod error;
mod faults;
mod frame;
mod hooks;
mod provider;
mod registry;
mod respond;
mod routes;
mod server;
mod util;

pub use cluster::{RedisProcess, RoundRobinFront, TestCluster};
pub use config::{ServerConfig, ServerPaths};
pub use error::ServerError;
pub use faults::{Faults, FaultsSnapshot};
pub use hooks::{
    ConnectHook, CreatedHook, NewSubscription, PublishHook, RequestHook, ServerHooks, StringMap,
    SubscriptionHook,
};
pub use registry::{ServerEvents, ServerStats, SubscriptionInfo};
pub use server::TestServer;
