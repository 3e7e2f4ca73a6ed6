//! Server configuration: the `ServerEventsFeature` settings plus a few test-host knobs.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::hooks::ServerHooks;

/// The feature routes, each of which can be disabled with `None`.
///
/// Disabling a route also drops its URL from the `cmd.onConnect` payload, as ServiceStack does
/// when a path is set to null.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerPaths {
    /// `StreamPath`, default `/event-stream`.
    pub stream: Option<String>,
    /// `HeartbeatPath`, default `/event-heartbeat`.
    pub heartbeat: Option<String>,
    /// `UnRegisterPath`, default `/event-unregister`.
    pub unregister: Option<String>,
    /// `SubscribersPath`, default `/event-subscribers`.
    pub subscribers: Option<String>,
    /// `UpdateSubscribersPath`, default `/event-subscribers/{id}`.
    ///
    /// The single `{...}` placeholder (any name, e.g. `{Id}`) marks where the subscription id goes.
    /// Without a placeholder the id is read from the request instead.
    pub update_subscribers: Option<String>,
}

impl Default for ServerPaths {
    fn default() -> Self {
        ServerPaths {
            stream: Some("/event-stream".into()),
            heartbeat: Some("/event-heartbeat".into()),
            unregister: Some("/event-unregister".into()),
            subscribers: Some("/event-subscribers".into()),
            update_subscribers: Some("/event-subscribers/{id}".into()),
        }
    }
}

/// Everything a [`TestServer`](crate::TestServer) can be configured with.
///
/// The defaults are ServiceStack's `ServerEventsFeature` defaults; [`ServerConfig::for_tests`]
/// mirrors the C# integration-suite AppHost.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// `HeartbeatInterval`, advertised to clients as `heartbeatIntervalMs`. Default 10 s.
    pub heartbeat_interval: Duration,
    /// `IdleTimeout`: a subscription whose last pulse is older than this is expired. Default 30 s.
    pub idle_timeout: Duration,
    /// `HouseKeepingInterval`: how often expired subscriptions are swept. Default 5 s.
    pub housekeeping_interval: Duration,
    /// `NotifyChannelOfSubscriptions`: send join/leave/update commands. Default true.
    pub notify_channel_of_subscriptions: bool,
    /// `LimitToAuthenticatedUsers`: anonymous streams get 401. Default false.
    pub limit_to_authenticated_users: bool,
    /// `ValidateUserAddress`: heartbeat/unregister/update from another IP get 403. Default true.
    pub validate_user_address: bool,
    /// Route paths.
    pub paths: ServerPaths,
    /// Largest accepted request body; larger bodies get 413. Default 1 MiB.
    pub max_body_bytes: usize,
    /// How many bytes may wait in a subscription's outbound buffer before the slow reader is
    /// dropped (with `cmd.onLeave`). Default 1 024 000, ServiceStack's
    /// `ThrottlePublisherAfterBufferExceedsBytes`.
    pub subscriber_buffer_bytes: usize,
    /// The historical `OnPublish` variant: this many extra `"\n"` before every frame. Default 0.
    pub newlines_before_frame: usize,
    /// Serve static files from this directory at `/` (fallback route). Default none.
    pub static_dir: Option<PathBuf>,
    /// The feature's hooks (`OnInit`, `OnCreated`, `OnConnect`, ...). Default none.
    pub hooks: ServerHooks,
    /// `LimitRemoteControlToAuthenticatedUsers` (the Chat app's setting): anonymous
    /// `PostRawToChannel` requests (the raw relay that drives other clients' receivers) get
    /// 403. Default false.
    pub limit_remote_control_to_authenticated_users: bool,
    /// How many chat messages each channel keeps for `GetChatHistory`. Default 100.
    pub chat_history_size: usize,
    /// Share subscriptions with every node on this Redis (`redis://HOST:PORT[/DB]`), like
    /// ServiceStack's `RedisServerEvents`: same keys (`sse:*`), topic (`sse:topic`) and
    /// message grammar. `None` (the default) keeps everything in this process.
    pub redis_url: Option<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            heartbeat_interval: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            housekeeping_interval: Duration::from_secs(5),
            notify_channel_of_subscriptions: true,
            limit_to_authenticated_users: false,
            validate_user_address: true,
            paths: ServerPaths::default(),
            max_body_bytes: 1024 * 1024,
            subscriber_buffer_bytes: 1_024_000,
            newlines_before_frame: 0,
            static_dir: None,
            hooks: ServerHooks::default(),
            limit_remote_control_to_authenticated_users: false,
            chat_history_size: 100,
            redis_url: None,
        }
    }
}

impl ServerConfig {
    /// The profile names [`for_profile`](Self::for_profile) knows.
    pub const PROFILES: [&'static str; 6] = [
        "default",
        "auth",
        "no_notify",
        "slow_heartbeat",
        "custom_meta",
        "cluster",
    ];

