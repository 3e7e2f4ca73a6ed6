//! The bounded queue behind [`ServerEventsClient::messages`](crate::ServerEventsClient::messages)
//! (and, with no bound in practice, behind
//! [`ServerEventsClient::state_changes`](crate::ServerEventsClient::state_changes)).
//!
//! Policy when full: the **oldest** queued item is dropped to make room, so the connection task
//! never waits for a slow reader (waiting would delay heartbeats, every other callback and every
//! other stream). Dropping starts an *overflow episode*, which the pusher learns about once (to
//! report it through `on_exception`); the episode ends when the reader has brought the queue
//! down to half its bound, so a steadily slow reader gets one report per episode, not one per
//! dropped item.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use futures_util::Stream;

struct State<T> {
    items: VecDeque<T>,
    bound: usize,
    waker: Option<Waker>,
    /// No more items will come (the client closed).
    closed: bool,
    /// The reader is gone.
    abandoned: bool,
    /// Dropping since the last report; ends when the queue is down to half the bound.
    overflowing: bool,
    /// Items dropped in the current overflow episode.
    dropped_in_episode: u64,
}

/// What a push did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// Queued.
    Queued,
    /// Queued after dropping the oldest item; the first drop of an overflow episode.
    DroppedOldestFirst,
    /// Queued after dropping the oldest item, in an episode already reported.
    DroppedOldest,
    /// The reader is gone; forget this queue.
    Abandoned,
}

fn lock<T>(state: &Mutex<State<T>>) -> MutexGuard<'_, State<T>> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The writing end.
pub(crate) struct QueueSender<T> {
    state: Arc<Mutex<State<T>>>,
}

/// The reading end: a [`Stream`] that ends once the sender closed and everything was read.
pub(crate) struct QueueReceiver<T> {
    state: Arc<Mutex<State<T>>>,
}

/// A queue holding at most `bound` items (at least one).
pub(crate) fn bounded<T>(bound: usize) -> (QueueSender<T>, QueueReceiver<T>) {
    let state = Arc::new(Mutex::new(State {
        items: VecDeque::new(),
        bound: bound.max(1),
        waker: None,
        closed: false,
        abandoned: false,
        overflowing: false,
        dropped_in_episode: 0,
    }));
    (
        QueueSender {
            state: state.clone(),
        },
        QueueReceiver { state },
    )
}

impl<T> QueueSender<T> {
    /// Queues `item`, dropping the oldest queued item when the queue is full.
    pub(crate) fn push(&self, item: T) -> Pushed {
        let mut state = lock(&self.state);
        if state.abandoned {
            return Pushed::Abandoned;
        }
        let mut pushed = Pushed::Queued;
        if state.items.len() >= state.bound {
            state.items.pop_front();
            state.dropped_in_episode += 1;
            pushed = if state.overflowing {
                Pushed::DroppedOldest
            } else {
                state.overflowing = true;
                Pushed::DroppedOldestFirst
            };
        }
        state.items.push_back(item);
        if let Some(waker) = state.waker.take() {
            waker.wake();
        }
        pushed
    }

    /// The queue's bound.
    pub(crate) fn bound(&self) -> usize {
        lock(&self.state).bound
    }
}

impl<T> Drop for QueueSender<T> {
    fn drop(&mut self) {
        let mut state = lock(&self.state);
        state.closed = true;
        if let Some(waker) = state.waker.take() {
            waker.wake();
        }
    }
}

impl<T> Stream for QueueReceiver<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut state = lock(&self.state);
        if let Some(item) = state.items.pop_front() {
            if state.overflowing && state.items.len() <= state.bound / 2 {
                state.overflowing = false;
                state.dropped_in_episode = 0;
            }
            return Poll::Ready(Some(item));
        }
        if state.closed {
            return Poll::Ready(None);
        }
        state.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl<T> Drop for QueueReceiver<T> {
    fn drop(&mut self) {
        let mut state = lock(&self.state);
        state.abandoned = true;
        state.items.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;
    use futures_util::future::FutureExt;

    fn next_now<T>(receiver: &mut QueueReceiver<T>) -> Option<Option<T>> {
        receiver.next().now_or_never()
    }

    #[test]
    fn a_full_queue_drops_the_oldest_and_reports_once_per_episode() {
        let (sender, mut receiver) = bounded(4);
        let pushes: Vec<Pushed> = (0..10).map(|i| sender.push(i)).collect();
        assert_eq!(&pushes[..4], &[Pushed::Queued; 4]);
        assert_eq!(pushes[4], Pushed::DroppedOldestFirst);
        assert_eq!(&pushes[5..], &[Pushed::DroppedOldest; 5]);
        let kept: Vec<i32> = (0..4).filter_map(|_| next_now(&mut receiver)?).collect();
        assert_eq!(kept, vec![6, 7, 8, 9], "the newest are kept, in order");
        assert_eq!(next_now(&mut receiver), None, "empty: pending");
        // The reader caught up, so the next overflow is a new episode, reported again.
        let pushes: Vec<Pushed> = (10..15).map(|i| sender.push(i)).collect();
        assert_eq!(pushes[4], Pushed::DroppedOldestFirst);
    }

    #[test]
    fn the_episode_lasts_until_the_reader_is_down_to_half() {
        let (sender, mut receiver) = bounded(4);
        for i in 0..5 {
            sender.push(i);
        }
        assert_eq!(next_now(&mut receiver), Some(Some(1)));
        assert_eq!(sender.push(5), Pushed::Queued);
        assert_eq!(
            sender.push(6),
            Pushed::DroppedOldest,
            "still the same episode"
        );
        next_now(&mut receiver);
        next_now(&mut receiver);
        assert_eq!(sender.push(7), Pushed::Queued);
        assert_eq!(sender.push(8), Pushed::Queued);
        assert_eq!(sender.push(9), Pushed::DroppedOldestFirst, "a new episode");
    }

    #[test]
    fn closing_ends_the_stream_after_the_queued_items() {
        let (sender, mut receiver) = bounded(2);
        sender.push("a");
        drop(sender);
        assert_eq!(next_now(&mut receiver), Some(Some("a")));
        assert_eq!(next_now(&mut receiver), Some(None));
    }

    #[test]
    fn a_dropped_reader_abandons_the_queue() {
        let (sender, receiver) = bounded(2);
        drop(receiver);
        assert_eq!(sender.push(1), Pushed::Abandoned);
        assert_eq!(sender.bound(), 2);
    }
}
