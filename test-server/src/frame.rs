//! SSE frames and the per-stream outbound buffer.
//!
//! Every stream owns a [`StreamCtl`]: a bounded queue of byte chunks that publishers append to
//! without blocking, and that the HTTP response body ([`EventStream`]) drains. Event ids are
//! assigned under the same lock as the append, so per-subscription order and id order agree.

use std::collections::VecDeque;
use std::future::Future as _;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use tokio::sync::Notify;

use crate::faults::Faults;
use crate::registry::{Shared, Subscription};
use crate::util::lock;

/// Small chunks are coalesced into one body frame up to this size.
const COALESCE_LIMIT: usize = 16 * 1024;
/// How long a cut stream waits so the partial frame is flushed before the connection is aborted.
const CUT_FLUSH_DELAY: Duration = Duration::from_millis(25);

/// What happened to an attempted write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PushOutcome {
    /// Queued; the value is the stream's total enqueued byte count afterwards.
    Queued(u64),
    /// The stream is closing or closed; nothing was written.
    Closed,
    /// The buffer limit was exceeded: the stream is being aborted (slow reader).
    Overflow,
    /// The cut-mid-frame fault fired: half the frame was queued and the stream is being aborted.
    Cut,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    /// Deliver what is queued, then end the body cleanly.
    Closing,
    /// Deliver what is queued, wait briefly, then fail the body (connection aborted).
    AbortAfterFlush,
    /// The slow-consumer note is queued: deliver it, then end the body cleanly, so hyper
    /// writes it out before the connection closes (an abort would discard whatever hyper still
    /// buffers, the note included, whenever the reader catches up a little late). A reader that
    /// never catches up is cut off by `close_connection`; a later close leaves this alone.
    EndAfterNote,
    /// Fail the body at once, dropping anything queued.
    Abort,
    /// The body has ended or was dropped.
    Ended,
}

/// How a stream should be closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CloseMode {
    /// End the response cleanly after what is queued (unregister, expiry, shutdown).
    Graceful,
    /// Abort the connection (broken write, slow reader, disconnect-all).
    Abort,
}

struct Outbox {
    queue: VecDeque<Bytes>,
    queued_bytes: usize,
    enqueued_total: u64,
    delivered_total: u64,
    /// Where the queued frames end (in `enqueued_total` terms), oldest first.
    frame_ends: VecDeque<u64>,
    /// The end of the last frame handed over whole; `delivered_total` beyond it means a frame
    /// is partly handed over.
    delivered_frame_end: u64,
    next_id: u64,
    state: State,
    waker: Option<Waker>,
    /// Drops the whole connection (see `ConnectionAbort`).
    connection: Option<tokio_util::sync::CancellationToken>,
}

/// The shared control block of one event stream.
pub(crate) struct StreamCtl {
    pub(crate) serial: u64,
    limit: usize,
    out: Mutex<Outbox>,
    progress: Notify,
}

impl StreamCtl {
    pub(crate) fn new(serial: u64, limit: usize) -> Self {
        StreamCtl {
            serial,
            limit,
            out: Mutex::new(Outbox {
                queue: VecDeque::new(),
                queued_bytes: 0,
                enqueued_total: 0,
                delivered_total: 0,
                frame_ends: VecDeque::new(),
                delivered_frame_end: 0,
                next_id: 0,
                state: State::Open,
                waker: None,
                connection: None,
            }),
            progress: Notify::new(),
        }
    }

    /// Lets a slow-consumer drop end the connection itself if the reader never catches up.
    pub(crate) fn set_connection(&self, abort: tokio_util::sync::CancellationToken) {
        lock(&self.out).connection = Some(abort);
    }

    /// After a slow-consumer drop: the connection finishes this response (the note, then a
    /// clean end) and closes instead of being kept alive; a reader that never catches up is
    /// dropped outright after a grace period (see `server::connection`), freeing its buffers.
    fn close_connection(&self, abort: Option<tokio_util::sync::CancellationToken>) {
        if let Some(abort) = abort {
            abort.cancel();
        }
    }

    /// True once the stream stopped accepting writes.
    pub(crate) fn is_closed(&self) -> bool {
        lock(&self.out).state != State::Open
    }

    /// The id of the last frame written.
    pub(crate) fn last_event_id(&self) -> u64 {
        lock(&self.out).next_id
    }

    fn would_overflow(o: &Outbox, limit: usize, len: usize) -> bool {
        // A single frame larger than the limit still goes to a reader that keeps up.
        o.queued_bytes > 0 && o.queued_bytes.saturating_add(len) > limit
    }

