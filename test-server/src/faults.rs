//! Runtime fault injection, shared by every handler of one server instance.

use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;

/// Fault switches of one server instance. Cheap to clone; all clones share the same state.
///
/// Counts are consumed one per matching event; `usize::MAX` means "until [`Faults::clear`]".
#[derive(Clone, Default)]
pub struct Faults {
    inner: Arc<FaultsInner>,
}

#[derive(Default)]
struct FaultsInner {
    fail_status: AtomicU16,
    fail_count: AtomicUsize,
    fail_retry_after_secs: AtomicU64,
    stall_count: AtomicUsize,
    cut_count: AtomicUsize,
    delay_ms: AtomicU64,
    reject_hb_status: AtomicU16,
    reject_hb_count: AtomicUsize,
    held_by_delay: AtomicUsize,
    foreign_urls_count: AtomicUsize,
    foreign_urls_origin: Mutex<String>,
    html_count: AtomicUsize,
    redirect_count: AtomicUsize,
    redirect_origin: Mutex<String>,
    cluster_topic_paused: AtomicBool,
    cluster_topic_resumed: tokio::sync::Notify,
}

fn lock(text: &Mutex<String>) -> MutexGuard<'_, String> {
    text.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A snapshot of the fault switches, as reported by `POST /test/faults` and `GET /test/stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultsSnapshot {
    /// Status answered by failing streams.
    pub fail_streams_status: u16,
    /// Streams still to fail (`usize::MAX` = until cleared).
    pub fail_streams_count: usize,
    /// The `Retry-After` seconds failing streams send (0 = no header).
    pub fail_streams_retry_after_secs: u64,
    /// Streams still to stall.
    pub stall_streams_count: usize,
    /// Frames still to cut.
    pub cut_streams_mid_frame_count: usize,
    /// Delay added to every response, in milliseconds.
    pub delay_responses_ms: u64,
    /// Status answered by rejected heartbeats.
    pub reject_heartbeats_status: u16,
    /// Heartbeats still to reject.
    pub reject_heartbeats_count: usize,
    /// Requests being held by the response delay right now (so a test knows one has reached it).
    pub requests_held_by_delay: usize,
    /// Streams still to get their `cmd.onConnect` URLs on a foreign origin.
    pub foreign_connect_urls_count: usize,
    /// That origin, or `""` for "this server's URL with the host `127.0.0.2`".
    pub foreign_connect_urls_origin: String,
    /// Streams still to answer `200 text/html`.
    pub html_streams_count: usize,
    /// Streams still to be redirected to another origin.
    pub redirect_streams_count: usize,
    /// Where they are redirected (the origin; path and query are kept).
    pub redirect_streams_origin: String,
}

/// Takes one unit from a counter; `usize::MAX` is never decremented.
fn take(counter: &AtomicUsize) -> bool {
    let mut current = counter.load(Ordering::Acquire);
    loop {
        if current == 0 {
            return false;
        }
        if current == usize::MAX {
            return true;
        }
        match counter.compare_exchange_weak(
            current,
            current - 1,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => return true,
            Err(actual) => current = actual,
        }
    }
}

impl Faults {
    /// The next `count` `GET` requests on the stream path answer `status` (e.g. 500) before any
    /// stream header is written. `usize::MAX` = until cleared.
    pub fn fail_streams(&self, status: u16, count: usize) {
        self.fail_streams_with_retry_after(status, count, None);
    }

    /// Like [`fail_streams`](Self::fail_streams), the failures carrying `Retry-After: <seconds>`
    /// (as a proxy or a busy server sends with 503 or 429). `None` sends no header.
    pub fn fail_streams_with_retry_after(
        &self,
        status: u16,
        count: usize,
        retry_after: Option<Duration>,
    ) {
        // Whole seconds, rounded up: the header has no fractions.
        let seconds = retry_after.map_or(0, |after| {
            after.as_secs() + u64::from(after.subsec_nanos() > 0)
        });
        self.inner
            .fail_retry_after_secs
            .store(seconds, Ordering::Release);
        self.inner.fail_status.store(status, Ordering::Release);
        self.inner.fail_count.store(count, Ordering::Release);
    }

    /// The next `count` streams send the stream headers, flush, then nothing at all (no
    /// `cmd.onConnect`, no subscription); they are held open until the client leaves, the
    /// server shuts down or [`ServerEvents::disconnect_all`](crate::ServerEvents::disconnect_all).
    pub fn stall_streams(&self, count: usize) {
        self.inner.stall_count.store(count, Ordering::Release);
    }

    /// The next `count` frames written (to any stream) are cut half-way and that connection is
    /// closed; the subscription is then dropped like after a broken write (`cmd.onLeave`).
    pub fn cut_streams_mid_frame(&self, count: usize) {
        self.inner.cut_count.store(count, Ordering::Release);
    }

    /// Every non-stream response, and the stream's headers, are delayed by this much.
    /// `Duration::ZERO` switches the delay off. The `/test/*` control routes are never delayed.
    pub fn delay_responses(&self, delay: Duration) {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.inner.delay_ms.store(ms, Ordering::Release);
    }

    /// The next `count` heartbeats answer `status` without pulsing.
    pub fn reject_heartbeats(&self, status: u16, count: usize) {
        self.inner.reject_hb_status.store(status, Ordering::Release);
        self.inner.reject_hb_count.store(count, Ordering::Release);
    }

    /// The next `count` streams announce their `heartbeatUrl`, `unRegisterUrl` and
    /// `updateSubscriberUrl` on another origin: `origin` (`scheme://host:port`), or, when
    /// `None`, this server's own URL with the host replaced by `127.0.0.2` (a loopback address
    /// the server does not listen on). Path and query stay as they are. This is what a hostile
    /// server, or one reporting its internal address behind a proxy, does.
    pub fn foreign_connect_urls(&self, origin: Option<&str>, count: usize) {
        *lock(&self.inner.foreign_urls_origin) = origin.unwrap_or_default().to_owned();
        self.inner
            .foreign_urls_count
            .store(count, Ordering::Release);
    }

    /// The next `count` stream requests answer `200` with `Content-Type: text/html`: a page
    /// whose lines look like SSE frames (a `cmd.onConnect` and a message), as a login page or
    /// a captive portal might.
    pub fn html_streams(&self, count: usize) {
        self.inner.html_count.store(count, Ordering::Release);
    }

    /// The next `count` stream requests answer `302 Found` to the same path and query on
    /// `origin` (`scheme://host:port`).
    pub fn redirect_streams(&self, origin: &str, count: usize) {
        *lock(&self.inner.redirect_origin) = origin.trim_end_matches('/').to_owned();
        self.inner.redirect_count.store(count, Ordering::Release);
    }

    /// For tests of the Redis scale-out: this node stops applying what its Redis listener
    /// receives (`sse:topic` notifications and its own subscription barriers) until
    /// [`resume_cluster_topic`](Self::resume_cluster_topic). Nothing is lost: the messages
    /// wait in order, as they would behind a slow node. It makes "a notification published
    /// before a subscription existed reaches this node only after it was created" happen on
    /// purpose. No effect without Redis.
    pub fn pause_cluster_topic(&self) {
        self.inner
            .cluster_topic_paused
            .store(true, Ordering::Release);
    }

    /// Ends [`pause_cluster_topic`](Self::pause_cluster_topic): the held messages are applied.
    pub fn resume_cluster_topic(&self) {
        self.inner
            .cluster_topic_paused
            .store(false, Ordering::Release);
        self.inner.cluster_topic_resumed.notify_waiters();
    }

    /// Returns once the cluster topic is not paused (at once when it is not).
    pub(crate) async fn cluster_topic_open(&self) {
        loop {
            // Registered before the check, so a resume between the two is not missed.
            let resumed = self.inner.cluster_topic_resumed.notified();
            if !self.inner.cluster_topic_paused.load(Ordering::Acquire) {
                return;
            }
            resumed.await;
        }
    }

    /// Switches every fault off.
    pub fn clear(&self) {
        self.resume_cluster_topic();
        self.inner.foreign_urls_count.store(0, Ordering::Release);
        self.inner.html_count.store(0, Ordering::Release);
        self.inner.redirect_count.store(0, Ordering::Release);
        self.inner.fail_count.store(0, Ordering::Release);
        self.inner.stall_count.store(0, Ordering::Release);
        self.inner.cut_count.store(0, Ordering::Release);
        self.inner.delay_ms.store(0, Ordering::Release);
        self.inner.reject_hb_count.store(0, Ordering::Release);
    }

    /// The current state of every switch.
    pub fn snapshot(&self) -> FaultsSnapshot {
        FaultsSnapshot {
            fail_streams_status: self.inner.fail_status.load(Ordering::Acquire),
            fail_streams_count: self.inner.fail_count.load(Ordering::Acquire),
            fail_streams_retry_after_secs: self.inner.fail_retry_after_secs.load(Ordering::Acquire),
            stall_streams_count: self.inner.stall_count.load(Ordering::Acquire),
            cut_streams_mid_frame_count: self.inner.cut_count.load(Ordering::Acquire),
            delay_responses_ms: self.inner.delay_ms.load(Ordering::Acquire),
            reject_heartbeats_status: self.inner.reject_hb_status.load(Ordering::Acquire),
            reject_heartbeats_count: self.inner.reject_hb_count.load(Ordering::Acquire),
            requests_held_by_delay: self.inner.held_by_delay.load(Ordering::Acquire),
            foreign_connect_urls_count: self.inner.foreign_urls_count.load(Ordering::Acquire),
            foreign_connect_urls_origin: lock(&self.inner.foreign_urls_origin).clone(),
            html_streams_count: self.inner.html_count.load(Ordering::Acquire),
            redirect_streams_count: self.inner.redirect_count.load(Ordering::Acquire),
            redirect_streams_origin: lock(&self.inner.redirect_origin).clone(),
        }
    }

    /// The status (and `Retry-After` seconds, 0 for none) of the next failing stream, if any.
    pub(crate) fn take_fail_stream(&self) -> Option<(u16, u64)> {
        take(&self.inner.fail_count).then(|| {
            (
                self.inner.fail_status.load(Ordering::Acquire),
                self.inner.fail_retry_after_secs.load(Ordering::Acquire),
            )
        })
    }

    pub(crate) fn take_stall_stream(&self) -> bool {
        take(&self.inner.stall_count)
    }

    pub(crate) fn take_cut_frame(&self) -> bool {
        // Fast path: no atomic RMW when the fault is off.
        self.inner.cut_count.load(Ordering::Relaxed) != 0 && take(&self.inner.cut_count)
    }

    pub(crate) fn take_reject_heartbeat(&self) -> Option<u16> {
        take(&self.inner.reject_hb_count)
            .then(|| self.inner.reject_hb_status.load(Ordering::Acquire))
    }

    /// The origin (`""` = the default foreign host) for the next stream's URLs, if foreign.
    pub(crate) fn take_foreign_connect_urls(&self) -> Option<String> {
        take(&self.inner.foreign_urls_count).then(|| lock(&self.inner.foreign_urls_origin).clone())
    }

    pub(crate) fn take_html_stream(&self) -> bool {
        take(&self.inner.html_count)
    }

    /// The origin to redirect the next stream to, if any.
    pub(crate) fn take_redirect_stream(&self) -> Option<String> {
        take(&self.inner.redirect_count).then(|| lock(&self.inner.redirect_origin).clone())
    }

    pub(crate) fn delay(&self) -> Duration {
        Duration::from_millis(self.inner.delay_ms.load(Ordering::Acquire))
    }

    /// Counts a request as held by the delay until the returned guard is dropped.
    pub(crate) fn hold_for_delay(&self) -> HeldByDelay<'_> {
        self.inner.held_by_delay.fetch_add(1, Ordering::AcqRel);
        HeldByDelay(&self.inner.held_by_delay)
    }
}

/// A request held by the response delay; counted in [`FaultsSnapshot::requests_held_by_delay`].
pub(crate) struct HeldByDelay<'a>(&'a AtomicUsize);

impl Drop for HeldByDelay<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl std::fmt::Debug for Faults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.snapshot().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_consumed_and_max_is_sticky() {
        let faults = Faults::default();
        assert_eq!(faults.take_fail_stream(), None);
        faults.fail_streams(503, 2);
        assert_eq!(faults.take_fail_stream(), Some((503, 0)));
        assert_eq!(faults.take_fail_stream(), Some((503, 0)));
        assert_eq!(faults.take_fail_stream(), None);
        faults.fail_streams_with_retry_after(429, 1, Some(Duration::from_millis(1500)));
        assert_eq!(faults.take_fail_stream(), Some((429, 2)), "rounded up");
        faults.stall_streams(usize::MAX);
        for _ in 0..10 {
            assert!(faults.take_stall_stream());
        }
        faults.clear();
        assert!(!faults.take_stall_stream());
        faults.foreign_connect_urls(None, 1);
        assert_eq!(faults.take_foreign_connect_urls(), Some(String::new()));
        assert_eq!(faults.take_foreign_connect_urls(), None);
        faults.redirect_streams("http://127.0.0.2:9/", 1);
        assert_eq!(
            faults.take_redirect_stream().as_deref(),
            Some("http://127.0.0.2:9")
        );
        faults.html_streams(usize::MAX);
        faults.clear();
        assert!(!faults.take_html_stream());
    }
}
