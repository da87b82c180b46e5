//! `localplane serve`: its options, the settings they make (flags override `LOCALPLANE_*`
//! variables, which override the `--config` file, which overrides the defaults), and the server run.

use crate::app::App;
use crate::config::FileConfig;
use crate::engine::{Engine, SystemClock, Timing, TimingProfile};
use crate::server::router;
use crate::store::Location;
use anyhow::Context;
use clap::builder::BoolishValueParser;
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

/// Options of `localplane serve`.
#[derive(clap::Args, Debug, Clone)]
pub struct ServeArgs {
    /// Authentication: accept (any credentials) or verify (SigV4 against the config file's keys).
    #[arg(long, env = "LOCALPLANE_AUTH")]
    pub auth: Option<crate::auth::AuthMode>,
    /// Bearer token of the admin API; required with --auth verify or a non-loopback --listen.
    #[arg(long, env = "LOCALPLANE_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// TOML configuration file (every key is documented in the README).
    #[arg(long, env = "LOCALPLANE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address and port to listen on; port 0 takes a free one. Once listening, the server prints
    /// LOCALPLANE_ENDPOINT=http://HOST:PORT on stdout [default: 127.0.0.1:4566].
    #[arg(long, env = "LOCALPLANE_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Directory of the SQLite database [default: ./.localplane].
    #[arg(long, env = "LOCALPLANE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Keep state in memory only (gone when the process exits). The variable takes 1/0, true/false,
    /// yes/no or on/off.
    #[arg(long, env = "LOCALPLANE_EPHEMERAL", value_parser = BoolishValueParser::new())]
    pub ephemeral: bool,
    /// Where state lives: postgres://USER@HOST:PORT/DB (one database shared by several replicas)
    /// or sqlite://PATH (a data directory, like --data-dir) [default: SQLite in --data-dir].
    #[arg(long, env = "LOCALPLANE_STORE", hide_env_values = true)]
    pub store: Option<String>,
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
    /// DNS server for the Cloud Map DNS namespaces (UDP and TCP): ADDR:PORT (port 0 takes a free
    /// one), or off [default: 127.0.0.1:8053, skipped with a warning when that port is taken].
    #[arg(long, env = "LOCALPLANE_DNS_LISTEN")]
    pub dns_listen: Option<String>,
    /// Time between two health-check probes of an instance, such as 1s or 500ms
    /// [default: 30s under the realistic timing profile, 5s otherwise].
    #[arg(long, env = "LOCALPLANE_HEALTH_CHECK_INTERVAL")]
    pub health_check_interval: Option<String>,
    /// Probe only instances whose address is in these CIDRs, comma-separated (such as
    /// 10.0.0.0/8,127.0.0.1) [default: any address but unspecified, link-local, multicast, broadcast].
    #[arg(long, env = "LOCALPLANE_HEALTH_CHECK_ALLOWED_CIDRS")]
    pub health_check_allowed_cidrs: Option<String>,
    /// Host names the server answers besides loopback addresses and localhost, comma-separated
    /// (`*`: any), such as the name a container reaches it by; other Host headers are refused.
    #[arg(long, env = "LOCALPLANE_ALLOWED_HOSTS")]
    pub allowed_hosts: Option<String>,
    /// HTTP connections served at once; at the limit idle keep-alive connections are closed to
    /// make room [default: 1024].
    #[arg(long, env = "LOCALPLANE_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Seed file (YAML or JSON, see examples/seed.yaml): what it describes is created before the
    /// server announces its endpoint; what already exists is left as it is.
    #[arg(long, env = "LOCALPLANE_SEED")]
    pub seed: Option<PathBuf>,
    /// Start without SQLite's quick_check of an existing database (minutes on a huge store). The
    /// variable takes 1/0, true/false, yes/no or on/off.
    #[arg(long, env = "LOCALPLANE_SKIP_INTEGRITY_CHECK", value_parser = BoolishValueParser::new())]
    pub skip_integrity_check: bool,
    /// Raises or lowers a service quota, such as instances_per_service=5000 (repeatable; the
    /// variable takes a comma-separated list). Quotas: namespaces_per_region (50),
    /// instances_per_service (1000), tags_per_resource (50), custom_attributes_per_instance (30),
    /// attributes_per_service (30) — AWS's defaults.
    #[arg(long = "quota", value_name = "NAME=N", env = "LOCALPLANE_QUOTAS", value_delimiter = ',')]
    pub quotas: Vec<String>,
    /// How long finished operations are kept, such as 24h or 30m, or forever [default: 24h].
    #[arg(long, env = "LOCALPLANE_OPERATION_RETENTION")]
    pub operation_retention: Option<String>,
}

