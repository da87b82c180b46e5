//! Fault rules: data that makes the next matching operations or requests fail, deterministically.
//! Rules live in the store (`faults/{id}`) so that every replica sees the same ones; a rule whose
//! count is used up disappears.

use crate::store::{decode_all, get_json, put_json, StoreError, Tx};
use serde::{Deserialize, Serialize};

/// Key prefix of the fault rules.
pub const FAULTS: &str = "faults/";

/// What happens after an operation fault fails its step (MSK Connect).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Rollback {
    /// UPDATE_FAILED → ROLLBACK_IN_PROGRESS → ROLLBACK_COMPLETE, origin settings restored.
    #[default]
    Complete,
    /// UPDATE_FAILED → ROLLBACK_IN_PROGRESS → ROLLBACK_FAILED.
    Failed,
    /// UPDATE_FAILED and nothing more.
    None,
}

/// A fault rule as the admin API and the config file spell it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultRule {
    /// Assigned by localplane.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// The service whose operations or requests fail.
    pub service: crate::model::Service,
    /// Operation faults: the operation type (`UPDATE_CONNECTOR_CONFIGURATION`, `CREATE_NAMESPACE`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_type: Option<String>,
    /// Operation faults (MSK Connect): the step that fails (default `VALIDATE_UPDATE`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// Operation faults: the error code reported; request faults: the modelled error returned.
    pub error_code: String,
    /// The error message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// Operation faults (MSK Connect): what follows the failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback: Option<Rollback>,
    /// Only operations on this resource (ARN or id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// Request faults: the API (`GetOperation`, `DescribeConnectorOperation`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<String>,
    /// Request faults: 429, 500 or 503.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// How many matches remain (default 1).
    #[serde(default = "one")]
    pub count: u32,
}

fn one() -> u32 {
    1
}

impl FaultRule {
    /// Whether this is a request fault (rather than an operation fault).
    pub fn is_request_fault(&self) -> bool {
        self.api.is_some()
    }

    /// Checks the rule's shape; the message names the offending field. What a rule may name within
    /// its service (operations, error codes, steps) the service checks (`registry`).
    pub fn validate(&self) -> Result<(), String> {
        if self.count == 0 {
            return Err("count must be at least 1".into());
        }
        if self.error_code.is_empty() {
            return Err("errorCode is required".into());
        }
        match (&self.api, &self.operation_type) {
            (Some(_), Some(_)) => {
                Err("a rule has either api (request fault) or operationType (operation fault), not both".into())
            }
            (None, None) => Err("a rule needs api (request fault) or operationType (operation fault)".into()),
            (Some(_), None) => match self.http_status {
                Some(429 | 500 | 503) => Ok(()),
                Some(other) => Err(format!("httpStatus must be 429, 500 or 503, not {other}")),
                None => Err("httpStatus is required for a request fault".into()),
            },
            (None, Some(_)) => Ok(()),
        }
    }
}

/// Stores a new rule and returns its id.
pub fn add(tx: &mut dyn Tx, mut rule: FaultRule, id: String) -> Result<FaultRule, StoreError> {
    rule.id = id;
    put_json(tx, &format!("{FAULTS}{}", rule.id), &rule)?;
    Ok(rule)
}

/// Every rule, oldest first.
pub fn list(tx: &mut dyn Tx) -> Result<Vec<FaultRule>, StoreError> {
    let mut rules: Vec<FaultRule> =
        decode_all(tx.scan(FAULTS, None, usize::MAX)?)?.into_iter().map(|(_, r)| r).collect();
    rules.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(rules)
}

/// Removes one rule; true when it existed.
pub fn remove(tx: &mut dyn Tx, id: &str) -> Result<bool, StoreError> {
    tx.delete(&format!("{FAULTS}{id}"))
}

/// Removes every rule.
pub fn clear(tx: &mut dyn Tx) -> Result<usize, StoreError> {
    tx.delete_prefix(FAULTS)
}

/// Takes one use of the first rule `matches` accepts (deleting it when used up) and returns it.
pub fn take(tx: &mut dyn Tx, matches: impl Fn(&FaultRule) -> bool) -> Result<Option<FaultRule>, StoreError> {
    for rule in list(tx)? {
        if matches(&rule) {
            let key = format!("{FAULTS}{}", rule.id);
            if rule.count <= 1 {
                tx.delete(&key)?;
            } else {
                let mut left = rule.clone();
                left.count -= 1;
                put_json(tx, &key, &left)?;
            }
            return Ok(Some(rule));
        }
    }
    Ok(None)
}

/// Whether any request fault exists.
pub fn any_request_fault(tx: &mut dyn Tx) -> Result<bool, StoreError> {
    Ok(list(tx)?.iter().any(FaultRule::is_request_fault))
}

/// Reads one rule.
pub fn get(tx: &mut dyn Tx, id: &str) -> Result<Option<FaultRule>, StoreError> {
    get_json(tx, &format!("{FAULTS}{id}"))
}
