//! The `gatehouse` command: the server and the operator's tools around it.

use std::process::ExitCode;

use clap::Parser;

/// mimalloc rather than the C library's allocator: an authz request makes dozens of small,
/// short-lived allocations in hyper, axum and Gatehouse, and `make bench` measured glibc's
/// malloc and free at a sixth of the instructions of the cookie path (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = gatehouse::cli::Cli::parse();
    gatehouse::cli::run(cli)
}
