//! `sdk-bench`: runs the benchmarks and writes the report, and plays the processes they need.
//!
//! - `sdk-bench run [--quick] [--out FILE] [--criterion DIR] [--node DIR]`: B1 allocation
//!   counts, B2, B3 and B5 against the reference server, then the report (see `run`).
//! - `sdk-bench server …`, `sdk-bench client …`, `sdk-bench floor …`: the roles `run` starts as
//!   separate processes, so each one's CPU time and memory are its own.
//! - `sdk-bench b1-probe`: timed, counted passes over every B1 case (a quick look);
//!   `sdk-bench b1-one`: one case in a loop, for profilers.

use std::process::ExitCode;

use clap::Parser;
use sdk_benches::alloc_count::CountingAlloc;

use args::{Cli, Command};

mod args;
mod roles;
mod run;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

fn main() -> ExitCode {
    // A bad command line exits with clap's message and usage (code 2).
    let cli = Cli::parse();
    let (name, result) = match &cli.command {
        Command::Run(args) => ("run", run::run(args)),
        Command::Server(args) => ("server", roles::server::main(args)),
        Command::Client(args) => ("client", roles::client::main(args)),
        Command::Floor(args) => ("floor", roles::floor::main(args)),
        Command::B1Probe(args) => ("b1-probe", run::b1::probe(args)),
        Command::B1One(args) => ("b1-one", run::b1::one(args)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("sdk-bench {name}: {error}");
            ExitCode::FAILURE
        }
    }
}
