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
    /// `[timing_overrides]` — milliseconds per step by operation type.
    #[serde(default)]
    pub timing_overrides: BTreeMap<String, i64>,
    /// `[[faults]]` — fault rules in force from the start (and again after a full reset).
    #[serde(default)]
    pub faults: Vec<FaultRule>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_and_bad_values_name_the_key() {
        assert!(FileConfig::parse("listen = \"127.0.0.1:1\"\ntiming = \"fast\"").is_ok());
        let e = FileConfig::parse("tming = \"fast\"").unwrap_err();
        assert!(e.contains("tming"), "{e}");
        let e = FileConfig::parse("timing = \"slow\"").unwrap_err();
        assert!(e.contains("timing"), "{e}");
        let e = FileConfig::parse("[timing_overrides]\nCREATE_NAMESPACE = -1").unwrap_err();
        assert!(e.contains("CREATE_NAMESPACE"), "{e}");
        let e = FileConfig::parse("[[faults]]\nservice = \"kafkaconnect\"\nerrorCode = \"X\"").unwrap_err();
        assert!(e.contains("faults[0]"), "{e}");
    }
}
