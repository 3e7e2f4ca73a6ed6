//! The command line of `sdk-bench` (clap). `run` starts the roles as processes with
//! `--mode NAME --option value`, the shape the Node client (`benches/node`) reads too.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// `sdk-bench`: runs the benchmarks and writes the report, and plays the processes they need.
#[derive(Debug, Parser)]
#[command(name = "sdk-bench", version)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// B1 allocation counts, B2, B3 and B5 against the reference server, then the report.
    Run(RunArgs),
    /// The reference server role (driven over stdin by `run`).
    Server(ServerArgs),
    /// The SDK client role.
    Client(ClientArgs),
    /// The raw-HTTP floor role (reqwest and a frame counter, no SSE client).
    Floor(FloorArgs),
    /// Timed, counted passes over every B1 case (a quick look).
    B1Probe(ProbeArgs),
    /// One B1 case in a loop, for profilers (perf, callgrind).
    B1One(OneArgs),
}

/// `sdk-bench run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Every section with small counts, one run each (CI's smoke run).
    #[arg(long)]
    pub quick: bool,
    /// How long each B2 latency run lasts (default: the plan's).
    #[arg(long)]
    pub latency_secs: Option<f64>,
    /// Where criterion wrote the B1 timings (default: TARGET/criterion).
    #[arg(long)]
    pub criterion: Option<PathBuf>,
    /// The folder holding `official-client.cjs` and its `node_modules`.
    #[arg(long)]
    pub node: PathBuf,
    /// The report (default: BENCHMARKS.md, or TARGET/BENCHMARKS.quick.md with --quick).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The sections to run.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "b1,b2,b3,b5")]
    pub only: Vec<Section>,
}

/// A section of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Section {
    /// Decode.
    B1,
    /// Delivery.
    B2,
    /// Footprint.
    B3,
    /// Scale-out: fan-out through one node and through two nodes on one Redis.
    B5,
}

/// `sdk-bench server`.
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// The heartbeat interval the server announces.
    #[arg(long, default_value_t = 10_000)]
    pub heartbeat_ms: u64,
    /// The idle timeout (raw floor streams never heartbeat: it must outlast a run).
    #[arg(long, default_value_t = 600_000)]
    pub idle_timeout_ms: u64,
    /// How far a reader may fall behind before it is dropped.
    #[arg(long, default_value_t = 64 << 20)]
    pub buffer_bytes: usize,
    /// Be one node of a cluster on this Redis (`redis://127.0.0.1:PORT`); default: the local
    /// (in-memory) provider.
    #[arg(long)]
    pub redis: Option<String>,
}

/// The SDK client's modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ClientMode {
    /// B2: receive `--count` messages as fast as they come.
    Throughput,
    /// B2: receive `--count` messages, timing each.
    Latency,
    /// B3: connect `--n` clients.
    Connect,
    /// B3: hold `--n` idle clients for `--secs`.
    Idle,
    /// B5: `--n` clients in this process, client i on the i-th of the comma-separated `--url`s
    /// (round robin), each receiving `--count` messages and timing each after `--warmup`.
    Fanout,
}

/// The floor's modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FloorMode {
    /// B2: count `--count` frames as fast as they come.
    Throughput,
    /// B2: count `--count` frames, timing each.
    Latency,
    /// B3: open `--n` streams.
    Connect,
    /// B3: hold `--n` streams open.
    Hold,
}

/// `sdk-bench client`.
#[derive(Debug, Args)]
pub struct ClientArgs {
    /// What to measure.
    #[arg(long, value_enum)]
    pub mode: ClientMode,
    /// The options of the mode.
    #[command(flatten)]
    pub load: LoadArgs,
}

/// `sdk-bench floor`.
#[derive(Debug, Args)]
pub struct FloorArgs {
    /// What to measure.
    #[arg(long, value_enum)]
    pub mode: FloorMode,
    /// Throughput: also split each frame and decode its JSON body into the typed struct, the
    /// least a client that hands applications typed messages must do.
    #[arg(long)]
    pub typed: bool,
    /// The options of the mode.
    #[command(flatten)]
    pub load: LoadArgs,
}

/// The options of the client and floor roles; each mode names the ones it needs.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// The reference server's base URL (fanout: several, comma-separated, one per node).
    #[arg(long)]
    pub url: String,
    /// Messages to receive (throughput, latency).
    #[arg(long)]
    pub count: Option<u64>,
    /// Messages received before latencies are recorded.
    #[arg(long, default_value_t = 0)]
    pub warmup: u64,
    /// Gives up after this long.
    #[arg(long, default_value_t = 600)]
    pub timeout_secs: u64,
    /// Throughput in backlog mode: the first message blocks the receiver this long (the server
    /// queues the rest), and timing starts when it reads again.
    #[arg(long, default_value_t = 0)]
    pub stall_ms: u64,
    /// The server's UDP port for progress acknowledgements (throughput, latency).
    #[arg(long)]
    pub ack_port: Option<u16>,
    /// The run id the acknowledgements carry (throughput, latency).
    #[arg(long)]
    pub run: Option<u32>,
    /// Clients or streams (connect, idle, hold, fanout).
    #[arg(long)]
    pub n: Option<usize>,
    /// How long to stay idle (idle).
    #[arg(long)]
    pub secs: Option<f64>,
}

impl LoadArgs {
    /// `--count`, which throughput and latency need.
    pub fn count(&self) -> Result<u64, String> {
        needed(self.count, "count")
    }

    /// `--ack-port` and `--run`, which throughput and latency need.
    pub fn ack(&self) -> Result<(u16, u32), String> {
        Ok((needed(self.ack_port, "ack-port")?, needed(self.run, "run")?))
    }

    /// `--n`, which connect, idle and hold need.
    pub fn n(&self) -> Result<usize, String> {
        needed(self.n, "n")
    }

    /// `--secs`, which idle needs.
    pub fn secs(&self) -> Result<f64, String> {
        needed(self.secs, "secs")
    }
}

fn needed<T>(value: Option<T>, name: &str) -> Result<T, String> {
    value.ok_or_else(|| format!("this mode needs --{name}"))
}

/// `sdk-bench b1-probe`.
#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// Passes per case (the fastest is printed).
    #[arg(long, default_value_t = 1)]
    pub repeat: usize,
    /// Cases whose first pass took longer than this are not repeated.
    #[arg(long, default_value_t = 200.0)]
    pub max_ms: f64,
    /// Only this contender.
    #[arg(long)]
    pub contender: Option<String>,
}

/// `sdk-bench b1-one`.
#[derive(Debug, Args)]
pub struct OneArgs {
    /// The corpus shape.
    #[arg(long)]
    pub shape: String,
    /// `whole`, or the chunk size in bytes.
    #[arg(long)]
    pub chunks: String,
    /// The decoder.
    #[arg(long)]
    pub contender: String,
    /// Passes (the fastest is printed).
    #[arg(long, default_value_t = 10)]
    pub repeat: usize,
}
