//! `test-server`: the reference ServiceStack Server Events host as a standalone process.
//!
//! Prints exactly one line, `listening on http://HOST:PORT`, to stdout once it accepts
//! connections; logs requests to stderr (`RUST_LOG`, default `info`); shuts down gracefully on
//! Ctrl-C or SIGTERM.

use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use servicestack_events_server::{ServerConfig, TestCluster, TestServer};

/// How many nodes the `cluster` profile starts.
const CLUSTER_NODES: usize = 2;

/// One server, or the `cluster` profile's nodes behind their front.
enum Host {
    Single(TestServer),
    Cluster(TestCluster),
}

impl Host {
    fn base_url(&self) -> &str {
        match self {
            Host::Single(s) => s.base_url(),
            Host::Cluster(c) => c.base_url(),
        }
    }

    async fn shutdown(self) {
        match self {
            Host::Single(s) => s.shutdown().await,
            Host::Cluster(c) => c.shutdown().await,
        }
    }
}
use tracing_subscriber::EnvFilter;

/// Reference ServiceStack Server Events host.
#[derive(Debug, Parser)]
#[command(name = "servicestack-events-server", version, about)]
struct Args {
    /// Address to bind (an IP or a host name).
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to bind; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Start from a conformance-scenario profile (default, auth, no_notify, slow_heartbeat,
    /// custom_meta, cluster: two nodes on one Redis behind a round-robin front, on --redis or
    /// a redis-server of its own; see
    /// conformance-tests/scenarios/FORMAT.md); the other flags override its settings.
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(ServerConfig::PROFILES))]
    profile: Option<String>,
    /// HeartbeatInterval in milliseconds [default: 10000].
    #[arg(long)]
    heartbeat_ms: Option<u64>,
    /// IdleTimeout in milliseconds [default: 30000].
    #[arg(long)]
    idle_timeout_ms: Option<u64>,
    /// HouseKeepingInterval in milliseconds [default: 5000].
    #[arg(long)]
    housekeeping_ms: Option<u64>,
    /// LimitToAuthenticatedUsers: anonymous streams get 401.
    #[arg(long)]
    auth_required: bool,
    /// NotifyChannelOfSubscriptions = false: no join/leave/update commands.
    #[arg(long)]
    no_notify: bool,
    /// ValidateUserAddress = false.
    #[arg(long)]
    no_validate_address: bool,
    /// Serve static files from this directory at `/`.
    #[arg(long)]
    static_dir: Option<PathBuf>,
    /// Write this many extra newlines before every frame (the historical OnPublish variant).
    #[arg(long, default_value_t = 0)]
    newlines_before_frame: usize,
    /// Share subscriptions with every node on this Redis (`redis://HOST:PORT`), like
    /// ServiceStack's RedisServerEvents.
    #[arg(long, value_name = "URL")]
    redis: Option<String>,
}

impl Args {
    fn config(&self) -> ServerConfig {
        let mut config = self
            .profile
            .as_deref()
            .and_then(ServerConfig::for_profile)
            .unwrap_or_default();
        if let Some(ms) = self.heartbeat_ms {
            config.heartbeat_interval = Duration::from_millis(ms);
        }
        if let Some(ms) = self.idle_timeout_ms {
            config.idle_timeout = Duration::from_millis(ms);
        }
        if let Some(ms) = self.housekeeping_ms {
            config.housekeeping_interval = Duration::from_millis(ms);
        }
        // The switches only ever turn a setting away from its default, so a profile's own
        // choice stands unless one is given.
        config.limit_to_authenticated_users |= self.auth_required;
        config.notify_channel_of_subscriptions &= !self.no_notify;
        config.validate_user_address &= !self.no_validate_address;
        if self.static_dir.is_some() {
            config.static_dir = self.static_dir.clone();
        }
        if self.redis.is_some() {
            config.redis_url = self.redis.clone();
        }
        if self.newlines_before_frame > 0 {
            config.newlines_before_frame = self.newlines_before_frame;
        }
        config
    }
}

/// Listens for Ctrl-C and SIGTERM from the moment it is called (not from its first poll), so a
/// signal sent as soon as the address is printed still shuts the server down gracefully.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate());
        let interrupt = signal(SignalKind::interrupt());
        async move {
            match (term, interrupt) {
                (Ok(mut term), Ok(mut interrupt)) => {
                    tokio::select! {
                        _ = interrupt.recv() => {}
                        _ = term.recv() => {}
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();

    let addr = match tokio::net::lookup_host((args.host.as_str(), args.port)).await {
        Ok(mut addrs) => match addrs.next() {
            Some(addr) => addr,
            None => {
                eprintln!("test-server: {} resolves to no address", args.host);
                return ExitCode::from(2);
            }
        },
        Err(e) => {
            eprintln!("test-server: cannot resolve {}: {e}", args.host);
            return ExitCode::from(2);
        }
    };
    let started = if args.profile.as_deref() == Some("cluster") {
        TestCluster::start_at(addr, args.config(), CLUSTER_NODES)
            .await
            .map(Host::Cluster)
    } else {
        TestServer::start_at(addr, args.config())
            .await
            .map(Host::Single)
    };
    let server = match started {
        Ok(server) => server,
        Err(e) => {
            eprintln!("test-server: cannot start on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };

    let shutdown = shutdown_signal();
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on {}", server.base_url());
        let _ = out.flush();
    }
    tracing::info!("listening on {}", server.base_url());

    shutdown.await;
    tracing::info!("shutting down");
    server.shutdown().await;
    ExitCode::SUCCESS
}
