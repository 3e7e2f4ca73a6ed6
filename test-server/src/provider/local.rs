//! `MemoryServerEvents`: every subscription lives in this process.

use std::sync::Arc;

use bytes::Bytes;

use super::{BoxFuture, Provider, ProviderError, Pulsed, SubRef};
use crate::registry::{Shared, Subscription};

/// The in-memory provider: lookups and changes go straight to the local registry.
pub(crate) struct LocalProvider {
    shared: Arc<Shared>,
}

impl LocalProvider {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        LocalProvider { shared }
    }
}

/// Applies an update to a local subscription. False when it is no longer registered.
pub(crate) fn update_local(
    shared: &Shared,
    sub: &Arc<Subscription>,
    unsubscribe: &[String],
    subscribe: &[String],
) -> bool {
    shared.unsubscribe_from_channels(sub, unsubscribe)
        && shared.subscribe_to_channels(sub, subscribe)
}

impl Provider for LocalProvider {
    fn next_anon(&self) -> BoxFuture<'_, Result<u64, ProviderError>> {
        Box::pin(async move { Ok(self.shared.next_anon()) })
    }

    fn stored(&self, _sub: Arc<Subscription>) -> BoxFuture<'_, Result<(), ProviderError>> {
        Box::pin(async { Ok(()) })
    }

    fn find<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<SubRef>, ProviderError>> {
        Box::pin(async move { Ok(self.shared.get(id).as_ref().map(SubRef::of_local)) })
    }

    fn pulse<'a>(&'a self, sub: &'a SubRef) -> BoxFuture<'a, Result<Pulsed, ProviderError>> {
        Box::pin(async move {
            Ok(match self.shared.pulse(&sub.id) {
                Some((sub, target)) => Pulsed::Local(sub, target),
                None => Pulsed::NotFound,
            })
        })
    }

    fn unregister<'a>(&'a self, sub: &'a SubRef) -> BoxFuture<'a, Result<bool, ProviderError>> {
        Box::pin(async move {
            Ok(match &sub.local {
                Some(local) => self.shared.unregister_sub(local),
                None => false,
            })
        })
    }

    fn update<'a>(
        &'a self,
        sub: &'a SubRef,
        unsubscribe: &'a [String],
        subscribe: &'a [String],
    ) -> BoxFuture<'a, Result<bool, ProviderError>> {
        Box::pin(async move {
            Ok(match &sub.local {
                Some(local) => update_local(&self.shared, local, unsubscribe, subscribe),
                None => false,
            })
        })
    }

    fn details<'a>(
        &'a self,
        channels: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Bytes>, ProviderError>> {
        Box::pin(async move { Ok(self.shared.details_json(channels)) })
    }

    fn by_user_id<'a>(
        &'a self,
        user_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<SubRef>, ProviderError>> {
        Box::pin(async move {
            Ok(self
                .shared
                .local_by_user_id(user_id)
                .iter()
                .map(SubRef::of_local)
                .collect())
        })
    }

    fn ready(&self) -> Result<(), ProviderError> {
        Ok(())
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }

    fn halt(&self) {
        // Nothing is shared with other processes: nothing to stop writing to.
    }
}
