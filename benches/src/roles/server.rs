//! `sdk-bench server`: the reference server (the `test-server` library) plus a publisher; with
//! `--redis URL`, one node of a cluster on that Redis (B5).
//!
//! Prints `{"url":…,"ack_port":…,"pid":…}`, then answers one JSON command per stdin line:
//! - `{"cmd":"wait_subs","channel":C,"count":N}`: waits until C has N subscribers.
//! - `{"cmd":"throughput","run":R,"channel":C,"count":N,"body_len":B,"window":W}`: publishes N
//!   chat messages back to back, never more than W ahead of the acknowledged count.
//! - `{"cmd":"rate","run":R,"channel":C,"rate":E,"count":N,"body_len":B}`: publishes N messages at E
//!   per second, each stamped with `CLOCK_MONOTONIC` just before it is handed to the server.
//! - `{"cmd":"stats"}`: resident memory, subscription count, CPU seconds.
//! - `{"cmd":"quit"}` (or end of input).
//!
//! The publisher is a dedicated OS thread calling `notify_channel_json`, the way an application
//! would publish from its own code; the server's own tokio workers only write the streams.

use std::io::BufRead as _;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::json;
use servicestack_events_server::{ServerConfig, TestServer};

use super::ack::AckReceiver;
use super::{emit, runtime};
use crate::args::ServerArgs;
use sdk_benches::chat::{SELECTOR, chat_json};
use sdk_benches::sys;

/// How long a publisher waits for acknowledgements to move before giving up.
const STALL: Duration = Duration::from_secs(30);

#[derive(Debug, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
enum Command {
    WaitSubs {
        channel: String,
        count: usize,
    },
    Throughput {
        run: u32,
        channel: String,
        count: u64,
        body_len: usize,
        window: u64,
    },
    Rate {
        run: u32,
        channel: String,
        rate: f64,
        count: u64,
        body_len: usize,
    },
    Stats,
    Quit,
}

/// Runs the server until `quit`.
pub fn main(args: &ServerArgs) -> Result<(), String> {
    sys::raise_nofile_limit();
    let config = ServerConfig {
        heartbeat_interval: Duration::from_millis(args.heartbeat_ms),
        // Raw floor streams never heartbeat; they must not expire during a run.
        idle_timeout: Duration::from_millis(args.idle_timeout_ms),
        subscriber_buffer_bytes: args.buffer_bytes,
        redis_url: args.redis.clone(),
        ..ServerConfig::default()
    };
    let rt = runtime()?;
    let server = rt
        .block_on(TestServer::start(config))
        .map_err(|e| format!("cannot start the server: {e}"))?;
    let acks = AckReceiver::start().map_err(|e| format!("cannot bind the ack socket: {e}"))?;
    emit(&json!({
        "url": server.base_url(),
        "ack_port": acks.port(),
        "pid": std::process::id(),
    }));
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        let command: Command = match serde_json::from_str(&line) {
            Ok(command) => command,
            Err(e) => {
                emit(&json!({ "error": format!("bad command {line:?}: {e}") }));
                continue;
            }
        };
        let reply = match command {
            Command::Quit => break,
            Command::Stats => json!({
                "rss": sys::rss_bytes(None),
                "subs": server.events().subscription_count(),
                "cpu": sys::cpu_seconds(),
            }),
            Command::WaitSubs { channel, count } => wait_subs(&server, &channel, count),
            Command::Throughput {
                run,
                channel,
                count,
                body_len,
                window,
            } => publish_back_to_back(&server, &acks, run, &channel, count, body_len, window),
            Command::Rate {
                run,
                channel,
                rate,
                count,
                body_len,
            } => {
                acks.begin(run);
                publish_at_rate(&server, &channel, rate, count, body_len)
            }
        };
        emit(&reply);
    }
    rt.block_on(server.shutdown());
    Ok(())
}

fn wait_subs(server: &TestServer, channel: &str, count: usize) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let subs = server.events().get_subscriptions_details(&[channel]).len();
        if subs == count {
            return json!({ "subs": subs });
        }
        if Instant::now() > deadline {
            return json!({ "error": format!("{channel} has {subs} of {count} subscribers") });
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn publish_back_to_back(
    server: &TestServer,
    acks: &AckReceiver,
    run: u32,
    channel: &str,
    count: u64,
    body_len: usize,
    window: u64,
) -> serde_json::Value {
    acks.begin(run);
    let events = server.events();
    let started = Instant::now();
    let mut waits = 0u64;
    let mut acked = 0;
    for id in 1..=count {
        if id > acked + window {
            acked = acks.acked();
            if id > acked + window {
                waits += 1;
                if !acks.wait_for(id - window, STALL) {
                    return json!({ "error": format!("no acknowledgement for {STALL:?} at message {id}") });
                }
                acked = acks.acked();
            }
        }
        let body = chat_json(id, sys::monotonic_ns(), body_len);
        if let Err(e) = events.notify_channel_json(channel, SELECTOR, &body) {
            return json!({ "error": format!("notify failed: {e}") });
        }
    }
    json!({
        "published": count,
        "secs": started.elapsed().as_secs_f64(),
        "window_waits": waits,
    })
}

fn publish_at_rate(
    server: &TestServer,
    channel: &str,
    rate: f64,
    count: u64,
    body_len: usize,
) -> serde_json::Value {
    let events = server.events();
    let period = Duration::from_secs_f64(1.0 / rate);
    let started = Instant::now();
    let mut max_lag = Duration::ZERO;
    for id in 1..=count {
        let due = started + period.mul_f64((id - 1) as f64);
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        } else {
            max_lag = max_lag.max(now - due);
        }
        let body = chat_json(id, sys::monotonic_ns(), body_len);
        if let Err(e) = events.notify_channel_json(channel, SELECTOR, &body) {
            return json!({ "error": format!("notify failed: {e}") });
        }
    }
    json!({
        "published": count,
        "secs": started.elapsed().as_secs_f64(),
        "max_publisher_lag_us": max_lag.as_micros() as u64,
    })
}
