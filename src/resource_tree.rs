//! The resources of a service as the web console shows them: a tree of named nodes per account and
//! region that every service fills from its own records ([`crate::registry::ServiceBackend::console_resources`]),
//! bounded so that a large state stays a small answer.

use crate::store::{prefix_end, StoreError, Tx};
use serde::Serialize;

/// The most children a node lists (the rest are counted in [`ResourceNode::total`]).
pub const MAX_CHILDREN: usize = 25;

/// The most top-level resources of one kind a service lists per account and region.
pub const MAX_RESOURCES: usize = 200;

/// One resource: a namespace, a service, an instance, a connector, a resource share…
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ResourceNode {
    /// What it is, for people: `namespace`, `service`, `instance`, `connector`, `custom plugin`…
    pub kind: &'static str,
    /// Its id or ARN.
    pub id: String,
    /// Its name (the id again when it has none).
    pub name: String,
    /// Its state or health, when it has one (`ACTIVE`, `UPDATING`, `HEALTHY`…).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Further facts worth a glance, label and value (`version`, `type`…).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<(&'static str, String)>,
    /// What it contains, at most [`MAX_CHILDREN`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<ResourceNode>,
    /// How many children it has in all, when more than are listed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
}

impl ResourceNode {
    /// A node of `kind` without state, details or children.
    pub fn new(kind: &'static str, id: impl Into<String>, name: impl Into<String>) -> ResourceNode {
        ResourceNode {
            kind,
            id: id.into(),
            name: name.into(),
            state: None,
            details: Vec::new(),
            children: Vec::new(),
            total: None,
        }
    }

    /// With this state.
    pub fn state(mut self, state: impl Into<String>) -> ResourceNode {
        self.state = Some(state.into());
        self
    }

    /// With this detail.
    pub fn detail(mut self, label: &'static str, value: impl Into<String>) -> ResourceNode {
        self.details.push((label, value.into()));
        self
    }
}

/// The resources a service has in one account and region.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ScopeResources {
    /// The account (12 digits).
    pub account: String,
    /// The region.
    pub region: String,
    /// Its resources, top level first.
    pub resources: Vec<ResourceNode>,
}

/// The (account, region) pairs that hold a key under `prefix` (`sd/`, keys `sd/{account}/{region}/…`),
/// in key order: one single-row look per pair, whatever each holds.
pub fn scopes(tx: &mut dyn Tx, prefix: &str) -> Result<Vec<(String, String)>, StoreError> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut after: Option<String> = None;
    while let Some((key, _)) = tx.scan(prefix, after.as_deref(), 1)?.into_iter().next() {
        let mut parts = key[prefix.len()..].splitn(3, '/');
        let (Some(account), Some(region)) = (parts.next(), parts.next()) else { break };
        out.push((account.to_string(), region.to_string()));
        after = Some(prefix_end(&format!("{prefix}{account}/{region}/")));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{memory::Memory, Store};
    use std::sync::Arc;

    #[tokio::test]
    async fn scopes_are_found_one_look_each() {
        let store = Store::new(Arc::new(Memory::new()));
        store
            .write(|tx| -> Result<(), StoreError> {
                for k in ["x/111/us-east-1/a", "x/111/us-east-1/b", "x/111/eu-west-1/a", "x/222/us-east-1/z", "y/1/2/3"]
                {
                    tx.put(k, b"")?;
                }
                Ok(())
            })
            .await
            .unwrap();
        let found = store.read(|tx| scopes(tx, "x/")).await.unwrap();
        let pairs: Vec<(&str, &str)> = found.iter().map(|(a, r)| (a.as_str(), r.as_str())).collect();
        assert_eq!(pairs, [("111", "eu-west-1"), ("111", "us-east-1"), ("222", "us-east-1")]);
    }
}