/// The settings `serve` runs with, after flags, environment and file are merged.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The address of the HTTP listener.
    pub listen: SocketAddr,
    /// The SQLite data directory (when state lives in SQLite).
    pub data_dir: PathBuf,
    /// Whether state lives in memory only.
    pub ephemeral: bool,
    /// Where state lives (what `--store`, `--data-dir` and `--ephemeral` decided together).
    pub store: Location,
    /// The timing profile and its overrides.
    pub timing: Timing,
    /// Account of keys that are not 12-digit account ids.
    pub default_account: String,
    /// Region of unsigned requests.
    pub default_region: String,
    /// `text` or `json`.
    pub log_format: String,
    /// Fault rules of the config file.
    pub faults: Vec<crate::engine::FaultRule>,
    /// Who may call.
    pub auth: crate::auth::Auth,
    /// The DNS listeners to start (the default one first).
    pub dns_listeners: Vec<crate::dns::ListenerSpec>,
    /// How health checks probe.
    pub health: crate::health::HealthSettings,
    /// HTTP connections served at once.
    pub max_connections: usize,
    /// Whether an existing SQLite database is opened without `PRAGMA quick_check`.
    pub skip_integrity_check: bool,
    /// The seed file to apply at start.
    pub seed: Option<PathBuf>,
    /// The service quotas.
    pub quotas: crate::config::Quotas,
    /// How long finished operations are kept (`None`: forever).
    pub operation_retention: Option<std::time::Duration>,
}

impl ServeArgs {
    /// Merges flags and environment (already in `self`) over the config file over the defaults.
    pub fn settings(&self) -> anyhow::Result<Settings> {
        let file = match &self.config {
            Some(p) => FileConfig::load(p).map_err(anyhow::Error::msg)?,
            None => FileConfig::default(),
        };
        self.settings_over(file)
    }

    /// Merges flags and environment (already in `self`) over `file` over the defaults.
    pub fn settings_over(&self, file: FileConfig) -> anyhow::Result<Settings> {
        let timing_profile = match (self.timing, &file.timing) {
            (Some(t), _) => t,
            (None, Some(t)) => t.parse().map_err(anyhow::Error::msg)?,
            (None, None) => TimingProfile::Fast,
        };
        let log_format = self.log_format.clone().or(file.log_format.clone()).unwrap_or_else(|| "text".into());
        if log_format != "text" && log_format != "json" {
            anyhow::bail!("--log-format must be text or json, not '{log_format}'");
        }
        let default_account =
            self.default_account.clone().or(file.default_account.clone()).unwrap_or_else(|| "000000000000".into());
        if default_account.len() != 12 || !default_account.bytes().all(|b| b.is_ascii_digit()) {
            anyhow::bail!("--default-account must be a 12-digit account id, got '{default_account}'");
        }
        let auth = build_auth(self, &file, &default_account)?;
        let dns_listen = self.dns_listen.clone().or_else(|| file.dns_listen.clone());
        let mut dns_listeners = Vec::new();
        let default_dns = dns_listen.as_deref().unwrap_or(crate::dns::DEFAULT_DNS_LISTEN);
        if let Some(addr) = crate::dns::parse_listen(default_dns).map_err(|e| anyhow::anyhow!("--dns-listen: {e}"))? {
            // Only the built-in default may give way to a taken port; an address the user chose must bind.
            let required = dns_listen.is_some();
            dns_listeners.push(crate::dns::ListenerSpec { listen: addr, view: crate::dns::View::default(), required });
        }
        dns_listeners.extend(file.dns_listeners.iter().map(|l| l.to_spec()));
        let store = store_location(self, &file)?;
        let health_check_interval =
            match self.health_check_interval.clone().or_else(|| file.health_check_interval.clone()) {
                Some(text) => Some(
                    crate::health::parse_interval(&text)
                        .map_err(|e| anyhow::anyhow!("--health-check-interval: {e}"))?,
                ),
                None => None,
            };
        let health_targets = match self.health_check_allowed_cidrs.clone().or(file.health_check_allowed_cidrs.clone()) {
            Some(list) => crate::health::policy::TargetPolicy::allow_only(&list)
                .map_err(|e| anyhow::anyhow!("--health-check-allowed-cidrs: {e}"))?,
            None => Default::default(),
        };
        let mut quotas = crate::config::Quotas::default();
        for (name, value) in &file.quotas {
            quotas.set(name, *value).map_err(|e| anyhow::anyhow!("[quotas] in the config file: {e}"))?;
        }
        for flag in &self.quotas {
            quotas.set_from_flag(flag).map_err(anyhow::Error::msg)?;
        }
        let operation_retention = match self.operation_retention.clone().or_else(|| file.operation_retention.clone()) {
            None => Some(crate::engine::DEFAULT_OPERATION_RETENTION),
            Some(text) => {
                crate::engine::parse_retention(&text).map_err(|e| anyhow::anyhow!("--operation-retention: {e}"))?
            }
        };
        Ok(Settings {
            listen: self.listen.or(file.listen).unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 4566))),
            data_dir: match &store {
                Location::Sqlite(dir) => dir.clone(),
                _ => self.data_dir.clone().or(file.data_dir).unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            },
            ephemeral: store == Location::Memory,
            store,
            timing: Timing { profile: timing_profile, overrides: file.timing_overrides },
            default_account,
            default_region: self.default_region.clone().or(file.default_region).unwrap_or_else(|| "us-east-1".into()),
            log_format,
            auth,
            faults: file.faults,
            dns_listeners,
            health: crate::health::HealthSettings {
                interval: health_check_interval,
                targets: health_targets,
                ..Default::default()
            },
            max_connections: match self.max_connections.or(file.max_connections) {
                Some(0) => anyhow::bail!("--max-connections must be at least 1"),
                Some(n) => n,
                None => crate::server::listener::DEFAULT_MAX_CONNECTIONS,
            },
            skip_integrity_check: self.skip_integrity_check || file.skip_integrity_check.unwrap_or(false),
            seed: self.seed.clone(),
            quotas,
            operation_retention,
        })
    }
}

