//! Facts about the machine and the versions under test, for the report.

use std::path::Path;
use std::process::Command;

/// The machine and the software versions.
#[derive(Debug, Clone, Default)]
pub struct Machine {
    pub cpu: String,
    pub logical_cpus: usize,
    pub memory: String,
    pub os: String,
    pub kernel: String,
    pub rustc: String,
    pub node: String,
    /// `(package, version)` of the crates and npm packages under test.
    pub versions: Vec<(String, String)>,
    pub date: String,
}

fn command_output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// `time` as `YYYY-MM-DD HH:MM UTC` (through `date`, like the report's own date).
pub fn utc(time: std::time::SystemTime) -> String {
    let secs = time
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    command_output(
        "date",
        &["-u", "-d", &format!("@{secs}"), "+%Y-%m-%d %H:%M UTC"],
    )
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The version of `name` in `Cargo.lock` (the first entry).
fn locked_version(lock: &str, name: &str) -> Option<String> {
    let needle = format!("name = \"{name}\"\nversion = \"");
    let at = lock.find(&needle)? + needle.len();
    Some(lock[at..].split('"').next()?.to_owned())
}

fn npm_version(node_dir: &Path, package: &str) -> Option<String> {
    let text = std::fs::read_to_string(
        node_dir
            .join("node_modules")
            .join(package)
            .join("package.json"),
    )
    .ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    Some(value.get("version")?.as_str()?.to_owned())
}

impl Machine {
    /// Collects the facts; `lock` is the workspace's `Cargo.lock`.
    pub fn detect(lock: &Path, node_dir: &Path) -> Machine {
        let cpuinfo = read("/proc/cpuinfo");
        let cpu = cpuinfo
            .lines()
            .find_map(|l| {
                l.strip_prefix("model name")
                    .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
            })
            .unwrap_or_else(|| "unknown".to_owned());
        let memory = read("/proc/meminfo")
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches(" kB").parse::<f64>().ok())
            .map(|kib| format!("{:.1} GiB", kib / (1 << 20) as f64))
            .unwrap_or_default();
        let os = read("/etc/os-release")
            .lines()
            .find_map(|l| l.strip_prefix("PRETTY_NAME="))
            .map(|v| v.trim_matches('"').to_owned())
            .unwrap_or_default();
        let lock_text = std::fs::read_to_string(lock).unwrap_or_default();
        let mut versions = Vec::new();
        for name in [
            "servicestack-events",
            "servicestack-events-server",
            "eventsource-stream",
            "sse-stream",
            "reqwest",
            "hyper",
            "tokio",
            "axum",
            "serde_json",
            "criterion",
        ] {
            if let Some(version) = locked_version(&lock_text, name) {
                versions.push((name.to_owned(), version));
            }
        }
        for package in ["@servicestack/client", "eventsource"] {
            if let Some(version) = npm_version(node_dir, package) {
                versions.push((format!("{package} (npm)"), version));
            }
        }
        Machine {
            cpu,
            logical_cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
            memory,
            os,
            kernel: read("/proc/sys/kernel/osrelease").trim().to_owned(),
            rustc: command_output("rustc", &["-V"]),
            node: command_output("node", &["-v"]),
            versions,
            date: command_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        }
    }
}
