//! Server profiles (FORMAT.md, "Server profiles") as `servicestack_events_server` configurations.

use std::time::Duration;

use servicestack_events_server::{ServerConfig, TestCluster, TestServer};

use crate::scenario::Profile;

/// The configuration of a profile.
pub fn config(profile: Profile) -> ServerConfig {
    let base = ServerConfig {
        heartbeat_interval: Duration::from_millis(200),
        idle_timeout: Duration::from_secs(30),
        housekeeping_interval: Duration::from_secs(5),
        notify_channel_of_subscriptions: true,
        ..ServerConfig::for_tests()
    };
    match profile {
        Profile::Default => base,
        Profile::Cluster => ServerConfig::cluster_node(),
        Profile::Auth => ServerConfig {
            limit_to_authenticated_users: true,
            ..base
        },
        Profile::NoNotify => ServerConfig {
            notify_channel_of_subscriptions: false,
            idle_timeout: Duration::from_millis(400),
            ..base
        },
        Profile::SlowHeartbeat => ServerConfig {
            heartbeat_interval: Duration::from_secs(10),
            ..base
        },
        Profile::CustomMeta => ServerConfig {
            hooks: ServerConfig::custom_meta_hooks(),
            ..base
        },
    }
}

/// How many nodes the `cluster` profile runs.
pub const CLUSTER_NODES: usize = 2;

/// Starts a fresh single server with the profile, on an ephemeral loopback port (`cluster`
/// is refused: use [`start_host`]).
pub async fn start(profile: Profile) -> Result<TestServer, String> {
    if profile == Profile::Cluster {
        return Err("the cluster profile runs several nodes: use start_host".into());
    }
    TestServer::start(config(profile))
        .await
        .map_err(|e| format!("the test server does not start: {e}"))
}

/// What a scenario runs against: one server, or the `cluster` profile's nodes (on a
/// redis-server of their own) behind a round-robin front.
#[derive(Debug)]
pub enum Host {
    /// Every other profile.
    Single(TestServer),
    /// The `cluster` profile.
    Cluster(TestCluster),
}

impl Host {
    /// Where clients connect: the server, or the cluster's front.
    pub fn base_url(&self) -> &str {
        match self {
            Host::Single(s) => s.base_url(),
            Host::Cluster(c) => c.base_url(),
        }
    }

    /// Stops the server, or every node, the front and Redis.
    pub async fn shutdown(self) {
        match self {
            Host::Single(s) => s.shutdown().await,
            Host::Cluster(c) => c.shutdown().await,
        }
    }
}

/// Starts what `profile` needs: a single server, or for `cluster` [`CLUSTER_NODES`] nodes on
/// one Redis behind a round-robin front.
pub async fn start_host(profile: Profile) -> Result<Host, String> {
    if profile == Profile::Cluster {
        return TestCluster::start(config(profile), CLUSTER_NODES)
            .await
            .map(Host::Cluster)
            .map_err(|e| format!("the cluster does not start: {e}"));
    }
    start(profile).await.map(Host::Single)
}
