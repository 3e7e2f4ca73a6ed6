//! Writing frames: the one notify entry point (a [`Target`] and an optional channel filter),
//! channel fan-outs with the `channel@` prefix, and raw writes. Outcomes that end a
//! subscription (closed, overflowing, cut, expired) are queued for housekeeping.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::Shared;
use super::housekeeping::Reason;
use super::indexes::Indexes;
use super::stats::bump;
use super::subscription::Subscription;
use crate::frame::PushOutcome;
use crate::util::read;

/// Who a notification goes to. Every kind but `Channel` is written without a channel prefix.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target<'a> {
    /// `NotifyAll`.
    All,
    /// `NotifyChannel`: members of the channel, selector written as `channel@selector`.
    Channel(&'a str),
    /// `NotifySubscription`.
    Subscription(&'a str),
    /// `NotifyUserId`.
    UserId(&'a str),
    /// `NotifyUserName`.
    UserName(&'a str),
    /// `NotifySession`.
    Session(&'a str),
}

impl Shared {
    pub(super) fn is_expired(&self, sub: &Subscription, now: u64) -> bool {
        now.saturating_sub(sub.last_pulse_ms.load(Ordering::Relaxed)) > self.idle_ms()
    }

    pub(super) fn handle_outcome(
        &self,
        sub: &Arc<Subscription>,
        outcome: PushOutcome,
    ) -> Option<u64> {
        match outcome {
            PushOutcome::Queued(total) => Some(total),
            PushOutcome::Closed => {
                self.queue_unsubscribe(sub.clone(), Reason::Broken);
                None
            }
            PushOutcome::Overflow => {
                self.queue_unsubscribe(sub.clone(), Reason::SlowConsumer);
                None
            }
            PushOutcome::Cut => {
                bump(&self.counters.notifications_sent);
                self.queue_unsubscribe(sub.clone(), Reason::Broken);
                None
            }
        }
    }

    /// Writes one frame to one subscription, expiring it instead when it is idle or closed.
    /// Returns the stream's enqueued byte total when the frame was queued.
    pub(super) fn publish_one(
        &self,
        sub: &Arc<Subscription>,
        selector: &str,
        body: &Bytes,
    ) -> Option<u64> {
        if self.is_expired(sub, self.now_ms()) {
            self.queue_unsubscribe(sub.clone(), Reason::Expired);
            return None;
        }
        let outcome = sub.stream.push_frame(
            selector,
            body,
            self.config.newlines_before_frame,
            &self.faults,
        );
        if matches!(outcome, PushOutcome::Queued(_)) {
            bump(&self.counters.notifications_sent);
            if let Some(hook) = &self.config.hooks.on_publish {
                hook(&sub.id, selector, body);
            }
        }
        self.handle_outcome(sub, outcome)
    }

    pub(super) fn publish_to(&self, subs: &[Arc<Subscription>], selector: &str, body: &Bytes) {
        for sub in subs {
            self.publish_one(sub, selector, body);
        }
    }

    pub(super) fn recipients(
        &self,
        target: Target<'_>,
        filter: Option<&str>,
    ) -> Vec<Arc<Subscription>> {
        let subs = match target {
            Target::All => self.all_sorted(),
            Target::Channel(ch) => Indexes::members(&read(&self.indexes).channels, ch),
            Target::Subscription(id) => self.get(id).into_iter().collect(),
            Target::UserId(k) => Indexes::members(&read(&self.indexes).user_ids, k),
            Target::UserName(k) => Indexes::members(&read(&self.indexes).user_names, k),
            Target::Session(k) => Indexes::members(&read(&self.indexes).sessions, k),
        };
        if filter.is_none() {
            return subs;
        }
        subs.into_iter().filter(|s| s.has_channel(filter)).collect()
    }

    /// Whether this node holds a subscription that `target` (within `filter`) names.
    pub(crate) fn holds_recipients(&self, target: Target<'_>, filter: Option<&str>) -> bool {
        !self.recipients(target, filter).is_empty()
    }

    /// The one notify entry point: writes the frame to every subscription `target` names
    /// (only those in `filter`, when given), then ends the subscriptions that turned out to be
    /// gone. `Target::Channel` writes the selector as `channel@selector`.
    pub(crate) fn notify(
        &self,
        target: Target<'_>,
        selector: &str,
        body: &Bytes,
        filter: Option<&str>,
    ) {
        self.write_to(target, selector, body, filter);
        self.process_pending();
    }

    /// [`notify`](Self::notify) without draining the cleanup queue, for notices sent while
    /// registering or unsubscribing (joins, leaves, updates), whose caller drains. With a
    /// cluster link the notification leaves through it and comes back through
    /// [`deliver`](Self::deliver) on every node.
    pub(super) fn write_to(
        &self,
        target: Target<'_>,
        selector: &str,
        body: &Bytes,
        filter: Option<&str>,
    ) {
        match self.cluster() {
            Some(link) => link.publish(target, selector, body, filter),
            None => self.write_local(target, selector, body, filter),
        }
    }

    /// A notification that came from the cluster: written to this node's recipients only.
    pub(crate) fn deliver(
        &self,
        target: Target<'_>,
        selector: &str,
        body: &Bytes,
        filter: Option<&str>,
    ) {
        // A subscription still waiting for its barrier would get notifications published
        // before it was created (read late from the topic): they are not its to receive.
        let subs: Vec<Arc<Subscription>> = self
            .recipients(target, filter)
            .into_iter()
            .filter(|sub| sub.receives_cluster_for(target, filter))
            .collect();
        self.write_frames(target, &subs, selector, body);
        self.process_pending();
    }

    fn write_local(&self, target: Target<'_>, selector: &str, body: &Bytes, filter: Option<&str>) {
        let subs = self.recipients(target, filter);
        self.write_frames(target, &subs, selector, body);
    }

    fn write_frames(
        &self,
        target: Target<'_>,
        subs: &[Arc<Subscription>],
        selector: &str,
        body: &Bytes,
    ) {
        if subs.is_empty() {
            return;
        }
        match target {
            Target::Channel(channel) => {
                self.publish_to(subs, &format!("{channel}@{selector}"), body);
            }
            _ => self.publish_to(subs, selector, body),
        }
    }

    pub(crate) fn publish_raw(&self, id: &str, bytes: &[u8]) -> bool {
        let Some(sub) = self.get(id) else {
            return false;
        };
        let ok = self
            .handle_outcome(&sub, sub.stream.push_raw(Bytes::copy_from_slice(bytes)))
            .is_some();
        self.process_pending();
        ok
    }

    /// `FlushNopAsync`: a bare `"\n"` to every member of the channel.
    pub(super) fn flush_nop(&self, channel: &str) {
        let members = Indexes::members(&read(&self.indexes).channels, channel);
        let now = self.now_ms();
        for sub in members {
            if self.is_expired(&sub, now) {
                self.queue_unsubscribe(sub.clone(), Reason::Expired);
            }
            self.handle_outcome(&sub, sub.stream.push_raw(Bytes::from_static(b"\n")));
        }
    }
}