    fn enqueue(o: &mut Outbox, chunk: Bytes) {
        o.queued_bytes += chunk.len();
        o.enqueued_total += chunk.len() as u64;
        o.queue.push_back(chunk);
    }

    /// Counts `len` bytes handed to the connection.
    fn delivered(o: &mut Outbox, len: usize) {
        o.delivered_total += len as u64;
        while let Some(&end) = o.frame_ends.front() {
            if end > o.delivered_total {
                break;
            }
            o.delivered_frame_end = end;
            o.frame_ends.pop_front();
        }
    }

    /// Marks the end of a frame (or of a raw write) at the current end of the queue.
    fn end_frame(o: &mut Outbox) {
        o.frame_ends.push_back(o.enqueued_total);
    }

    /// The slow-consumer close: what is still queued is dropped (that is the memory the limit
    /// protects), an SSE comment saying why is queued in its place, and the response ends once
    /// the comment is written, so a reader that catches up learns why its stream ended and
    /// reconnects.
    fn overflow_locked(o: &mut Outbox, limit: usize) {
        // A frame partly handed to the connection is finished first: cut off, its last line
        // would swallow the note.
        let mut kept = VecDeque::new();
        let mut kept_bytes = 0;
        if o.delivered_total != o.delivered_frame_end {
            let end = o.frame_ends.front().copied().unwrap_or(o.delivered_total);
            let mut at = o.delivered_total;
            while at < end {
                let Some(chunk) = o.queue.pop_front() else {
                    break;
                };
                at += chunk.len() as u64;
                kept_bytes += chunk.len();
                kept.push_back(chunk);
            }
        }
        o.queue = kept;
        o.queued_bytes = kept_bytes;
        o.frame_ends.clear();
        let note = format!(": slow consumer: more than {limit} bytes behind, closing\n\n");
        Self::enqueue(o, Bytes::from(note));
        o.state = State::EndAfterNote;
    }

    fn abort_locked(o: &mut Outbox) {
        o.queue.clear();
        o.queued_bytes = 0;
        o.state = State::Abort;
    }

    fn finish(&self, waker: Option<Waker>) {
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Writes `id: N\ndata: <selector> <body>\n\n`, preceded by `newlines` blank lines.
    pub(crate) fn push_frame(
        &self,
        selector: &str,
        body: &Bytes,
        newlines: usize,
        faults: &Faults,
    ) -> PushOutcome {
        let mut o = lock(&self.out);
        if o.state != State::Open {
            return PushOutcome::Closed;
        }
        // "id: " + up to 20 digits + "\ndata: " + selector + " " + body + "\n\n"
        let header_len = 4 + 20 + 7 + selector.len() + 1;
        let len = newlines + header_len + body.len() + 2;
        if Self::would_overflow(&o, self.limit, len) {
            Self::overflow_locked(&mut o, self.limit);
            let waker = o.waker.take();
            let abort = o.connection.take();
            drop(o);
            self.finish(waker);
            self.close_connection(abort);
            return PushOutcome::Overflow;
        }
        o.next_id += 1;
        let id = o.next_id;
        let mut head = BytesMut::with_capacity(newlines + header_len);
        head.extend(std::iter::repeat_n(b'\n', newlines));
        head.extend_from_slice(b"id: ");
        head.extend_from_slice(id.to_string().as_bytes());
        head.extend_from_slice(b"\ndata: ");
        head.extend_from_slice(selector.as_bytes());
        head.extend_from_slice(b" ");

        let outcome = if faults.take_cut_frame() {
            let mut whole = head;
            whole.extend_from_slice(body);
            whole.extend_from_slice(b"\n\n");
            let half = (whole.len() / 2).max(1);
            whole.truncate(half);
            Self::enqueue(&mut o, whole.freeze());
            o.state = State::AbortAfterFlush;
            PushOutcome::Cut
        } else if body.len() < 256 {
            // Small frames: one contiguous chunk.
            head.extend_from_slice(body);
            head.extend_from_slice(b"\n\n");
            Self::enqueue(&mut o, head.freeze());
            Self::end_frame(&mut o);
            PushOutcome::Queued(o.enqueued_total)
        } else {
            // Large bodies are shared between recipients, not copied.
            Self::enqueue(&mut o, head.freeze());
            Self::enqueue(&mut o, body.clone());
            Self::enqueue(&mut o, Bytes::from_static(b"\n\n"));
            Self::end_frame(&mut o);
            PushOutcome::Queued(o.enqueued_total)
        };
        let waker = o.waker.take();
        drop(o);
        self.finish(waker);
        outcome
    }

    /// Writes arbitrary bytes (no id), like ServiceStack's `PublishRaw`.
    pub(crate) fn push_raw(&self, bytes: Bytes) -> PushOutcome {
        let mut o = lock(&self.out);
        if o.state != State::Open {
            return PushOutcome::Closed;
        }
        if Self::would_overflow(&o, self.limit, bytes.len()) {
            Self::overflow_locked(&mut o, self.limit);
            let waker = o.waker.take();
            let abort = o.connection.take();
            drop(o);
            self.finish(waker);
            self.close_connection(abort);
            return PushOutcome::Overflow;
        }
        if !bytes.is_empty() {
            Self::enqueue(&mut o, bytes);
            Self::end_frame(&mut o);
        }
        let total = o.enqueued_total;
        let waker = o.waker.take();
        drop(o);
        self.finish(waker);
        PushOutcome::Queued(total)
    }

    /// Stops accepting writes and ends the response as `mode` says.
    pub(crate) fn close(&self, mode: CloseMode) {
        let mut o = lock(&self.out);
        match (o.state, mode) {
            // Already ending; a cut frame keeps its partial bytes until they are flushed.
            (State::Ended | State::Abort | State::AbortAfterFlush | State::EndAfterNote, _) => {
                return;
            }
            (State::Open, CloseMode::Graceful) => o.state = State::Closing,
            (State::Closing, CloseMode::Graceful) => return,
            (_, CloseMode::Abort) => Self::abort_locked(&mut o),
        }
        let waker = o.waker.take();
        drop(o);
        self.finish(waker);
    }

    /// Waits until at least `target` bytes were handed to the HTTP connection, the stream
    /// ended, or `timeout` passed.
    pub(crate) async fn wait_delivered(&self, target: u64, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.progress.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let o = lock(&self.out);
                if o.delivered_total >= target || matches!(o.state, State::Ended | State::Abort) {
                    return;
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return;
            }
        }
    }

