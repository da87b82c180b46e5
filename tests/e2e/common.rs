//! Shared test helpers: start the binary on a free port, build SDK clients for it, wait for operations.
//!
//! With `LOCALPLANE_TEST_STORE=postgres://USER@HOST:PORT/DB` (what `scripts/test` sets for its second
//! pass) every server runs on PostgreSQL instead of SQLite: an "ephemeral" server gets a fresh
//! database of its own, dropped with it, and a "persistent" one a database named after its data
//! directory, so that it finds its state again after a restart.

use aws_sdk_servicediscovery as sd;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The account the tests sign as (a 12-digit access key is the account id).
pub const ACCOUNT: &str = "123456789012";
/// The region the tests sign for.
pub const REGION: &str = "us-east-1";

/// A running `localplane serve`, killed when dropped.
pub struct Server {
    child: Option<Child>,
    pub port: u16,
    args: Vec<String>,
    /// A PostgreSQL database that lives and dies with this server.
    own_database: Option<TestDatabase>,
}

/// The PostgreSQL server the tests run against (`LOCALPLANE_TEST_STORE`), or None for SQLite. Its
/// database is only used to create the databases of the tests.
pub fn test_postgres() -> Option<String> {
    std::env::var("LOCALPLANE_TEST_STORE")
        .ok()
        .filter(|url| url.starts_with("postgres://") || url.starts_with("postgresql://"))
}

/// `base` with its database name replaced by `name`.
fn database_url(base: &str, name: &str) -> String {
    let base = base.split('?').next().unwrap_or(base);
    let (scheme, rest) = base.split_once("://").expect("a postgres:// URL");
    let authority = rest.split('/').next().unwrap_or(rest);
    format!("{scheme}://{authority}/{name}")
}

/// Runs one statement on the test PostgreSQL's own database, on a thread of its own (the sync
/// client must not run on the test's runtime).
fn admin_statement(base: &str, sql: String) -> Result<(), String> {
    let base = base.to_string();
    std::thread::spawn(move || {
        let mut client = postgres::Client::connect(&base, postgres::NoTls)
            .map_err(|e| format!("cannot reach the test PostgreSQL at {base}: {e}"))?;
        match client.batch_execute(&sql) {
            Ok(()) => Ok(()),
            Err(e) if e.code() == Some(&postgres::error::SqlState::DUPLICATE_DATABASE) => Ok(()),
            Err(e) => Err(format!("{sql}: {e}")),
        }
    })
    .join()
    .map_err(|_| "the PostgreSQL admin thread panicked".to_string())?
}

/// A database on the test PostgreSQL, dropped (with whatever is still connected) when this is.
pub struct TestDatabase {
    /// `postgres://USER@HOST:PORT/NAME`, for `--store`.
    pub url: String,
    name: String,
    base: String,
}

impl TestDatabase {
    /// A new empty database, or None when the tests run on SQLite.
    pub fn fresh() -> Option<TestDatabase> {
        let base = test_postgres()?;
        let name = format!("lp_{}", uuid_like());
        admin_statement(&base, format!("CREATE DATABASE \"{name}\"")).expect("create a test database");
        Some(TestDatabase { url: database_url(&base, &name), name, base })
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let _ = admin_statement(&self.base, format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name));
    }
}

/// The database that stands for `data_dir` on the test PostgreSQL (created if missing): the same
/// directory always names the same database.
fn database_for_dir(base: &str, data_dir: &Path) -> String {
    // FNV-1a: stable across processes, unlike the std hasher.
    let hash = data_dir
        .to_string_lossy()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3));
    let name = format!("lp_dir_{hash:016x}");
    admin_statement(base, format!("CREATE DATABASE \"{name}\"")).expect("create the test database of a data dir");
    database_url(base, &name)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A fresh temporary directory for a server's data.
pub fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("localplane-test-{tag}-{}", uuid_like()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn uuid_like() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    format!("{:016x}{}", h.finish(), std::process::id())
}

impl Server {
    /// Starts the binary with `--ephemeral` (on PostgreSQL: a fresh database) and the given timing
    /// profile.
    pub async fn ephemeral(timing: &str) -> Server {
        Server::ephemeral_with(&["--timing", timing]).await
    }

    /// Starts the binary with `--ephemeral` (on PostgreSQL: a fresh database) and extra arguments.
    pub async fn ephemeral_with(extra: &[&str]) -> Server {
        let database = tokio::task::spawn_blocking(TestDatabase::fresh).await.expect("create a test database");
        let mut args = match &database {
            Some(db) => vec!["--store".to_string(), db.url.clone()],
            None => vec!["--ephemeral".to_string()],
        };
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut server = Server::start(args, temp_dir("eph")).await;
        server.own_database = database;
        server
    }

