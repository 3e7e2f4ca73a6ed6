//! B1 decode: the timing comes from the criterion bench (`benches/decode.rs`); here, allocation
//! counts per event, the reading of criterion's results, and the ratios against each peer timed
//! back to back (this VM's speed drifts by up to 2× between minutes, so ratios of separately
//! timed criterion cases are not reliable).

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use sdk_benches::alloc_count;
use sdk_benches::corpus::{Chunking, Corpus, Shape};
use sdk_benches::decoders::Contender;
use sdk_benches::stats::median;

use super::plan::Plan;

/// Peers whose single pass takes longer than this get no back-to-back ratio (their criterion or
/// single-pass time is compared instead; they are orders of magnitude behind anyway).
pub const PAIR_MAX_PASS: Duration = Duration::from_millis(500);

/// The criterion group of a shape.
pub fn group(shape: Shape) -> String {
    format!("b1_{}", shape.name())
}

/// One B1 case: contender × shape × chunking.
#[derive(Debug, Clone)]
pub struct Case {
    pub shape: Shape,
    pub chunking: Chunking,
    pub contender: Contender,
    pub events: usize,
    pub bytes: usize,
    /// Chunks per pass.
    pub chunks: usize,
    /// Median time per pass over the corpus, from criterion (absent for cases too slow for it).
    pub median_ns: Option<f64>,
    /// The time of the single counted pass (time-boxed).
    pub single_pass_ns: f64,
    /// Whether the counted pass got through all the input within its time box.
    pub finished: bool,
    /// Allocation calls per event (one fresh decoder over the corpus), when it finished.
    pub allocs_per_event: Option<f64>,
    /// Bytes requested per event, when it finished.
    pub alloc_bytes_per_event: Option<f64>,
    /// For a peer: the median over the rounds of (its time per pass ÷ client-core's on equal
    /// input), the two timed back to back in each round.
    pub paired_ratio: Option<f64>,
}

/// How a case was timed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Timing {
    /// Criterion's median, ns per pass.
    Criterion(f64),
    /// One pass only (too slow for criterion), ns.
    SinglePass(f64),
    /// One pass did not finish within this many ns.
    Unfinished(f64),
}

impl Case {
    /// The best timing available.
    pub fn timing(&self) -> Timing {
        match (self.median_ns, self.finished) {
            (Some(ns), _) => Timing::Criterion(ns),
            (None, true) => Timing::SinglePass(self.single_pass_ns),
            (None, false) => Timing::Unfinished(self.single_pass_ns),
        }
    }

    /// Time per pass in ns (a lower bound when unfinished).
    pub fn ns(&self) -> f64 {
        match self.timing() {
            Timing::Criterion(ns) | Timing::SinglePass(ns) | Timing::Unfinished(ns) => ns,
        }
    }

    /// MiB/s of stream decoded (an upper bound when unfinished).
    pub fn mib_per_s(&self) -> f64 {
        self.bytes as f64 / (1 << 20) as f64 / (self.ns() / 1e9)
    }

    /// Events decoded per second (an upper bound when unfinished).
    pub fn events_per_s(&self) -> f64 {
        self.events as f64 / (self.ns() / 1e9)
    }
}

/// Counts allocations for every case (one pass each, time-boxed to the plan's budget), times
/// client-core against each peer back to back, and reads criterion's medians from
/// `criterion_dir`.
pub fn collect(criterion_dir: &Path, plan: &Plan) -> Vec<Case> {
    let budget = plan.b1_budget;
    let mut cases = Vec::new();
    for shape in Shape::ALL {
        let corpus = Corpus::new(shape);
        for chunking in Chunking::ALL {
            let chunks = corpus.chunks(chunking);
            for contender in Contender::ALL {
                let (pass, counted) =
                    alloc_count::measure(|| contender.decode_within(&chunks, budget));
                let per_event = |v: u64| {
                    (pass.finished && pass.decoded.events > 0)
                        .then(|| v as f64 / pass.decoded.events as f64)
                };
                if Contender::DECODERS.contains(&contender)
                    && pass.finished
                    && pass.decoded.events != corpus.events
                {
                    eprintln!(
                        "B1: {} decoded {} of {} events",
                        contender.name(),
                        pass.decoded.events,
                        corpus.events
                    );
                }
                cases.push(Case {
                    shape,
                    chunking,
                    contender,
                    events: corpus.events,
                    bytes: corpus.bytes.len(),
                    chunks: chunks.len(),
                    median_ns: criterion_median(criterion_dir, shape, chunking, contender),
                    single_pass_ns: pass.elapsed.as_nanos() as f64,
                    finished: pass.finished,
                    allocs_per_event: per_event(counted.allocs),
                    alloc_bytes_per_event: per_event(counted.bytes),
                    paired_ratio: (Contender::PEERS.contains(&contender)
                        && pass.finished
                        && pass.elapsed <= PAIR_MAX_PASS)
                        .then(|| paired_ratio(&chunks, contender, plan))
                        .flatten(),
                });
            }
        }
    }
    cases
}

