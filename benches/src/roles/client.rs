//! `sdk-bench client`: the SDK (`servicestack_events::ServerEventsClient`) as a user would run it, on a
//! multi-thread tokio runtime, decoding every chat message into a typed struct in a handler.
//!
//! Modes (`--mode`):
//! - `throughput --count N [--stall-ms S]`: counts N messages; reports events/s and CPU seconds
//!   between the first and the last. With a stall (backlog mode), the handler of the first
//!   message blocks for S ms while the server queues the rest, and timing starts after it.
//! - `latency --count N --warmup W`: records publish→handler latency of the messages after the
//!   first W.
//! - `connect --n N`: N times, a new client: `connect()` until `onConnect`, then `stop()`.
//! - `idle --n N --secs S`: N connected clients idle for S seconds with heartbeats on; memory
//!   and CPU per client.
//! - `fanout --n N --count C --warmup W`: B5's subscribers (see `fanout`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{StreamExt as _, stream};
use serde_json::json;
use servicestack_events::{ServerEventMessage, ServerEventsClient};
use tokio::sync::Notify;

use super::ack::AckSender;
use super::{emit, runtime};
use crate::args::{ClientArgs, ClientMode, LoadArgs};
use sdk_benches::chat::{CHANNEL, ChatMessage};
use sdk_benches::stats::percentile_sorted;
use sdk_benches::{alloc_count, sys};

/// Runs the mode given by `--mode`.
pub fn main(args: &ClientArgs) -> Result<(), String> {
    let url = &args.load.url;
    let mode = args.mode;
    if mode == ClientMode::Idle {
        alloc_count::enable(true);
    }
    let rt = runtime()?;
    rt.block_on(async {
        match mode {
            ClientMode::Throughput | ClientMode::Latency => delivery(url, mode, &args.load).await,
            ClientMode::Connect => connect(url, &args.load).await,
            ClientMode::Idle => idle(url, &args.load).await,
            ClientMode::Fanout => super::fanout::run(&args.load).await,
        }
    })
}

struct Delivery {
    total: u64,
    stall: Duration,
    warmup: u64,
    count: u64,
    errors: u64,
    first: Option<(Instant, f64)>,
    last: Option<(Instant, f64)>,
    latencies_ns: Vec<u64>,
    ack: AckSender,
}

impl Delivery {
    fn on_message(&mut self, received_ns: u64, message: &ServerEventMessage, done: &Notify) {
        // The typed decode every application does; the struct is used, so it is not elided.
        let chat = match message.parse_json::<ChatMessage>() {
            Ok(chat) => chat,
            Err(_) => {
                self.errors += 1;
                return;
            }
        };
        self.count += 1;
        if self.count == 1 {
            // Blocking the handler blocks the connection's reading: the backlog builds up.
            std::thread::sleep(self.stall);
            self.first = Some((Instant::now(), sys::cpu_seconds()));
        }
        if self.count > self.warmup && chat.sent_ns > 0 {
            self.latencies_ns
                .push(received_ns.saturating_sub(chat.sent_ns));
        }
        std::hint::black_box(&chat);
        self.ack.progress(self.count, self.total);
        if self.count == self.total {
            self.last = Some((Instant::now(), sys::cpu_seconds()));
            done.notify_one();
        }
    }
}

async fn delivery(url: &str, mode: ClientMode, args: &LoadArgs) -> Result<(), String> {
    let total = args.count()?;
    let warmup = args.warmup;
    let timeout = Duration::from_secs(args.timeout_secs);
    let (ack_port, run) = args.ack()?;
    let ack = AckSender::new(ack_port, run).map_err(|e| format!("ack socket: {e}"))?;
    let latency = mode == ClientMode::Latency;
    let state = Arc::new(Mutex::new(Delivery {
        total,
        stall: Duration::from_millis(args.stall_ms),
        warmup,
        count: 0,
        errors: 0,
        first: None,
        last: None,
        latencies_ns: Vec::with_capacity(if latency { total as usize } else { 0 }),
        ack,
    }));
    let done = Arc::new(Notify::new());
    let client = {
        let state = state.clone();
        let done = done.clone();
        ServerEventsClient::builder(url)
            .channels([CHANNEL])
            .handler("chat", move |_client, message| {
                let received_ns = if latency { sys::monotonic_ns() } else { 0 };
                let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
                state.on_message(received_ns, message, &done);
            })
            .build()
            .map_err(|e| e.to_string())?
    };
    client
        .connect()
        .await
        .map_err(|e| format!("connect: {e}"))?;
    emit(&json!({ "ready": true }));
    let finished = tokio::time::timeout(timeout, done.notified()).await.is_ok();
    client.stop().await;
    let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
    if !finished {
        return Err(format!(
            "received {} of {} messages in {timeout:?}",
            state.count, state.total
        ));
    }
    let result = if latency {
        let errors = state.errors;
        latency_result(&mut state.latencies_ns, errors)
    } else {
        let (Some(first), Some(last)) = (state.first, state.last) else {
            return Err("no messages".into());
        };
        json!({
            "events": state.count,
            "secs": (last.0 - first.0).as_secs_f64(),
            "cpu_secs": last.1 - first.1,
            "errors": state.errors,
        })
    };
    emit(&result);
    Ok(())
}

