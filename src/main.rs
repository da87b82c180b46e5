//! The `localplane` binary.

use clap::Parser;

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