/// The data directory when nothing says where state lives.
const DEFAULT_DATA_DIR: &str = "./.localplane";

/// Where state lives. `--store`, `--ephemeral` and `--data-dir` all answer that, so a flag (or its
/// variable) beats the file, and two answers at the same level are a contradiction — except
/// `--ephemeral` beating `--data-dir`, which it always has.
fn store_location(args: &ServeArgs, file: &FileConfig) -> anyhow::Result<Location> {
    let sqlite = |ephemeral: bool| {
        if ephemeral {
            Location::Memory
        } else {
            Location::Sqlite(
                args.data_dir.clone().or(file.data_dir.clone()).unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            )
        }
    };
    let file_ephemeral = file.ephemeral.unwrap_or(false);
    if let Some(store) = &args.store {
        if args.ephemeral {
            anyhow::bail!("--ephemeral and --store (LOCALPLANE_STORE) both say where state lives; keep one");
        }
        if args.data_dir.is_some() {
            anyhow::bail!(
                "--data-dir and --store (LOCALPLANE_STORE) both say where state lives; keep one (--store sqlite://PATH is --data-dir PATH)"
            );
        }
        return store.parse().map_err(|e| anyhow::anyhow!("--store: {e}"));
    }
    match &file.store {
        Some(store) if !args.ephemeral && args.data_dir.is_none() => {
            if file_ephemeral || file.data_dir.is_some() {
                anyhow::bail!(
                    "the config file sets store and also {}; keep one",
                    if file_ephemeral { "ephemeral" } else { "data_dir" }
                );
            }
            store.parse().map_err(|e| anyhow::anyhow!("store: {e}"))
        }
        _ => Ok(sqlite(args.ephemeral || file_ephemeral)),
    }
}

