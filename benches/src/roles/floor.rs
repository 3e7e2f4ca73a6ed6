//! `sdk-bench floor`: the least a client can do. reqwest 0.13 `bytes_stream()` on the event
//! stream, counting frames (`\n\n`) and nothing else: no decoding, no routing, no heartbeats.
//!
//! Modes (`--mode`): `throughput` (with `--stall-ms`, backlog mode: it stops reading after the
//! first message, then times the drain), `latency` (the only one that looks inside frames, to read the
//! send time), `connect` (a new `reqwest::Client` per connect, until the `cmd.onConnect` frame
//! is complete) and `hold --n N` (N open streams until stdin closes, for the server's memory).

use std::io::BufRead as _;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{Stream, StreamExt as _, stream};
use memchr::memmem;
use serde_json::json;

use super::ack::{ACK_EVERY, AckSender};
use super::client::latency_result;
use super::{emit, runtime};
use crate::args::{FloorArgs, FloorMode, LoadArgs};
use sdk_benches::chat::{CHANNEL, ChatMessage};
use sdk_benches::sys;

/// Frames the server sends before any message: `cmd.onConnect` and our own `cmd.onJoin`.
const PRELUDE_FRAMES: u64 = 2;

/// Runs the mode given by `--mode`.
pub fn main(args: &FloorArgs) -> Result<(), String> {
    let url = &args.load.url;
    let load = &args.load;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = runtime()?;
    rt.block_on(async {
        match args.mode {
            FloorMode::Throughput => throughput(url, load, args.typed).await,
            FloorMode::Latency => latency(url, load).await,
            FloorMode::Connect => connect(url, load).await,
            FloorMode::Hold => hold(url, load).await,
        }
    })
}

async fn open(
    client: &reqwest::Client,
    url: &str,
    channel: &str,
) -> Result<impl Stream<Item = reqwest::Result<Bytes>> + Unpin + use<>, String> {
    let response = client
        .get(format!("{url}/event-stream?channels={channel}"))
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| format!("GET /event-stream: {e}"))?;
    Ok(response.bytes_stream())
}

/// Counts `\n\n` across chunk boundaries.
#[derive(Default)]
struct FrameCounter {
    frames: u64,
    last_was_lf: bool,
}

impl FrameCounter {
    fn feed(&mut self, chunk: &[u8]) {
        if chunk.is_empty() {
            return;
        }
        if self.last_was_lf && chunk[0] == b'\n' {
            self.frames += 1;
        }
        self.frames += memmem::find_iter(chunk, b"\n\n").count() as u64;
        self.last_was_lf = chunk[chunk.len() - 1] == b'\n';
    }
}

/// The typed floor: whole frames split at `\n\n`, and each chat body decoded into the struct.
/// Frames are decoded straight from the chunk; only an unfinished frame's bytes are kept.
#[derive(Default)]
struct TypedFrames {
    pending: Vec<u8>,
    counts: TypedCounts,
}

#[derive(Default)]
struct TypedCounts {
    frames: u64,
    decoded: u64,
    errors: u64,
}

static FRAME_END: std::sync::LazyLock<memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memmem::Finder::new(b"\n\n"));

impl TypedFrames {
    fn feed(&mut self, chunk: &[u8]) {
        if self.pending.is_empty() {
            let used = self.counts.decode_frames(chunk);
            self.pending.extend_from_slice(&chunk[used..]);
        } else {
            self.pending.extend_from_slice(chunk);
            let used = self.counts.decode_frames(&self.pending);
            self.pending.drain(..used);
        }
    }
}

impl TypedCounts {
    /// Decodes every whole frame in `bytes`; returns how many bytes they took.
    fn decode_frames(&mut self, bytes: &[u8]) -> usize {
        let mut start = 0;
        while let Some(end) = FRAME_END.find(&bytes[start..]) {
            self.frames += 1;
            if let Some(body) = chat_body(&bytes[start..start + end]) {
                match serde_json::from_slice::<ChatMessage>(body) {
                    Ok(chat) => {
                        self.decoded += 1;
                        std::hint::black_box(&chat);
                    }
                    Err(_) => self.errors += 1,
                }
            }
            start += end + 2;
        }
        start
    }
}

