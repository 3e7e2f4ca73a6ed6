//! Writes BENCHMARKS.md from what the run measured. Every figure comes from this run.

use std::fmt::Write as _;

use sdk_benches::corpus::{Chunking, Shape};
use sdk_benches::decoders::Contender;
use sdk_benches::stats::median;

use super::b1::{Case, Timing};
use super::b2::B2;
use super::b3::B3;
use super::clients::Client;
use super::machine::Machine;
use super::plan::Plan;

/// Everything the report needs.
pub struct Results {
    pub plan: Plan,
    pub machine: Machine,
    /// The commands that produced the run, in order.
    pub commands: Vec<String>,
    /// Criterion's sample count per B1 case (from its `sample.json`).
    pub criterion_samples: Option<usize>,
    /// `(moment, 1-minute load average)`.
    pub loads: Vec<(String, f64)>,
    pub b1: Vec<Case>,
    pub b2: B2,
    pub b3: B3,
    pub b5: super::b5::B5,
    /// The npm package's module size, from `client-wasm/pkg-dist/size.json`.
    pub wasm: Option<WasmSize>,
    pub elapsed_secs: f64,
    /// The charts drawn from these results, linked at the top of the report.
    pub charts: Vec<super::charts::Chart>,
}

/// What `cargo xtask wasm` measured of the package it packed.
#[derive(Debug, Clone)]
pub struct WasmSize {
    /// The wasm module, raw.
    pub bytes: u64,
    /// The wasm module, gzipped.
    pub gzip_bytes: u64,
    /// Every file a browser or Node loads (wasm and JavaScript).
    pub files: Vec<FileSize>,
    /// The official client's minified ESM bundle, or why it was not measured.
    pub official: Result<FileSize, String>,
    pub profile: String,
    /// When `size.json` was written (UTC).
    pub written: String,
}

/// One file's size, raw and gzipped.
#[derive(Debug, Clone)]
pub struct FileSize {
    pub path: String,
    pub bytes: u64,
    pub gzip_bytes: u64,
}

/// B4's goal (issue 15): the package's wasm and JavaScript, gzipped and summed, at most 40 KB.
const PACKAGE_GZIP_GOAL: u64 = 40_960;

impl WasmSize {
    /// The gzipped wasm and JavaScript, summed (the module alone when an older `size.json`
    /// lists no files).
    pub fn total_gzip(&self) -> u64 {
        if self.files.is_empty() {
            self.gzip_bytes
        } else {
            self.files.iter().map(|f| f.gzip_bytes).sum()
        }
    }
}

/// A goal and whether the run met it.
struct Goal {
    text: String,
    /// The setting it was measured in (equal input, live, backlog, ...).
    setting: String,
    measured: String,
    met: Option<bool>,
}

fn rate(per_s: f64) -> String {
    if per_s >= 1e6 {
        format!("{:.2} M/s", per_s / 1e6)
    } else if per_s >= 1e3 {
        format!("{:.1} k/s", per_s / 1e3)
    } else {
        format!("{per_s:.0} /s")
    }
}

fn mib_s(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

fn bytes(v: f64) -> String {
    if v.abs() >= 1024.0 * 1024.0 {
        format!("{:.2} MiB", v / (1024.0 * 1024.0))
    } else if v.abs() >= 1024.0 {
        format!("{:.1} KiB", v / 1024.0)
    } else {
        format!("{v:.0} B")
    }
}

fn us(v: f64) -> String {
    if v >= 10_000.0 {
        format!("{:.1} ms", v / 1000.0)
    } else {
        format!("{v:.0} µs")
    }
}

fn ratio(v: f64) -> String {
    if v >= 10.0 {
        format!("{v:.0}×")
    } else {
        format!("{v:.2}×")
    }
}

/// `value` rounded to `decimals` places, or to more where that rounding would land on `bound` or
/// across it: a figure next to a goal must sit on the same side of the goal's bound as the value
/// it rounds (89.5% of a 90% goal shows as "89.5", not "90").
fn against(value: f64, bound: f64, decimals: usize) -> String {
    let side = |x: f64| x.partial_cmp(&bound);
    let mut shown = format!("{value:.decimals$}");
    for more in decimals + 1..=decimals + 6 {
        if shown.parse::<f64>().ok().and_then(side) == side(value) {
            break;
        }
        shown = format!("{value:.more$}");
    }
    shown
}

/// [`ratio`] against a goal's bound (see [`against`]).
fn ratio_against(v: f64, bound: f64) -> String {
    format!("{}×", against(v, bound, if v >= 10.0 { 0 } else { 2 }))
}

/// A fraction as a whole percent, against a goal's bound given as a fraction (see [`against`]).
fn percent_against(fraction: f64, bound: f64) -> String {
    format!("{}%", against(fraction * 100.0, bound * 100.0, 0))
}

fn status(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "**met**",
        Some(false) => "**missed**",
        None => "not measured",
    }
}

fn med<T>(runs: &[T], f: impl Fn(&T) -> f64) -> Option<f64> {
    median(&runs.iter().map(f).collect::<Vec<_>>())
}

fn spread<T>(runs: &[T], f: impl Fn(&T) -> f64) -> String {
    let values: Vec<f64> = runs.iter().map(f).collect();
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if values.len() < 2 {
        String::new()
    } else {
        format!("{min:.0}–{max:.0}")
    }
}