    /// The server profiles of the shared conformance scenarios
    /// (`conformance-tests/scenarios/FORMAT.md`): `default` (the C# suite's AppHost), `auth`
    /// (plus `limit_to_authenticated_users`), `no_notify` (no join/leave notifications, 400 ms
    /// idle timeout, like the Redis stateful fixture), `slow_heartbeat` (10 s heartbeats) and
    /// `custom_meta` (the docs' "Event Subscription Metadata": see [`custom_meta_hooks`](Self::custom_meta_hooks))
    /// and `cluster` (each node's settings are [`cluster_node`](Self::cluster_node)'s; the
    /// binary and the conformance runner start two nodes on one Redis behind a round-robin
    /// front, see [`TestCluster`](crate::TestCluster)).
    ///
    /// ```
    /// use servicestack_events_server::ServerConfig;
    /// assert!(ServerConfig::for_profile("auth").unwrap().limit_to_authenticated_users);
    /// assert!(ServerConfig::for_profile("nope").is_none());
    /// ```
    pub fn for_profile(name: &str) -> Option<Self> {
        let tests = Self::for_tests();
        Some(match name {
            "default" => tests,
            "cluster" => Self::cluster_node(),
            "auth" => ServerConfig {
                limit_to_authenticated_users: true,
                ..tests
            },
            "no_notify" => ServerConfig {
                notify_channel_of_subscriptions: false,
                idle_timeout: Duration::from_millis(400),
                ..tests
            },
            "slow_heartbeat" => ServerConfig {
                heartbeat_interval: Duration::from_secs(10),
                ..tests
            },
            "custom_meta" => ServerConfig {
                hooks: Self::custom_meta_hooks(),
                ..tests
            },
            _ => return None,
        })
    }

    /// The hooks of the `custom_meta` profile, after the docs' "Event Subscription Metadata"
    /// example: `OnCreated` adds the `Meta` key `team` (`"blue"`, or `"signed-in"` for a
    /// signed-in session) and the never-sent `ServerArgs` key `secret`; `OnConnect` adds the
    /// connect argument `motd` (`"welcome <displayName>"`), sent in `cmd.onConnect` only.
    pub fn custom_meta_hooks() -> ServerHooks {
        ServerHooks {
            on_created: Some(Arc::new(|sub| {
                let team = if sub.is_authenticated {
                    "signed-in"
                } else {
                    "blue"
                };
                sub.meta.insert("team", team);
                sub.server_args.insert("secret", "kept on the server");
            })),
            on_connect: Some(Arc::new(|sub, args| {
                args.insert("motd", format!("welcome {}", sub.display_name));
            })),
            ..ServerHooks::default()
        }
    }

    /// The settings of each node of the `cluster` profile: `default`'s, plus `custom_meta`'s
    /// hooks (so custom Meta crosses nodes), with a 2 s idle timeout swept every 100 ms, so
    /// the subscriptions of a crashed node are gone (with their leaves) soon enough for a test
    /// to wait for it.
    pub fn cluster_node() -> Self {
        ServerConfig {
            hooks: Self::custom_meta_hooks(),
            idle_timeout: Duration::from_secs(2),
            housekeeping_interval: Duration::from_millis(100),
            ..Self::for_tests()
        }
    }

    /// The configuration of the C# integration suite's AppHost: a 200 ms heartbeat, everything
    /// else default.
    pub fn for_tests() -> Self {
        ServerConfig {
            heartbeat_interval: Duration::from_millis(200),
            ..ServerConfig::default()
        }
    }
}

/// A validated route path.
pub(crate) fn validate_path(path: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err(format!("route path {path:?} must start with '/'"));
    }
    if path.contains(['*', '?', '#', ' ']) {
        return Err(format!(
            "route path {path:?} contains an unsupported character"
        ));
    }
    Ok(())
}

/// Splits the update path into the axum route (placeholder normalised to `{id}`) and a template
/// for building URLs. Returns `(route, has_placeholder)`.
pub(crate) fn update_route(path: &str) -> Result<(String, bool), String> {
    validate_path(path)?;
    match (path.find('{'), path.find('}')) {
        (None, None) => Ok((path.to_string(), false)),
        (Some(open), Some(close)) if open < close => {
            let (before, rest) = path.split_at(open);
            let after = &rest[close - open + 1..];
            if after.contains(['{', '}']) || before.contains('}') {
                return Err(format!("route path {path:?} has more than one placeholder"));
            }
            Ok((format!("{before}{{id}}{after}"), true))
        }
        _ => Err(format!("route path {path:?} has an unbalanced placeholder")),
    }
}

/// Builds the update-subscriber path for one subscription from the configured template.
pub(crate) fn update_path_for(template: &str, id: &str) -> String {
    match (template.find('{'), template.find('}')) {
        (Some(open), Some(close)) if open < close => {
            format!("{}{}{}", &template[..open], id, &template[close + 1..])
        }
        _ => template.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_keep_servicestack_defaults_except_where_documented() {
        let default = ServerConfig::for_profile("default").unwrap();
        assert_eq!(default.idle_timeout, Duration::from_secs(30));
        assert_eq!(default.housekeeping_interval, Duration::from_secs(5));
        assert!(default.hooks.on_created.is_none());
        let node = ServerConfig::for_profile("cluster").unwrap();
        assert_eq!(node.idle_timeout, Duration::from_secs(2));
        assert_eq!(node.housekeeping_interval, Duration::from_millis(100));
        assert_eq!(node.heartbeat_interval, Duration::from_millis(200));
        assert!(node.hooks.on_created.is_some() && node.hooks.on_connect.is_some());
    }

    #[test]
    fn update_route_normalises_placeholder() {
        assert_eq!(
            update_route("/event-subscribers/{Id}").unwrap(),
            ("/event-subscribers/{id}".to_string(), true)
        );
        assert_eq!(update_route("/subs").unwrap(), ("/subs".to_string(), false));
        assert!(update_route("/a/{x}/{y}").is_err());
        assert!(update_route("a").is_err());
        assert_eq!(
            update_path_for("/event-subscribers/{id}", "X"),
            "/event-subscribers/X"
        );
    }
}