/// The JSON body of a `cmd.chat` frame: its `data:` line after the selector.
fn chat_body(frame: &[u8]) -> Option<&[u8]> {
    let data = memmem::find(frame, b"data: ")? + 6;
    let line = &frame[data..];
    let line = &line[..memchr::memchr(b'\n', line).unwrap_or(line.len())];
    let space = memchr::memchr(b' ', line)?;
    memmem::find(&line[..space], b"cmd.chat").map(|_| &line[space + 1..])
}

async fn throughput(url: &str, args: &LoadArgs, typed: bool) -> Result<(), String> {
    let total = args.count()?;
    let timeout = Duration::from_secs(args.timeout_secs);
    let stall = Duration::from_millis(args.stall_ms);
    let (ack_port, run) = args.ack()?;
    let ack = AckSender::new(ack_port, run).map_err(|e| format!("ack socket: {e}"))?;
    let client = reqwest::Client::new();
    let mut body = open(&client, url, CHANNEL).await?;
    let mut counter = FrameCounter::default();
    let mut typed_frames = TypedFrames::default();
    let mut ready = false;
    let mut first = None;
    let mut acked_block = 0;
    let deadline = Instant::now() + timeout;
    loop {
        let chunk = tokio::time::timeout_at(deadline.into(), body.next())
            .await
            .map_err(|_| {
                format!(
                    "received {} of {total} messages in {timeout:?}",
                    counter.frames
                )
            })?
            .ok_or("the stream ended")?
            .map_err(|e| format!("stream: {e}"))?;
        if typed {
            typed_frames.feed(&chunk);
            counter.frames = typed_frames.counts.frames;
        } else {
            counter.feed(&chunk);
        }
        if !ready && counter.frames >= PRELUDE_FRAMES {
            ready = true;
            emit(&json!({ "ready": true }));
        }
        let messages = counter.frames.saturating_sub(PRELUDE_FRAMES);
        if messages > 0 && first.is_none() {
            // Backlog mode: stop reading (the server queues the rest), then time the drain.
            std::thread::sleep(stall);
            first = Some((Instant::now(), sys::cpu_seconds()));
        }
        // Acknowledge at the same granularity as the other clients.
        let block = messages.min(total) / ACK_EVERY;
        if block != acked_block || messages >= total {
            acked_block = block;
            ack.send(messages.min(total));
        }
        if messages >= total {
            let (t0, cpu0) = first.unwrap_or((Instant::now(), sys::cpu_seconds()));
            if typed && typed_frames.counts.decoded < total {
                return Err(format!(
                    "the typed floor decoded {} chat bodies of {total} messages",
                    typed_frames.counts.decoded
                ));
            }
            emit(&json!({
                "events": messages,
                "secs": t0.elapsed().as_secs_f64(),
                "cpu_secs": sys::cpu_seconds() - cpu0,
                "errors": typed_frames.counts.errors,
            }));
            return Ok(());
        }
    }
}