    /// Starts the binary on `data_dir` (on PostgreSQL: the database named after it) with the given
    /// timing profile.
    pub async fn persistent(data_dir: &Path, timing: &str) -> Server {
        let store = match test_postgres() {
            Some(base) => {
                let dir = data_dir.to_path_buf();
                let url = tokio::task::spawn_blocking(move || database_for_dir(&base, &dir))
                    .await
                    .expect("create the test database of a data dir");
                vec!["--store".to_string(), url]
            }
            None => vec!["--data-dir".to_string(), data_dir.display().to_string()],
        };
        let mut args = store;
        args.extend(["--timing".to_string(), timing.to_string()]);
        Server::start(args, data_dir.to_path_buf()).await
    }

    /// Starts the binary on the store `url` with extra arguments: every server started on one
    /// PostgreSQL URL is a replica of the others.
    pub async fn replica(url: &str, extra: &[&str]) -> Server {
        let mut args = vec!["--store".to_string(), url.to_string()];
        args.extend(extra.iter().map(|s| s.to_string()));
        Server::start(args, temp_dir("replica")).await
    }

    async fn start(mut args: Vec<String>, data_dir: PathBuf) -> Server {
        let _ = data_dir;
        // Many servers run at once: none listens for DNS unless its test asks for an address.
        if !args.iter().any(|a| a == "--dns-listen") {
            args.extend(["--dns-listen".to_string(), "off".to_string()]);
        }
        let mut s = Server { child: None, port: free_port(), args, own_database: None };
        s.spawn().await;
        s
    }

    async fn spawn(&mut self) {
        let child = Command::new(env!("CARGO_BIN_EXE_localplane"))
            .arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", self.port))
            .args(&self.args)
            .env("LOCALPLANE_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start localplane");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(r) = reqwest::get(format!("{}/_localplane/health", self.endpoint())).await {
                if r.status().is_success() {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("localplane did not become healthy on port {}", self.port);
    }

    /// `http://127.0.0.1:PORT`
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Kills the process with SIGKILL (no chance to clean up).
    /// Resident memory of the server process in KiB (Linux).
    pub fn rss_kib(&self) -> Option<u64> {
        let pid = self.child.as_ref()?.id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Sends SIGTERM and waits for a clean exit; returns the exit status code.
    pub fn terminate(&mut self) -> Option<i32> {
        let mut c = self.child.take()?;
        let _ = Command::new("kill").arg("-TERM").arg(c.id().to_string()).status();
        c.wait().ok().and_then(|s| s.code())
    }

    /// Starts the process again with the same arguments and port.
    pub async fn restart(&mut self) {
        self.kill();
        self.spawn().await;
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Removes the `data-` host prefix the SDK adds for DiscoverInstances, since `data-127.0.0.1`
/// does not resolve. (A user can do the same, or point `data-<host>` at localplane in DNS.)
#[derive(Debug)]
pub struct StripDataPrefix;

impl Intercept for StripDataPrefix {
    fn name(&self) -> &'static str {
        "StripDataPrefix"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let req = context.request_mut();
        let uri = req.uri().to_string();
        if let Some(rest) = uri.strip_prefix("http://data-") {
            req.set_uri(format!("http://{rest}"))?;
        }
        Ok(())
    }
}

/// Which Cloud Map protocol a client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    Json,
    Cbor,
}

/// A Cloud Map client for `server` speaking `wire`, signing as `account`.
pub fn cloudmap_as(server: &Server, wire: Wire, account: &str) -> sd::Client {
    let mut b = sd::Config::builder()
        .behavior_version(sd::config::BehaviorVersion::latest())
        .region(sd::config::Region::new(REGION))
        .credentials_provider(sd::config::Credentials::new(account, "secret", None, None, "test"))
        .endpoint_url(server.endpoint())
        .interceptor(StripDataPrefix);
    if wire == Wire::Cbor {
        b = b.protocol(aws_smithy_cbor::protocol::RpcV2CborProtocol::new());
    }
    sd::Client::from_conf(b.build())
}

/// A Cloud Map client for `server` speaking `wire`.
pub fn cloudmap(server: &Server, wire: Wire) -> sd::Client {
    cloudmap_as(server, wire, ACCOUNT)
}

/// Polls GetOperation until the operation is SUCCESS or FAIL; returns it. Records every status seen.
pub async fn wait_cloudmap_operation(client: &sd::Client, id: &str) -> (sd::types::Operation, Vec<String>) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    loop {
        let op =
            client.get_operation().operation_id(id).send().await.expect("GetOperation").operation.expect("operation");
        let status = op.status().map(|s| s.as_str().to_string()).unwrap_or_default();
        if seen.last() != Some(&status) {
            seen.push(status.clone());
        }
        if status == "SUCCESS" || status == "FAIL" {
            return (op, seen);
        }
        assert!(Instant::now() < deadline, "operation {id} did not finish: {seen:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The AWS error code of an SDK error.
pub fn code<E: aws_sdk_servicediscovery::error::ProvideErrorMetadata>(err: &E) -> String {
    err.code().unwrap_or("<none>").to_string()
}

/// Calls the admin API of `server`; returns the status and the JSON body (or the text as a string).
pub async fn admin(
    server: &Server,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let mut req = reqwest::Client::new().request(method, format!("{}{path}", server.endpoint()));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("admin request");
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)))
}
