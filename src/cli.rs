//! The command line: `localplane serve` and its options (flags override `LOCALPLANE_*` variables).

use crate::cloudmap::{driver::CloudMapDriver, CloudMap, Quotas};
use crate::engine::{Engine, SystemClock, Timing, TimingProfile};
use crate::server::{router, App};
use crate::store::{sqlite::Sqlite, Store};
use anyhow::Context;
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// A local, wire-compatible AWS control plane for MSK Connect and Cloud Map.
#[derive(Parser, Debug)]
#[command(name = "localplane", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// What to do.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server.
    Serve(ServeArgs),
}

/// Options of `localplane serve`.
#[derive(clap::Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "LOCALPLANE_LISTEN", default_value = "127.0.0.1:4566")]
    pub listen: SocketAddr,
    /// Directory of the SQLite database.
    #[arg(long, env = "LOCALPLANE_DATA_DIR", default_value = "./.localplane")]
    pub data_dir: PathBuf,
    /// Keep state in memory only (gone when the process exits).
    #[arg(long, env = "LOCALPLANE_EPHEMERAL")]
    pub ephemeral: bool,
    /// How fast operations move: instant, fast, realistic or manual.
    #[arg(long, env = "LOCALPLANE_TIMING", default_value = "fast")]
    pub timing: TimingProfile,
    /// Account id for access keys that are not 12-digit account ids.
    #[arg(
        long,
        env = "LOCALPLANE_DEFAULT_ACCOUNT",
        default_value = "000000000000"
    )]
    pub default_account: String,
    /// Region for requests that carry no SigV4 signature.
    #[arg(long, env = "LOCALPLANE_DEFAULT_REGION", default_value = "us-east-1")]
    pub default_region: String,
    /// Log format: text or json.
    #[arg(long, env = "LOCALPLANE_LOG_FORMAT", default_value = "text")]
    pub log_format: String,
}

/// Runs the command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve(args).await,
    }
}

fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LOCALPLANE_LOG")
        .unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// `localplane serve`.
pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    init_logging(&args.log_format);
    if args.default_account.len() != 12 || !args.default_account.bytes().all(|b| b.is_ascii_digit())
    {
        anyhow::bail!(
            "--default-account must be a 12-digit account id, got '{}'",
            args.default_account
        );
    }
    let backend = if args.ephemeral {
        Sqlite::in_memory()
    } else {
        Sqlite::open(&args.data_dir)
    }
    .with_context(|| format!("opening the store in {}", args.data_dir.display()))?;
    let store = Store::new(Arc::new(backend));
    let engine = Engine::new(store, Arc::new(SystemClock), Timing::new(args.timing));
    engine.register(crate::cloudmap::records::SERVICE, Arc::new(CloudMapDriver));
    let app = Arc::new(App {
        cloudmap: CloudMap::new(engine.clone(), Quotas::default()),
        engine: engine.clone(),
        default_account: args.default_account.clone(),
        default_region: args.default_region.clone(),
    });
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {}; is another server using it? (--listen)",
                args.listen
            )
        })?;
    let scheduler = tokio::spawn(engine.run_scheduler());
    tracing::info!(
        listen = %args.listen,
        store = if args.ephemeral { "memory".to_string() } else { args.data_dir.display().to_string() },
        timing = args.timing.as_str(),
        "localplane is serving"
    );
    axum::serve(listener, router(app))
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    scheduler.abort();
    tracing::info!("localplane stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