/// The median over the plan's rounds of `peer`'s time per pass ÷ client-core's on equal input
/// (both fed the same `Stream` of `Bytes`), the two timed back to back (in alternating order) in
/// every round.
fn paired_ratio(chunks: &[Bytes], peer: Contender, plan: &Plan) -> Option<f64> {
    let mut ratios = Vec::with_capacity(plan.b1_pair_rounds);
    for round in 0..plan.b1_pair_rounds {
        let (ours, theirs) = if round % 2 == 0 {
            let ours = ns_per_pass(Contender::OursStream, chunks, plan.b1_pair_min);
            (ours, ns_per_pass(peer, chunks, plan.b1_pair_min))
        } else {
            let theirs = ns_per_pass(peer, chunks, plan.b1_pair_min);
            (
                ns_per_pass(Contender::OursStream, chunks, plan.b1_pair_min),
                theirs,
            )
        };
        ratios.push(theirs / ours);
    }
    median(&ratios)
}

/// Mean time per pass over as many passes as fit in `min` (at least one).
fn ns_per_pass(contender: Contender, chunks: &[Bytes], min: Duration) -> f64 {
    let started = Instant::now();
    let mut passes = 0u32;
    loop {
        black_box(contender.decode(black_box(chunks)));
        passes += 1;
        let elapsed = started.elapsed();
        if elapsed >= min {
            return elapsed.as_nanos() as f64 / f64::from(passes);
        }
    }
}

/// Criterion's median estimate (ns per iteration) for one case, if it was measured.
pub fn criterion_median(
    dir: &Path,
    shape: Shape,
    chunking: Chunking,
    contender: Contender,
) -> Option<f64> {
    let path = dir
        .join(group(shape))
        .join(contender.slug())
        .join(chunking.name())
        .join("new")
        .join("estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    value.get("median")?.get("point_estimate")?.as_f64()
}

/// `sdk-bench b1-probe [--repeat N] [--max-ms MS] [--contender NAME]`: timed and counted passes over every case
/// (the fastest of N; cases whose first pass took longer than MS are not repeated).
pub fn probe(args: &crate::args::ProbeArgs) -> Result<(), String> {
    let (repeat, max_ms) = (args.repeat, args.max_ms);
    let only = args.contender.as_deref();
    for shape in Shape::ALL {
        let corpus = Corpus::new(shape);
        for chunking in Chunking::ALL {
            let chunks = corpus.chunks(chunking);
            for contender in Contender::ALL {
                if only.is_some_and(|name| name != contender.name() && name != contender.slug()) {
                    continue;
                }
                let started = Instant::now();
                let (decoded, counted) = alloc_count::measure(|| contender.decode(&chunks));
                let mut secs = started.elapsed().as_secs_f64();
                if secs * 1e3 < max_ms {
                    for _ in 1..repeat {
                        let started = Instant::now();
                        std::hint::black_box(contender.decode(&chunks));
                        secs = secs.min(started.elapsed().as_secs_f64());
                    }
                }
                println!(
                    "{:12} {:6} {:19} {:>10.3} ms {:>9.1} MiB/s {:>8.2} allocs/event  ({} events)",
                    shape.name(),
                    chunking.name(),
                    contender.name(),
                    secs * 1e3,
                    corpus.bytes.len() as f64 / (1 << 20) as f64 / secs,
                    counted.allocs as f64 / decoded.events.max(1) as f64,
                    decoded.events,
                );
            }
        }
    }
    Ok(())
}

/// `sdk-bench b1-one --shape NAME --chunks whole|N --contender NAME [--repeat N]`: decodes one
/// case repeatedly and prints the fastest pass (for profilers: perf, callgrind).
pub fn one(args: &crate::args::OneArgs) -> Result<(), String> {
    let shape_name = &args.shape;
    let shape = Shape::ALL
        .into_iter()
        .find(|s| s.name() == shape_name.as_str())
        .ok_or_else(|| format!("unknown shape {shape_name:?}"))?;
    let chunking = match args.chunks.as_str() {
        "whole" => Chunking::Whole,
        n => Chunking::Bytes(n.parse().map_err(|_| format!("bad --chunks {n:?}"))?),
    };
    let contender_name = &args.contender;
    let contender = Contender::ALL
        .into_iter()
        .find(|c| c.name() == contender_name.as_str() || c.slug() == contender_name.as_str())
        .ok_or_else(|| format!("unknown contender {contender_name:?}"))?;
    let repeat = args.repeat;
    let corpus = Corpus::new(shape);
    let chunks = corpus.chunks(chunking);
    let mut best = f64::INFINITY;
    for _ in 0..repeat {
        let started = Instant::now();
        std::hint::black_box(contender.decode(std::hint::black_box(&chunks)));
        best = best.min(started.elapsed().as_secs_f64());
    }
    println!(
        "{} {} {}: fastest of {repeat}: {:.3} ms",
        shape.name(),
        chunking.name(),
        contender.name(),
        best * 1e3
    );
    Ok(())
}
