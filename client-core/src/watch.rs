//! A watch channel: the latest value, and a wake-up for every receiver when it changes.
//!
//! The part of tokio's `sync::watch` the supervisor uses, on a std `Mutex` and a list of wakers,
//! so the wasm build needs no tokio (its `Notify`, linked lists and cooperative budget cost the
//! browser module several kilobytes for a channel with one sender and a few receivers). One
//! implementation for every target, so native and browser clients follow the same rules.

use std::future::poll_fn;
use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

struct State<T> {
    value: T,
    /// Bumped by every send that changed the value.
    version: u64,
    /// The sender is gone: receivers waiting for a change get [`Closed`].
    closed: bool,
    /// The tasks waiting for the next change (one entry per task).
    waiting: Vec<Waker>,
}

type Shared<T> = Arc<Mutex<State<T>>>;

fn lock<T>(shared: &Shared<T>) -> MutexGuard<'_, State<T>> {
    // The lock is never held across user code, so a poisoned lock still holds a whole value.
    shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The sender is gone; no change will come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Closed;

/// The one writer of the value.
pub(crate) struct Sender<T> {
    shared: Shared<T>,
}

/// A reader that remembers which version it has seen.
pub(crate) struct Receiver<T> {
    shared: Shared<T>,
    seen: u64,
}

/// The value, borrowed (the channel is locked while this lives: do not hold it across an
/// `await` or a send).
pub(crate) struct Ref<'a, T>(MutexGuard<'a, State<T>>);

impl<T> Deref for Ref<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0.value
    }
}

impl<T> Sender<T> {
    /// A channel holding `value`.
    pub(crate) fn new(value: T) -> Self {
        Sender {
            shared: Arc::new(Mutex::new(State {
                value,
                version: 0,
                closed: false,
                waiting: Vec::new(),
            })),
        }
    }

    /// A receiver that has seen the current value.
    pub(crate) fn subscribe(&self) -> Receiver<T> {
        let seen = lock(&self.shared).version;
        Receiver {
            shared: self.shared.clone(),
            seen,
        }
    }

    /// The current value.
    pub(crate) fn borrow(&self) -> Ref<'_, T> {
        Ref(lock(&self.shared))
    }

    /// Changes the value in place; receivers are woken when `modify` returns `true`.
    pub(crate) fn send_if_modified(&self, modify: impl FnOnce(&mut T) -> bool) -> bool {
        let woken = {
            let mut state = lock(&self.shared);
            if !modify(&mut state.value) {
                return false;
            }
            state.version += 1;
            std::mem::take(&mut state.waiting)
        };
        // Outside the lock: a woken task may run at once (single-threaded executors too).
        woken.into_iter().for_each(Waker::wake);
        true
    }

    /// Changes the value in place and wakes the receivers.
    pub(crate) fn send_modify(&self, modify: impl FnOnce(&mut T)) {
        self.send_if_modified(|value| {
            modify(value);
            true
        });
    }

    /// Replaces the value and wakes the receivers.
    pub(crate) fn send_replace(&self, value: T) {
        self.send_modify(|current| *current = value);
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let woken = {
            let mut state = lock(&self.shared);
            state.closed = true;
            std::mem::take(&mut state.waiting)
        };
        woken.into_iter().for_each(Waker::wake);
    }
}

impl<T> Clone for Receiver<T> {
    /// A receiver that has seen what this one has.
    fn clone(&self) -> Self {
        Receiver {
            shared: self.shared.clone(),
            seen: self.seen,
        }
    }
}

