//! Where subscriptions live: the provider behind the HTTP routes.
//!
//! [`LocalProvider`] is `MemoryServerEvents` (this process only); [`redis::RedisProvider`]
//! is `RedisServerEvents` (every node sharing one Redis). The routes only see [`Provider`],
//! so they answer heartbeat, unregister, update and subscriber-list requests the same way
//! whichever one runs.

use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;

use crate::registry::{Shared, Subscription};

mod local;
pub(crate) mod redis;

pub(crate) use local::LocalProvider;

/// A boxed future, so [`Provider`] can be used as a trait object.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A provider could not answer (Redis unreachable or failing). Routes answer 503.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub(crate) struct ProviderError(pub(crate) String);

/// What a route needs to know about a subscription held by any node.
#[derive(Clone)]
pub(crate) struct SubRef {
    pub(crate) id: String,
    pub(crate) user_id: String,
    pub(crate) display_name: String,
    pub(crate) session_id: Option<String>,
    pub(crate) is_authenticated: bool,
    pub(crate) user_address: Option<IpAddr>,
    /// The `Meta` JSON object.
    pub(crate) meta_json: Bytes,
    /// The subscription itself when this node holds it.
    pub(crate) local: Option<Arc<Subscription>>,
}

impl SubRef {
    /// A reference to a subscription this node holds.
    pub(crate) fn of_local(sub: &Arc<Subscription>) -> SubRef {
        SubRef {
            id: sub.id.clone(),
            user_id: sub.user_id.clone(),
            display_name: sub.display_name.clone(),
            session_id: sub.session_id.clone(),
            is_authenticated: sub.is_authenticated,
            user_address: sub.user_address,
            meta_json: sub.meta_json(),
            local: Some(sub.clone()),
        }
    }
}

/// The outcome of a heartbeat.
pub(crate) enum Pulsed {
    /// The subscription is gone.
    NotFound,
    /// Pulsed on this node: wait until the stream's byte total reaches the value (the
    /// `cmd.onHeartbeat` frame), when given.
    Local(Arc<Subscription>, Option<u64>),
    /// Pulsed in the cluster; its owner sends `cmd.onHeartbeat`.
    Remote,
}

/// The subscription store behind the routes (`IServerEvents`' lookup and control half).
pub(crate) trait Provider: Send + Sync {
    /// `GetNextSequence("anonUser")`.
    fn next_anon(&self) -> BoxFuture<'_, Result<u64, ProviderError>>;
    /// Called once a stream's subscription is registered locally, before its response is
    /// returned: resolves once the subscription is visible to every node.
    fn stored(&self, sub: Arc<Subscription>) -> BoxFuture<'_, Result<(), ProviderError>>;
    /// The subscription with this id, on any node.
    fn find<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<SubRef>, ProviderError>>;
    /// `Pulse`: refreshes its idle clock and sends `cmd.onHeartbeat`.
    fn pulse<'a>(&'a self, sub: &'a SubRef) -> BoxFuture<'a, Result<Pulsed, ProviderError>>;
    /// `UnRegister`: ends the subscription (its owner sends the leaves).
    fn unregister<'a>(&'a self, sub: &'a SubRef) -> BoxFuture<'a, Result<bool, ProviderError>>;
    /// `UnsubscribeFromChannels` then `SubscribeToChannels`. False when the subscription is gone.
    fn update<'a>(
        &'a self,
        sub: &'a SubRef,
        unsubscribe: &'a [String],
        subscribe: &'a [String],
    ) -> BoxFuture<'a, Result<bool, ProviderError>>;
    /// `GetSubscriptionsDetails`: the Meta JSON of the members of `channels` (everyone when
    /// empty), de-duplicated.
    fn details<'a>(
        &'a self,
        channels: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Bytes>, ProviderError>>;
    /// `GetSubscriptionInfosByUserId`.
    fn by_user_id<'a>(
        &'a self,
        user_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<SubRef>, ProviderError>>;
    /// Ok when notifications can be published now (Redis reachable).
    fn ready(&self) -> Result<(), ProviderError>;
    /// Removes this node's subscriptions from the shared store before shutdown.
    fn shutdown(&self) -> BoxFuture<'_, ()>;
    /// Stops writing to the shared store at once, like a process that died: nothing queued
    /// or asked for afterwards (records, removals, notifications) reaches it.
    fn halt(&self);
}

/// The provider for `shared`: Redis when the configuration names a URL.
pub(crate) async fn for_config(shared: &Arc<Shared>) -> std::io::Result<Arc<dyn Provider>> {
    match shared.config.redis_url.clone() {
        None => Ok(Arc::new(LocalProvider::new(shared.clone()))),
        Some(url) => {
            let provider = redis::RedisProvider::connect(shared, &url)
                .await
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::ConnectionRefused, e.0))?;
            Ok(provider)
        }
    }
}
