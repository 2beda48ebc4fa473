//! The `gatehouse` command: the server and the operator's tools around it.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = gatehouse::cli::Cli::parse();
    gatehouse::cli::run(cli)
}
