//! B3 footprint: connect→onConnect time, memory and CPU per idle client, and the server's
//! memory per subscriber.

use std::time::Duration;

use super::clients::{Client, PerClient, Programs, Server, order, push};
use super::plan::Plan;
use super::procs::num;

/// One connect run (microseconds).
#[derive(Debug, Clone, Copy)]
pub struct Connect {
    pub p50_us: f64,
    pub p99_us: f64,
}

/// One idle run, per client.
#[derive(Debug, Clone, Copy)]
pub struct Idle {
    pub rss_bytes: f64,
    /// Allocator live bytes (Rust) or JS heap + external (Node).
    pub live_bytes: f64,
    pub cpu_ms_per_min: f64,
    pub heartbeats: f64,
}

/// Everything B3 measured.
#[derive(Debug, Default)]
pub struct B3 {
    pub connect: PerClient<Connect>,
    /// Per client count, per contender, the runs.
    pub idle: Vec<(usize, PerClient<Idle>)>,
    /// Server bytes per subscriber, one per run.
    pub server_bytes_per_subscriber: Vec<f64>,
}

/// Connect times and idle costs on `server`.
pub fn measure_clients(
    programs: &Programs,
    server: &mut Server,
    plan: &Plan,
) -> Result<B3, String> {
    let mut b3 = B3::default();
    for run in 0..plan.runs {
        for client in order(run, &Client::DELIVERY) {
            let mut proc = programs.spawn(
                client,
                "connect",
                &[
                    ("url", server.url.clone()),
                    ("n", plan.connects.to_string()),
                ],
            )?;
            let result = proc.next(Duration::from_secs(600))?;
            proc.finish(Duration::from_secs(30))?;
            let connect = Connect {
                p50_us: num(&result, "p50_us")?,
                p99_us: num(&result, "p99_us")?,
            };
            eprintln!(
                "B3 connect {} run {}: p50 {:.0} µs, p99 {:.0} µs",
                client.short(),
                run + 1,
                connect.p50_us,
                connect.p99_us
            );
            push(&mut b3.connect, client, connect);
            // Let the server forget the floor's dropped streams before the next contender.
            server.wait_subs("connect", 0)?;
        }
    }
    for &n in &plan.idle_clients {
        let mut per_client = Vec::new();
        for run in 0..plan.runs {
            for client in order(run, &Client::IDLE) {
                let mut proc = programs.spawn(
                    client,
                    "idle",
                    &[
                        ("url", server.url.clone()),
                        ("n", n.to_string()),
                        ("secs", plan.idle_secs.to_string()),
                    ],
                )?;
                let result = proc.next(Duration::from_secs_f64(plan.idle_secs + 300.0))?;
                proc.finish(Duration::from_secs(120))?;
                let idle = Idle {
                    rss_bytes: num(&result, "rss_per_client")?,
                    live_bytes: num(&result, "live_per_client")?,
                    cpu_ms_per_min: num(&result, "cpu_ms_per_client_per_min")?,
                    heartbeats: num(&result, "heartbeats_per_client")?,
                };
                eprintln!(
                    "B3 idle {} N={n} run {}: {:.0} B RSS, {:.0} B live, {:.3} CPU-ms/min, {:.1} heartbeats per client",
                    client.short(),
                    run + 1,
                    idle.rss_bytes,
                    idle.live_bytes,
                    idle.cpu_ms_per_min,
                    idle.heartbeats
                );
                push(&mut per_client, client, idle);
            }
        }
        b3.idle.push((n, per_client));
    }
    Ok(b3)
}

/// The server's resident memory per subscriber: a fresh server per run, `subscribers` raw
/// streams held open by one floor process.
pub fn measure_server(programs: &Programs, plan: &Plan) -> Result<Vec<f64>, String> {
    let mut per_subscriber = Vec::new();
    for run in 0..plan.runs {
        let server = programs.server(plan.heartbeat_ms)?;
        let growth = hold_streams(programs, server, plan.server_subscribers, || Ok(()))?;
        let bytes = growth.rss_per_subscriber();
        eprintln!(
            "B3 server memory run {}: {bytes:.0} B per subscriber",
            run + 1
        );
        per_subscriber.push(bytes);
    }
    Ok(per_subscriber)
}

/// What holding streams on a fresh server changed: its RSS, its subscriber count and whatever
/// `sample` reads beside it (B5: Redis's memory), before and after.
pub struct Growth<T> {
    pub rss: (f64, f64),
    pub added: f64,
    pub sampled: (T, T),
}

impl<T> Growth<T> {
    /// The server's RSS growth per added subscriber.
    pub fn rss_per_subscriber(&self) -> f64 {
        (self.rss.1 - self.rss.0) / self.added
    }
}

/// Warms `server` up with a few streams (so one-time costs are not counted), samples, holds
/// `subscribers` more raw streams from one floor process, samples again, then stops them all
/// and the server.
pub fn hold_streams<T>(
    programs: &Programs,
    mut server: Server,
    subscribers: usize,
    mut sample: impl FnMut() -> Result<T, String>,
) -> Result<Growth<T>, String> {
    let mut warm = programs.spawn(
        Client::Floor,
        "hold",
        &[("url", server.url.clone()), ("n", "16".to_owned())],
    )?;
    warm.next(Duration::from_secs(60))?;
    std::thread::sleep(Duration::from_millis(300));
    let (rss0, subs0) = server.stats()?;
    let sampled0 = sample()?;
    let mut hold = programs.spawn(
        Client::Floor,
        "hold",
        &[("url", server.url.clone()), ("n", subscribers.to_string())],
    )?;
    hold.next(Duration::from_secs(300))?;
    std::thread::sleep(Duration::from_millis(500));
    let (rss1, subs1) = server.stats()?;
    let sampled1 = sample()?;
    let added = subs1 - subs0;
    if added < subscribers as f64 {
        return Err(format!(
            "only {added} of {subscribers} subscribers registered"
        ));
    }
    hold.finish(Duration::from_secs(60))?;
    warm.finish(Duration::from_secs(60))?;
    server.quit()?;
    Ok(Growth {
        rss: (rss0, rss1),
        added,
        sampled: (sampled0, sampled1),
    })
}
