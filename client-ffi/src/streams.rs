//! Pull-based streams for Kotlin `Flow`s and Swift `AsyncStream`s: [`MessageStream`] (every
//! application message) and [`StateStream`] (every connection state change).
//!
//! `next()` waits for the next item and returns `null`/`nil` once the stream has ended (the
//! client was closed, or `cancel()` was called). Items the reader has not taken yet are
//! buffered: state changes all of them, messages up to the `message_buffer` option, past which
//! the oldest are dropped and `MessagesDropped` is reported once per overflow. Dropping a pending `next()` (a cancelled coroutine or task) loses no
//! item; `cancel()` ends a pending `next()` at once.

use std::pin::Pin;
use std::sync::Arc;

use futures_util::future::{Either, select};
use futures_util::{Stream, StreamExt};
use tokio::sync::{Mutex, watch};

use crate::types::{ConnectionState, ServerEventMessage};

type BoxStream<T> = Pin<Box<dyn Stream<Item = T> + Send>>;

/// A stream that can be closed from another thread while a reader waits.
struct Closable<T> {
    stream: Mutex<Option<BoxStream<T>>>,
    closed: watch::Sender<bool>,
}

impl<T> Closable<T> {
    fn new(stream: BoxStream<T>) -> Self {
        Closable {
            stream: Mutex::new(Some(stream)),
            closed: watch::Sender::new(false),
        }
    }

    async fn next(&self) -> Option<T> {
        let mut closed = self.closed.subscribe();
        let mut slot = self.stream.lock().await;
        if *closed.borrow_and_update() {
            *slot = None;
            return None;
        }
        let stream = slot.as_mut()?;
        let item = {
            let next = stream.next();
            let close = closed.wait_for(|closed| *closed);
            match select(next, Box::pin(close)).await {
                Either::Left((item, _)) => item,
                Either::Right(_) => None,
            }
        };
        if item.is_none() {
            // Ended or closed: drop the source so the client stops buffering for it.
            *slot = None;
        }
        item
    }

    fn close(&self) {
        self.closed.send_replace(true);
        // If no reader holds the stream, release it now rather than on the next `next()`.
        if let Ok(mut slot) = self.stream.try_lock() {
            *slot = None;
        }
    }
}

/// Every application message of a client from the moment it was opened, in order.
#[derive(uniffi::Object)]
pub struct MessageStream {
    inner: Closable<ServerEventMessage>,
}

impl MessageStream {
    pub(crate) fn new(
        messages: impl Stream<Item = servicestack_events::ServerEventMessage> + Send + 'static,
    ) -> Arc<Self> {
        let converted = messages.map(|message| ServerEventMessage::from(&message));
        Arc::new(MessageStream {
            inner: Closable::new(Box::pin(converted)),
        })
    }
}

#[uniffi::export]
impl MessageStream {
    /// The next message, or `null`/`nil` once the stream has ended.
    pub async fn next(&self) -> Option<ServerEventMessage> {
        self.inner.next().await
    }

    /// Ends the stream: a pending and every later `next()` returns `null`/`nil`. (Named
    /// `cancel` because Kotlin objects already have `close()`, which frees the object.)
    pub fn cancel(&self) {
        self.inner.close();
    }
}

/// Every connection state of a client from the moment it was opened, starting with the current
/// one.
#[derive(uniffi::Object)]
pub struct StateStream {
    inner: Closable<ConnectionState>,
}

impl StateStream {
    pub(crate) fn new(
        states: impl Stream<Item = servicestack_events::ConnectionState> + Send + 'static,
    ) -> Arc<Self> {
        let converted = states.map(|state| ConnectionState::from(&state));
        Arc::new(StateStream {
            inner: Closable::new(Box::pin(converted)),
        })
    }
}

#[uniffi::export]
impl StateStream {
    /// The next state, or `null`/`nil` once the stream has ended.
    pub async fn next(&self) -> Option<ConnectionState> {
        self.inner.next().await
    }

    /// Ends the stream: a pending and every later `next()` returns `null`/`nil`. (Named
    /// `cancel` because Kotlin objects already have `close()`, which frees the object.)
    pub fn cancel(&self) {
        self.inner.close();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn channel() -> (tokio::sync::mpsc::UnboundedSender<u32>, Arc<Closable<u32>>) {
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel::<u32>();
        let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
            receiver.recv().await.map(|item| (item, receiver))
        });
        (sender, Arc::new(Closable::new(Box::pin(stream))))
    }

    #[tokio::test]
    async fn items_arrive_in_order_and_an_abandoned_next_loses_nothing() {
        let (sender, stream) = channel();
        sender.send(1).unwrap();
        sender.send(2).unwrap();
        assert_eq!(stream.next().await, Some(1));
        assert_eq!(stream.next().await, Some(2));
        // A reader that gives up (as a cancelled coroutine does) takes nothing with it.
        assert!(
            tokio::time::timeout(Duration::from_millis(20), stream.next())
                .await
                .is_err()
        );
        sender.send(3).unwrap();
        assert_eq!(stream.next().await, Some(3));
        drop(sender);
        assert_eq!(stream.next().await, None);
        assert_eq!(stream.next().await, None);
    }

    #[tokio::test]
    async fn close_ends_a_pending_next_and_every_later_one() {
        let (sender, stream) = channel();
        let reader = tokio::spawn({
            let stream = stream.clone();
            async move { stream.next().await }
        });
        stream.close();
        let ended = tokio::time::timeout(Duration::from_secs(5), reader).await;
        assert_eq!(ended.expect("close must wake the reader").unwrap(), None);
        // The closed stream let go of its source, so the client stops buffering for it.
        assert!(sender.send(4).is_err());
        assert_eq!(stream.next().await, None);
    }
}
