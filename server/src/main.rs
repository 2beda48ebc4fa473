//! The `gatehouse` command: the server and the operator's tools around it.
//!
//! The library forbids `unsafe`; the one exception, the global allocator, lives here.

#![deny(unsafe_code)]

#[allow(unsafe_code)]
mod allocator;

use std::process::ExitCode;

use clap::Parser;

#[global_allocator]
static ALLOCATOR: allocator::SplitAllocator = allocator::SplitAllocator;

fn main() -> ExitCode {
    let cli = gatehouse::cli::Cli::parse();
    gatehouse::cli::run(cli)
}
