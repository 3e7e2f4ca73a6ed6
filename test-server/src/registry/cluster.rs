//! The seam between the local registry and a cluster provider (Redis): when a link is
//! installed, fan-outs leave through it instead of being written locally, and the link hears
//! about subscriptions that were registered, changed or removed so it can keep its shared index.

use std::sync::Arc;

use bytes::Bytes;

use super::publish::Target;
use super::subscription::Subscription;

/// What the local registry tells a cluster provider. Every method is synchronous and must not
/// block: a provider queues the work and does it on its own task, in call order.
pub(crate) trait ClusterLink: Send + Sync {
    /// A notification for the whole cluster; the provider delivers it back to every node
    /// (this one included) through [`Shared::deliver`](super::Shared::deliver).
    fn publish(&self, target: Target<'_>, selector: &str, body: &Bytes, filter: Option<&str>);
    /// `sub` was just registered locally (before its joins were sent): store its record.
    fn registered(&self, sub: &Arc<Subscription>);
    /// `channels` were just added to `sub` on this node (before its record is rewritten and
    /// the change announced); topic notifications for them are held until the provider
    /// releases them with [`Subscription::release_channels`].
    fn channels_added(&self, sub: &Arc<Subscription>, channels: &[String]);
    /// `sub`'s channels changed: rewrite its record and channel sets.
    fn changed(&self, sub: &Arc<Subscription>);
    /// `sub` was removed locally: delete its record and index entries.
    fn removed(&self, sub: &Arc<Subscription>);
}
