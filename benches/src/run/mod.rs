//! `sdk-bench run [--quick] [--out FILE] [--criterion DIR] --node DIR [--only b1,b2,b3,b5]
//! [--latency-secs S]`:
//! B1 allocation counts (criterion has already timed B1; its results are read from `--criterion`),
//! then B2, B3 and B5 against reference-server processes (B5 also on a redis-server it starts:
//! `$REDIS_SERVER`, else `redis-server` on `PATH`), then the report.
//!
//! The commands that produced the run (listed in the report) come from the environment variable
//! `SDK_BENCH_COMMANDS`, one per line, set by `cargo xtask bench`.

pub mod b1;
pub mod b2;
pub mod b3;
pub mod b5;
pub mod charts;
pub mod clients;
pub mod machine;
pub mod plan;
pub mod procs;
pub mod report;

use std::path::{Path, PathBuf};
use std::time::Instant;

use sdk_benches::sys;

use crate::args::{RunArgs, Section};
use clients::Programs;
use plan::Plan;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

fn load(loads: &mut Vec<(String, f64)>, when: &str) {
    if let Some(load) = sys::load_average() {
        loads.push((when.to_owned(), load));
    }
}

/// How many samples criterion took for one B1 case.
fn criterion_samples(dir: &Path) -> Option<usize> {
    let path = dir
        .join("b1_frames-120B")
        .join("client-core")
        .join("whole")
        .join("new")
        .join("sample.json");
    let value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    Some(value.get("iters")?.as_array()?.len())
}

/// The module size `cargo xtask wasm` recorded, if it has run.
fn wasm_size(root: &Path) -> Option<report::WasmSize> {
    let path = root.join("client-wasm").join("pkg-dist").join("size.json");
    let value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).ok()?).ok()?;
    let written = std::fs::metadata(&path).ok()?.modified().ok()?;
    let size_of = |entry: &serde_json::Value| -> Option<report::FileSize> {
        Some(report::FileSize {
            path: entry.get("path")?.as_str()?.to_owned(),
            bytes: entry.get("bytes")?.as_u64()?,
            gzip_bytes: entry.get("gzipBytes")?.as_u64()?,
        })
    };
    let files = value
        .get("files")
        .and_then(|files| files.as_array())
        .map(|files| files.iter().filter_map(size_of).collect())
        .unwrap_or_default();
    let official = match value.get("official") {
        Some(entry) => size_of(entry).ok_or_else(|| {
            entry
                .get("error")
                .and_then(|e| e.as_str())
                .unwrap_or("not measured")
                .to_owned()
        }),
        None => Err("not measured".to_owned()),
    };
    Some(report::WasmSize {
        bytes: value.get("wasmBytes")?.as_u64()?,
        gzip_bytes: value.get("wasmGzipBytes")?.as_u64()?,
        files,
        official,
        profile: value.get("profile")?.as_str()?.to_owned(),
        written: machine::utc(written),
    })
}

/// B5 on a redis-server of its own, found the way the cluster tests find it; a missing one is
/// an error, never a skipped section.
fn measure_b5(programs: &Programs, plan: &Plan, run_id: &mut u32) -> Result<b5::B5, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start tokio: {e}"))?;
    let process = rt
        .block_on(servicestack_events_server::RedisProcess::start())
        .map_err(|e| format!("B5 needs a redis-server: {e}"))?;
    let redis = b5::Redis {
        url: process.url(),
        port: process.port(),
    };
    eprintln!("==> redis-server at {}", redis.url);
    // `process` kills the redis-server when it goes out of scope, whatever B5 returned.
    b5::measure(programs, plan, &redis, run_id)
}

/// Runs the benchmarks and writes the report.
pub fn run(args: &RunArgs) -> Result<(), String> {
    let started = Instant::now();
    let mut plan = if args.quick {
        Plan::quick()
    } else {
        Plan::full()
    };
    plan.latency_secs = args.latency_secs.unwrap_or(plan.latency_secs);
    let root = workspace_root();
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let criterion_dir = args
        .criterion
        .clone()
        .unwrap_or_else(|| target.join("criterion"));
    let node_dir = args.node.clone();
    let out = args.out.clone().unwrap_or_else(|| {
        if plan.quick {
            target.join("BENCHMARKS.quick.md")
        } else {
            root.join("BENCHMARKS.md")
        }
    });
    let wants = |section: Section| args.only.contains(&section);
    if !node_dir
        .join("node_modules")
        .join("@servicestack")
        .join("client")
        .exists()
    {
        return Err(format!(
            "{} has no node_modules/@servicestack/client (cargo xtask bench installs it)",
            node_dir.display()
        ));
    }
    let programs = Programs {
        exe: std::env::current_exe().map_err(|e| e.to_string())?,
        node_dir: node_dir.clone(),
    };
    sys::raise_nofile_limit();
    let mut loads = Vec::new();
    load(&mut loads, "at the start (after the B1 criterion run)");

    let b1 = if wants(Section::B1) {
        eprintln!(
            "\n==> B1: allocation counts (timing: criterion, {})",
            criterion_dir.display()
        );
        b1::collect(&criterion_dir, &plan)
    } else {
        Vec::new()
    };

    let mut run_id = 0;
    let (b2, mut b3) = if wants(Section::B2) || wants(Section::B3) {
        let mut server = programs.server(plan.heartbeat_ms)?;
        eprintln!("\n==> reference server at {}", server.url);
        let b2 = if wants(Section::B2) {
            eprintln!("\n==> B2 delivery");
            let b2 = b2::measure(&programs, &mut server, &plan, &mut run_id)?;
            load(&mut loads, "after B2");
            b2
        } else {
            b2::B2::default()
        };
        let b3 = if wants(Section::B3) {
            eprintln!("\n==> B3 footprint");
            b3::measure_clients(&programs, &mut server, &plan)?
        } else {
            b3::B3::default()
        };
        server.quit()?;
        (b2, b3)
    } else {
        (b2::B2::default(), b3::B3::default())
    };
    if wants(Section::B3) {
        eprintln!("\n==> B3 server memory per subscriber");
        b3.server_bytes_per_subscriber = b3::measure_server(&programs, &plan)?;
    }
    let b5 = if wants(Section::B5) {
        eprintln!("\n==> B5 scale-out");
        let b5 = measure_b5(&programs, &plan, &mut run_id)?;
        load(&mut loads, "after B5");
        b5
    } else {
        b5::B5::default()
    };
    load(&mut loads, "at the end");

    let commands = std::env::var("SDK_BENCH_COMMANDS")
        .map(|c| c.lines().map(str::to_owned).collect())
        .unwrap_or_else(|_| vec![std::env::args().collect::<Vec<_>>().join(" ")]);
    let results = report::Results {
        machine: machine::Machine::detect(&root.join("Cargo.lock"), &node_dir),
        criterion_samples: criterion_samples(&criterion_dir),
        plan,
        commands,
        loads,
        b1,
        b2,
        b3,
        b5,
        wasm: wasm_size(&root),
        elapsed_secs: started.elapsed().as_secs_f64(),
        charts: Vec::new(),
    };
    let mut results = results;
    let beside = out.parent().unwrap_or(Path::new("."));
    results.charts = charts::draw(&results, &beside.join(charts::DIR))?;
    let text = report::render(&results);
    std::fs::write(&out, text).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    eprintln!("\nwrote {}", out.display());
    Ok(())
}
