//! The B1 corpora: ServiceStack-shaped frames (`id: N` + one `data: <selector> <json>` line) and
//! the chunkings they are fed in.

use bytes::Bytes;

use crate::chat::{CHANNEL, SELECTOR, chat_json};

/// How much stream each frame corpus holds: enough to amortise per-iteration setup, small enough
/// that the slowest peer still gets several samples.
pub const CORPUS_BYTES: usize = 1 << 20;

/// One B1 input shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Frames with a 120-byte JSON body.
    Frames120,
    /// Frames with a 4 KiB JSON body.
    Frames4K,
    /// One event whose `data:` line holds 1 MiB of JSON.
    OneMiB,
}

impl Shape {
    /// Every shape, in report order.
    pub const ALL: [Shape; 3] = [Shape::Frames120, Shape::Frames4K, Shape::OneMiB];

    /// The name used in bench ids and the report.
    pub fn name(self) -> &'static str {
        match self {
            Shape::Frames120 => "frames-120B",
            Shape::Frames4K => "frames-4KiB",
            Shape::OneMiB => "event-1MiB",
        }
    }

    /// The JSON body length.
    pub fn body_len(self) -> usize {
        match self {
            Shape::Frames120 => 120,
            Shape::Frames4K => 4096,
            Shape::OneMiB => 1 << 20,
        }
    }
}

/// How a corpus is cut before feeding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chunking {
    /// The whole corpus in one chunk.
    Whole,
    /// Chunks of this many bytes (1460 = a TCP segment on Ethernet).
    Bytes(usize),
}

impl Chunking {
    /// Every chunking, in report order.
    pub const ALL: [Chunking; 4] = [
        Chunking::Whole,
        Chunking::Bytes(1460),
        Chunking::Bytes(64),
        Chunking::Bytes(7),
    ];

    /// The name used in bench ids and the report.
    pub fn name(self) -> String {
        match self {
            Chunking::Whole => "whole".to_owned(),
            Chunking::Bytes(n) => format!("{n}B"),
        }
    }
}

/// A corpus: the stream bytes and how many events it holds.
#[derive(Debug, Clone)]
pub struct Corpus {
    /// The shape it was built for.
    pub shape: Shape,
    /// The whole stream.
    pub bytes: Bytes,
    /// Events in it.
    pub events: usize,
}

/// One ServiceStack frame: `id: N\ndata: bench@cmd.chat <json>\n\n`.
pub fn frame(id: u64, body_len: usize) -> String {
    format!(
        "id: {id}\ndata: {CHANNEL}@{SELECTOR} {}\n\n",
        chat_json(id, 0, body_len)
    )
}

impl Corpus {
    /// Builds the corpus for `shape`.
    pub fn new(shape: Shape) -> Corpus {
        Corpus::scaled(shape, 1)
    }

    /// The corpus for `shape` shrunk `divisor` times (the one event's body too), for tests that
    /// run the slow contenders unoptimised.
    pub fn scaled(shape: Shape, divisor: usize) -> Corpus {
        let total = CORPUS_BYTES / divisor;
        let body_len = match shape {
            Shape::OneMiB => shape.body_len() / divisor,
            _ => shape.body_len(),
        };
        let mut text = String::with_capacity(total + 8192);
        let mut events = 0;
        while events == 0 || text.len() < total {
            events += 1;
            text.push_str(&frame(events as u64, body_len));
            if shape == Shape::OneMiB {
                break;
            }
        }
        Corpus {
            shape,
            bytes: Bytes::from(text),
            events,
        }
    }

    /// The stream cut into chunks (zero-copy slices of one buffer).
    pub fn chunks(&self, chunking: Chunking) -> Vec<Bytes> {
        match chunking {
            Chunking::Whole => vec![self.bytes.clone()],
            Chunking::Bytes(n) => (0..self.bytes.len())
                .step_by(n)
                .map(|start| self.bytes.slice(start..(start + n).min(self.bytes.len())))
                .collect(),
        }
    }
}