impl<T> Receiver<T> {
    /// The current value, without marking it seen.
    pub(crate) fn borrow(&self) -> Ref<'_, T> {
        Ref(lock(&self.shared))
    }

    /// The current value, marked seen.
    pub(crate) fn borrow_and_update(&mut self) -> Ref<'_, T> {
        let state = lock(&self.shared);
        self.seen = state.version;
        Ref(state)
    }

    /// Ready (and marked seen) once the value changed since this receiver last looked; for
    /// hand-written `poll` functions that wait on several things at once.
    pub(crate) fn poll_changed(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Closed>> {
        let mut state = lock(&self.shared);
        if state.version != self.seen {
            self.seen = state.version;
            return Poll::Ready(Ok(()));
        }
        if state.closed {
            return Poll::Ready(Err(Closed));
        }
        if !state.waiting.iter().any(|w| w.will_wake(cx.waker())) {
            state.waiting.push(cx.waker().clone());
        }
        Poll::Pending
    }

    /// Waits until the value changed since this receiver last looked.
    pub(crate) async fn changed(&mut self) -> Result<(), Closed> {
        poll_fn(|cx| self.poll_changed(cx)).await
    }

    /// Waits until the value satisfies `done` (checking the current value first).
    pub(crate) async fn wait_for(
        &mut self,
        mut done: impl FnMut(&T) -> bool,
    ) -> Result<(), Closed> {
        loop {
            if done(&self.borrow_and_update()) {
                return Ok(());
            }
            self.changed().await?;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    use super::*;

    /// A waker that counts its wake-ups.
    struct Counter(AtomicUsize);

    impl Wake for Counter {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn counter() -> (Arc<Counter>, Waker) {
        let counter = Arc::new(Counter(AtomicUsize::new(0)));
        (counter.clone(), Waker::from(counter))
    }

    #[test]
    fn a_receiver_sees_each_change_once_and_is_woken_for_it() {
        let sender = Sender::new(1);
        let mut receiver = sender.subscribe();
        let (wakes, waker) = counter();
        let mut cx = Context::from_waker(&waker);
        assert_eq!(receiver.poll_changed(&mut cx), Poll::Pending);
        assert_eq!(receiver.poll_changed(&mut cx), Poll::Pending);
        sender.send_replace(2);
        assert_eq!(wakes.0.load(Ordering::SeqCst), 1, "one waker per task");
        assert_eq!(receiver.poll_changed(&mut cx), Poll::Ready(Ok(())));
        assert_eq!(*receiver.borrow(), 2);
        assert_eq!(receiver.poll_changed(&mut cx), Poll::Pending);
    }

    #[test]
    fn an_unmodified_send_wakes_nobody() {
        let sender = Sender::new(1);
        let mut receiver = sender.subscribe();
        let (wakes, waker) = counter();
        let mut cx = Context::from_waker(&waker);
        assert_eq!(receiver.poll_changed(&mut cx), Poll::Pending);
        assert!(!sender.send_if_modified(|_| false));
        assert_eq!(wakes.0.load(Ordering::SeqCst), 0);
        assert_eq!(receiver.poll_changed(&mut cx), Poll::Pending);
        sender.send_modify(|value| *value += 1);
        assert_eq!(wakes.0.load(Ordering::SeqCst), 1);
        assert_eq!(receiver.poll_changed(&mut cx), Poll::Ready(Ok(())));
    }

    #[test]
    fn borrow_and_update_marks_the_value_seen_and_clones_share_what_was_seen() {
        let sender = Sender::new("a");
        let mut receiver = sender.subscribe();
        sender.send_replace("b");
        let mut clone = receiver.clone();
        assert_eq!(*receiver.borrow_and_update(), "b");
        let (_, waker) = counter();
        let mut cx = Context::from_waker(&waker);
        assert_eq!(receiver.poll_changed(&mut cx), Poll::Pending);
        assert_eq!(clone.poll_changed(&mut cx), Poll::Ready(Ok(())));
    }

    #[test]
    fn dropping_the_sender_wakes_and_closes_the_receivers() {
        let sender = Sender::new(0);
        let mut receiver = sender.subscribe();
        let (wakes, waker) = counter();
        let mut cx = Context::from_waker(&waker);
        assert_eq!(receiver.poll_changed(&mut cx), Poll::Pending);
        drop(sender);
        assert_eq!(wakes.0.load(Ordering::SeqCst), 1);
        assert_eq!(receiver.poll_changed(&mut cx), Poll::Ready(Err(Closed)));
    }

    #[test]
    fn wait_for_checks_the_current_value_then_each_change() {
        let sender = Sender::new(0);
        let mut receiver = sender.subscribe();
        let (_, waker) = counter();
        let mut cx = Context::from_waker(&waker);
        assert!(
            pin!(receiver.wait_for(|v| *v == 0))
                .as_mut()
                .poll(&mut cx)
                .is_ready()
        );
        let mut waiting = pin!(receiver.wait_for(|v| *v == 2));
        assert!(waiting.as_mut().poll(&mut cx).is_pending());
        sender.send_replace(1);
        assert!(waiting.as_mut().poll(&mut cx).is_pending());
        sender.send_replace(2);
        assert_eq!(waiting.as_mut().poll(&mut cx), Poll::Ready(Ok(())));
    }
}
