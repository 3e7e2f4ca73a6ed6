//! `cargo xtask …`: the one entry point for builds, tests and benchmarks, used by CI.
//!
//! - `cargo xtask test`: everything: format, lints, Rust tests, the wasm build and its browser and
//!   Node tests, the Kotlin (and, where `swift` exists, Swift) bindings tests, and the benchmarks'
//!   quick mode. Installs what the machine lacks first.
//! - `cargo xtask lint`: format, clippy, docs and `cargo publish --dry-run` of the published
//!   crates (the first leg of `test`).
//! - `cargo xtask setup`: only the installs.
//! - `cargo xtask wasm`: builds the npm package.
//! - `cargo xtask chat [--port N]`: builds the npm package and serves the Chat page.
//! - `cargo xtask bindings`: generates the Kotlin and Swift bindings.
//! - `cargo xtask bench [--quick]`: runs the benchmarks and rewrites BENCHMARKS.md.

mod bench;
mod chat;
mod ffi;
mod redis;
mod util;
mod wasm;
mod wasm_size;

use util::{Result, run, step};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = args.first().map(String::as_str).unwrap_or("help");
    let rest: Vec<&str> = args.iter().skip(1).map(String::as_str).collect();
    let result = match command {
        "test" => test(&rest),
        "setup" => setup(),
        "lint" => lint(),
        "wasm" => wasm::build_package(),
        "chat" => chat::serve(&rest),
        "bindings" => ffi::generate_bindings(),
        "bench" => bench::run(&rest),
        _ => {
            eprintln!(
                "usage: cargo xtask <test|setup|lint|wasm|chat [--port N]|bindings|bench [--quick]>"
            );
            Ok(())
        }
    };
    if let Err(error) = result {
        eprintln!("\nxtask {command} failed: {error}");
        std::process::exit(1);
    }
}

/// Installs everything the test legs need.
fn setup() -> Result {
    util::ensure_rust_target("wasm32-unknown-unknown")?;
    wasm::setup()?;
    ffi::setup()?;
    redis::setup()?;
    Ok(())
}

/// Format, clippy (native and wasm32), docs, and the publish dry runs.
fn lint() -> Result {
    step("cargo fmt --check");
    run("cargo", &["fmt", "--all", "--check"])?;
    run(
        "cargo",
        &[
            "fmt",
            "--manifest-path",
            "client-wasm/Cargo.toml",
            "--check",
        ],
    )?;
    step("cargo clippy");
    run(
        "cargo",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    )?;
    step("cargo clippy: client-wasm for wasm32-unknown-unknown");
    let target_dir = wasm::target_dir().display().to_string();
    run(
        "cargo",
        &[
            "clippy",
            "--manifest-path",
            "client-wasm/Cargo.toml",
            "--target-dir",
            &target_dir,
            "--target",
            "wasm32-unknown-unknown",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    )?;
    step("servicestack-events (client-core) builds for wasm32-unknown-unknown");
    run(
        "cargo",
        &[
            "check",
            "-p",
            "servicestack-events",
            "--target",
            "wasm32-unknown-unknown",
        ],
    )?;
    step("docs build without warnings");
    let status = std::process::Command::new("cargo")
        .args([
            "doc",
            "--no-deps",
            "-p",
            "servicestack-events",
            "-p",
            "servicestack-events-server",
        ])
        .env("RUSTDOCFLAGS", "-D warnings")
        .current_dir(util::root())
        .status()
        .map_err(|e| e.to_string())?;
    if !status.success() {
        return Err("cargo doc reported warnings".into());
    }
    publish_dry_run()
}

/// The crates published to the crate registry.
const PUBLISHED_CRATES: [&str; 2] = ["servicestack-events", "servicestack-events-server"];

/// `cargo publish --dry-run` for every published crate: the package is assembled from what its
/// manifest includes, then built on its own with registry dependencies only, so a missing file,
/// a bad manifest field or a dependency that would have to be on the registry fails here.
/// `--allow-dirty`, because lint runs on work in progress (uncommitted edits would fail it);
/// whether the tree is clean matters for a real publish only. The first run costs about two
/// minutes (the package resolves features on its own and builds its dependencies once), later
/// runs seconds.
fn publish_dry_run() -> Result {
    step("publish: cargo publish --dry-run (servicestack-events, servicestack-events-server)");
    let mut args = vec!["publish", "--dry-run", "--allow-dirty"];
    for name in PUBLISHED_CRATES {
        args.extend(["-p", name]);
    }
    run("cargo", &args)
}

fn test(args: &[&str]) -> Result {
    let only = args.iter().find_map(|a| a.strip_prefix("--only="));
    let wants = |leg: &str| only.is_none_or(|o| o.split(',').any(|x| x == leg));
    setup()?;
    if wants("lint") {
        lint()?;
    }
    if wants("rust") {
        step("Rust tests (the whole workspace)");
        let redis_server = redis::server_path();
        if redis_server.is_none() && util::strict() {
            return Err("redis-server is required in CI (the Redis cluster tests)".into());
        }
        let redis_server = redis_server
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let envs: Vec<(&str, &str)> = if redis_server.is_empty() {
            Vec::new()
        } else {
            vec![("REDIS_SERVER", redis_server.as_str())]
        };
        util::run_env(&util::root(), "cargo", &["test", "--workspace"], &envs)?;
        step("Fuzz targets (built, and their bodies run on a seed sweep; fuzz/README.md)");
        run("cargo", &["test", "--manifest-path", "fuzz/Cargo.toml"])?;
    }
    if wants("wasm") {
        wasm::test()?;
    }
    if wants("ffi") {
        ffi::test()?;
    }
    if wants("bench") {
        bench::run(&["--quick"])?;
    }
    eprintln!("\nall test legs passed");
    Ok(())
}
