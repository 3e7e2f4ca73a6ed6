//! [`ServerEvents`]: the public `IServerEvents` surface of one server. The ServiceStack-named
//! notify methods are thin wrappers over one entry point, [`Shared::notify`], with a
//! [`Target`].

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use serde::Serialize;

use super::Shared;
use super::publish::Target;
use super::stats::ServerStats;
use super::subscription::SubscriptionInfo;
use crate::error::{ServerError, check_channel, check_selector};
use crate::util::{lock, read, short_type_name};

/// The `MemoryServerEvents` equivalent of one server: publish to subscriptions and inspect them.
///
/// Cheap to clone; every clone talks to the same registry.
#[derive(Clone)]
pub struct ServerEvents {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for ServerEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerEvents")
            .field("subscriptions", &self.subscription_count())
            .finish()
    }
}

/// Serialises a message like ServiceStack's typed notify APIs: JSON, with `null` as empty body.
fn body_of<T: Serialize + ?Sized>(message: &T) -> Result<Bytes, ServerError> {
    let json = serde_json::to_string(message).map_err(|e| ServerError::Serialize(e.to_string()))?;
    Ok(if json == "null" {
        Bytes::new()
    } else {
        Bytes::from(json)
    })
}

fn typed_selector<T: ?Sized>() -> String {
    format!("cmd.{}", short_type_name(std::any::type_name::<T>()))
}

impl ServerEvents {
    fn send<T: Serialize + ?Sized>(
        &self,
        target: Target<'_>,
        selector: &str,
        message: &T,
        filter: Option<&str>,
    ) {
        match body_of(message) {
            Ok(body) => self.shared.notify(target, selector, &body, filter),
            Err(e) => tracing::warn!("notify {selector}: {e}"),
        }
    }

    fn send_channel(
        &self,
        channel: &str,
        selector: &str,
        body: Result<Bytes, ServerError>,
    ) -> Result<(), ServerError> {
        check_channel(channel)?;
        check_selector(selector)?;
        let body = body?;
        self.shared
            .notify(Target::Channel(channel), selector, &body, None);
        Ok(())
    }

    /// `NotifyAll`: every subscription, no channel prefix.
    pub fn notify_all<T: Serialize + ?Sized>(&self, selector: &str, message: &T) {
        self.send(Target::All, selector, message, None);
    }

    /// `NotifyChannel`: the members of `channel`, selector written as `channel@selector`.
    /// `@` in the channel or selector is rejected, as ServiceStack does.
    pub fn notify_channel<T: Serialize + ?Sized>(
        &self,
        channel: &str,
        selector: &str,
        message: &T,
    ) -> Result<(), ServerError> {
        self.send_channel(channel, selector, body_of(message))
    }

    /// `NotifySubscription`: one subscription (optionally only if it is in `channel_filter`).
    pub fn notify_subscription<T: Serialize + ?Sized>(
        &self,
        subscription_id: &str,
        selector: &str,
        message: &T,
        channel_filter: Option<&str>,
    ) {
        self.send(
            Target::Subscription(subscription_id),
            selector,
            message,
            channel_filter,
        );
    }

    /// `NotifyUserId`: every subscription of that user id.
    pub fn notify_user_id<T: Serialize + ?Sized>(
        &self,
        user_id: &str,
        selector: &str,
        message: &T,
        channel_filter: Option<&str>,
    ) {
        self.send(Target::UserId(user_id), selector, message, channel_filter);
    }

    /// `NotifyUserName`: every subscription of that user name.
    pub fn notify_user_name<T: Serialize + ?Sized>(
        &self,
        user_name: &str,
        selector: &str,
        message: &T,
        channel_filter: Option<&str>,
    ) {
        self.send(
            Target::UserName(user_name),
            selector,
            message,
            channel_filter,
        );
    }

    /// `NotifySession`: every subscription of that session id.
    pub fn notify_session<T: Serialize + ?Sized>(
        &self,
        session_id: &str,
        selector: &str,
        message: &T,
        channel_filter: Option<&str>,
    ) {
        self.send(
            Target::Session(session_id),
            selector,
            message,
            channel_filter,
        );
    }

    /// `NotifyAllJson`: the body is written verbatim.
    pub fn notify_all_json(&self, selector: &str, json: &str) {
        let body = Bytes::copy_from_slice(json.as_bytes());
        self.shared.notify(Target::All, selector, &body, None);
    }