fn runs_of<T: Clone>(table: &[(Client, Vec<T>)], client: Client) -> Vec<T> {
    table
        .iter()
        .find(|(c, _)| *c == client)
        .map(|(_, r)| r.clone())
        .unwrap_or_default()
}

fn case(b1: &[Case], shape: Shape, chunking: Chunking, contender: Contender) -> Option<&Case> {
    b1.iter()
        .find(|c| c.shape == shape && c.chunking == chunking && c.contender == contender)
}

/// client-core's events/s on equal input (a `Stream` of `Bytes`) over `other`'s: the back-to-back
/// ratio where there is one, else the ratio of the separately timed cases.
fn versus(b1: &[Case], shape: Shape, chunking: Chunking, other: Contender) -> Option<f64> {
    let theirs = case(b1, shape, chunking, other)?;
    theirs.paired_ratio.or_else(|| {
        let ours = case(b1, shape, chunking, Contender::OursStream)?;
        Some(ours.events_per_s() / theirs.events_per_s())
    })
}

/// The share of client-core's stream-fed time that draining the `Stream` of `Bytes` alone takes.
fn stream_share(b1: &[Case], shape: Shape, chunking: Chunking) -> Option<f64> {
    let ours = case(b1, shape, chunking, Contender::OursStream)?;
    let stream = case(b1, shape, chunking, Contender::StreamFloor)?;
    Some(stream.ns() / ours.ns())
}

/// A peer's time beyond the `Stream`'s over client-core's, from the peer's ratio `x` to
/// client-core and the `Stream`'s `share` of client-core's time: what the decoders themselves
/// add to the cost they share. None when the `Stream` alone takes all of client-core's time
/// (timed on its own it is not cheaper than client-core reading it, so nothing is left).
fn beyond_the_stream(x: f64, share: f64) -> Option<f64> {
    (share < 1.0 && x > share).then(|| (x - share) / (1.0 - share))
}

