//! The command line around the server, through the real binary: `serve --listen 127.0.0.1:0` prints
//! the endpoint it took, `env` prints exports a shell can eval, `completions` and `man` document the
//! commands, and boolean variables take 1/0 and yes/no.

use crate::common::*;
use aws_sdk_kafkaconnect as kc;
use aws_sdk_servicediscovery as sd;
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_localplane");

/// A `localplane serve` started by a test, killed when dropped.
pub(crate) struct Started {
    child: Child,
    /// The lines it printed on stdout, as they come.
    lines: std::sync::mpsc::Receiver<String>,
}

impl Started {
    /// Starts `serve` with `args` and the extra environment `env`, stdout piped.
    pub(crate) fn serve(args: &[&str], env: &[(&str, &str)], dir: &std::path::Path) -> Started {
        let mut child = Command::new(BIN)
            .arg("serve")
            .args(args)
            .envs(env.iter().copied())
            .env("LOCALPLANE_LOG", "warn")
            .current_dir(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start localplane");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Started { child, lines }
    }

    /// The next line on stdout (panics after 20 s).
    pub(crate) fn line(&self) -> String {
        self.lines.recv_timeout(Duration::from_secs(20)).expect("a line on stdout within 20 s")
    }

    /// The endpoint of the `LOCALPLANE_ENDPOINT=` line, which comes first.
    pub(crate) fn endpoint(&self) -> String {
        let line = self.line();
        line.strip_prefix("LOCALPLANE_ENDPOINT=").unwrap_or_else(|| panic!("not the endpoint line: {line}")).to_string()
    }
}

impl Drop for Started {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn cloudmap_at(endpoint: &str) -> sd::Client {
    let conf = sd::Config::builder()
        .behavior_version(sd::config::BehaviorVersion::latest())
        .region(sd::config::Region::new(REGION))
        .credentials_provider(sd::config::Credentials::new(ACCOUNT, "secret", None, None, "test"))
        .endpoint_url(endpoint)
        .build();
    sd::Client::from_conf(conf)
}

pub(crate) fn kafkaconnect_at(endpoint: &str) -> kc::Client {
    let conf = kc::Config::builder()
        .behavior_version(kc::config::BehaviorVersion::latest())
        .region(kc::config::Region::new(REGION))
        .credentials_provider(kc::config::Credentials::new(ACCOUNT, "secret", None, None, "test"))
        .endpoint_url(endpoint)
        .build();
    kc::Client::from_conf(conf)
}

fn run(args: &[&str]) -> std::process::Output {
    Command::new(BIN).args(args).output().expect("run localplane")
}

#[tokio::test(flavor = "multi_thread")]
async fn port_zero_takes_a_free_port_and_prints_the_endpoint() {
    let dir = temp_dir("port0");
    let server = Started::serve(&["--ephemeral", "--listen", "127.0.0.1:0", "--dns-listen", "off"], &[], &dir);
    let endpoint = server.endpoint();
    let port: u16 = endpoint.strip_prefix("http://127.0.0.1:").and_then(|p| p.parse().ok()).expect(&endpoint);
    assert_ne!(port, 0);
    // The line comes once the listener is bound: the SDKs are answered at once.
    let namespaces = cloudmap_at(&endpoint).list_namespaces().send().await.expect("ListNamespaces");
    assert!(namespaces.namespaces().is_empty());
    let connectors = kafkaconnect_at(&endpoint).list_connectors().send().await.expect("ListConnectors");
    assert!(connectors.connectors().is_empty());
    assert!(server.lines.recv_timeout(Duration::from_millis(300)).is_err(), "one line only without DNS");

    // A port of one's own is printed too, and a DNS listener on port 0 gets a second line.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let fixed = taken.local_addr().unwrap().port();
    drop(taken);
    let listen = format!("127.0.0.1:{fixed}");
    let server = Started::serve(&["--ephemeral", "--listen", &listen, "--dns-listen", "127.0.0.1:0"], &[], &dir);
    assert_eq!(server.endpoint(), format!("http://127.0.0.1:{fixed}"));
    let dns = server.line();
    let dns: std::net::SocketAddr = dns.strip_prefix("LOCALPLANE_DNS=").and_then(|a| a.parse().ok()).expect(&dns);
    assert_ne!(dns.port(), 0);
    std::net::TcpStream::connect(dns).expect("the DNS listener accepts TCP on the printed port");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn env_prints_exports_that_a_shell_can_eval() {
    let dir = temp_dir("env");
    let server = Started::serve(&["--ephemeral", "--listen", "127.0.0.1:0", "--dns-listen", "off"], &[], &dir);
    let endpoint = server.endpoint();
    let out = run(&["env", "--endpoint", &endpoint, "--account", "111122223333", "--region", "eu-west-1"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    for line in [
        format!("export AWS_ENDPOINT_URL='{endpoint}'"),
        format!("export AWS_ENDPOINT_URL_SERVICEDISCOVERY='{endpoint}'"),
        format!("export AWS_ENDPOINT_URL_KAFKACONNECT='{endpoint}'"),
        format!("export AWS_ENDPOINT_URL_RAM='{endpoint}'"),
        format!("export AWS_ENDPOINT_URL_STS='{endpoint}'"),
        "export AWS_DISABLE_HOST_PREFIX_INJECTION='true'".to_string(),
        "export AWS_ACCESS_KEY_ID='111122223333'".to_string(),
        "export AWS_DEFAULT_REGION='eu-west-1'".to_string(),
        "export AWS_REGION='eu-west-1'".to_string(),
    ] {
        assert!(text.lines().any(|l| l == line), "{line} missing from\n{text}");
    }
    assert!(text.lines().all(|l| l.starts_with("export ")), "{text}");

    // eval in bash; LOCALPLANE_ENDPOINT (what serve printed) is the default endpoint.
    let script =
        r#"eval "$("$0" env)" && echo "$AWS_ENDPOINT_URL_SERVICEDISCOVERY $AWS_ENDPOINT_URL $AWS_ACCESS_KEY_ID""#;
    let out = Command::new("bash")
        .args(["-c", script, BIN])
        .env("LOCALPLANE_ENDPOINT", &endpoint)
        .output()
        .expect("run bash");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("{endpoint} {endpoint} 123456789012"));

    // The exported keys and endpoint are enough for the SDKs: the account is the access key.
    let c = cloudmap_at(&endpoint);
    c.create_http_namespace().name("from-env").send().await.expect("CreateHttpNamespace");

    // Beside LocalStack or moto: only the per-service endpoints.
    let out = run(&["env", "--services-only", "--endpoint", &endpoint]);
    let text = String::from_utf8(out.stdout).unwrap();
    // One per service (Cloud Map, MSK Connect, RAM, STS) and AWS_DISABLE_HOST_PREFIX_INJECTION.
    assert_eq!(text.lines().count(), 5, "{text}");
    assert!(!text.contains("AWS_ENDPOINT_URL="), "{text}");
    let out = run(&["env", "--endpoint", "127.0.0.1:4566"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--endpoint"));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn completions_and_man_page() {
    for shell in ["bash", "zsh", "fish"] {
        let out = run(&["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains("localplane") && text.contains("serve"), "{shell}");
    }
    let out = run(&["man"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.lines().any(|l| l.starts_with(".TH localplane")), "{text}");
    let dir = temp_dir("man");
    let out = run(&["man", "--out-dir", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let serve = std::fs::read_to_string(dir.join("localplane-serve.1")).expect("a page for serve");
    assert!(serve.contains("ephemeral"), "{serve}");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn boolean_variables_take_one_and_zero_and_yes_and_no() {
    let dir = temp_dir("bool");
    for value in ["1", "yes", "on", "TRUE"] {
        let server = Started::serve(
            &["--listen", "127.0.0.1:0", "--dns-listen", "off"],
            &[("LOCALPLANE_EPHEMERAL", value), ("LOCALPLANE_SKIP_INTEGRITY_CHECK", "0")],
            &dir,
        );
        let endpoint = server.endpoint();
        let health = reqwest::get(format!("{endpoint}/_localplane/health")).await.expect("health");
        assert!(health.status().is_success(), "LOCALPLANE_EPHEMERAL={value}");
    }
    assert!(!dir.join(".localplane").exists(), "ephemeral servers wrote no data directory");
    let out = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--dns-listen", "off"])
        .env("LOCALPLANE_EPHEMERAL", "maybe")
        .current_dir(&dir)
        .output()
        .expect("run localplane");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("ephemeral") && stderr.contains("maybe"), "{stderr}");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn client_commands_send_the_admin_token_they_are_given() {
    let dir = temp_dir("cli-token");
    let s = Started::serve(
        &["--ephemeral", "--listen", "127.0.0.1:0", "--dns-listen", "off", "--admin-token", "tok"],
        &[],
        &dir,
    );
    let endpoint = s.endpoint();
    let without = Command::new(BIN)
        .args(["reset", "--endpoint", &endpoint])
        .env_remove("LOCALPLANE_ADMIN_TOKEN")
        .output()
        .expect("run localplane");
    assert!(!without.status.success());
    let stderr = String::from_utf8_lossy(&without.stderr);
    assert!(stderr.contains("--admin-token"), "{stderr}");
    let with = run(&["reset", "--endpoint", &endpoint, "--admin-token", "tok"]);
    assert!(with.status.success(), "{}", String::from_utf8_lossy(&with.stderr));
    assert!(String::from_utf8_lossy(&with.stdout).contains("deletedKeys"));
    let ops = run(&["ops", "list", "--json", "--endpoint", &endpoint, "--admin-token", "tok"]);
    assert!(ops.status.success(), "{}", String::from_utf8_lossy(&ops.stderr));
    let by_env = Command::new(BIN)
        .args(["snapshot", "export", dir.join("snap.json").to_str().unwrap(), "--endpoint", &endpoint])
        .env("LOCALPLANE_ADMIN_TOKEN", "tok")
        .output()
        .expect("run localplane");
    assert!(by_env.status.success(), "{}", String::from_utf8_lossy(&by_env.stderr));
    drop(s);
    let _ = std::fs::remove_dir_all(dir);
}
