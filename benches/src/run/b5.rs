//! B5 scale-out: fan-out through one node against two nodes on one Redis, and a node's memory
//! per subscriber on the local provider and on Redis.
//!
//! Fan-out: `plan.b5_subscribers` SDK clients in one process (`sdk-bench client --mode fanout`),
//! split round robin across the nodes of the setting, all on the chat channel; the publisher
//! thread of node 0 publishes to the channel. Three settings, alternating within each round
//! like B2's contenders: one node on the local provider, one node on Redis, two nodes on one
//! Redis. Each round starts the setting's nodes fresh and stops them afterwards, so only the
//! measured nodes listen to the Redis topic.
//!
//! Memory: a fresh node per run, one floor process holding `plan.b5_memory_subscribers` raw
//! streams; the node's RSS growth ÷ subscribers, and on Redis also Redis's `used_memory` growth.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::json;

use super::b3::hold_streams;
use super::clients::{Client, Programs, Server};
use super::plan::Plan;
use super::procs::{Proc, num};
use sdk_benches::chat::CHANNEL;
use sdk_benches::sys;

/// Where the subscriptions live and through how many nodes the subscribers are served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// One node, the local (in-memory) provider.
    LocalOne,
    /// One node on Redis.
    RedisOne,
    /// Two nodes on one Redis; the subscribers split between them.
    RedisTwo,
}

impl Setting {
    /// Every setting, in report order.
    pub const ALL: [Setting; 3] = [Setting::LocalOne, Setting::RedisOne, Setting::RedisTwo];

    /// The name in the report.
    pub fn name(self) -> &'static str {
        match self {
            Setting::LocalOne => "1 node, local provider",
            Setting::RedisOne => "1 node on Redis",
            Setting::RedisTwo => "2 nodes on one Redis",
        }
    }

    fn nodes(self) -> usize {
        match self {
            Setting::LocalOne | Setting::RedisOne => 1,
            Setting::RedisTwo => 2,
        }
    }

    fn on_redis(self) -> bool {
        self != Setting::LocalOne
    }
}

/// Where a node keeps its subscriptions (memory runs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// In the node's memory only.
    Local,
    /// In the node and in Redis.
    Redis,
}

impl Provider {
    /// Both, in report order.
    pub const ALL: [Provider; 2] = [Provider::Local, Provider::Redis];

    /// The name in the report.
    pub fn name(self) -> &'static str {
        match self {
            Provider::Local => "local provider",
            Provider::Redis => "Redis",
        }
    }
}

/// One fan-out latency run (microseconds, over every subscriber's samples).
#[derive(Debug, Clone, Copy)]
pub struct Latency {
    pub p50_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
    /// The publisher's worst lateness against its schedule.
    pub publisher_lag_us: f64,
    /// CPU time the hypervisor stole from the machine during the run (ms, all CPUs).
    pub steal_ms: f64,
}

/// One memory run.
#[derive(Debug, Clone, Copy)]
pub struct Memory {
    /// The node process's RSS growth ÷ subscribers.
    pub node_bytes: f64,
    /// Redis's `used_memory` growth ÷ subscribers (Redis only).
    pub redis_bytes: Option<f64>,
}

/// Everything B5 measured, one entry per run.
#[derive(Debug, Default)]
pub struct B5 {
    /// Delivered messages per second, summed over the subscribers.
    pub throughput: Vec<(Setting, Vec<f64>)>,
    /// Publish→handler latency at `plan.b5_rate`.
    pub latency: Vec<(Setting, Vec<Latency>)>,
    /// Memory per subscriber.
    pub memory: Vec<(Provider, Vec<Memory>)>,
}

fn push<K: PartialEq + Copy, T>(table: &mut Vec<(K, Vec<T>)>, key: K, value: T) {
    match table.iter_mut().find(|(k, _)| *k == key) {
        Some((_, runs)) => runs.push(value),
        None => table.push((key, vec![value])),
    }
}

/// `items` rotated by `run`, so that none always goes first.
fn rotated<T: Copy>(run: usize, items: &[T]) -> Vec<T> {
    (0..items.len())
        .map(|i| items[(i + run) % items.len()])
        .collect()
}

