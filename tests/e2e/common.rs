//! Shared test helpers: start the binary on a free port, build SDK clients for it, wait for operations.

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
    /// Starts the binary with `--ephemeral` and the given timing profile.
    pub async fn ephemeral(timing: &str) -> Server {
        Server::start(vec!["--ephemeral".into(), "--timing".into(), timing.into()], temp_dir("eph")).await
    }

    /// Starts the binary with `--ephemeral` and extra arguments.
    pub async fn ephemeral_with(extra: &[&str]) -> Server {
        let mut args = vec!["--ephemeral".to_string()];
        args.extend(extra.iter().map(|s| s.to_string()));
        Server::start(args, temp_dir("eph")).await
    }

    /// Starts the binary on `data_dir` with the given timing profile.
    pub async fn persistent(data_dir: &Path, timing: &str) -> Server {
        Server::start(
            vec!["--data-dir".into(), data_dir.display().to_string(), "--timing".into(), timing.into()],
            data_dir.to_path_buf(),
        )
        .await
    }

    async fn start(mut args: Vec<String>, data_dir: PathBuf) -> Server {
        let _ = data_dir;
        // Many servers run at once: none listens for DNS unless its test asks for an address.
        if !args.iter().any(|a| a == "--dns-listen") {
            args.extend(["--dns-listen".to_string(), "off".to_string()]);
        }
        let mut s = Server { child: None, port: free_port(), args };
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