    /// `NotifyChannelJson`: the body is written verbatim.
    pub fn notify_channel_json(
        &self,
        channel: &str,
        selector: &str,
        json: &str,
    ) -> Result<(), ServerError> {
        self.send_channel(
            channel,
            selector,
            Ok(Bytes::copy_from_slice(json.as_bytes())),
        )
    }

    /// `NotifySubscriptionJson`: the body is written verbatim.
    pub fn notify_subscription_json(
        &self,
        subscription_id: &str,
        selector: &str,
        json: &str,
        channel_filter: Option<&str>,
    ) {
        let body = Bytes::copy_from_slice(json.as_bytes());
        self.shared.notify(
            Target::Subscription(subscription_id),
            selector,
            &body,
            channel_filter,
        );
    }

    /// `NotifyUserIdJson`: the body is written verbatim.
    pub fn notify_user_id_json(
        &self,
        user_id: &str,
        selector: &str,
        json: &str,
        channel_filter: Option<&str>,
    ) {
        let body = Bytes::copy_from_slice(json.as_bytes());
        self.shared
            .notify(Target::UserId(user_id), selector, &body, channel_filter);
    }

    /// `NotifyUserNameJson`: the body is written verbatim.
    pub fn notify_user_name_json(
        &self,
        user_name: &str,
        selector: &str,
        json: &str,
        channel_filter: Option<&str>,
    ) {
        let body = Bytes::copy_from_slice(json.as_bytes());
        self.shared
            .notify(Target::UserName(user_name), selector, &body, channel_filter);
    }

    /// `NotifySessionJson`: the body is written verbatim.
    pub fn notify_session_json(
        &self,
        session_id: &str,
        selector: &str,
        json: &str,
        channel_filter: Option<&str>,
    ) {
        let body = Bytes::copy_from_slice(json.as_bytes());
        self.shared
            .notify(Target::Session(session_id), selector, &body, channel_filter);
    }

    /// `NotifyAll` with the default selector `cmd.<TypeName>` (e.g. `cmd.CustomType`).
    pub fn notify_all_typed<T: Serialize + ?Sized>(&self, message: &T) {
        self.notify_all(&typed_selector::<T>(), message);
    }

    /// `NotifyChannel` with the default selector `cmd.<TypeName>`.
    pub fn notify_channel_typed<T: Serialize + ?Sized>(
        &self,
        channel: &str,
        message: &T,
    ) -> Result<(), ServerError> {
        self.notify_channel(channel, &typed_selector::<T>(), message)
    }

    /// `NotifySubscription` with the default selector `cmd.<TypeName>`.
    pub fn notify_subscription_typed<T: Serialize + ?Sized>(
        &self,
        subscription_id: &str,
        message: &T,
        channel_filter: Option<&str>,
    ) {
        self.notify_subscription(
            subscription_id,
            &typed_selector::<T>(),
            message,
            channel_filter,
        );
    }

    /// `NotifyUserId` with the default selector `cmd.<TypeName>`.
    pub fn notify_user_id_typed<T: Serialize + ?Sized>(
        &self,
        user_id: &str,
        message: &T,
        channel_filter: Option<&str>,
    ) {
        self.notify_user_id(user_id, &typed_selector::<T>(), message, channel_filter);
    }

    /// `NotifyUserName` with the default selector `cmd.<TypeName>`.
    pub fn notify_user_name_typed<T: Serialize + ?Sized>(
        &self,
        user_name: &str,
        message: &T,
        channel_filter: Option<&str>,
    ) {
        self.notify_user_name(user_name, &typed_selector::<T>(), message, channel_filter);
    }

    /// `NotifySession` with the default selector `cmd.<TypeName>`.
    pub fn notify_session_typed<T: Serialize + ?Sized>(
        &self,
        session_id: &str,
        message: &T,
        channel_filter: Option<&str>,
    ) {
        self.notify_session(session_id, &typed_selector::<T>(), message, channel_filter);
    }

    /// `PublishRaw`: writes `bytes` to that subscription's stream as they are (no id, no
    /// framing). Returns false when the subscription does not exist or the stream is closed.
    pub fn publish_raw(&self, subscription_id: &str, bytes: &[u8]) -> bool {
        self.shared.publish_raw(subscription_id, bytes)
    }

    /// `Reset()`: forgets every subscription without closing or notifying anyone. The streams
    /// stay open and silent; their next heartbeat gets 404.
    pub fn reset(&self) {
        self.shared.reset();
    }

