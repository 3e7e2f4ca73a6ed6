//! `cargo xtask …`: the one entry point for builds, tests and benchmarks, used by CI.
//!
//! - `cargo xtask test`: everything: format, lints, Rust tests, the wasm build and its browser and
//!   Node tests, the Kotlin (and, where `swift` exists, Swift) bindings tests, and the benchmarks'
//!   quick mode. Installs what the machine lacks first.
//! - `cargo xtask setup`: only the installs.
//! - `cargo xtask wasm`: builds the npm package.
//! - `cargo xtask bindings`: generates the Kotlin and Swift bindings.
//! - `cargo xtask bench [--quick]`: runs the benchmarks and rewrites BENCHMARKS.md.

mod bench;
mod ffi;
mod util;
mod wasm;

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
        "bindings" => ffi::generate_bindings(),
        "bench" => bench::run(&rest),
        _ => {
            eprintln!("usage: cargo xtask <test|setup|lint|wasm|bindings|bench [--quick]>");
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
    Ok(())
}

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
    Ok(())
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
        run("cargo", &["test", "--workspace"])?;
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