/// Merges the authentication settings and checks that the admin API is protected where it must be.
fn build_auth(args: &ServeArgs, file: &FileConfig, default_account: &str) -> anyhow::Result<crate::auth::Auth> {
    let file_auth = file.auth.clone().unwrap_or_default();
    let mode = args.auth.or(file_auth.mode).unwrap_or_default();
    let admin_token = args.admin_token.clone().or(file_auth.admin_token.clone()).filter(|t| !t.is_empty());
    let mut keys = std::collections::HashMap::new();
    for (i, k) in file_auth.credentials.iter().enumerate() {
        if k.account.len() != 12 || !k.account.bytes().all(|b| b.is_ascii_digit()) {
            anyhow::bail!("auth.credentials[{i}].account must be a 12-digit account id, not '{}'", k.account);
        }
        keys.insert(k.access_key.clone(), (k.secret_key.clone(), k.account.clone()));
    }
    if mode == crate::auth::AuthMode::Verify && keys.is_empty() {
        anyhow::bail!(
            "--auth verify needs keys: add [[auth.credentials]] (access_key, secret_key, account) to the config file"
        );
    }
    let listen = args.listen.or(file.listen);
    let loopback = listen.is_none_or(|a| a.ip().is_loopback());
    if (mode == crate::auth::AuthMode::Verify || !loopback) && admin_token.is_none() {
        anyhow::bail!(
            "the admin API must be protected when signatures are verified or the server listens beyond loopback: set --admin-token (or LOCALPLANE_ADMIN_TOKEN, or auth.admin_token in the config file)"
        );
    }
    let allowed_hosts = args.allowed_hosts.clone().or_else(|| file.allowed_hosts.clone()).unwrap_or_default();
    let listen_ip = listen.map_or(std::net::IpAddr::from([127, 0, 0, 1]), |a| a.ip());
    let hosts = crate::auth::HostPolicy::new(&allowed_hosts, Some(listen_ip));
    Ok(crate::auth::Auth { mode, keys, admin_token, default_account: default_account.to_string(), hosts })
}

/// Logs go to stderr in batches written by a background thread (a request's line costs the request
/// a lock and a copy, not a write system call). Keep the guard for as long as the server runs:
/// dropping it writes out what is buffered.
fn init_logging(format: &str) -> crate::logbuf::Guard {
    // hickory-server logs every DNS query at info; localplane's own DNS logs say what matters.
    let filter = tracing_subscriber::EnvFilter::try_from_env("LOCALPLANE_LOG")
        .unwrap_or_else(|_| "info,hickory_server=warn,hickory_proto=warn,hickory_net=warn".into());
    let (writer, guard) = crate::logbuf::stderr();
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer).with_ansi(ansi);
    if format == "json" {
        builder.json().init();
    } else {
        builder.event_format(crate::logfmt::Text { ansi }).init();
    }
    guard
}

/// `localplane serve`.
pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    let _logs = init_logging(&settings.log_format);
    if !settings.listen.ip().is_loopback() && settings.auth.mode == crate::auth::AuthMode::Accept {
        tracing::warn!(
            listen = %settings.listen,
            "listening beyond loopback with --auth accept: anyone who reaches this address can call the APIs with any credentials (the admin API still asks for the token); use --auth verify or listen on 127.0.0.1"
        );
    }
    if let (Location::Sqlite(dir), false) = (&settings.store, settings.skip_integrity_check) {
        crate::store::sqlite::check_integrity(dir).context("checking the SQLite database before starting")?;
    }
    // A bad seed file stops the start before anything is opened.
    let seed = match &settings.seed {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).with_context(|| format!("reading the seed file {}", path.display()))?;
            let file = crate::seed::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            Some((path, file))
        }
        None => None,
    };
    let store = settings.store.open().await.with_context(|| format!("opening the store {}", settings.store))?;
    let engine = Engine::new(store, Arc::new(SystemClock), settings.timing.clone());
    engine.set_quotas(settings.quotas.clone());
    engine.set_operation_retention(settings.operation_retention);
    // The drivers are registered before anything can advance an operation.
    let mut app = App::new(
        engine.clone(),
        settings.default_account.clone(),
        settings.default_region.clone(),
        settings.auth.clone(),
    );
    app.config_faults = settings.faults.clone();
    app.metrics = crate::metrics::install();
    // A start sets the timing like PUT /_localplane/timing does: for every replica of a shared store.
    engine.set_timing(settings.timing.clone()).await.context("storing the timing profile")?;
    engine.install_config_faults(&settings.faults).await.context("installing the fault rules of the config file")?;
    let app = Arc::new(app);
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}; is another server using it? (--listen)", settings.listen))?;
    let listening = listener.local_addr().context("reading the address the HTTP listener is bound to")?;
    let dns = crate::dns::start(engine.store().clone(), &settings.dns_listeners).await?;
    let stop = crate::shutdown::Stop::new();
    let prober = crate::health::spawn(engine.clone(), settings.health, stop.subscribe())
        .context("setting up the TLS client of HTTPS health checks")?;
    let scheduler = tokio::spawn(engine.run_scheduler(stop.subscribe()));
    if let Some((path, file)) = &seed {
        let outcomes = crate::seed::apply(&app, file).await.map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let created = outcomes.iter().filter(|o| o.created).count();
        tracing::info!(file = %path.display(), created, unchanged = outcomes.len() - created, "seeded");
    }
    tracing::info!(
        listen = %listening,
        store = %settings.store,
        timing = settings.timing.profile.as_str(),
        "localplane is serving"
    );
    announce(listening, dns.addresses.first().copied());
    let limits = crate::server::Limits { max_connections: settings.max_connections, ..Default::default() };
    let console = app.clone();
    let stopping = async move {
        shutdown_signal().await;
        // Event streams never end by themselves: end them so that their connections can close.
        console.console.close();
    };
    crate::server::serve_http(listener, router(app), limits, stopping).await?;
    // The scheduler finishes the step it is in, the prober stops launching probes; both return.
    stop.stop();
    let _ = scheduler.await;
    let _ = prober.await;
    dns.shutdown().await;
    tracing::info!("localplane stopped");
    Ok(())
}

