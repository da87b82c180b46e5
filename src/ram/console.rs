//! RAM's resources as the web console shows them: per account and region, the resource shares an
//! account owns, each with its resource and principal associations and their statuses.

use super::records::{EntityKind, ShareRec, KEY_PREFIX};
use crate::resource_tree::{ResourceNode, ScopeResources, MAX_CHILDREN, MAX_RESOURCES};
use crate::store::{decode_all, StoreError, Tx};
use std::collections::BTreeMap;

/// Every owner's resource shares by account and region, oldest first (at most [`MAX_RESOURCES`] in
/// each), their associations as children.
pub fn resources(tx: &mut dyn Tx) -> Result<Vec<ScopeResources>, StoreError> {
    let prefix = format!("{KEY_PREFIX}share/");
    let mut by_scope: BTreeMap<(String, String), Vec<ShareRec>> = BTreeMap::new();
    for (_, share) in decode_all::<ShareRec>(tx.scan(&prefix, None, usize::MAX)?)? {
        let scope = by_scope.entry((share.owner.clone(), share.region.clone())).or_default();
        if scope.len() < MAX_RESOURCES {
            scope.push(share);
        }
    }
    Ok(by_scope
        .into_iter()
        .map(|((account, region), mut shares)| {
            shares.sort_by_key(|s| s.created);
            let resources = shares.iter().map(node).collect();
            ScopeResources { account, region, resources }
        })
        .collect())
}

fn node(share: &ShareRec) -> ResourceNode {
    let mut node = ResourceNode::new("resource share", &share.arn, &share.name).state(share.status.as_str());
    for a in share.associations.iter().take(MAX_CHILDREN) {
        let kind = match a.kind {
            EntityKind::Resource => "shared resource",
            EntityKind::Principal => "principal",
        };
        let mut child = ResourceNode::new(kind, &a.entity, &a.entity).state(a.status.as_str());
        if let Some(why) = &a.status_message {
            child = child.detail("message", why);
        }
        node.children.push(child);
    }
    if share.associations.len() > MAX_CHILDREN {
        node.total = Some(share.associations.len() as u64);
    }
    node
}

#[cfg(test)]
mod tests {
    //! The console's view of shares follows the stored shares.

    use super::*;
    use crate::ram::records::{share_key, AssociationRec};
    use crate::store::{memory::Memory, put_json, Store};
    use crate::tags::Tags;
    use std::sync::Arc;

    #[tokio::test]
    async fn shares_list_per_owner_with_their_associations() {
        use crate::model::ram as m;
        let store = Store::new(Arc::new(Memory::new()));
        let share = ShareRec {
            id: "s1".into(),
            arn: "arn:aws:ram:us-east-1:111111111111:resource-share/s1".into(),
            name: "cm".into(),
            owner: "111111111111".into(),
            region: "us-east-1".into(),
            allow_external: true,
            status: m::ResourceShareStatus::Active,
            created: 1,
            updated: 1,
            tags: Tags::default(),
            permission_arn: "p".into(),
            associations: vec![AssociationRec {
                entity: "222222222222".into(),
                kind: EntityKind::Principal,
                status: m::ResourceShareAssociationStatus::Associated,
                status_message: None,
                created: 1,
                updated: 1,
                invitation_expires: None,
                moving: None,
            }],
        };
        store.write(move |tx| put_json(tx, &share_key("us-east-1", "111111111111", "s1"), &share)).await.unwrap();
        let tree = store.read(resources).await.unwrap();
        assert_eq!(tree.len(), 1);
        assert_eq!((tree[0].account.as_str(), tree[0].region.as_str()), ("111111111111", "us-east-1"));
        let share = &tree[0].resources[0];
        assert_eq!((share.kind, share.state.as_deref()), ("resource share", Some("ACTIVE")));
        assert_eq!(share.children[0].kind, "principal");
        assert_eq!(share.children[0].state.as_deref(), Some("ASSOCIATED"));
    }
}
