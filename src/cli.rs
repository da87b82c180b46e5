//! The command line: `localplane serve | ops | snapshot | reset`. For `serve`, flags override
//! `LOCALPLANE_*` variables, which override the `--config` file, which overrides the defaults.

use crate::cloudmap::{driver::CloudMapDriver, CloudMap, Quotas};
use crate::config::FileConfig;
use crate::engine::{Engine, SystemClock, Timing, TimingProfile};
use crate::mskconnect::{driver::MskConnectDriver, MskConnect};
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
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// What to do.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Show the operations of a running server.
    Ops {
        /// list or watch.
        #[command(subcommand)]
        action: OpsAction,
    },
    /// Export or import the whole state of a running server.
    Snapshot {
        /// export or import.
        #[command(subcommand)]
        action: SnapshotAction,
    },
    /// Delete all state of a running server (or one service's).
    Reset {
        /// The server.
        #[arg(long, env = "LOCALPLANE_ENDPOINT", default_value = "http://127.0.0.1:4566")]
        endpoint: String,
        /// Only this service: kafkaconnect or servicediscovery.
        #[arg(long)]
        service: Option<String>,
    },
}

/// `localplane ops …`
#[derive(Subcommand, Debug)]
pub enum OpsAction {
    /// Print the operations of both services once.
    List {
        /// The server.
        #[arg(long, env = "LOCALPLANE_ENDPOINT", default_value = "http://127.0.0.1:4566")]
        endpoint: String,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// A live view of the operations, refreshed until interrupted.
    Watch {
        /// The server.
        #[arg(long, env = "LOCALPLANE_ENDPOINT", default_value = "http://127.0.0.1:4566")]
        endpoint: String,
        /// Refresh interval in milliseconds.
        #[arg(long, default_value_t = 250)]
        interval_ms: u64,
    },
}

/// `localplane snapshot …`
#[derive(Subcommand, Debug)]
pub enum SnapshotAction {
    /// Write the server's state to FILE.
    Export {
        /// Destination file.
        file: PathBuf,
        /// The server.
        #[arg(long, env = "LOCALPLANE_ENDPOINT", default_value = "http://127.0.0.1:4566")]
        endpoint: String,
    },
    /// Replace the server's state with FILE.
    Import {
        /// Snapshot file.
        file: PathBuf,
        /// The server.
        #[arg(long, env = "LOCALPLANE_ENDPOINT", default_value = "http://127.0.0.1:4566")]
        endpoint: String,
    },
}

/// Options of `localplane serve`.
#[derive(clap::Args, Debug, Clone)]
pub struct ServeArgs {
    /// TOML configuration file (every key is documented in the README).
    #[arg(long, env = "LOCALPLANE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address and port to listen on [default: 127.0.0.1:4566].
    #[arg(long, env = "LOCALPLANE_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Directory of the SQLite database [default: ./.localplane].
    #[arg(long, env = "LOCALPLANE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Keep state in memory only (gone when the process exits).
    #[arg(long, env = "LOCALPLANE_EPHEMERAL")]
    pub ephemeral: bool,
    /// How fast operations move: instant, fast, realistic or manual [default: fast].
    #[arg(long, env = "LOCALPLANE_TIMING")]
    pub timing: Option<TimingProfile>,
    /// Account id for access keys that are not 12-digit account ids [default: 000000000000].
    #[arg(long, env = "LOCALPLANE_DEFAULT_ACCOUNT")]
    pub default_account: Option<String>,
    /// Region for requests that carry no SigV4 signature [default: us-east-1].
    #[arg(long, env = "LOCALPLANE_DEFAULT_REGION")]
    pub default_region: Option<String>,
    /// Log format: text or json [default: text].
    #[arg(long, env = "LOCALPLANE_LOG_FORMAT")]
    pub log_format: Option<String>,
}

/// The settings `serve` runs with, after flags, environment and file are merged.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub ephemeral: bool,
    pub timing: Timing,
    pub default_account: String,
    pub default_region: String,
    pub log_format: String,
    pub faults: Vec<crate::engine::FaultRule>,
}