/// Prints where the server is, once its sockets are bound, for scripts and test fixtures that start
/// it (with port 0 they cannot know beforehand): `LOCALPLANE_ENDPOINT=http://HOST:PORT`, then
/// `LOCALPLANE_DNS=HOST:PORT` when DNS is served (the first DNS listener). Logs stay on stderr.
fn announce(http: SocketAddr, dns: Option<SocketAddr>) {
    let mut text = format!("LOCALPLANE_ENDPOINT={}\n", endpoint_url(http));
    if let Some(dns) = dns {
        text.push_str(&format!("LOCALPLANE_DNS={}\n", reachable(dns)));
    }
    let mut out = std::io::stdout().lock();
    // A closed stdout (a script that read the line and went on) is no reason to stop serving.
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// The address a client on this machine reaches a socket bound to `addr` at: an unspecified
/// address (`0.0.0.0`, `::`) is reached through loopback.
pub fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => SocketAddr::from((Ipv4Addr::LOCALHOST, addr.port())),
        IpAddr::V6(ip) if ip.is_unspecified() => SocketAddr::from((Ipv6Addr::LOCALHOST, addr.port())),
        _ => addr,
    }
}

/// The HTTP endpoint of a listener bound to `addr`, as clients on this machine call it.
pub fn endpoint_url(addr: SocketAddr) -> String {
    format!("http://{}", reachable(addr))
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn serve_args(args: &[&str]) -> ServeArgs {
        let argv = ["localplane", "serve"].into_iter().chain(args.iter().copied());
        match super::super::Cli::try_parse_from(argv).unwrap().command {
            super::super::Command::Serve(args) => *args,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_readme_config_example_loads_as_written() {
        let file = FileConfig::parse(&crate::config::readme_example()).unwrap();
        let settings = serve_args(&[]).settings_over(file).unwrap();
        assert_eq!(settings.store, Location::Sqlite(PathBuf::from("./.localplane")));
        assert_eq!(settings.dns_listeners.len(), 2);
        let with_store = "data_dir = \"./d\"\nstore = \"postgres://lp@127.0.0.1:5432/lp\"\n";
        let e = serve_args(&[]).settings_over(FileConfig::parse(with_store).unwrap()).unwrap_err();
        assert!(e.to_string().contains("data_dir"), "{e}");
    }

    #[test]
    fn endpoints_of_unspecified_addresses_go_through_loopback() {
        assert_eq!(endpoint_url("127.0.0.1:4566".parse().unwrap()), "http://127.0.0.1:4566");
        assert_eq!(endpoint_url("0.0.0.0:80".parse().unwrap()), "http://127.0.0.1:80");
        assert_eq!(endpoint_url("[::]:4566".parse().unwrap()), "http://[::1]:4566");
        assert_eq!(endpoint_url("[::1]:4566".parse().unwrap()), "http://[::1]:4566");
        assert_eq!(reachable("0.0.0.0:53".parse().unwrap()), "127.0.0.1:53".parse().unwrap());
    }
}