fn goals(r: &Results) -> Vec<Goal> {
    let mut goals = Vec::new();
    // B1: ours against each peer on 120 B frames, at every chunking, all fed the same `Stream`.
    for (peer, factor) in [
        (Contender::EventsourceStream, 10.0),
        (Contender::SseStream, 2.0),
    ] {
        let mut parts = Vec::new();
        let mut worst: Option<(f64, Chunking)> = None;
        let mut limits = Vec::new();
        for chunking in Chunking::ALL {
            if let Some(x) = versus(&r.b1, Shape::Frames120, chunking, peer) {
                if worst.is_none_or(|(w, _)| x < w) {
                    worst = Some((x, chunking));
                }
                parts.push(format!("{} {}", chunking.name(), ratio_against(x, factor)));
                // A miss is explained by what the `Stream` itself costs there: a decoder that
                // cost nothing would still take the Stream's time, which caps the ratio.
                if x < factor
                    && let Some(share) = stream_share(&r.b1, Shape::Frames120, chunking)
                {
                    let beyond = beyond_the_stream(x, share).map_or(String::new(), |own| {
                        format!(
                            ", and beyond that shared cost {}'s decoding takes {} the time of client-core's",
                            peer.name(),
                            ratio(own)
                        )
                    });
                    limits.push(format!(
                        "at {} the `Stream` alone takes {:.0}% of client-core's time, so no stream-fed decoder could exceed {}{beyond}",
                        chunking.name(),
                        share * 100.0,
                        ratio_against(x / share, factor)
                    ));
                }
            }
        }
        let met = worst.map(|(w, _)| w >= factor);
        let limit = if limits.is_empty() {
            String::new()
        } else {
            format!("; {}", limits.join("; "))
        };
        goals.push(Goal {
            text: format!(
                "B1: events/s on 120 B frames at least {factor:.0}× {} (every chunking)",
                peer.name()
            ),
            setting: "equal input: every decoder polls the same `Stream` of `Bytes`".into(),
            measured: match worst {
                None => "–".into(),
                Some((w, _)) => format!(
                    "lowest {} ({}){limit}",
                    ratio_against(w, factor),
                    parts.join(", ")
                ),
            },
            met,
        });
    }
    let whole = case(&r.b1, Shape::OneMiB, Chunking::Whole, Contender::Ours).map(Case::ns);
    // (slices: linearity is the decoder's own property, without the `Stream` around it)
    let seven = case(&r.b1, Shape::OneMiB, Chunking::Bytes(7), Contender::Ours).map(Case::ns);
    let linear = whole.zip(seven).map(|(w, s)| s / w);
    let floor_whole = case(&r.b1, Shape::OneMiB, Chunking::Whole, Contender::Floor).map(Case::ns);
    let floor_seven =
        case(&r.b1, Shape::OneMiB, Chunking::Bytes(7), Contender::Floor).map(Case::ns);
    let floor_linear = floor_seven.zip(whole.or(floor_whole)).map(|(s, w)| s / w);
    goals.push(Goal {
        text: "B1: the 1 MiB event in 7-byte chunks costs at most 3× feeding it whole".into(),
        setting: "client-core's own API (slices)".into(),
        measured: linear.map_or("–".into(), |x| {
            format!(
                "{} the time{}",
                ratio_against(x, 3.0),
                floor_linear.map_or(String::new(), |f| format!(
                    " (the floor, scanning and copying 7-byte chunks without decoding, already takes {} client-core's whole-feed time)",
                    ratio(f)
                ))
            )
        }),
        met: linear.map(|x| x <= 3.0),
    });
    let tput = |client| med(&runs_of(&r.b2.throughput, client), |t| t.events_per_s);
    let sdk = tput(Client::Sdk);
    let vs_official = sdk.zip(tput(Client::Official)).map(|(a, b)| a / b);
    goals.push(Goal {
        text: "B2: events/s at least 5× the official client's".into(),
        setting: "live: the publisher sends back to back within an acknowledgement window".into(),
        measured: vs_official.map_or("–".into(), |x| {
            format!(
                "{} ({} vs {})",
                ratio_against(x, 5.0),
                rate(sdk.unwrap_or(0.0)),
                rate(tput(Client::Official).unwrap_or(0.0))
            )
        }),
        met: vs_official.map(|x| x >= 5.0),
    });
    let vs_floor = sdk.zip(tput(Client::Floor)).map(|(a, b)| a / b);
    goals.push(Goal {
        text: "B2: events/s at least 50% of the floor's".into(),
        setting: "live: the publisher sends back to back within an acknowledgement window (it sets the pace: this is not the client's limit)".into(),
        measured: vs_floor.map_or("–".into(), |x| {
            format!(
                "{} ({} vs {})",
                percent_against(x, 0.5),
                rate(sdk.unwrap_or(0.0)),
                rate(tput(Client::Floor).unwrap_or(0.0))
            )
        }),
        met: vs_floor.map(|x| x >= 0.5),
    });
    let backlog = |client| runs_of(&r.b2.backlog, client);
    let backlog_eps = |client| med(&backlog(client), |b| b.drain.events_per_s);
    let backlog_cpu = |client| med(&backlog(client), |b| b.drain.cpu_s_per_million);
    let queued_in_time = [Client::Sdk, Client::Floor].iter().all(|&client| {
        backlog(client)
            .iter()
            .all(|b| b.publish_secs <= r.plan.backlog_stall.as_secs_f64())
    });
    let caveat = if queued_in_time {
        ""
    } else {
        "; a run's queue was still filling when reading began"
    };
    // One contender's backlog events/s or CPU per message over another's.
    let eps_ratio = |a, b| backlog_eps(a).zip(backlog_eps(b)).map(|(x, y)| x / y);
    let cpu_ratio = |a, b| backlog_cpu(a).zip(backlog_cpu(b)).map(|(x, y)| x / y);
    let share = eps_ratio(Client::Sdk, Client::Floor);
    // What decoding into the struct costs on its own, measured as the floor plus that decode:
    // the part of a miss that no client handing out typed messages can avoid.
    let eps_reason = |met: bool| match (
        met,
        eps_ratio(Client::FloorTyped, Client::Floor),
        eps_ratio(Client::Sdk, Client::FloorTyped),
    ) {
        (false, Some(alone), Some(ours)) => format!(
            "; the floor with the typed decode alone reaches {:.0}% of the floor, and client-core {:.0}% of that",
            alone * 100.0,
            ours * 100.0
        ),
        _ => String::new(),
    };
    let cpu_reason = |met: bool| match (
        met,
        cpu_ratio(Client::FloorTyped, Client::Floor),
        cpu_ratio(Client::Sdk, Client::FloorTyped),
    ) {
        (false, Some(alone), Some(ours)) => format!(
            "; the floor with the typed decode alone spends {} the floor's CPU per message, and client-core {} that",
            ratio(alone),
            ratio(ours)
        ),
        _ => String::new(),
    };
    goals.push(Goal {
        text: "B2: events/s at least 90% of the floor's, decoding into a typed struct".into(),
        setting: "backlog: the client drains a queued run (the client is the bottleneck)".into(),
        measured: share.map_or("–".into(), |x| {
            format!(
                "{} ({} vs {}){caveat}{}",
                percent_against(x, 0.9),
                rate(backlog_eps(Client::Sdk).unwrap_or(0.0)),
                rate(backlog_eps(Client::Floor).unwrap_or(0.0)),
                eps_reason(x >= 0.9)
            )
        }),
        met: share.map(|x| x >= 0.9),
    });
    let cpu = cpu_ratio(Client::Sdk, Client::Floor);
    goals.push(Goal {
        text: "B2: CPU per message at most 1.5× the floor's".into(),
        setting: "backlog: the client drains a queued run (the client is the bottleneck)".into(),
        measured: cpu.map_or("–".into(), |x| {
            format!(
                "{} ({:.3} vs {:.3} CPU-s per million){caveat}{}",
                ratio_against(x, 1.5),
                backlog_cpu(Client::Sdk).unwrap_or(0.0),
                backlog_cpu(Client::Floor).unwrap_or(0.0),
                cpu_reason(x <= 1.5)
            )
        }),
        met: cpu.map(|x| x <= 1.5),
    });
    for (rate_per_s, per) in &r.b2.latency {
        let sdk_runs = runs_of(per, Client::Sdk);
        let p99 = med(&sdk_runs, |l| l.p99_us);
        let floor_p99 = med(&runs_of(per, Client::Floor), |l| l.p99_us);
        let versus_floor = p99.zip(floor_p99).map(|(a, b)| a / b);
        goals.push(Goal {
            text: format!(
                "B2: publish→handler p99 at most 1.5× the floor's at {}",
                rate(*rate_per_s)
                    .replace(" /s", " events/s")
                    .replace("/s", " events/s")
            ),
            setting: "live, fixed rate; both measured in the same run".into(),
            measured: versus_floor.map_or("–".into(), |x| {
                format!(
                    "{} (p99 {} vs the floor's {}; client-core's runs: {})",
                    ratio_against(x, 1.5),
                    us(p99.unwrap_or(0.0)),
                    us(floor_p99.unwrap_or(0.0)),
                    sdk_runs
                        .iter()
                        .map(|l| us(l.p99_us))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }),
            met: versus_floor.map(|x| x <= 1.5),
        });
    }
    goals.push(Goal {
        text: "B4: the npm package (wasm + JS, gzipped) at most 40 KB".into(),
        setting: "`cargo xtask wasm` release package, every file a browser loads".into(),
        measured: r.wasm.as_ref().map_or(
            "– (no `client-wasm/pkg-dist/size.json`: run `cargo xtask wasm`)".into(),
            |size| {
                format!(
                    "{} B gzipped in all (the wasm module {} B gzipped, {} B raw)",
                    size.total_gzip(),
                    size.gzip_bytes,
                    size.bytes
                )
            },
        ),
        met: r
            .wasm
            .as_ref()
            .map(|size| size.total_gzip() <= PACKAGE_GZIP_GOAL),
    });
    goals
}

/// Renders the report.
pub fn render(r: &Results) -> String {
    let p = &r.plan;
    let mut s = String::new();
    let w = &mut s;
    let _ = writeln!(w, "# Benchmarks\n");
    let _ = writeln!(
        w,
        "Written by `cargo xtask bench{}` on {}; every figure below was measured by that run \
         (do not edit by hand: rerun it). Definitions: `design.md`, section Benchmarks.\n",
        if p.quick { " --quick" } else { "" },
        r.machine.date
    );
    if p.quick {
        let _ = writeln!(
            w,
            "> **Quick mode**: small counts and one run each. These figures only show that the harness works.\n"
        );
    }

    let _ = writeln!(w, "## Goals\n");
    let _ = writeln!(
        w,
        "| Goal | Setting | Measured | Status |\n|---|---|---|---|"
    );
    for goal in goals(r) {
        let _ = writeln!(
            w,
            "| {} | {} | {} | {} |",
            goal.text,
            goal.setting,
            goal.measured,
            status(goal.met)
        );
    }

    if !r.charts.is_empty() {
        let _ = writeln!(w, "\n## Charts\n");
        for chart in &r.charts {
            let _ = writeln!(w, "![{}]({})\n", chart.title, chart.path);
        }
    }

    let _ = writeln!(w, "\n## Machine and versions\n");
    let m = &r.machine;
    let _ = writeln!(
        w,
        "- CPU: {} ({} logical CPUs), memory {}",
        m.cpu, m.logical_cpus, m.memory
    );
    let _ = writeln!(w, "- OS: {}, kernel {}", m.os, m.kernel);
    let _ = writeln!(w, "- {}; Node {}", m.rustc, m.node);
    let versions: Vec<String> = m.versions.iter().map(|(n, v)| format!("{n} {v}")).collect();
    let _ = writeln!(w, "- Under test: {}", versions.join(", "));
    let loads: Vec<String> = r
        .loads
        .iter()
        .map(|(when, l)| format!("{l:.2} {when}"))
        .collect();
    let _ = writeln!(
        w,
        "- 1-minute load average: {}. With {} logical CPUs, a load above about {} means other work \
         competed with the benchmark, and the figures were measured under load.",
        loads.join(", "),
        m.logical_cpus,
        m.logical_cpus.saturating_sub(1).max(1)
    );
    let _ = writeln!(w, "- Whole run: {:.0} s", r.elapsed_secs);

    let _ = writeln!(w, "\n## How it was run\n\n```sh");
    for command in &r.commands {
        let _ = writeln!(w, "{command}");
    }
    let _ = writeln!(w, "```\n");
    let _ = writeln!(
        w,
        "- Build: {}.\n\
         - B1: criterion, {} samples per case; the figure is criterion's median time per pass over the corpus; the ratios against peers come \
         from rounds of back-to-back timing (see B1). Allocations: a counting global allocator over one pass from a fresh decoder.\n\
         - B2, B3 and B5: the reference server (`test-server` library) in its own process with a publisher thread \
         (B5: one process per node); every client in its own process, so CPU time (getrusage / `process.cpuUsage()`) \
         and memory are its own. \
         {} run(s) per measurement; contenders alternate within each round; tables show the median \
         (and the range of the runs where there are several).",
        if r.plan.quick {
            "the `dev` profile (unoptimised: the quick run only shows that the harness works), `CARGO_TARGET_DIR=target`"
        } else {
            "the `bench` profile (release, thin LTO, one codegen unit), `CARGO_TARGET_DIR=target/bench`"
        },
        r.criterion_samples.map_or("–".into(), |n| n.to_string()),
        p.runs
    );

    render_b1(w, r);
    render_b2(w, r);
    render_b3(w, r);
    render_wasm(w, r);
    render_b5(w, r);
    let _ = writeln!(w, "\n## Notes\n\n{}", NOTES.trim());
    s
}

fn render_wasm(w: &mut String, r: &Results) {
    let _ = writeln!(w, "\n## B4 package size\n");
    let Some(size) = &r.wasm else {
        let _ = writeln!(
            w,
            "Not measured: `client-wasm/pkg-dist/size.json` is missing."
        );
        return;
    };
    let _ = writeln!(
        w,
        "What a browser loads from the npm package as `cargo xtask wasm` packed it ({} build, \
         written {}), each file raw and after `gzip -9` (the JavaScript is wasm-bindgen's output \
         without its JSDoc comments, not minified). Goal: at most {} B gzipped in all; `cargo xtask test` fails above its \
         current limit.\n",
        size.profile, size.written, PACKAGE_GZIP_GOAL
    );
    let _ = writeln!(w, "| File | Raw | Gzipped |\n|---|---|---|");
    for f in &size.files {
        let _ = writeln!(w, "| `{}` | {} B | {} B |", f.path, f.bytes, f.gzip_bytes);
    }
    let raw: u64 = size.files.iter().map(|f| f.bytes).sum();
    let _ = writeln!(
        w,
        "| **total (wasm + JS)** | {} B | **{} B** |",
        raw,
        size.total_gzip()
    );
    match &size.official {
        Ok(f) => {
            let _ = writeln!(
                w,
                "| official client: {} | {} B | {} B |",
                f.path, f.bytes, f.gzip_bytes
            );
        }
        Err(reason) => {
            let _ = writeln!(w, "\nThe official client was not measured: {reason}.");
        }
    }
}

fn render_b1(w: &mut String, r: &Results) {
    let _ = writeln!(w, "\n## B1 decode\n");
    let _ = writeln!(
        w,
        "ServiceStack frames (`id: N` + one `data: bench@cmd.chat <json>` line) totalling about 1 MiB, \
         and one event with a 1 MiB `data:` line; fed whole and in 1460-, 64- and 7-byte chunks \
         (`bytes::Bytes` slices of one buffer, as reqwest yields them). Each contender counts the events \
         and their data length; the floor is not a decoder (see Notes). Ratios are events/s of \
         client-core over the other row's: \
         the median over {} rounds in which the two were timed back to back (each for at least {:.0} ms \
         of passes), because this machine's speed drifts by up to 2× from one minute to the next, \
         which would enter a ratio of separately timed cases; § marks the peers too slow for that \
         (a pass over {:.0} ms), compared on their separate timings. \
         † one pass only (too slow for criterion); ‡ one pass did not get through the input within \
         its {:.0} s time box, so its rate is an upper bound.\n",
        r.plan.b1_pair_rounds,
        r.plan.b1_pair_min.as_secs_f64() * 1e3,
        super::b1::PAIR_MAX_PASS.as_secs_f64() * 1e3,
        r.plan.b1_budget.as_secs_f64()
    );
    for shape in Shape::ALL {
        let Some(first) = r.b1.iter().find(|c| c.shape == shape) else {
            continue;
        };
        let _ = writeln!(
            w,
            "### {} ({} events, {} per pass)\n",
            shape.name(),
            first.events,
            bytes(first.bytes as f64)
        );
        let _ = writeln!(
            w,
            "| Chunks | Decoder | MiB/s | events/s | ns per chunk | allocs/event | bytes allocated/event | client-core vs this |\n|---|---|---:|---:|---:|---:|---:|---:|"
        );
        for chunking in Chunking::ALL {
            for contender in Contender::ALL {
                let Some(c) = case(&r.b1, shape, chunking, contender) else {
                    continue;
                };
                let (mark, bound) = match c.timing() {
                    Timing::Criterion(_) => ("", ""),
                    Timing::SinglePass(_) => (" †", ""),
                    Timing::Unfinished(_) => (" ‡", "< "),
                };
                let versus = match (contender, versus(&r.b1, shape, chunking, contender)) {
                    (Contender::Ours, _) => String::new(),
                    (_, Some(x)) => format!(
                        "{}{}{}",
                        if bound.is_empty() { "" } else { "> " },
                        ratio(x),
                        if c.paired_ratio.is_some() { "" } else { " §" }
                    ),
                    _ => "–".into(),
                };
                let _ = writeln!(
                    w,
                    "| {} | {}{mark} | {bound}{} | {bound}{} | {}{:.0} | {} | {} | {} |",
                    chunking.name(),
                    contender.name(),
                    mib_s(c.mib_per_s()),
                    rate(c.events_per_s()),
                    if bound.is_empty() { "" } else { "> " },
                    c.ns() / c.chunks.max(1) as f64,
                    c.allocs_per_event.map_or("–".into(), |a| format!("{a:.2}")),
                    c.alloc_bytes_per_event.map_or("–".into(), bytes),
                    versus
                );
            }
        }
        let _ = writeln!(w);
    }
}

fn render_b2(w: &mut String, r: &Results) {
    let p = &r.plan;
    let _ = writeln!(w, "\n## B2 delivery\n");
    let _ = writeln!(
        w,
        "**Live mode** (what it measures: whether a client keeps pace with a fast publisher; \
         the publisher, not the client, sets the pace when a client keeps up). \
         The server publishes {} chat messages ({} B JSON bodies, selector `bench@cmd.chat`) to one \
         subscriber as fast as it can, never more than {} messages ahead of the subscriber's \
         acknowledgements (UDP, every 1024 messages; the slow-reader limit is raised to 64 MiB). \
         client-core decodes each into a typed struct in a `chat` handler (`parse_json`); the official \
         client's `chat` handler gets the body its client already `JSON.parse`d; the floor counts `\\n\\n`. \
         events/s and CPU seconds are the client process's, from its first message to its last.\n",
        p.throughput_count, p.body_len, p.window
    );
    let floor = med(&runs_of(&r.b2.throughput, Client::Floor), |t| {
        t.events_per_s
    });
    let official = med(&runs_of(&r.b2.throughput, Client::Official), |t| {
        t.events_per_s
    });
    let _ = writeln!(
        w,
        "| Client | events/s (median) | runs (events/s) | client CPU-s per million | vs official | vs floor |\n|---|---:|---:|---:|---:|---:|"
    );
    for client in Client::DELIVERY {
        let runs = runs_of(&r.b2.throughput, client);
        let Some(eps) = med(&runs, |t| t.events_per_s) else {
            continue;
        };
        let _ = writeln!(
            w,
            "| {} | {} | {} | {:.2} | {} | {} |",
            client.name(),
            rate(eps),
            spread(&runs, |t| t.events_per_s),
            med(&runs, |t| t.cpu_s_per_million).unwrap_or(0.0),
            official.map_or("–".into(), |o| ratio(eps / o)),
            floor.map_or("–".into(), |f| format!("{:.0}%", eps / f * 100.0)),
        );
    }
    render_backlog(w, r);
    let _ = writeln!(
        w,
        "\nLatency: the publisher thread stamps each message with `CLOCK_MONOTONIC` just before \
         `notify_channel_json`; the handler (the floor: the chunk's arrival) subtracts it. {} s per run \
         after {} s of warm-up, heartbeats on (server default interval). The publisher's worst lag \
         (how late its sleeping thread woke against the schedule) and the host's steal time \
         (`/proc/stat`: CPU time the hypervisor gave to other guests) show when the whole machine \
         stood still: a single stall of 100 ms delays a thousand messages at 10k/s, which is 1% of \
         a run, so it lands in the p99 of every contender, the floor included.\n",
        p.latency_secs, p.latency_warmup_secs
    );
    let _ = writeln!(
        w,
        "| Rate | Client | p50 | p99 | p99.9 | max | publisher's worst lag | p99 of each run | host steal in each run |\n|---:|---|---:|---:|---:|---:|---:|---|---|"
    );
    for (rate_per_s, per_client) in &r.b2.latency {
        for client in Client::DELIVERY {
            let runs = runs_of(per_client, client);
            if runs.is_empty() {
                continue;
            }
            let _ = writeln!(
                w,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                rate(*rate_per_s),
                client.name(),
                us(med(&runs, |l| l.p50_us).unwrap_or(0.0)),
                us(med(&runs, |l| l.p99_us).unwrap_or(0.0)),
                us(med(&runs, |l| l.p999_us).unwrap_or(0.0)),
                us(med(&runs, |l| l.max_us).unwrap_or(0.0)),
                us(med(&runs, |l| l.publisher_lag_us).unwrap_or(0.0)),
                runs.iter()
                    .map(|l| us(l.p99_us))
                    .collect::<Vec<_>>()
                    .join(", "),
                runs.iter()
                    .map(|l| format!("{:.0} ms", l.steal_ms))
                    .collect::<Vec<_>>()
                    .join(", "),
            );
        }
    }
}

fn render_backlog(w: &mut String, r: &Results) {
    let p = &r.plan;
    let _ = writeln!(
        w,
        "\n**Backlog mode** (what it measures: the client as the bottleneck). The receiver's \
         handler of the first message blocks it for {:.1} s (the floor stops reading; the official \
         client blocks its thread) while the publisher queues {} messages at once in the server; \
         then it reads on, and events/s and CPU seconds are timed from the end of the stall to \
         the last message. The run is valid when the publisher finished queueing within the stall. \
         `floor + typed decode` is the floor that also splits every frame and decodes each chat \
         body into the same struct the SDK's handler decodes (`serde_json`): the least any client \
         that hands applications typed messages must do, so the distance from it to client-core \
         is client-core's own per-message cost (SSE parsing, selector, routing, the handler \
         call).\n",
        p.backlog_stall.as_secs_f64(),
        p.backlog_count
    );
    let floor = runs_of(&r.b2.backlog, Client::Floor);
    let floor_eps = med(&floor, |b| b.drain.events_per_s);
    let floor_cpu = med(&floor, |b| b.drain.cpu_s_per_million);
    let _ = writeln!(
        w,
        "| Client | events/s (median) | runs (events/s) | client CPU-s per million | vs floor (events/s) | vs floor (CPU per message) | queued in (s, slowest run) |\n|---|---:|---:|---:|---:|---:|---:|"
    );
    for client in Client::BACKLOG {
        let runs = runs_of(&r.b2.backlog, client);
        let Some(eps) = med(&runs, |b| b.drain.events_per_s) else {
            continue;
        };
        let cpu = med(&runs, |b| b.drain.cpu_s_per_million).unwrap_or(0.0);
        let slowest_queue = runs.iter().map(|b| b.publish_secs).fold(0.0, f64::max);
        let _ = writeln!(
            w,
            "| {} | {} | {} | {:.2} | {} | {} | {:.2}{} |",
            client.name(),
            rate(eps),
            spread(&runs, |b| b.drain.events_per_s),
            cpu,
            floor_eps.map_or("–".into(), |f| format!("{:.0}%", eps / f * 100.0)),
            floor_cpu.map_or("–".into(), |f| ratio(cpu / f)),
            slowest_queue,
            if slowest_queue > p.backlog_stall.as_secs_f64() {
                " (longer than the stall)"
            } else {
                ""
            },
        );
    }
}

fn render_b3(w: &mut String, r: &Results) {
    let p = &r.plan;
    let _ = writeln!(w, "\n## B3 footprint\n");
    let _ = writeln!(
        w,
        "Connect: {} times per run, a new client (new TCP connection) from `connect()` (official: \
         `start()`; floor: the GET) until `onConnect` (floor: the end of the `cmd.onConnect` frame), \
         then `stop()` (which unregisters).\n",
        p.connects
    );
    let _ = writeln!(w, "| Client | p50 | p99 |\n|---|---:|---:|");
    for client in Client::DELIVERY {
        let runs = runs_of(&r.b3.connect, client);
        if runs.is_empty() {
            continue;
        }
        let _ = writeln!(
            w,
            "| {} | {} | {} |",
            client.name(),
            us(med(&runs, |c| c.p50_us).unwrap_or(0.0)),
            us(med(&runs, |c| c.p99_us).unwrap_or(0.0))
        );
    }
    let _ = writeln!(
        w,
        "\nIdle: N clients in one process, each on its own channel, connected, then {} s idle with \
         heartbeats every {} ms. Memory is the growth after the N connects (one warm-up client first) ÷ N; \
         live is the Rust allocator's live bytes (Node: JS heap + external) ÷ N; CPU is the process's \
         CPU time during the idle window ÷ N, per minute.\n",
        p.idle_secs, p.heartbeat_ms
    );
    let _ = writeln!(
        w,
        "| N | Client | RSS per client | live heap per client | CPU per client per minute | heartbeats per client in the window |\n|---:|---|---:|---:|---:|---:|"
    );
    for (n, per_client) in &r.b3.idle {
        for client in Client::IDLE {
            let runs = runs_of(per_client, client);
            if runs.is_empty() {
                continue;
            }
            let _ = writeln!(
                w,
                "| {n} | {} | {} | {} | {:.3} ms | {:.1} |",
                client.name(),
                bytes(med(&runs, |i| i.rss_bytes).unwrap_or(0.0)),
                bytes(med(&runs, |i| i.live_bytes).unwrap_or(0.0)),
                med(&runs, |i| i.cpu_ms_per_min).unwrap_or(0.0),
                med(&runs, |i| i.heartbeats).unwrap_or(0.0),
            );
        }
    }
    let server = median(&r.b3.server_bytes_per_subscriber);
    let _ = writeln!(
        w,
        "\nServer: a fresh server per run; {} raw event streams (the floor's, no heartbeats) held open by \
         one process; the server process's RSS growth ÷ subscribers: **{}** per subscriber (median; runs: {}).",
        p.server_subscribers,
        server.map_or("–".into(), bytes),
        r.b3.server_bytes_per_subscriber
            .iter()
            .map(|b| bytes(*b))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

fn render_b5(w: &mut String, r: &Results) {
    let b5 = &r.b5;
    if b5.throughput.iter().all(|(_, runs)| runs.is_empty()) && b5.memory.is_empty() {
        return;
    }
    let p = &r.plan;
    let _ = writeln!(w, "\n## B5 scale-out through Redis\n");
    let _ = writeln!(
        w,
        "Fan-out: {} client-core subscribers (`ServerEventsClient`, one process holding all of them, \
         each decoding every message into a typed struct in its handler) on one channel, split round \
         robin across the nodes of the setting (two nodes: {} and {}). The publisher is a thread in the \
         first node's process calling `notify_channel_json` with {}-byte chat bodies. On Redis every \
         notification goes out on the `sse:topic` pub/sub topic and comes back to every node, the \
         publishing node included, which then writes its own subscribers' streams; on the local \
         provider the node writes the streams directly. Each round starts the setting's node processes \
         fresh on one redis-server (started for this run, no persistence) and stops them afterwards; \
         the three settings alternate within each round. All processes (nodes, Redis, subscribers) \
         share this one machine, so a second node adds no CPU: the figures show what the Redis hop \
         and the split cost, not what a second machine would add.\n",
        p.b5_subscribers,
        p.b5_subscribers.div_ceil(2),
        p.b5_subscribers / 2,
        p.body_len
    );
    let _ = writeln!(
        w,
        "- Delivered messages/s: {} messages per run published back to back, never more than {} ahead \
         of the slowest subscriber's acknowledgement; the figure is the deliveries summed over all \
         subscribers ({} × {}) ÷ the time from the first delivery to the last, over all subscribers.\n\
         - Publish→handler latency: {} messages/s for {} s after {} s of warm-up; per delivery, from \
         `CLOCK_MONOTONIC` read just before the publisher hands the message to the node to the same \
         clock read on entry to the handler; p50, p99 and max over every subscriber's deliveries \
         ({} per run). Publisher lag is its worst lateness against its schedule; steal is the CPU \
         time the hypervisor took from the machine during the run. The medians are over the runs; \
         a host stall in one run sets that run's p99 (see the notes on B2), so each run's p99 is listed.\n",
        p.b5_count,
        p.window,
        p.b5_count,
        p.b5_subscribers,
        p.b5_rate,
        p.b5_latency_secs,
        p.latency_warmup_secs,
        (p.b5_rate * p.b5_latency_secs).round() as u64 * p.b5_subscribers as u64
    );
    let _ = writeln!(
        w,
        "| Setting | Delivered messages/s (all subscribers) | range of runs | p50 | p99 | max | publisher lag | steal | p99 (steal) of each run |\n|---|---:|---:|---:|---:|---:|---:|---:|---|"
    );
    for (setting, runs) in &b5.throughput {
        let latency = b5
            .latency
            .iter()
            .find(|(s, _)| s == setting)
            .map(|(_, l)| l.as_slice())
            .unwrap_or_default();
        if runs.is_empty() && latency.is_empty() {
            continue;
        }
        let _ = writeln!(
            w,
            "| {} | {} | {} | {} | {} | {} | {} | {:.0} ms | {} |",
            setting.name(),
            median(runs).map_or("–".into(), rate),
            spread(runs, |v| *v),
            med(latency, |l| l.p50_us).map_or("–".into(), us),
            med(latency, |l| l.p99_us).map_or("–".into(), us),
            med(latency, |l| l.max_us).map_or("–".into(), us),
            med(latency, |l| l.publisher_lag_us).map_or("–".into(), us),
            med(latency, |l| l.steal_ms).unwrap_or(0.0),
            latency
                .iter()
                .map(|l| format!("{} ({:.0} ms)", us(l.p99_us), l.steal_ms))
                .collect::<Vec<_>>()
                .join(", "),
        );
    }
    let throughput_of = |setting: super::b5::Setting| {
        b5.throughput
            .iter()
            .find(|(s, _)| *s == setting)
            .and_then(|(_, runs)| median(runs))
    };
    if let (Some(two), Some(one), Some(local)) = (
        throughput_of(super::b5::Setting::RedisTwo),
        throughput_of(super::b5::Setting::RedisOne),
        throughput_of(super::b5::Setting::LocalOne),
    ) {
        let _ = writeln!(
            w,
            "\nTwo nodes on Redis delivered {} the messages/s of one node on Redis and {} those of one \
             node on the local provider (medians).",
            ratio(two / one),
            ratio(two / local)
        );
    }
    let _ = writeln!(
        w,
        "\nServer memory per subscriber: a fresh node per run (no other node running), 16 warm-up \
         streams first, then {} raw event streams (the floor's, no heartbeats, each on its own \
         channel) held open by one process. Node: the node process's RSS growth ÷ subscribers. \
         Redis: redis-server's `used_memory` (`INFO memory`) growth ÷ subscribers, the records and \
         index sets the node stores there. The two providers alternate within each round.\n",
        p.b5_memory_subscribers
    );
    let _ = writeln!(
        w,
        "| Provider | Node RSS per subscriber | Redis used_memory per subscriber | Node + Redis | runs (node) |\n|---|---:|---:|---:|---|"
    );
    for (provider, runs) in &b5.memory {
        let node = med(runs, |m| m.node_bytes);
        let redis_runs: Vec<f64> = runs.iter().filter_map(|m| m.redis_bytes).collect();
        let redis = median(&redis_runs);
        let _ = writeln!(
            w,
            "| {} | {} | {} | {} | {} |",
            provider.name(),
            node.map_or("–".into(), bytes),
            redis.map_or("–".into(), bytes),
            node.map_or("–".into(), |n| bytes(n + redis.unwrap_or(0.0))),
            runs.iter()
                .map(|m| bytes(m.node_bytes))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
}

/// What the figures mean and what profiling found; prose only (the numbers are in the tables).
const NOTES: &str = include_str!("notes.md");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_next_to_a_goal_never_round_onto_or_across_its_bound() {
        // Whole percents would show 89.5% of a 90% goal as "90%" beside **missed**.
        assert_eq!(percent_against(0.895, 0.9), "89.5%");
        assert_eq!(percent_against(0.89996, 0.9), "89.996%");
        assert_eq!(percent_against(0.904, 0.9), "90.4%");
        assert_eq!(
            percent_against(0.62, 0.9),
            "62%",
            "far from the bound: whole percents"
        );
        assert_eq!(percent_against(0.9, 0.9), "90%", "on the bound exactly");
        // Ratios: 9.996× of a 10× goal is not "10.00×", 1.5004× of a 1.5× cap is not "1.50×".
        assert_eq!(ratio_against(9.996, 10.0), "9.996×");
        assert_eq!(ratio_against(1.5004, 1.5), "1.5004×");
        assert_eq!(ratio_against(1.4996, 1.5), "1.4996×");
        assert_eq!(ratio_against(9.22, 10.0), "9.22×");
        assert_eq!(ratio_against(1220.0, 10.0), "1220×");
    }

    #[test]
    fn the_decoders_own_cost_is_what_each_adds_to_the_shared_stream() {
        // client-core 1.0, the Stream 0.6 of it, the peer 1.8: they add 0.4 and 1.2.
        let own = beyond_the_stream(1.8, 0.6).expect("client-core adds to the Stream");
        assert!((own - 3.0).abs() < 1e-9, "{own}");
        assert_eq!(
            beyond_the_stream(1.2, 1.05),
            None,
            "the Stream alone is slower"
        );
        assert_eq!(beyond_the_stream(0.5, 0.6), None, "the peer adds nothing");
    }
}
