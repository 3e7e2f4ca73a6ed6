//! Running commands and checking tools, shared by every task.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What every task returns.
pub type Result<T = ()> = std::result::Result<T, String>;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives inside the workspace")
        .to_path_buf()
}

/// Whether CI is running us: a missing toolchain is then a failure, never a skip.
pub fn strict() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Prints a section header.
pub fn step(title: &str) {
    eprintln!("\n==> {title}");
}

/// Runs `program args` in `dir`, inheriting output; fails on a non-zero exit.
pub fn run_in(dir: &Path, program: &str, args: &[&str]) -> Result {
    run_env(dir, program, args, &[])
}

/// Runs `program args` in `dir` with extra environment variables, inheriting output; fails on
/// a non-zero exit. The command line is echoed first, long or multi-line values
/// shortened.
pub fn run_env(dir: &Path, program: &str, args: &[&str], envs: &[(&str, &str)]) -> Result {
    let shown: Vec<String> = envs
        .iter()
        .map(|(key, value)| {
            if value.len() > 80 || value.contains('\n') {
                format!("{key}=… ")
            } else {
                format!("{key}={value} ")
            }
        })
        .collect();
    eprintln!("$ {}{program} {}", shown.concat(), args.join(" "));
    let status = Command::new(program)
        .args(args)
        .envs(envs.iter().copied())
        .current_dir(dir)
        .status()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "`{program} {}` failed with {status}",
            args.join(" ")
        ))
    }
}

/// Runs `program args` in the workspace root.
pub fn run(program: &str, args: &[&str]) -> Result {
    run_in(&root(), program, args)
}

/// Runs `program args` and returns its standard output.
pub fn output(program: &str, args: &[&str]) -> Result<String> {
    let out = Command::new(program)
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "`{program} {}` failed with {}",
            args.join(" "),
            out.status
        ))
    }
}

/// Whether `program` is on PATH.
pub fn has(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Installs Debian packages that are missing (apt-get; we run as root on our machines).
pub fn ensure_apt(packages: &[&str]) -> Result {
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|p| {
            !Command::new("dpkg")
                .args(["-s", p])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    step(&format!(
        "installing Debian packages: {}",
        missing.join(" ")
    ));
    let sudo = if output("id", &["-u"])
        .map(|u| u.trim() == "0")
        .unwrap_or(false)
    {
        vec![]
    } else {
        vec!["sudo"]
    };
    let mut update: Vec<&str> = sudo.clone();
    update.extend(["apt-get", "update", "-q"]);
    run(update[0], &update[1..])?;
    let mut install: Vec<&str> = sudo;
    install.extend(["apt-get", "install", "-y", "-q", "--no-install-recommends"]);
    install.extend(missing.iter().copied());
    run(install[0], &install[1..])
}

/// Makes sure a rustup target is installed.
pub fn ensure_rust_target(target: &str) -> Result {
    let installed = output("rustup", &["target", "list", "--installed"])?;
    if installed.lines().any(|l| l.trim() == target) {
        return Ok(());
    }
    step(&format!("installing the {target} target"));
    run("rustup", &["target", "add", target])
}

/// Makes sure `cargo install crate --version version` has put `binary` on PATH at that version.
pub fn ensure_cargo_tool(krate: &str, version: &str, binary: &str) -> Result {
    if output(binary, &["--version"]).is_ok_and(|v| v.contains(version)) {
        return Ok(());
    }
    step(&format!("installing {krate} {version}"));
    run("cargo", &["install", krate, "--version", version])
}