    /// Closes every stream as if its TCP connection broke and the break was detected: each
    /// subscription is unsubscribed in turn (`cmd.onLeave` to the others still registered) and
    /// its connection aborted. Stalled and forgotten streams are aborted too.
    pub fn disconnect_all(&self) {
        self.shared.disconnect_all();
    }

    /// How many subscriptions are registered.
    pub fn subscription_count(&self) -> usize {
        read(&self.shared.indexes).subs.len()
    }

    /// `GetSubscriptionInfo(id)`.
    pub fn get_subscription_info(&self, id: &str) -> Option<SubscriptionInfo> {
        self.shared.get(id).map(|s| s.info())
    }

    /// `GetSubscriptionInfosByUserId(userId)`.
    pub fn get_subscription_infos_by_user_id(&self, user_id: &str) -> Vec<SubscriptionInfo> {
        self.shared.infos_by_user_id(user_id)
    }

    /// `GetAllSubscriptionInfos()`, in registration order.
    pub fn all_subscription_infos(&self) -> Vec<SubscriptionInfo> {
        self.shared.all_sorted().iter().map(|s| s.info()).collect()
    }

    /// `GetAllSubscriptionsDetails()`: every subscription's Meta map, in registration order.
    pub fn all_subscriptions_details(&self) -> Vec<BTreeMap<String, String>> {
        self.shared
            .all_sorted()
            .iter()
            .map(|s| lock(&s.state).meta.iter().cloned().collect())
            .collect()
    }

    /// `GetSubscriptionsDetails(channels)`: Meta maps of the members of those channels, in
    /// channel order, de-duplicated by subscription id.
    pub fn get_subscriptions_details(&self, channels: &[&str]) -> Vec<BTreeMap<String, String>> {
        let channels: Vec<String> = channels.iter().map(|c| c.to_string()).collect();
        self.shared
            .details_json(&channels)
            .iter()
            .filter_map(|j| serde_json::from_slice(j).ok())
            .collect()
    }

    /// `UnRegisterAsync(id)`: unsubscribes, ends its stream and sends `cmd.onLeave`.
    /// Returns false when no such subscription exists.
    pub fn unregister(&self, id: &str) -> bool {
        match self.shared.get(id) {
            Some(sub) => self.shared.unregister_sub(&sub),
            None => false,
        }
    }

    /// `SubscribeToChannels(id, channels)`, with `cmd.onUpdate`. False when unknown.
    ///
    /// On a Redis node this returns before the change's barrier is published (the HTTP update
    /// waits for it): what this node publishes next is queued after it and reaches the new
    /// channels, but a notification another node publishes at once may be read first and be
    /// held from them.
    pub fn subscribe_to_channels(&self, id: &str, channels: &[&str]) -> bool {
        let channels: Vec<String> = channels.iter().map(|c| c.to_string()).collect();
        match self.shared.get(id) {
            Some(sub) => self.shared.subscribe_to_channels(&sub, &channels),
            None => false,
        }
    }

    /// `UnsubscribeFromChannels(id, channels)`, with `cmd.onUpdate`. False when unknown.
    pub fn unsubscribe_from_channels(&self, id: &str, channels: &[&str]) -> bool {
        let channels: Vec<String> = channels.iter().map(|c| c.to_string()).collect();
        match self.shared.get(id) {
            Some(sub) => self.shared.unsubscribe_from_channels(&sub, &channels),
            None => false,
        }
    }

    /// `Pulse(id)`: refreshes the idle timer and sends `cmd.onHeartbeat`. False when unknown.
    pub fn pulse(&self, id: &str) -> bool {
        self.shared.pulse(id).is_some()
    }

    /// `RemoveExpiredSubscriptions()` without the housekeeping throttle. Returns how many
    /// subscriptions were expired.
    pub fn remove_expired_subscriptions(&self) -> usize {
        self.shared.remove_expired(false)
    }

    /// Invalidates every bearer token issued so far; later requests presenting one get 401.
    pub fn expire_tokens(&self) {
        self.shared.auth.expire_tokens();
    }

    /// Counters (`GetStats()`).
    pub fn stats(&self) -> ServerStats {
        self.shared.stats()
    }

    /// `GetNextSequence(name)`: the next value of a named process-wide counter (from 1).
    /// `anonUser` is the counter behind anonymous `-N` / `userN` identities, bumped for every
    /// stream connection.
    pub fn get_next_sequence(&self, name: &str) -> u64 {
        self.shared.next_sequence(name)
    }
}
