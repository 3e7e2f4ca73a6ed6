//! The benchmarks: B1 decode, B2 delivery, B3 footprint, B5 scale-out on Redis (definitions: `design.md`, section
//! Benchmarks); the harness is the `sdk-benches` crate in `benches/`.
//!
//! `cargo xtask bench` (full, rewrites BENCHMARKS.md) or `cargo xtask bench --quick` (CI: every
//! section with small counts, one run each, written to `target/bench/BENCHMARKS.quick.md`).
//! Other options are passed to `sdk-bench run`, e.g. `--only b2,b3,b5` or `--out FILE`.
//!
//! Steps: build the harness (full: the `bench` profile in `target/bench`; quick: the `dev` profile
//! in `target`, reusing the test build, because CI only checks that the harness works); time B1
//! with criterion;
//! install the official `@servicestack/client` (npm, pinned) into `target/bench/node-official`;
//! run `sdk-bench run`, which measures B1 allocations, B2, B3 and B5 (on a redis-server it starts:
//! B5 needs Debian's `redis-server`, installed here when missing, passed as `REDIS_SERVER`) and
//! writes the report.

use std::path::Path;

use crate::util::{Result, has, root, step};

/// Where the full run builds, and where the official client is installed (never committed).
const BENCH_TARGET: &str = "target/bench";
/// Where the quick run builds: the tests' own target directory.
const QUICK_TARGET: &str = "target";

/// Runs `program args` in the workspace root with extra environment variables.
fn run_env(program: &str, args: &[&str], envs: &[(&str, &str)]) -> Result {
    crate::util::run_env(&root(), program, args, envs)
}

/// Copies the Node script and manifest into `dir` and installs the pinned packages there.
fn install_official_client(dir: &Path) -> Result {
    if !has("node") || !has("npm") {
        return Err(
            "the benchmarks need Node 20 and npm (for the official @servicestack/client)".into(),
        );
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let source = root().join("benches").join("node");
    let mut manifest_changed = false;
    for file in ["package.json", "official-client.cjs"] {
        let text = std::fs::read(source.join(file))
            .map_err(|e| format!("cannot read benches/node/{file}: {e}"))?;
        let target = dir.join(file);
        if std::fs::read(&target).ok().as_deref() != Some(text.as_slice()) {
            manifest_changed |= file == "package.json";
            std::fs::write(&target, text)
                .map_err(|e| format!("cannot write {}: {e}", target.display()))?;
        }
    }
    if manifest_changed
        || !dir
            .join("node_modules/@servicestack/client/package.json")
            .exists()
    {
        crate::util::run_in(
            dir,
            "npm",
            &["install", "--no-audit", "--no-fund", "--loglevel=error"],
        )?;
    }
    Ok(())
}

/// Runs the benchmarks (`--quick` for CI's smoke run).
pub fn run(args: &[&str]) -> Result {
    let quick = args.contains(&"--quick");
    let passthrough: Vec<&str> = args.iter().copied().filter(|a| *a != "--quick").collect();
    let only = passthrough
        .iter()
        .position(|a| *a == "--only")
        .and_then(|i| passthrough.get(i + 1).copied())
        .or_else(|| passthrough.iter().find_map(|a| a.strip_prefix("--only=")));
    let wants = |section: &str| only.is_none_or(|o| o.split(',').any(|s| s == section));
    let wants_b1 = wants("b1");
    // B5 runs nodes on a redis-server, found the way the cluster tests find it.
    let redis_server = if wants("b5") {
        crate::redis::setup()?;
        let path = crate::redis::server_path().ok_or(
            "B5 needs redis-server (Debian's redis-server package; `cargo xtask setup` installs it)",
        )?;
        Some(path.display().to_string())
    } else {
        None
    };
    let (target_rel, profile, profile_dir) = if quick {
        (QUICK_TARGET, "dev", "debug")
    } else {
        (BENCH_TARGET, "bench", "release")
    };
    let target = root().join(target_rel);
    let target_str = target.display().to_string();
    let env: Vec<(&str, &str)> = vec![("CARGO_TARGET_DIR", target_str.as_str())];
    let mut commands = vec![
        format!("cargo xtask bench {}", args.join(" "))
            .trim()
            .to_owned(),
    ];

    step(&format!(
        "building the benchmark harness ({profile} profile)"
    ));
    let build = [
        "build",
        "--profile",
        profile,
        "-p",
        "sdk-benches",
        "--bin",
        "sdk-bench",
    ];
    run_env("cargo", &build, &env)?;
    commands.push(format!(
        "CARGO_TARGET_DIR={target_rel} cargo {}",
        build.join(" ")
    ));

    if !quick {
        // The report states the module size of the npm package; build it fresh. (The quick run
        // reports whatever the wasm leg of `cargo xtask test` packed.)
        step("the npm package, for its module size");
        crate::wasm::build_package()?;
        commands.push("cargo xtask wasm".to_owned());
    }

    let criterion_dir = target.join("criterion");
    if wants_b1 {
        step("B1 decode timing (criterion)");
        // Stale results from an earlier run must not be reported as this run's.
        if let Ok(entries) = std::fs::read_dir(&criterion_dir) {
            for entry in entries.flatten() {
                if entry.file_name().to_string_lossy().starts_with("b1_") {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
        let bench = [
            "bench",
            "--profile",
            profile,
            "-p",
            "sdk-benches",
            "--bench",
            "decode",
        ];
        let mut bench_env = env.clone();
        if quick {
            bench_env.push(("SDK_BENCH_QUICK", "1"));
        }
        run_env("cargo", &bench, &bench_env)?;
        commands.push(format!(
            "{}CARGO_TARGET_DIR={target_rel} cargo {}",
            if quick { "SDK_BENCH_QUICK=1 " } else { "" },
            bench.join(" ")
        ));
    }

    step("installing the official @servicestack/client into target/bench/node-official");
    let node_dir = root().join(BENCH_TARGET).join("node-official");
    install_official_client(&node_dir)?;
    commands.push(format!(
        "(cd {BENCH_TARGET}/node-official && npm install --no-audit --no-fund)"
    ));

    step(if quick {
        "B1-B5 quick run"
    } else {
        "B1-B5 (this takes about half an hour)"
    });
    let exe = target.join(profile_dir).join("sdk-bench");
    let node_str = node_dir.display().to_string();
    let criterion_str = criterion_dir.display().to_string();
    let mut run_args = vec![
        "run",
        "--node",
        node_str.as_str(),
        "--criterion",
        criterion_str.as_str(),
    ];
    if quick {
        run_args.push("--quick");
    }
    run_args.extend(passthrough.iter().copied());
    commands.push(
        format!(
            "{target_rel}/{profile_dir}/sdk-bench run --node {BENCH_TARGET}/node-official --criterion {target_rel}/criterion {}",
            run_args[5..].join(" ")
        )
        .trim()
        .to_owned(),
    );
    let joined = commands.join("\n");
    let mut run_env_vars = vec![
        ("CARGO_TARGET_DIR", target_str.as_str()),
        ("SDK_BENCH_COMMANDS", joined.as_str()),
    ];
    if let Some(path) = &redis_server {
        run_env_vars.push(("REDIS_SERVER", path.as_str()));
    }
    run_env(&exe.display().to_string(), &run_args, &run_env_vars)
}
