//! The TOML configuration file (`--config`). Flags override `LOCALPLANE_*` variables, which override
//! the file, which overrides the defaults. Unknown keys and bad values stop the start with a message
//! that names the key.

use crate::engine::{FaultRule, TimingProfile};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Everything the configuration file may say.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// `listen = "127.0.0.1:4566"`
    pub listen: Option<SocketAddr>,
    /// `data_dir = "./.localplane"`
    pub data_dir: Option<PathBuf>,
    /// `store = "postgres://USER@HOST:PORT/DB"` (shared by replicas) or `"sqlite://PATH"`.
    pub store: Option<String>,
    /// `ephemeral = true`
    pub ephemeral: Option<bool>,
    /// `timing = "fast"`
    pub timing: Option<String>,
    /// `default_account = "000000000000"`
    pub default_account: Option<String>,
    /// `default_region = "us-east-1"`
    pub default_region: Option<String>,
    /// `log_format = "text"`
    pub log_format: Option<String>,
    /// `dns_listen = "127.0.0.1:8053"` — the DNS listener for every namespace, or `"off"`.
    pub dns_listen: Option<String>,
    /// `[[dns_listeners]]` — more DNS listeners, each answering for a view (`listen`, and optional
    /// `account`, `region`, `vpc`).
    #[serde(default)]
    pub dns_listeners: Vec<crate::dns::DnsListenerConfig>,
    /// `health_check_interval = "5s"` — time between two probes of one instance (humantime).
    pub health_check_interval: Option<String>,
    /// `health_check_allowed_cidrs = "10.0.0.0/8,127.0.0.1"` — probe only addresses in these ranges.
    pub health_check_allowed_cidrs: Option<String>,
    /// `[timing_overrides]` — milliseconds per step by operation type.
    #[serde(default)]
    pub timing_overrides: BTreeMap<String, i64>,
    /// `[[faults]]` — fault rules in force from the start (and again after a full reset).
    #[serde(default)]
    pub faults: Vec<FaultRule>,
    /// `[auth]` — signature verification and the admin token.
    pub auth: Option<AuthConfig>,
    /// `allowed_hosts = "localplane,host.docker.internal"` — Host names answered besides loopback.
    pub allowed_hosts: Option<String>,
    /// `max_connections = 1024` — HTTP connections served at once.
    pub max_connections: Option<usize>,
    /// `skip_integrity_check = true` — open an existing SQLite database without `PRAGMA quick_check`.
    pub skip_integrity_check: Option<bool>,
    /// `[quotas]` — the service quotas AWS raises on request (`instances_per_service = 5000`, …).
    #[serde(default)]
    pub quotas: BTreeMap<String, u64>,
    /// `operation_retention = "24h"` — how long finished operations are kept (humantime, or "forever").
    pub operation_retention: Option<String>,
}

pub use crate::quotas::Quotas;

/// The `[auth]` table.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// `mode = "accept" | "verify"`
    pub mode: Option<crate::auth::AuthMode>,
    /// `admin_token = "…"`
    pub admin_token: Option<String>,
    /// `[[auth.credentials]]` — access_key, secret_key, account.
    #[serde(default)]
    pub credentials: Vec<crate::auth::KeyConfig>,
}

impl FileConfig {
    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> Result<FileConfig, String> {
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("config file {}: {e}", path.display()))
    }

    /// Parses and checks configuration text.
    pub fn parse(text: &str) -> Result<FileConfig, String> {
        let cfg: FileConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        if let Some(t) = &cfg.timing {
            t.parse::<TimingProfile>().map_err(|e| format!("timing: {e}"))?;
        }
        if let Some(s) = &cfg.store {
            s.parse::<crate::store::Location>().map_err(|e| format!("store: {e}"))?;
        }
        if let Some(f) = &cfg.log_format {
            if f != "text" && f != "json" {
                return Err(format!("log_format must be text or json, not '{f}'"));
            }
        }
        if let Some(a) = &cfg.default_account {
            if a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("default_account must be a 12-digit account id, not '{a}'"));
            }
        }
        if let Some(d) = &cfg.dns_listen {
            crate::dns::parse_listen(d).map_err(|e| format!("dns_listen: {e}"))?;
        }
        if let Some(i) = &cfg.health_check_interval {
            crate::health::parse_interval(i).map_err(|e| format!("health_check_interval: {e}"))?;
        }
        if let Some(c) = &cfg.health_check_allowed_cidrs {
            crate::health::policy::TargetPolicy::allow_only(c)
                .map_err(|e| format!("health_check_allowed_cidrs: {e}"))?;
        }
        for (k, v) in &cfg.timing_overrides {
            if *v < 0 {
                return Err(format!("timing_overrides.{k} must be >= 0 milliseconds"));
            }
        }
        for (i, rule) in cfg.faults.iter().enumerate() {
            crate::admin::validate_rule(rule).map_err(|e| format!("faults[{i}]: {e}"))?;
        }
        Ok(cfg)
    }
}

/// The TOML block of the README's "Configuration file" section, which must load as written.
#[cfg(test)]
pub(crate) fn readme_example() -> String {
    let readme = include_str!("../README.md");
    let section = &readme[readme.find("## Configuration file").expect("a Configuration file section")..];
    let block = &section[section.find("```toml\n").expect("a toml block") + "```toml\n".len()..];
    block[..block.find("```").expect("the end of the toml block")].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_example_parses() {
        let cfg = FileConfig::parse(&readme_example()).unwrap();
        assert_eq!(cfg.data_dir.as_deref(), Some(Path::new("./.localplane")));
        assert_eq!(cfg.faults.len(), 1);
        assert_eq!(cfg.dns_listeners.len(), 1);
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_key() {
        assert!(FileConfig::parse("listen = \"127.0.0.1:1\"\ntiming = \"fast\"").is_ok());
        let e = FileConfig::parse("tming = \"fast\"").unwrap_err();
        assert!(e.contains("tming"), "{e}");
        let e = FileConfig::parse("timing = \"slow\"").unwrap_err();
        assert!(e.contains("timing"), "{e}");
        let e = FileConfig::parse("store = \"mysql://db\"").unwrap_err();
        assert!(e.contains("store"), "{e}");
        assert!(FileConfig::parse("store = \"postgres://lp@127.0.0.1:5432/lp\"").is_ok());
        let e = FileConfig::parse("[timing_overrides]\nCREATE_NAMESPACE = -1").unwrap_err();
        assert!(e.contains("CREATE_NAMESPACE"), "{e}");
        let e = FileConfig::parse("dns_listen = \"8053\"").unwrap_err();
        assert!(e.contains("dns_listen"), "{e}");
        let e = FileConfig::parse("health_check_interval = \"soon\"").unwrap_err();
        assert!(e.contains("health_check_interval"), "{e}");
        let e = FileConfig::parse("[[dns_listeners]]\nlisten = \"127.0.0.1:8054\"\nvcp = \"vpc-1\"").unwrap_err();
        assert!(e.contains("vcp"), "{e}");
        let ok = "dns_listen = \"off\"\nhealth_check_interval = \"500ms\"\n[[dns_listeners]]\nlisten = \"127.0.0.1:8054\"\nvpc = \"vpc-1\"";
        assert!(FileConfig::parse(ok).is_ok());
        let e = FileConfig::parse("[[faults]]\nservice = \"kafkaconnect\"\nerrorCode = \"X\"").unwrap_err();
        assert!(e.contains("faults[0]"), "{e}");
    }
}
