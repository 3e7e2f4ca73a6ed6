//! Server profiles (FORMAT.md, "Server profiles") as `servicestack_events_server` configurations.

use std::time::Duration;

use servicestack_events_server::{ServerConfig, TestServer};

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

/// Starts a fresh server with the profile, on an ephemeral loopback port.
pub async fn start(profile: Profile) -> Result<TestServer, String> {
    TestServer::start(config(profile))
        .await
        .map_err(|e| format!("the test server does not start: {e}"))
}
