//! Platform shims: spawning, sleeping and clocks. Nothing else in the crate names tokio or gloo,
//! so the core compiles unchanged for native targets and for `wasm32-unknown-unknown`.

use std::future::{Future, poll_fn};
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

#[cfg(not(target_arch = "wasm32"))]
pub use std::time::{Instant, SystemTime, UNIX_EPOCH};
#[cfg(target_arch = "wasm32")]
pub use web_time::{Instant, SystemTime, UNIX_EPOCH};

/// The clock of the crate's timers: tokio's on native targets, so the lifecycle follows a paused
/// clock in tests.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) use tokio::time::Instant as Clock;
#[cfg(target_arch = "wasm32")]
pub(crate) use web_time::Instant as Clock;

/// `Send` on native targets, nothing on wasm32 (where JavaScript values are never `Send`).
#[cfg(not(target_arch = "wasm32"))]
pub trait MaybeSend: Send {}
#[cfg(not(target_arch = "wasm32"))]
impl<T: Send + ?Sized> MaybeSend for T {}
/// `Send` on native targets, nothing on wasm32 (where JavaScript values are never `Send`).
#[cfg(target_arch = "wasm32")]
pub trait MaybeSend {}
#[cfg(target_arch = "wasm32")]
impl<T: ?Sized> MaybeSend for T {}

/// `Sync` on native targets, nothing on wasm32.
#[cfg(not(target_arch = "wasm32"))]
pub trait MaybeSync: Sync {}
#[cfg(not(target_arch = "wasm32"))]
impl<T: Sync + ?Sized> MaybeSync for T {}
/// `Sync` on native targets, nothing on wasm32.
#[cfg(target_arch = "wasm32")]
pub trait MaybeSync {}
#[cfg(target_arch = "wasm32")]
impl<T: ?Sized> MaybeSync for T {}

/// Where background tasks run: the tokio runtime that was current when the client started
/// (kept so a client dropped outside the runtime can still unregister), or the browser's
/// microtask queue.
#[derive(Clone, Debug)]
pub(crate) struct Spawner {
    #[cfg(not(target_arch = "wasm32"))]
    handle: tokio::runtime::Handle,
}

impl Spawner {
    /// The spawner of the calling context, or `None` outside a tokio runtime.
    pub(crate) fn current() -> Option<Spawner> {
        #[cfg(not(target_arch = "wasm32"))]
        {
            tokio::runtime::Handle::try_current()
                .ok()
                .map(|handle| Spawner { handle })
        }
        #[cfg(target_arch = "wasm32")]
        {
            Some(Spawner {})
        }
    }

    /// Runs `future` in the background.
    #[cfg(not(target_arch = "wasm32"))]
    pub(crate) fn spawn<F>(&self, future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(self.handle.spawn(future));
    }

    /// Runs `future` in the background.
    #[cfg(target_arch = "wasm32")]
    pub(crate) fn spawn<F>(&self, future: F)
    where
        F: Future<Output = ()> + 'static,
    {
        wasm_bindgen_futures::spawn_local(future);
    }
}

/// Waits for `duration`.
pub(crate) async fn sleep(duration: Duration) {
    #[cfg(not(target_arch = "wasm32"))]
    tokio::time::sleep(duration).await;
    #[cfg(target_arch = "wasm32")]
    gloo_timers::future::sleep(duration).await;
}

/// Runs `future` for at most `limit`; `None` when the time ran out first (`future` wins a tie).
pub(crate) async fn timeout<F: Future>(limit: Duration, future: F) -> Option<F::Output> {
    let mut future = pin!(future);
    let mut timer = pin!(sleep(limit));
    poll_fn(|cx| {
        if let Poll::Ready(output) = future.as_mut().poll(cx) {
            return Poll::Ready(Some(output));
        }
        timer.as_mut().poll(cx).map(|()| None)
    })
    .await
}