    /// Waits until the response body has ended (or was dropped), or `timeout` passed.
    pub(crate) async fn wait_ended(&self, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.progress.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if lock(&self.out).state == State::Ended {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return;
            }
        }
    }
}

/// The body of one `text/event-stream` response.
pub(crate) struct EventStream {
    ctl: Arc<StreamCtl>,
    sub: Option<Arc<Subscription>>,
    shared: Arc<Shared>,
    cut_timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl EventStream {
    pub(crate) fn new(
        ctl: Arc<StreamCtl>,
        sub: Option<Arc<Subscription>>,
        shared: Arc<Shared>,
    ) -> Self {
        EventStream {
            ctl,
            sub,
            shared,
            cut_timer: None,
        }
    }
}

fn aborted() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "event stream aborted by the server",
    )
}

impl Stream for EventStream {
    type Item = Result<Bytes, io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let mut o = lock(&this.ctl.out);
        if let Some(first) = o.queue.pop_front() {
            let chunk = if first.len() < COALESCE_LIMIT && !o.queue.is_empty() {
                let mut buf = BytesMut::with_capacity(COALESCE_LIMIT);
                buf.extend_from_slice(&first);
                while let Some(next) = o.queue.front() {
                    if buf.len() + next.len() > COALESCE_LIMIT {
                        break;
                    }
                    if let Some(next) = o.queue.pop_front() {
                        buf.extend_from_slice(&next);
                    }
                }
                buf.freeze()
            } else {
                first
            };
            o.queued_bytes = o.queued_bytes.saturating_sub(chunk.len());
            StreamCtl::delivered(&mut o, chunk.len());
            drop(o);
            this.ctl.progress.notify_waiters();
            return Poll::Ready(Some(Ok(chunk)));
        }
        match o.state {
            State::Open => {
                match &o.waker {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => o.waker = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
            State::Closing | State::EndAfterNote => {
                o.state = State::Ended;
                drop(o);
                this.ctl.progress.notify_waiters();
                Poll::Ready(None)
            }
            State::AbortAfterFlush => {
                drop(o);
                let timer = this
                    .cut_timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(CUT_FLUSH_DELAY)));
                match timer.as_mut().poll(cx) {
                    Poll::Pending => Poll::Pending,
                    Poll::Ready(()) => {
                        lock(&this.ctl.out).state = State::Ended;
                        this.ctl.progress.notify_waiters();
                        Poll::Ready(Some(Err(aborted())))
                    }
                }
            }
            State::Abort => {
                o.state = State::Ended;
                drop(o);
                this.ctl.progress.notify_waiters();
                Poll::Ready(Some(Err(aborted())))
            }
            State::Ended => Poll::Ready(None),
        }
    }
}

