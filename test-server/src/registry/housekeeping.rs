//! Ending subscriptions: the cleanup queue filled while publishing (expired, broken and slow
//! subscriptions), its draining (`DoAsyncTasks`), unsubscription with `OnUnsubscribe` and
//! `cmd.onLeave`, dropped connections, and the expiry sweep.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::Shared;
use super::publish::Target;
use super::stats::bump;
use super::subscription::Subscription;
use crate::frame::CloseMode;
use crate::util::{lock, read, write};

/// How long a dropped connection stays subscribed before it is unsubscribed (with `onLeave`),
/// so that an unregister racing the close (the TS client closes first) still finds it.
const DISCONNECT_GRACE: Duration = Duration::from_millis(100);

/// Why a subscription is being dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reason {
    /// Idle for longer than the idle timeout: the stream is ended cleanly.
    Expired,
    /// Its connection is gone or a write was cut: the connection is aborted.
    Broken,
    /// It fell more than `subscriber_buffer_bytes` behind: the connection is aborted.
    SlowConsumer,
}

/// Work queued while publishing and done afterwards, by one drainer at a time: a caller that
/// finds another draining leaves its items to it, and the drainer re-checks the queue after
/// releasing, so nothing queued is ever stranded.
pub(super) struct CleanupQueue<T> {
    pending: Mutex<Vec<T>>,
    draining: AtomicBool,
}

impl<T> Default for CleanupQueue<T> {
    fn default() -> Self {
        CleanupQueue {
            pending: Mutex::new(Vec::new()),
            draining: AtomicBool::new(false),
        }
    }
}

impl<T> CleanupQueue<T> {
    pub(super) fn push(&self, item: T) {
        lock(&self.pending).push(item);
    }

    pub(super) fn clear(&self) {
        lock(&self.pending).clear();
    }

    /// Runs `handle` on every queued item, including items queued while draining (by
    /// `handle` itself or by other threads), unless another caller is already draining.
    pub(super) fn drain(&self, mut handle: impl FnMut(T)) {
        loop {
            if self
                .draining
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
            {
                // Another caller is draining and will pick up what we queued.
                return;
            }
            loop {
                let batch = std::mem::take(&mut *lock(&self.pending));
                if batch.is_empty() {
                    break;
                }
                for item in batch {
                    handle(item);
                }
            }
            self.draining.store(false, Ordering::Release);
            if lock(&self.pending).is_empty() {
                return;
            }
        }
    }
}

impl Shared {
    pub(super) fn queue_unsubscribe(&self, sub: Arc<Subscription>, reason: Reason) {
        self.cleanup.push((sub, reason));
    }

    /// Removes a subscription from every index, closes its stream and sends `cmd.onLeave` to
    /// the remaining members of its channels. Returns false if it was not registered.
    pub(super) fn unsubscribe(&self, sub: &Arc<Subscription>, mode: CloseMode) -> bool {
        let channels = sub.channels();
        if !write(&self.indexes).remove_subscription(sub, &channels) {
            return false;
        }
        bump(&self.counters.total_unsubscriptions);
        if let Some(link) = self.cluster() {
            link.removed(sub);
        }
        if let Some(hook) = &self.config.hooks.on_unsubscribe {
            hook(&sub.info());
        }
        sub.stream.close(mode);
        if self.config.notify_channel_of_subscriptions && !self.is_shutting_down() {
            let meta = sub.meta_json();
            for ch in &channels {
                self.write_to(Target::Channel(ch), "cmd.onLeave", &meta, None);
            }
        }
        true
    }

    /// Processes queued unsubscriptions until none are left.
    pub(super) fn process_pending(&self) {
        self.cleanup.drain(|(sub, reason)| {
            let mode = match reason {
                Reason::Expired => CloseMode::Graceful,
                Reason::Broken | Reason::SlowConsumer => CloseMode::Abort,
            };
            if self.unsubscribe(&sub, mode) {
                bump(match reason {
                    Reason::Expired => &self.counters.expired_subscriptions,
                    Reason::Broken => &self.counters.broken_connections,
                    Reason::SlowConsumer => &self.counters.slow_consumers_dropped,
                });
            }
        });
    }

    /// Called when an event-stream body is dropped (connection gone or response finished).
    pub(crate) fn stream_gone(self: &Arc<Self>, serial: u64, sub: Option<Arc<Subscription>>) {
        lock(&self.streams).remove(&serial);
        let Some(sub) = sub else { return };
        if self.is_shutting_down() || !read(&self.indexes).is_registered(&sub) {
            return;
        }
        let shared = self.clone();
        let finish = move || {
            if shared.unsubscribe(&sub, CloseMode::Abort) {
                bump(&shared.counters.broken_connections);
            }
            shared.process_pending();
        };
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(async move {
                    tokio::time::sleep(DISCONNECT_GRACE).await;
                    finish();
                });
            }
            Err(_) => finish(),
        }
    }

    /// `RemoveExpiredSubscriptions`; `throttled` applies the housekeeping interval.
    pub(crate) fn remove_expired(&self, throttled: bool) -> usize {
        let now = self.now_ms();
        if throttled {
            let interval =
                u64::try_from(self.config.housekeeping_interval.as_millis()).unwrap_or(u64::MAX);
            let last = self.last_clean_ms.load(Ordering::Acquire);
            if now.saturating_sub(last) <= interval
                || self
                    .last_clean_ms
                    .compare_exchange(last, now, Ordering::AcqRel, Ordering::Acquire)
                    .is_err()
            {
                self.process_pending();
                return 0;
            }
        } else {
            self.last_clean_ms.store(now, Ordering::Release);
        }
        let expired: Vec<Arc<Subscription>> = read(&self.indexes)
            .subs
            .values()
            .filter(|s| self.is_expired(s, now))
            .cloned()
            .collect();
        let count = expired.len();
        for sub in expired {
            self.queue_unsubscribe(sub, Reason::Expired);
        }
        self.process_pending();
        count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drain_handles_items_queued_while_draining() {
        let queue = CleanupQueue::default();
        queue.push(1);
        queue.push(2);
        let mut seen = Vec::new();
        queue.drain(|n| {
            seen.push(n);
            if n < 4 {
                queue.push(n + 2);
            }
        });
        assert_eq!(seen, [1, 2, 3, 4, 5]);
        let mut again = 0;
        queue.drain(|_| again += 1);
        assert_eq!(again, 0, "nothing left behind");
    }

    #[test]
    fn a_nested_drain_leaves_its_items_to_the_running_one() {
        let queue = CleanupQueue::default();
        queue.push("outer");
        let mut order = Vec::new();
        queue.drain(|item| {
            order.push(item);
            if item == "outer" {
                queue.push("inner");
                // Re-entrant drain (a notify inside an unsubscribe): returns at once.
                queue.drain(|_| panic!("the nested drain must not run items"));
            }
        });
        assert_eq!(order, ["outer", "inner"]);
    }

    #[test]
    fn concurrent_pushes_are_all_handled() {
        let queue = Arc::new(CleanupQueue::default());
        let handled = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (queue, handled) = (queue.clone(), handled.clone());
                std::thread::spawn(move || {
                    for i in 0..500 {
                        queue.push(i);
                        queue.drain(|_| {
                            handled.fetch_add(1, Ordering::Relaxed);
                        });
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        // No final drain: an item left to a drainer that was just finishing must have been
        // picked up by that drainer's re-check.
        assert_eq!(handled.load(Ordering::Relaxed), 2000);
    }
}