/// A redis-server for the run, and its address.
pub struct Redis {
    /// `redis://127.0.0.1:PORT`.
    pub url: String,
    /// Its port, for `INFO memory`.
    pub port: u16,
}

/// Runs B5's fan-out rounds and memory runs on `redis`.
pub fn measure(
    programs: &Programs,
    plan: &Plan,
    redis: &Redis,
    run_id: &mut u32,
) -> Result<B5, String> {
    let mut b5 = B5::default();
    for setting in Setting::ALL {
        b5.throughput.push((setting, Vec::new()));
        b5.latency.push((setting, Vec::new()));
    }
    for run in 0..plan.runs {
        for setting in rotated(run, &Setting::ALL) {
            let url = setting.on_redis().then_some(redis.url.as_str());
            let mut nodes = (0..setting.nodes())
                .map(|_| programs.node(plan.heartbeat_ms, url))
                .collect::<Result<Vec<_>, _>>()?;
            *run_id += 1;
            let per_s = throughput_once(programs, &mut nodes, plan, *run_id)?;
            eprintln!(
                "B5 fan-out {} run {}: {per_s:.0} messages/s delivered",
                setting.name(),
                run + 1
            );
            push(&mut b5.throughput, setting, per_s);
            *run_id += 1;
            let latency = latency_once(programs, &mut nodes, plan, *run_id)?;
            eprintln!(
                "B5 latency {} at {}/s run {}: p50 {:.0} µs, p99 {:.0} µs",
                setting.name(),
                plan.b5_rate,
                run + 1,
                latency.p50_us,
                latency.p99_us
            );
            push(&mut b5.latency, setting, latency);
            for node in nodes {
                node.quit()?;
            }
        }
    }
    for run in 0..plan.runs {
        for provider in rotated(run, &Provider::ALL) {
            let memory = memory_once(programs, plan, provider, redis)?;
            eprintln!(
                "B5 memory {} run {}: node {:.0} B per subscriber{}",
                provider.name(),
                run + 1,
                memory.node_bytes,
                memory
                    .redis_bytes
                    .map_or(String::new(), |b| format!(", Redis {b:.0} B"))
            );
            push(&mut b5.memory, provider, memory);
        }
    }
    Ok(b5)
}

/// Starts the subscribers on `nodes` (round robin) and waits until every node has its share.
fn subscribe(
    programs: &Programs,
    nodes: &mut [Server],
    plan: &Plan,
    run_id: u32,
    count: u64,
    warmup: u64,
) -> Result<Proc, String> {
    let urls: Vec<&str> = nodes.iter().map(|n| n.url.as_str()).collect();
    let mut proc = programs.spawn(
        Client::Sdk,
        "fanout",
        &[
            ("url", urls.join(",")),
            ("n", plan.b5_subscribers.to_string()),
            ("count", count.to_string()),
            ("warmup", warmup.to_string()),
            ("ack-port", nodes[0].ack_port.to_string()),
            ("run", run_id.to_string()),
        ],
    )?;
    proc.next(Duration::from_secs(60))?;
    let stride = nodes.len();
    for (i, node) in nodes.iter_mut().enumerate() {
        // Client j is on node j % stride.
        let share = (i..plan.b5_subscribers).step_by(stride).count();
        node.wait_subs(CHANNEL, share)?;
    }
    Ok(proc)
}

fn unsubscribed(nodes: &mut [Server]) -> Result<(), String> {
    for node in nodes {
        node.wait_subs(CHANNEL, 0)?;
    }
    Ok(())
}

/// Delivered messages per second over all subscribers, the publisher back to back within the
/// acknowledgement window (acknowledged by the slowest subscriber).
fn throughput_once(
    programs: &Programs,
    nodes: &mut [Server],
    plan: &Plan,
    run_id: u32,
) -> Result<f64, String> {
    let mut proc = subscribe(programs, nodes, plan, run_id, plan.b5_count, 0)?;
    nodes[0].proc.send(&json!({
        "cmd": "throughput",
        "run": run_id,
        "channel": CHANNEL,
        "count": plan.b5_count,
        "body_len": plan.body_len,
        "window": plan.window,
    }))?;
    let timeout = Duration::from_secs(900);
    let result = proc.next(timeout)?;
    nodes[0].proc.next(timeout)?;
    proc.finish(Duration::from_secs(30))?;
    unsubscribed(nodes)?;
    check_errors(&result)?;
    let delivered = num(&result, "delivered")?;
    let expected = plan.b5_count as f64 * plan.b5_subscribers as f64;
    if delivered < expected {
        return Err(format!("B5: {delivered} of {expected} messages delivered"));
    }
    Ok((delivered - 1.0).max(1.0) / num(&result, "secs")?)
}