impl Drop for EventStream {
    fn drop(&mut self) {
        {
            let mut o = lock(&self.ctl.out);
            o.state = State::Ended;
            o.queue.clear();
            o.queued_bytes = 0;
            o.waker = None;
        }
        self.ctl.progress.notify_waiters();
        self.shared.stream_gone(self.ctl.serial, self.sub.take());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(ctl: &StreamCtl) -> Vec<u8> {
        let mut o = lock(&ctl.out);
        let mut out = Vec::new();
        while let Some(c) = o.queue.pop_front() {
            out.extend_from_slice(&c);
        }
        o.queued_bytes = 0;
        out
    }

    #[test]
    fn frames_are_exact() {
        let ctl = StreamCtl::new(1, 1 << 20);
        let faults = Faults::default();
        ctl.push_frame("cmd.onConnect", &Bytes::from_static(b"{}"), 0, &faults);
        ctl.push_frame("A@cmd.x", &Bytes::new(), 0, &faults);
        let big = Bytes::from(vec![b'x'; 1000]);
        ctl.push_frame("cmd.big", &big, 2, &faults);
        let out = drain(&ctl);
        let expected = format!(
            "id: 1\ndata: cmd.onConnect {{}}\n\nid: 2\ndata: A@cmd.x \n\n\n\nid: 3\ndata: cmd.big {}\n\n",
            "x".repeat(1000)
        );
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }

    #[test]
    fn overflow_aborts() {
        let ctl = StreamCtl::new(1, 100);
        let faults = Faults::default();
        let body = Bytes::from(vec![b'y'; 80]);
        assert!(matches!(
            ctl.push_frame("s", &body, 0, &faults),
            PushOutcome::Queued(_)
        ));
        assert_eq!(
            ctl.push_frame("s", &body, 0, &faults),
            PushOutcome::Overflow
        );
        assert!(ctl.is_closed());
        assert_eq!(ctl.push_frame("s", &body, 0, &faults), PushOutcome::Closed);
        // The backlog is gone; only the reason is left to deliver.
        assert_eq!(
            String::from_utf8(drain(&ctl)).unwrap(),
            ": slow consumer: more than 100 bytes behind, closing\n\n"
        );
    }

    #[test]
    fn a_frame_partly_handed_over_is_finished_before_the_slow_consumer_note() {
        let ctl = StreamCtl::new(1, 700);
        let faults = Faults::default();
        let body = Bytes::from(format!("\"{}\"", "z".repeat(300)));
        let bigger = Bytes::from(format!("\"{}\"", "z".repeat(600)));
        assert!(matches!(
            ctl.push_frame("s", &body, 0, &faults),
            PushOutcome::Queued(_)
        ));
        assert!(matches!(
            ctl.push_frame("t", &body, 0, &faults),
            PushOutcome::Queued(_)
        ));
        {
            // The connection took the first frame's head and body, not its blank line.
            let mut o = lock(&ctl.out);
            for _ in 0..2 {
                let chunk = o.queue.pop_front().unwrap();
                o.queued_bytes -= chunk.len();
                StreamCtl::delivered(&mut o, chunk.len());
            }
        }
        assert_eq!(
            ctl.push_frame("u", &bigger, 0, &faults),
            PushOutcome::Overflow
        );
        // The first frame's end, then the note; the second frame is dropped whole.
        assert_eq!(
            String::from_utf8(drain(&ctl)).unwrap(),
            "\n\n: slow consumer: more than 700 bytes behind, closing\n\n"
        );
    }

    #[test]
    fn cut_frame_is_half() {
        let ctl = StreamCtl::new(1, 1 << 20);
        let faults = Faults::default();
        faults.cut_streams_mid_frame(1);
        assert_eq!(
            ctl.push_frame("cmd.x", &Bytes::from_static(b"\"0123456789\""), 0, &faults),
            PushOutcome::Cut
        );
        let full = "id: 1\ndata: cmd.x \"0123456789\"\n\n";
        assert_eq!(drain(&ctl), &full.as_bytes()[..full.len() / 2]);
    }
}
