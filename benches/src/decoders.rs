//! The B1 contenders behind one signature: decode a chunked stream, report what came out.
//!
//! Every contender gets the same input (a list of `Bytes` chunks, as reqwest yields them) and
//! does the same minimal work per event (count it and its data length), so the difference is the
//! decoder. The peers are `Stream` adapters; they are polled with a no-op waker over an
//! always-ready `stream::iter`, so no executor cost is measured. For equal terms client-core is
//! also fed through that same `Stream` of `Bytes` ([`Contender::OursStream`], the row the goals
//! use); [`Contender::StreamFloor`] is what draining that `Stream` alone costs.

use std::convert::Infallible;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;
use eventsource_stream::Eventsource as _;
use futures_util::{Stream, StreamExt as _, stream};
use servicestack_events::sse::SseDecoder;

/// What a decode produced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Decoded {
    /// Events with data.
    pub events: usize,
    /// Total length of their data.
    pub data_bytes: usize,
}

/// A B1 contender.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contender {
    /// `servicestack_events::sse::SseDecoder`, fed borrowed slices (its own API).
    Ours,
    /// The same decoder fed through the peers' input: a `Stream` of `Bytes`, polled the same way.
    OursStream,
    /// `eventsource-stream` 0.2 (`Eventsource::eventsource()`), the design card's baseline.
    EventsourceStream,
    /// `sse-stream` 0.3 (`SseByteStream`).
    SseStream,
    /// Not a decoder: the least any decoder must do with borrowed chunks, namely find the line
    /// ends and copy the unfinished tail of every chunk. A lower bound, shown for reference.
    Floor,
    /// Not a decoder: the `Stream` of `Bytes` every stream-fed contender is given, drained and
    /// its chunk lengths summed. The per-chunk cost no stream-fed decoder can avoid.
    StreamFloor,
}

impl Contender {
    /// Every contender, in report order.
    pub const ALL: [Contender; 6] = [
        Contender::OursStream,
        Contender::Ours,
        Contender::EventsourceStream,
        Contender::SseStream,
        Contender::StreamFloor,
        Contender::Floor,
    ];

    /// The decoders (everything but the floors).
    pub const DECODERS: [Contender; 4] = [
        Contender::OursStream,
        Contender::Ours,
        Contender::EventsourceStream,
        Contender::SseStream,
    ];

    /// The peers, compared with [`Contender::OursStream`] on equal input.
    pub const PEERS: [Contender; 2] = [Contender::EventsourceStream, Contender::SseStream];

    /// The name used in bench ids and the report.
    pub fn name(self) -> &'static str {
        match self {
            Contender::Ours => "client-core (slices)",
            Contender::OursStream => "client-core",
            Contender::EventsourceStream => "eventsource-stream",
            Contender::SseStream => "sse-stream",
            Contender::Floor => "floor: scan + copy",
            Contender::StreamFloor => "floor: Stream of Bytes",
        }
    }

    /// The contender's id in criterion's benchmark ids and directories (file-name safe).
    pub fn slug(self) -> &'static str {
        match self {
            Contender::Ours => "client-core-slices",
            Contender::OursStream => "client-core",
            Contender::EventsourceStream => "eventsource-stream",
            Contender::SseStream => "sse-stream",
            Contender::Floor => "floor-scan-copy",
            Contender::StreamFloor => "floor-stream",
        }
    }

    /// Decodes `chunks` from a fresh decoder.
    pub fn decode(self, chunks: &[Bytes]) -> Decoded {
        match self {
            Contender::Ours => ours(chunks),
            Contender::OursStream => ours_stream(input(chunks)),
            Contender::EventsourceStream => eventsource_stream(chunks),
            Contender::SseStream => sse_stream(chunks),
            Contender::Floor => floor(chunks),
            Contender::StreamFloor => stream_floor(input(chunks)),
        }
    }

    /// Like [`decode`](Self::decode), but stops feeding once `budget` has passed (checked every
    /// 64 chunks), for the peers that are quadratic on some inputs.
    pub fn decode_within(self, chunks: &[Bytes], budget: Duration) -> Budgeted {
        let started = Instant::now();
        let deadline = started + budget;
        let mut stopped = false;
        let guarded = Deadline {
            chunks: chunks.iter(),
            deadline,
            seen: 0,
            stopped: &mut stopped,
        };
        let decoded = match self {
            Contender::Ours => {
                let mut decoder = SseDecoder::new();
                let mut out = Decoded::default();
                for chunk in guarded {
                    decoder.feed(&chunk, |event| {
                        if let Ok(event) = event {
                            out.events += 1;
                            out.data_bytes += event.data.len();
                        }
                    });
                }
                out
            }
            Contender::OursStream => ours_stream(stream::iter(guarded.map(Ok::<_, Infallible>))),
            Contender::StreamFloor => stream_floor(stream::iter(guarded.map(Ok::<_, Infallible>))),
            Contender::EventsourceStream => {
                let mut out = Decoded::default();
                drain(
                    stream::iter(guarded.map(Ok::<_, Infallible>)).eventsource(),
                    |event| {
                        if let Ok(event) = event {
                            out.events += 1;
                            out.data_bytes += event.data.len();
                        }
                    },
                );
                out
            }
            Contender::SseStream => {
                let mut out = Decoded::default();
                drain(
                    sse_stream::SseByteStream::new(stream::iter(guarded.map(Ok::<_, Infallible>))),
                    |event| {
                        if let Ok(sse_stream::Sse {
                            data: Some(data), ..
                        }) = event
                        {
                            out.events += 1;
                            out.data_bytes += data.len();
                        }
                    },
                );
                out
            }
            Contender::Floor => {
                let chunks: Vec<Bytes> = guarded.collect();
                floor(&chunks)
            }
        };
        Budgeted {
            decoded,
            elapsed: started.elapsed(),
            finished: !stopped,
        }
    }
}