impl ServeArgs {
    /// Merges flags and environment (already in `self`) over the config file over the defaults.
    pub fn settings(&self) -> anyhow::Result<Settings> {
        let file = match &self.config {
            Some(p) => FileConfig::load(p).map_err(anyhow::Error::msg)?,
            None => FileConfig::default(),
        };
        let timing_profile = match (self.timing, &file.timing) {
            (Some(t), _) => t,
            (None, Some(t)) => t.parse().map_err(anyhow::Error::msg)?,
            (None, None) => TimingProfile::Fast,
        };
        let log_format = self.log_format.clone().or(file.log_format).unwrap_or_else(|| "text".into());
        if log_format != "text" && log_format != "json" {
            anyhow::bail!("--log-format must be text or json, not '{log_format}'");
        }
        let default_account =
            self.default_account.clone().or(file.default_account).unwrap_or_else(|| "000000000000".into());
        if default_account.len() != 12 || !default_account.bytes().all(|b| b.is_ascii_digit()) {
            anyhow::bail!("--default-account must be a 12-digit account id, got '{default_account}'");
        }
        Ok(Settings {
            listen: self.listen.or(file.listen).unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 4566))),
            data_dir: self.data_dir.clone().or(file.data_dir).unwrap_or_else(|| PathBuf::from("./.localplane")),
            ephemeral: self.ephemeral || file.ephemeral.unwrap_or(false),
            timing: Timing { profile: timing_profile, overrides: file.timing_overrides },
            default_account,
            default_region: self.default_region.clone().or(file.default_region).unwrap_or_else(|| "us-east-1".into()),
            log_format,
            faults: file.faults,
        })
    }
}

/// Runs the command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve(args.settings()?).await,
        Command::Ops { action: OpsAction::List { endpoint, json } } => crate::ops_view::list(&endpoint, json).await,
        Command::Ops { action: OpsAction::Watch { endpoint, interval_ms } } => {
            crate::ops_view::watch(&endpoint, interval_ms).await
        }
        Command::Snapshot { action: SnapshotAction::Export { file, endpoint } } => {
            let body = admin_call(reqwest::Method::GET, &endpoint, "/_localplane/snapshot", None).await?;
            std::fs::write(&file, body).with_context(|| format!("writing {}", file.display()))?;
            eprintln!("snapshot written to {}", file.display());
            Ok(())
        }
        Command::Snapshot { action: SnapshotAction::Import { file, endpoint } } => {
            let body = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let out = admin_call(reqwest::Method::PUT, &endpoint, "/_localplane/snapshot", Some(body)).await?;
            println!("{}", String::from_utf8_lossy(&out));
            Ok(())
        }
        Command::Reset { endpoint, service } => {
            let path = match service {
                Some(s) => format!("/_localplane/reset?service={s}"),
                None => "/_localplane/reset".to_string(),
            };
            let out = admin_call(reqwest::Method::POST, &endpoint, &path, None).await?;
            println!("{}", String::from_utf8_lossy(&out));
            Ok(())
        }
    }
}

/// Calls the admin API of a running server; a non-2xx answer is an error carrying its message.
pub async fn admin_call(
    method: reqwest::Method,
    endpoint: &str,
    path: &str,
    body: Option<Vec<u8>>,
) -> anyhow::Result<Vec<u8>> {
    let url = format!("{}{path}", endpoint.trim_end_matches('/'));
    let mut req = reqwest::Client::new().request(method, &url);
    if let Ok(token) = std::env::var("LOCALPLANE_ADMIN_TOKEN") {
        req = req.bearer_auth(token);
    }
    if let Some(b) = body {
        req = req.header("content-type", "application/json").body(b);
    }
    let resp = req.send().await.with_context(|| {
        format!("cannot reach localplane at {endpoint} (is `localplane serve` running? --endpoint)")
    })?;
    let status = resp.status();
    let bytes = resp.bytes().await?.to_vec();
    if !status.is_success() {
        anyhow::bail!("{url} answered {status}: {}", String::from_utf8_lossy(&bytes));
    }
    Ok(bytes)
}

fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LOCALPLANE_LOG").unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// `localplane serve`.
pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    init_logging(&settings.log_format);
    let backend = if settings.ephemeral { Sqlite::in_memory() } else { Sqlite::open(&settings.data_dir) }
        .with_context(|| format!("opening the store in {}", settings.data_dir.display()))?;
    let store = Store::new(Arc::new(backend));
    let engine = Engine::new(store, Arc::new(SystemClock), settings.timing.clone());
    engine.register(crate::cloudmap::records::SERVICE, Arc::new(CloudMapDriver));
    engine.register(crate::mskconnect::records::SERVICE, Arc::new(MskConnectDriver));
    engine.install_config_faults(&settings.faults).await.context("installing the fault rules of the config file")?;
    let app = Arc::new(App {
        cloudmap: CloudMap::new(engine.clone(), Quotas::default()),
        mskconnect: MskConnect::new(engine.clone()),
        engine: engine.clone(),
        default_account: settings.default_account.clone(),
        default_region: settings.default_region.clone(),
        config_faults: settings.faults.clone(),
        metrics: crate::metrics::install(),
    });
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}; is another server using it? (--listen)", settings.listen))?;
    let scheduler = tokio::spawn(engine.run_scheduler());
    tracing::info!(
        listen = %settings.listen,
        store = if settings.ephemeral { "memory".to_string() } else { settings.data_dir.display().to_string() },
        timing = settings.timing.profile.as_str(),
        "localplane is serving"
    );
    axum::serve(listener, router(app)).with_graceful_shutdown(shutdown_signal()).await?;
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
