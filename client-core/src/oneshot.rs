//! A one-value channel for the `connect()` and `wait_for_next_*` waiters: one mutex around one
//! slot. The waiters need nothing more, and this is a fraction of the size of a lock-free
//! channel in the wasm module (where the mutex is free: there is one thread). It is as correct
//! on a multi-threaded runtime, where the sender and the receiver may live on different threads.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

struct Slot<T> {
    value: Option<T>,
    /// The receiver's waker while it waits.
    waker: Option<Waker>,
    /// The sender sent or was dropped: no value will come after `value`.
    sender_gone: bool,
    /// The receiver was dropped: a value sent now would never be read.
    receiver_gone: bool,
}

/// The sender was dropped without sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Canceled;

/// The sending end; sending consumes it.
pub(crate) struct Sender<T> {
    slot: Arc<Mutex<Slot<T>>>,
}

/// The receiving end: a future of the value, or [`Canceled`] when the sender was dropped
/// without sending.
pub(crate) struct Receiver<T> {
    slot: Arc<Mutex<Slot<T>>>,
}

fn lock<T>(slot: &Mutex<Slot<T>>) -> MutexGuard<'_, Slot<T>> {
    // No code that can panic runs under the lock, so a poisoned lock is still consistent.
    slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A new channel.
pub(crate) fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let slot = Arc::new(Mutex::new(Slot {
        value: None,
        waker: None,
        sender_gone: false,
        receiver_gone: false,
    }));
    (Sender { slot: slot.clone() }, Receiver { slot })
}

impl<T> Sender<T> {
    /// Sends `value`; gives it back when the receiver is gone.
    pub(crate) fn send(self, value: T) -> Result<(), T> {
        let mut slot = lock(&self.slot);
        if slot.receiver_gone {
            return Err(value);
        }
        slot.value = Some(value);
        Ok(())
        // Dropping `self` marks the sender gone and wakes the receiver.
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let waker = {
            let mut slot = lock(&self.slot);
            slot.sender_gone = true;
            slot.waker.take()
        };
        // Woken outside the lock: the receiver's task may be polled on another thread at once.
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<T> Future for Receiver<T> {
    type Output = Result<T, Canceled>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut slot = lock(&self.slot);
        if let Some(value) = slot.value.take() {
            return Poll::Ready(Ok(value));
        }
        if slot.sender_gone {
            return Poll::Ready(Err(Canceled));
        }
        slot.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let mut slot = lock(&self.slot);
        slot.receiver_gone = true;
        // A value sent but never read is dropped with the receiver, not kept by the sender.
        slot.value = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt;

    #[test]
    fn delivers_the_value_sent_before_or_after_the_first_poll() {
        let (sender, receiver) = channel();
        sender.send(1).unwrap();
        assert_eq!(receiver.now_or_never(), Some(Ok(1)));

        let (sender, mut receiver) = channel();
        assert_eq!(
            (&mut receiver).now_or_never(),
            None,
            "nothing sent yet: pending"
        );
        sender.send(2).unwrap();
        assert_eq!(receiver.now_or_never(), Some(Ok(2)));
    }

    #[test]
    fn a_sender_dropped_without_sending_cancels() {
        let (sender, mut receiver) = channel::<i32>();
        assert_eq!((&mut receiver).now_or_never(), None);
        drop(sender);
        assert_eq!(receiver.now_or_never(), Some(Err(Canceled)));
    }

    #[test]
    fn sending_to_a_dropped_receiver_gives_the_value_back() {
        let (sender, receiver) = channel();
        drop(receiver);
        assert_eq!(sender.send("unread"), Err("unread"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn wakes_a_receiver_waiting_on_another_thread() {
        let (sender, receiver) = channel();
        let waiting = tokio::spawn(receiver);
        tokio::task::yield_now().await;
        std::thread::spawn(move || sender.send(7).unwrap())
            .join()
            .unwrap();
        let received = tokio::time::timeout(std::time::Duration::from_secs(5), waiting).await;
        assert_eq!(received.unwrap().unwrap(), Ok(7));
    }
}