fn check_errors(result: &serde_json::Value) -> Result<(), String> {
    let errors = num(result, "errors")?;
    if errors > 0.0 {
        return Err(format!("B5: {errors} messages failed to decode"));
    }
    Ok(())
}

/// Publish→handler latency at `plan.b5_rate`, over every subscriber's samples.
fn latency_once(
    programs: &Programs,
    nodes: &mut [Server],
    plan: &Plan,
    run_id: u32,
) -> Result<Latency, String> {
    let warmup = (plan.b5_rate * plan.latency_warmup_secs).round() as u64;
    let count = warmup + (plan.b5_rate * plan.b5_latency_secs).round() as u64;
    let mut proc = subscribe(programs, nodes, plan, run_id, count, warmup)?;
    nodes[0].proc.send(&json!({
        "cmd": "rate",
        "run": run_id,
        "channel": CHANNEL,
        "rate": plan.b5_rate,
        "count": count,
        "body_len": plan.body_len,
    }))?;
    let timeout = Duration::from_secs_f64(plan.b5_latency_secs + plan.latency_warmup_secs + 120.0);
    let steal_before = sys::steal_seconds();
    let publisher = nodes[0].proc.next(timeout)?;
    let steal_ms = steal_before
        .zip(sys::steal_seconds())
        .map_or(0.0, |(before, after)| (after - before) * 1e3);
    let result = proc.next(timeout)?;
    proc.finish(Duration::from_secs(30))?;
    unsubscribed(nodes)?;
    check_errors(&result)?;
    Ok(Latency {
        p50_us: num(&result, "p50_us")?,
        p99_us: num(&result, "p99_us")?,
        max_us: num(&result, "max_us")?,
        publisher_lag_us: num(&publisher, "max_publisher_lag_us")?,
        steal_ms,
    })
}

/// One memory run on a fresh node: warm it up with a few streams, then hold
/// `plan.b5_memory_subscribers` more and divide the growth.
fn memory_once(
    programs: &Programs,
    plan: &Plan,
    provider: Provider,
    redis: &Redis,
) -> Result<Memory, String> {
    let on_redis = provider == Provider::Redis;
    let server = programs.node(plan.heartbeat_ms, on_redis.then_some(redis.url.as_str()))?;
    let growth = hold_streams(programs, server, plan.b5_memory_subscribers, || {
        on_redis.then(|| used_memory(redis.port)).transpose()
    })
    .map_err(|e| format!("B5: {e}"))?;
    Ok(Memory {
        node_bytes: growth.rss_per_subscriber(),
        redis_bytes: growth
            .sampled
            .0
            .zip(growth.sampled.1)
            .map(|(before, after)| (after - before) / growth.added),
    })
}

/// Redis's `used_memory` (bytes), from `INFO memory` over a plain connection.
fn used_memory(port: u16) -> Result<f64, String> {
    let error = |e: std::io::Error| format!("INFO memory on Redis port {port}: {e}");
    let mut stream = TcpStream::connect(("127.0.0.1", port)).map_err(error)?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(error)?;
    stream.write_all(b"INFO memory\r\n").map_err(error)?;
    let mut reader = BufReader::new(stream);
    let mut header = String::new();
    reader.read_line(&mut header).map_err(error)?;
    let len: usize = header
        .trim_end()
        .strip_prefix('$')
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("Redis answered INFO with {header:?}"))?;
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body).map_err(error)?;
    String::from_utf8_lossy(&body)
        .lines()
        .find_map(|line| line.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| "Redis's INFO memory has no used_memory".to_owned())
}
