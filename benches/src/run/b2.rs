//! B2 delivery: one subscriber on loopback, the server publishing `cmd.chat` messages.
//! Throughput in two settings: live (the publisher sends back to back within an acknowledgement
//! window, so it sets the pace) and backlog (the receiver stalls while the whole run is queued,
//! then drains it: the client is the bottleneck); publish→handler latency at fixed rates. Every
//! contender on the same server, contenders alternating within each round.

use std::time::Duration;

use serde_json::json;

use super::clients::{Client, PerClient, Programs, Server, order, push};
use super::plan::Plan;
use super::procs::num;
use sdk_benches::chat::CHANNEL;
use sdk_benches::sys;

/// One throughput run.
#[derive(Debug, Clone, Copy)]
pub struct Throughput {
    pub events_per_s: f64,
    pub cpu_s_per_million: f64,
}

/// One latency run (microseconds).
#[derive(Debug, Clone, Copy)]
pub struct Latency {
    pub p50_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    pub max_us: f64,
    /// The publisher's worst lateness against its schedule.
    pub publisher_lag_us: f64,
    /// CPU time the hypervisor stole from the machine during the run (ms, all CPUs).
    pub steal_ms: f64,
}

/// One backlog run: the drain of a queue built while the receiver stalled.
#[derive(Debug, Clone, Copy)]
pub struct Backlog {
    pub drain: Throughput,
    /// How long the publisher took to queue the run (it must fit in the stall).
    pub publish_secs: f64,
}

/// Everything B2 measured: per contender, one entry per run.
#[derive(Debug, Default)]
pub struct B2 {
    pub throughput: PerClient<Throughput>,
    pub backlog: PerClient<Backlog>,
    /// Per rate, per contender, the runs.
    pub latency: Vec<(f64, PerClient<Latency>)>,
}

/// Runs B2 on `server`.
pub fn measure(
    programs: &Programs,
    server: &mut Server,
    plan: &Plan,
    run_id: &mut u32,
) -> Result<B2, String> {
    let mut b2 = B2::default();
    for client in Client::DELIVERY {
        b2.throughput.push((client, Vec::new()));
    }
    for run in 0..plan.runs {
        for client in order(run, &Client::DELIVERY) {
            *run_id += 1;
            let result = throughput_once(programs, server, plan, client, *run_id)?;
            eprintln!(
                "B2 throughput {} run {}: {:.0} events/s, {:.2} CPU-s per million",
                client.short(),
                run + 1,
                result.events_per_s,
                result.cpu_s_per_million
            );
            push(&mut b2.throughput, client, result);
        }
    }
    for client in Client::BACKLOG {
        b2.backlog.push((client, Vec::new()));
    }
    for run in 0..plan.runs {
        for client in order(run, &Client::BACKLOG) {
            *run_id += 1;
            let result = backlog_once(programs, server, plan, client, *run_id)?;
            eprintln!(
                "B2 backlog {} run {}: {:.0} events/s, {:.2} CPU-s per million (queued in {:.2} s)",
                client.short(),
                run + 1,
                result.drain.events_per_s,
                result.drain.cpu_s_per_million,
                result.publish_secs
            );
            push(&mut b2.backlog, client, result);
        }
    }
    for &rate in &plan.rates {
        let mut per_client = Vec::new();
        for client in Client::DELIVERY {
            per_client.push((client, Vec::new()));
        }
        for run in 0..plan.runs {
            for client in order(run, &Client::DELIVERY) {
                *run_id += 1;
                let result = latency_once(programs, server, plan, client, rate, *run_id)?;
                eprintln!(
                    "B2 latency {} at {rate}/s run {}: p50 {:.0} µs, p99 {:.0} µs",
                    client.short(),
                    run + 1,
                    result.p50_us,
                    result.p99_us
                );
                push(&mut per_client, client, result);
            }
        }
        b2.latency.push((rate, per_client));
    }
    Ok(b2)
}

fn common(server: &Server, run_id: u32, count: u64) -> Vec<(&'static str, String)> {
    vec![
        ("url", server.url.clone()),
        ("run", run_id.to_string()),
        ("ack-port", server.ack_port.to_string()),
        ("count", count.to_string()),
    ]
}

