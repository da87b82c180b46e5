//! MSK Connect's resources as the web console shows them: per account and region, the custom
//! plugins, worker configurations and connectors, with their states and a connector's current
//! version.

use super::records::{ConnectorRec, Keys, PluginRec, WorkerConfigRec, KEY_PREFIX};
use crate::resource_tree::{scopes, ResourceNode, ScopeResources, MAX_RESOURCES};
use crate::store::{decode_all, StoreError, Tx};

/// Every account's and region's custom plugins, worker configurations and connectors, oldest first.
pub fn resources(tx: &mut dyn Tx) -> Result<Vec<ScopeResources>, StoreError> {
    let mut out = Vec::new();
    for (account, region) in scopes(tx, KEY_PREFIX)? {
        let keys = Keys::new(&account, &region);
        let mut nodes = Vec::new();
        let mut plugins = decode_all::<PluginRec>(tx.scan(&format!("{}plugin/", keys.scope), None, MAX_RESOURCES)?)?;
        plugins.sort_by_key(|(_, p)| p.creation_time);
        for (_, p) in plugins {
            let mut node = ResourceNode::new("custom plugin", &p.arn, &p.name).state(p.state.as_str());
            if let Some(revision) = p.latest_revision {
                node = node.detail("revision", revision.to_string());
            }
            nodes.push(node.detail("content", p.content_type.as_str()));
        }
        let mut configs =
            decode_all::<WorkerConfigRec>(tx.scan(&format!("{}wc/", keys.scope), None, MAX_RESOURCES)?)?;
        configs.sort_by_key(|(_, w)| w.creation_time);
        for (_, w) in configs {
            nodes.push(ResourceNode::new("worker configuration", &w.arn, &w.name).state(w.state.as_str()));
        }
        let mut connectors = decode_all::<ConnectorRec>(tx.scan(&keys.connectors(), None, MAX_RESOURCES)?)?;
        connectors.sort_by_key(|(_, c)| c.creation_time);
        for (_, c) in connectors {
            let mut node = ResourceNode::new("connector", &c.arn, &c.name)
                .state(c.state.as_str())
                .detail("version", &c.current_version)
                .detail("operations", c.operation_count.to_string());
            if let Some(problem) = &c.state_description {
                node = node.detail("problem", format!("{}: {}", problem.code, problem.message));
            }
            nodes.push(node);
        }
        if !nodes.is_empty() {
            out.push(ScopeResources { account, region, resources: nodes });
        }
    }
    Ok(out)
}
