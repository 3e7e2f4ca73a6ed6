//! `sdk-bench`: runs the benchmarks and writes the report, and plays the processes they need.
//!
//! - `sdk-bench run [--quick] [--out FILE] [--criterion DIR] [--node DIR]`: B1 allocation
//!   counts, B2 and B3 against the reference server, then the report (see `run`).
//! - `sdk-bench server …`, `sdk-bench client …`, `sdk-bench floor …`: the roles `run` starts as
//!   separate processes, so each one's CPU time and memory are its own.
//! - `sdk-bench b1-probe`: timed, counted passes over every B1 case (a quick look);
//!   `sdk-bench b1-one`: one case in a loop, for profilers.

use std::process::ExitCode;

use sdk_benches::alloc_count::CountingAlloc;

mod args;
mod roles;
mod run;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = argv.split_first() else {
        eprintln!("usage: sdk-bench <run|server|client|floor|b1-probe> [options]");
        return ExitCode::from(2);
    };
    let args = args::Args::parse(rest);
    let result = match command.as_str() {
        "run" => run::run(&args),
        "server" => roles::server::main(&args),
        "client" => roles::client::main(&args),
        "floor" => roles::floor::main(&args),
        "b1-probe" => run::b1::probe(&args),
        "b1-one" => run::b1::one(&args),
        other => Err(format!("unknown command {other:?}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("sdk-bench {command}: {error}");
            ExitCode::FAILURE
        }
    }
}
