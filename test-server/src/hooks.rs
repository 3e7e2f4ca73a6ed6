//! `ServerEventsFeature`'s hooks as library callbacks.
//!
//! Each hook is optional and shared (`Arc`), so a [`ServerConfig`](crate::ServerConfig) stays
//! cheap to clone. They run on the request's task: keep them short and non-blocking.

use std::fmt;
use std::sync::Arc;

use http::StatusCode;
use http::request::Parts;

use crate::registry::SubscriptionInfo;

/// A string-to-string map that keeps insertion order, like the `Meta`, `ConnectArgs` and
/// `ServerArgs` dictionaries (their JSON is written in this order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StringMap(Vec<(String, String)>);

impl StringMap {
    /// Sets `key` to `value`, in place if present, else appended.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) {
        let (key, value) = (key.into(), value.into());
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => *v = value,
            None => self.0.push((key, value)),
        }
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        let at = self.0.iter().position(|(k, _)| k == key)?;
        Some(self.0.remove(at).1)
    }

    /// The entries in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// How many entries there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for StringMap {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut map = StringMap::default();
        for (k, v) in iter {
            map.insert(k, v);
        }
        map
    }
}

/// A subscription being created, as `OnCreated` sees it: the app may add `Meta` keys (sent in
/// `cmd.onConnect`, joins, leaves, updates, heartbeats and subscriber lists), `ConnectArgs`
/// keys (sent in `cmd.onConnect` only) and `ServerArgs` (never sent).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NewSubscription {
    /// The subscription id.
    pub id: String,
    /// The channels it subscribes to.
    pub channels: Vec<String>,
    /// `-N`, or the session's user id.
    pub user_id: String,
    /// The session's user name (signed-in sessions).
    pub user_name: Option<String>,
    /// The display name.
    pub display_name: String,
    /// Whether the stream's session is signed in.
    pub is_authenticated: bool,
    /// `Meta`: userId, isAuthenticated, displayName, channels, createdAt, profileUrl.
    pub meta: StringMap,
    /// Extra `ConnectArgs`: sent in `cmd.onConnect` after the `Meta` keys (empty at first;
    /// the connect URLs and intervals follow). ServiceStack copies `Meta` before `OnCreated`,
    /// so keys added there miss `cmd.onConnect`; here they are in it.
    pub connect_args: StringMap,
    /// `ServerArgs`: for the server's own use, never sent.
    pub server_args: StringMap,
}

/// `OnInit` / `OnHeartbeatInit`: may refuse the request with a status before anything happens.
pub type RequestHook = Arc<dyn Fn(&Parts) -> Result<(), StatusCode> + Send + Sync>;
/// `OnCreated`: may fill `Meta`, `ConnectArgs` and `ServerArgs`.
pub type CreatedHook = Arc<dyn Fn(&mut NewSubscription) + Send + Sync>;
/// `OnConnect`: may edit the `cmd.onConnect` arguments (all values are strings).
pub type ConnectHook = Arc<dyn Fn(&SubscriptionInfo, &mut StringMap) + Send + Sync>;
/// `OnSubscribe`, `OnUnsubscribe`, `OnUpdate`: observe a subscription.
pub type SubscriptionHook = Arc<dyn Fn(&SubscriptionInfo) + Send + Sync>;
/// `OnPublish`: observes every frame written: subscription id, selector, body.
pub type PublishHook = Arc<dyn Fn(&str, &str, &[u8]) + Send + Sync>;

/// The hooks of `ServerEventsFeature`, in connection order: `on_init`, `on_created`,
/// `on_connect`, (the client receives `cmd.onConnect`), `on_subscribe`, (joins); later
/// `on_update`, `on_unsubscribe`, `on_publish` and `on_heartbeat_init`.
///
/// ```
/// use std::sync::Arc;
/// use servicestack_events_server::{ServerConfig, ServerHooks};
///
/// let config = ServerConfig {
///     hooks: ServerHooks {
///         on_created: Some(Arc::new(|sub| sub.meta.insert("team", "blue"))),
///         ..ServerHooks::default()
///     },
///     ..ServerConfig::for_tests()
/// };
/// assert!(config.hooks.on_created.is_some());
/// ```
#[derive(Clone, Default)]
pub struct ServerHooks {
    /// `OnInit(req)`: before the stream starts; an `Err` status answers the request instead.
    pub on_init: Option<RequestHook>,
    /// `OnCreated(sub, req)`: fills `Meta`, `ConnectArgs`, `ServerArgs`.
    pub on_created: Option<CreatedHook>,
    /// `OnConnect(sub, connectArgs)`: edits the `cmd.onConnect` arguments.
    pub on_connect: Option<ConnectHook>,
    /// `OnSubscribe(sub)`: after `cmd.onConnect`, before the joins.
    pub on_subscribe: Option<SubscriptionHook>,
    /// `OnUnsubscribe(sub)`: when a subscription is removed (unregister, expiry, broken or slow
    /// connection), before its leaves.
    pub on_unsubscribe: Option<SubscriptionHook>,
    /// `OnUpdate(sub)`: after its channels changed, before `cmd.onUpdate`.
    pub on_update: Option<SubscriptionHook>,
    /// `OnPublish(sub, frame)`: after each frame is queued for a subscription.
    pub on_publish: Option<PublishHook>,
    /// `OnHeartbeatInit(req)`: before a heartbeat is processed; an `Err` status answers it.
    pub on_heartbeat_init: Option<RequestHook>,
}

impl fmt::Debug for ServerHooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = |h: bool| if h { "set" } else { "-" };
        f.debug_struct("ServerHooks")
            .field("on_init", &set(self.on_init.is_some()))
            .field("on_created", &set(self.on_created.is_some()))
            .field("on_connect", &set(self.on_connect.is_some()))
            .field("on_subscribe", &set(self.on_subscribe.is_some()))
            .field("on_unsubscribe", &set(self.on_unsubscribe.is_some()))
            .field("on_update", &set(self.on_update.is_some()))
            .field("on_publish", &set(self.on_publish.is_some()))
            .field("on_heartbeat_init", &set(self.on_heartbeat_init.is_some()))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_map_keeps_order_and_replaces_in_place() {
        let mut m: StringMap = [("a", "1"), ("b", "2")].into_iter().collect();
        m.insert("a", "3");
        m.insert("c", "4");
        assert_eq!(
            m.iter().collect::<Vec<_>>(),
            [("a", "3"), ("b", "2"), ("c", "4")]
        );
        assert_eq!(m.remove("b").as_deref(), Some("2"));
        assert_eq!(m.get("b"), None);
        assert_eq!(m.len(), 2);
    }
}
