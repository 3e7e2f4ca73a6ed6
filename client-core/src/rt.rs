//! Platform shims: spawning, sleeping and clocks. Nothing else in the crate names tokio or the
//! browser's timers, so the core compiles unchanged for native targets and for
//! `wasm32-unknown-unknown`.

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
    browser_timer::Sleep::new(duration).await;
}

/// `setTimeout` as a future: one JavaScript timer per sleep, cleared when the sleep is dropped
/// before it fired. (A timer crate would bring a cross-thread channel and a closure wrapper for
/// what is one flag and one waker on a single thread.)
#[cfg(target_arch = "wasm32")]
mod browser_timer {
    use std::cell::Cell;
    use std::future::Future;
    use std::pin::Pin;
    use std::rc::Rc;
    use std::task::{Context, Poll, Waker};
    use std::time::Duration;

    use wasm_bindgen::prelude::*;

    #[wasm_bindgen]
    extern "C" {
        /// The global `setTimeout` (browsers and Node); the handle is a number or an object.
        #[wasm_bindgen(js_name = setTimeout)]
        fn set_timeout(callback: &Closure<dyn FnMut()>, millis: f64) -> JsValue;
        #[wasm_bindgen(js_name = clearTimeout)]
        fn clear_timeout(handle: &JsValue);
    }

    /// What the timer's callback and the future share.
    #[derive(Default)]
    struct Fired {
        fired: Cell<bool>,
        waker: Cell<Option<Waker>>,
    }

    /// Resolves once `duration` has passed.
    pub(crate) struct Sleep {
        fired: Rc<Fired>,
        handle: JsValue,
        /// Kept alive until the timer fired or was cleared.
        _callback: Closure<dyn FnMut()>,
    }

    /// The longest delay `setTimeout` honours (2^31 - 1 ms, about 24.8 days); a longer one
    /// would fire at once, so longer sleeps end after this.
    const MAX_MILLIS: u64 = i32::MAX as u64;

    impl Sleep {
        pub(crate) fn new(duration: Duration) -> Sleep {
            let fired = Rc::new(Fired::default());
            let callback = {
                let fired = fired.clone();
                Closure::<dyn FnMut()>::own_aborting(move || {
                    fired.fired.set(true);
                    if let Some(waker) = fired.waker.take() {
                        waker.wake();
                    }
                })
            };
            let millis = duration
                .as_secs()
                .saturating_mul(1000)
                .saturating_add(u64::from(duration.subsec_millis()))
                .min(MAX_MILLIS);
            let handle = set_timeout(&callback, millis as f64);
            Sleep {
                fired,
                handle,
                _callback: callback,
            }
        }
    }

    impl Future for Sleep {
        type Output = ();

        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if self.fired.fired.get() {
                Poll::Ready(())
            } else {
                self.fired.waker.set(Some(cx.waker().clone()));
                Poll::Pending
            }
        }
    }

    impl Drop for Sleep {
        fn drop(&mut self) {
            if !self.fired.fired.get() {
                clear_timeout(&self.handle);
            }
        }
    }
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