/// The outcome of [`Contender::decode_within`].
#[derive(Debug, Clone, Copy)]
pub struct Budgeted {
    /// What was decoded (everything, when `finished`).
    pub decoded: Decoded,
    /// How long it ran.
    pub elapsed: Duration,
    /// Whether all the input was fed before the budget ran out.
    pub finished: bool,
}

/// Yields chunks until the deadline (checked every 64 chunks).
struct Deadline<'a, 'b> {
    chunks: std::slice::Iter<'a, Bytes>,
    deadline: Instant,
    seen: usize,
    stopped: &'b mut bool,
}

impl Iterator for Deadline<'_, '_> {
    type Item = Bytes;

    fn next(&mut self) -> Option<Bytes> {
        self.seen += 1;
        if self.seen.is_multiple_of(64) && Instant::now() > self.deadline {
            *self.stopped = self.chunks.len() > 0;
            return None;
        }
        self.chunks.next().cloned()
    }
}

/// The floor: line ends found (`memchr`, or a byte loop on short input, as `SseDecoder` does),
/// blank lines counted as event ends, each chunk's unfinished line copied into one buffer.
/// `data_bytes` is not computed.
pub fn floor(chunks: &[Bytes]) -> Decoded {
    let mut out = Decoded::default();
    let mut pending: Vec<u8> = Vec::new();
    for chunk in chunks {
        let mut rest: &[u8] = chunk;
        loop {
            let end = if rest.len() < 16 {
                rest.iter().position(|&b| b == b'\n')
            } else {
                memchr::memchr(b'\n', rest)
            };
            let Some(end) = end else {
                pending.extend_from_slice(rest);
                break;
            };
            if end == 0 && pending.is_empty() {
                out.events += 1;
            }
            pending.clear();
            rest = &rest[end + 1..];
        }
    }
    out
}

/// `SseDecoder::feed` over the chunks.
pub fn ours(chunks: &[Bytes]) -> Decoded {
    let mut decoder = SseDecoder::new();
    let mut out = Decoded::default();
    for chunk in chunks {
        decoder.feed(chunk, |event| {
            if let Ok(event) = event {
                out.events += 1;
                out.data_bytes += event.data.len();
            }
        });
    }
    out
}

/// `SseDecoder::feed` over the chunks of a `Stream` of `Bytes`, polled as the peers are.
pub fn ours_stream<S>(input: S) -> Decoded
where
    S: Stream<Item = Result<Bytes, Infallible>> + Unpin,
{
    let mut decoder = SseDecoder::new();
    let mut out = Decoded::default();
    drain(input, |chunk| {
        let Ok(chunk) = chunk;
        decoder.feed(&chunk, |event| {
            if let Ok(event) = event {
                out.events += 1;
                out.data_bytes += event.data.len();
            }
        });
    });
    out
}

/// The `Stream` of `Bytes` drained, its chunk lengths summed into `data_bytes`; no decoding.
pub fn stream_floor<S>(input: S) -> Decoded
where
    S: Stream<Item = Result<Bytes, Infallible>> + Unpin,
{
    let mut out = Decoded::default();
    drain(input, |chunk| {
        let Ok(chunk) = chunk;
        out.data_bytes += std::hint::black_box(chunk).len();
    });
    out
}

fn input(chunks: &[Bytes]) -> impl Stream<Item = Result<Bytes, Infallible>> + Unpin + '_ {
    stream::iter(chunks.iter().cloned().map(Ok))
}

/// Drains an always-ready stream without an executor.
fn drain<S: Stream + Unpin>(mut stream: S, mut each: impl FnMut(S::Item)) {
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        match stream.poll_next_unpin(&mut cx) {
            Poll::Ready(Some(item)) => each(item),
            Poll::Ready(None) => return,
            Poll::Pending => unreachable!("the input stream is always ready"),
        }
    }
}

/// `eventsource-stream`'s `EventStream`.
pub fn eventsource_stream(chunks: &[Bytes]) -> Decoded {
    let mut out = Decoded::default();
    drain(input(chunks).eventsource(), |event| {
        if let Ok(event) = event {
            out.events += 1;
            out.data_bytes += event.data.len();
        }
    });
    out
}

/// `sse-stream`'s `SseByteStream` (it also yields data-less blocks; those are not counted).
pub fn sse_stream(chunks: &[Bytes]) -> Decoded {
    let mut out = Decoded::default();
    drain(sse_stream::SseByteStream::new(input(chunks)), |event| {
        if let Ok(sse_stream::Sse {
            data: Some(data), ..
        }) = event
        {
            out.events += 1;
            out.data_bytes += data.len();
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corpus::{Chunking, Corpus, Shape};

    #[test]
    fn every_contender_decodes_every_corpus_the_same() {
        // A sixty-fourth of each corpus: eventsource-stream is slow without optimisations.
        for shape in Shape::ALL {
            let corpus = Corpus::scaled(shape, 64);
            for chunking in Chunking::ALL {
                let chunks = corpus.chunks(chunking);
                let expected = ours(&chunks);
                assert_eq!(expected.events, corpus.events);
                for contender in Contender::DECODERS {
                    assert_eq!(
                        contender.decode(&chunks),
                        expected,
                        "{contender:?} {shape:?} {chunking:?}"
                    );
                }
                assert_eq!(
                    floor(&chunks).events,
                    corpus.events,
                    "floor {shape:?} {chunking:?}"
                );
                assert_eq!(
                    Contender::StreamFloor.decode(&chunks).data_bytes,
                    corpus.bytes.len(),
                    "stream floor {shape:?} {chunking:?}"
                );
            }
        }
    }
}
