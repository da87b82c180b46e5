//! The `localplane` binary.

use clap::Parser;

/// mimalloc: glibc's allocator spent about a third of a registration's CPU time in `_int_malloc`,
/// `malloc_consolidate` and `_int_free` (bench/NOTES.md, "Writes").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = localplane::cli::Cli::parse();
    match localplane::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("localplane: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