fn throughput_once(
    programs: &Programs,
    server: &mut Server,
    plan: &Plan,
    client: Client,
    run_id: u32,
) -> Result<Throughput, String> {
    let count = plan.throughput_count;
    let options = common(server, run_id, count);
    drain(
        programs,
        server,
        plan,
        client,
        run_id,
        Publish {
            count,
            window: plan.window,
        },
        &options,
    )
    .map(|(t, _)| t)
}

/// Live mode's publisher with the window opened to the whole run, against a receiver that
/// stalls on the first message: the run is queued in the server before the receiver reads on.
fn backlog_once(
    programs: &Programs,
    server: &mut Server,
    plan: &Plan,
    client: Client,
    run_id: u32,
) -> Result<Backlog, String> {
    let count = plan.backlog_count;
    let mut options = common(server, run_id, count);
    options.push(("stall-ms", plan.backlog_stall.as_millis().to_string()));
    let (drain, publisher) = drain(
        programs,
        server,
        plan,
        client,
        run_id,
        Publish {
            count,
            window: count,
        },
        &options,
    )?;
    Ok(Backlog {
        drain,
        publish_secs: num(&publisher, "secs")?,
    })
}

/// What the publisher sends in a delivery run: `count` messages, at most `window` ahead of the
/// acknowledged count.
struct Publish {
    count: u64,
    window: u64,
}

/// One delivery run: the receiver's throughput and the publisher's report.
fn drain(
    programs: &Programs,
    server: &mut Server,
    plan: &Plan,
    client: Client,
    run_id: u32,
    publish: Publish,
    options: &[(&'static str, String)],
) -> Result<(Throughput, serde_json::Value), String> {
    let mut proc = programs.spawn(client, "throughput", options)?;
    proc.next(Duration::from_secs(60))?;
    server.wait_subs(CHANNEL, 1)?;
    server.proc.send(&json!({
        "cmd": "throughput",
        "run": run_id,
        "channel": CHANNEL,
        "count": publish.count,
        "body_len": plan.body_len,
        "window": publish.window,
    }))?;
    let timeout = Duration::from_secs(900);
    let result = proc.next(timeout)?;
    let publisher = server.proc.next(timeout)?;
    proc.finish(Duration::from_secs(30))?;
    server.wait_subs(CHANNEL, 0)?;
    let events = num(&result, "events")?;
    let secs = num(&result, "secs")?;
    let errors = num(&result, "errors")?;
    if errors > 0.0 {
        return Err(format!(
            "{}: {errors} messages failed to decode",
            client.short()
        ));
    }
    Ok((
        Throughput {
            events_per_s: (events - 1.0).max(1.0) / secs,
            cpu_s_per_million: num(&result, "cpu_secs")? / events * 1e6,
        },
        publisher,
    ))
}

fn latency_once(
    programs: &Programs,
    server: &mut Server,
    plan: &Plan,
    client: Client,
    rate: f64,
    run_id: u32,
) -> Result<Latency, String> {
    let warmup = (rate * plan.latency_warmup_secs).round() as u64;
    let count = warmup + (rate * plan.latency_secs).round() as u64;
    let mut options = common(server, run_id, count);
    options.push(("warmup", warmup.to_string()));
    let mut proc = programs.spawn(client, "latency", &options)?;
    proc.next(Duration::from_secs(60))?;
    server.wait_subs(CHANNEL, 1)?;
    server.proc.send(&json!({
        "cmd": "rate",
        "run": run_id,
        "channel": CHANNEL,
        "rate": rate,
        "count": count,
        "body_len": plan.body_len,
    }))?;
    let timeout = Duration::from_secs_f64(plan.latency_secs + plan.latency_warmup_secs + 120.0);
    let steal_before = sys::steal_seconds();
    let publisher = server.proc.next(timeout)?;
    let steal_ms = steal_before
        .zip(sys::steal_seconds())
        .map_or(0.0, |(before, after)| (after - before) * 1e3);
    let result = proc.next(timeout)?;
    proc.finish(Duration::from_secs(30))?;
    server.wait_subs(CHANNEL, 0)?;
    Ok(Latency {
        p50_us: num(&result, "p50_us")?,
        p99_us: num(&result, "p99_us")?,
        p999_us: num(&result, "p999_us")?,
        max_us: num(&result, "max_us")?,
        publisher_lag_us: num(&publisher, "max_publisher_lag_us")?,
        steal_ms,
    })
}