/// p50/p99/p99.9/max in microseconds of latency samples in nanoseconds.
pub fn latency_result(samples_ns: &mut [u64], errors: u64) -> serde_json::Value {
    samples_ns.sort_unstable();
    let us = |p: f64| percentile_sorted(samples_ns, p) as f64 / 1000.0;
    json!({
        "samples": samples_ns.len(),
        "p50_us": us(50.0),
        "p99_us": us(99.0),
        "p999_us": us(99.9),
        "max_us": us(100.0),
        "errors": errors,
    })
}

async fn connect(url: &str, args: &LoadArgs) -> Result<(), String> {
    let n = args.n()?;
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let client = ServerEventsClient::builder(url)
            .channels(["connect"])
            .build()
            .map_err(|e| e.to_string())?;
        let started = Instant::now();
        client
            .connect()
            .await
            .map_err(|e| format!("connect: {e}"))?;
        samples.push(started.elapsed().as_nanos() as u64);
        client.stop().await;
    }
    emit(&latency_result(&mut samples, 0));
    Ok(())
}

async fn idle(url: &str, args: &LoadArgs) -> Result<(), String> {
    sys::raise_nofile_limit();
    let n = args.n()?;
    let window = Duration::from_secs_f64(args.secs()?);
    let heartbeats = Arc::new(AtomicU64::new(0));
    let build = |channel: String| {
        let heartbeats = heartbeats.clone();
        ServerEventsClient::builder(url)
            .channels([channel])
            .on_heartbeat(move |_| {
                heartbeats.fetch_add(1, Ordering::Relaxed);
            })
            .build()
            .map_err(|e| e.to_string())
    };
    // One client first, so one-time costs (runtime threads, TLS setup, lazy statics) are not
    // charged to the measured ones.
    let warm = build("idle-warm".into())?;
    warm.connect().await.map_err(|e| format!("connect: {e}"))?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss0 = sys::rss_bytes(None);
    let live0 = alloc_count::snapshot();
    let clients: Vec<Result<ServerEventsClient, String>> = stream::iter(0..n)
        .map(|i| {
            let client = build(format!("idle-{i}"));
            async move {
                let client = client?;
                client
                    .connect()
                    .await
                    .map_err(|e| format!("connect: {e}"))?;
                Ok(client)
            }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    let clients: Vec<ServerEventsClient> = clients.into_iter().collect::<Result<_, _>>()?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss1 = sys::rss_bytes(None);
    let live1 = alloc_count::snapshot();
    let cpu1 = sys::cpu_seconds();
    let beats1 = heartbeats.load(Ordering::Relaxed);
    tokio::time::sleep(window).await;
    let cpu2 = sys::cpu_seconds();
    let beats2 = heartbeats.load(Ordering::Relaxed);
    let rss2 = sys::rss_bytes(None);
    let per = n.max(1) as f64;
    emit(&json!({
        "n": n,
        "rss_per_client": (rss1 as f64 - rss0 as f64) / per,
        "rss_after_window_per_client": (rss2 as f64 - rss0 as f64) / per,
        "live_per_client": live1.since(live0).live as f64 / per,
        "cpu_ms_per_client_per_min": (cpu2 - cpu1) * 1000.0 / per * 60.0 / window.as_secs_f64(),
        "heartbeats_per_client": (beats2 - beats1) as f64 / per,
        "window_secs": window.as_secs_f64(),
    }));
    stream::iter(clients)
        .for_each_concurrent(64, |client| async move { client.stop().await })
        .await;
    warm.stop().await;
    Ok(())
}