async fn latency(url: &str, args: &LoadArgs) -> Result<(), String> {
    let total = args.count()?;
    let warmup = args.warmup;
    let timeout = Duration::from_secs(args.timeout_secs);
    let client = reqwest::Client::new();
    let mut body = open(&client, url, CHANNEL).await?;
    let finder = memmem::Finder::new(b"\n\n");
    let stamp = memmem::Finder::new(b"\"sentNs\":");
    let mut pending: Vec<u8> = Vec::new();
    let mut frames = 0u64;
    let mut samples = Vec::with_capacity(total as usize);
    let deadline = Instant::now() + timeout;
    while frames < total + PRELUDE_FRAMES {
        let chunk = tokio::time::timeout_at(deadline.into(), body.next())
            .await
            .map_err(|_| format!("received {frames} frames in {timeout:?}"))?
            .ok_or("the stream ended")?
            .map_err(|e| format!("stream: {e}"))?;
        let received = sys::monotonic_ns();
        pending.extend_from_slice(&chunk);
        let mut start = 0;
        while let Some(end) = finder.find(&pending[start..]) {
            let frame = &pending[start..start + end];
            frames += 1;
            if frames == PRELUDE_FRAMES {
                emit(&json!({ "ready": true }));
            }
            if frames > PRELUDE_FRAMES + warmup
                && let Some(at) = stamp.find(frame)
            {
                let digits = &frame[at + 9..];
                let len = digits.iter().take_while(|b| b.is_ascii_digit()).count();
                if let Some(sent) = std::str::from_utf8(&digits[..len])
                    .ok()
                    .and_then(|d| d.parse::<u64>().ok())
                {
                    samples.push(received.saturating_sub(sent));
                }
            }
            start += end + 2;
        }
        pending.drain(..start);
    }
    emit(&latency_result(&mut samples, 0));
    Ok(())
}

async fn connect(url: &str, args: &LoadArgs) -> Result<(), String> {
    let n = args.n()?;
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let client = reqwest::Client::new();
        let started = Instant::now();
        let mut body = open(&client, url, "connect").await?;
        let mut counter = FrameCounter::default();
        while counter.frames == 0 {
            let chunk = body
                .next()
                .await
                .ok_or("the stream ended before cmd.onConnect")?
                .map_err(|e| format!("stream: {e}"))?;
            counter.feed(&chunk);
        }
        samples.push(started.elapsed().as_nanos() as u64);
    }
    emit(&latency_result(&mut samples, 0));
    Ok(())
}

async fn hold(url: &str, args: &LoadArgs) -> Result<(), String> {
    sys::raise_nofile_limit();
    let n = args.n()?;
    let client = reqwest::Client::new();
    let streams: Vec<_> = stream::iter(0..n)
        .map(|i| {
            let client = &client;
            async move {
                let mut body = open(client, url, &format!("hold-{i}")).await?;
                let mut counter = FrameCounter::default();
                while counter.frames == 0 {
                    let chunk = body
                        .next()
                        .await
                        .ok_or("the stream ended before cmd.onConnect")?
                        .map_err(|e| format!("stream: {e}"))?;
                    counter.feed(&chunk);
                }
                Ok::<_, String>(body)
            }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    let streams: Vec<_> = streams.into_iter().collect::<Result<_, _>>()?;
    emit(&json!({ "ready": true, "streams": streams.len() }));
    // Keep the streams open until the orchestrator closes our stdin.
    tokio::task::spawn_blocking(|| for _ in std::io::stdin().lock().lines() {})
        .await
        .map_err(|e| e.to_string())?;
    drop(streams);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sdk_benches::chat::chat_json;

    #[test]
    fn typed_frames_decode_chat_bodies_split_across_chunks() {
        let mut stream = String::from("id: 1\ndata: bench@cmd.onConnect {\"id\":\"x\"}\n\n");
        for id in 0..3 {
            stream.push_str(&format!(
                "id: {}\ndata: bench@cmd.chat {}\n\n",
                id + 2,
                chat_json(id, 7, 120)
            ));
        }
        let mut typed = TypedFrames::default();
        for chunk in stream.as_bytes().chunks(7) {
            typed.feed(chunk);
        }
        assert_eq!(
            (
                typed.counts.frames,
                typed.counts.decoded,
                typed.counts.errors
            ),
            (4, 3, 0)
        );
        let mut whole = TypedFrames::default();
        whole.feed(stream.as_bytes());
        assert_eq!((whole.counts.frames, whole.counts.decoded), (4, 3));
        assert!(whole.pending.is_empty());
        typed.feed(b"data: bench@cmd.chat {broken\n\n");
        assert_eq!(
            (
                typed.counts.frames,
                typed.counts.decoded,
                typed.counts.errors
            ),
            (5, 3, 1)
        );
    }
}
