//! What RAM shares grant right now, as the services whose resources are shared read it: which
//! account may use which resource of which owner. RAM keeps it in step with its shares
//! ([`sync_share`], [`resource_gone`]); a service asks it ([`may_use`], [`shared_with`]) inside its own
//! transaction and never reads RAM's other keys.
//!
//! A grant exists while a share of the owner in the region is `ACTIVE`, holds the resource in an
//! `ASSOCIATED` resource association and the account in an `ASSOCIATED` principal association.

use crate::store::{decode_all, get_json, put_json, StoreError, Tx};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// `ram/grant/{region}/{consumer}/{owner}/{resource arn}` → [`GrantRec`]: one per granted pair.
const GRANT: &str = "ram/grant/";
/// `ram/grant-share/{region}/{owner}/{share id}` → [`ShareGrantsRec`]: what one share grants.
const SHARE_GRANTS: &str = "ram/grant-share/";

/// A resource another account shares with the caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// The account owning the resource.
    pub owner: String,
    /// The resource's ARN.
    pub resource_arn: String,
}

/// The shares granting one (consumer, resource) pair.
#[derive(Debug, Serialize, Deserialize)]
struct GrantRec {
    owner: String,
    resource_arn: String,
    shares: BTreeSet<String>,
}

/// What one share grants: (consumer, resource ARN) pairs.
#[derive(Debug, Default, Serialize, Deserialize)]
struct ShareGrantsRec {
    grants: BTreeSet<(String, String)>,
}

fn grant_key(region: &str, consumer: &str, owner: &str, arn: &str) -> String {
    format!("{GRANT}{region}/{consumer}/{owner}/{arn}")
}

fn share_key(region: &str, owner: &str, share_id: &str) -> String {
    format!("{SHARE_GRANTS}{region}/{owner}/{share_id}")
}

/// Whether `consumer` may use `owner`'s resource `resource_arn` in `region` now. An owner always may.
pub fn may_use(
    tx: &mut dyn Tx,
    region: &str,
    owner: &str,
    consumer: &str,
    resource_arn: &str,
) -> Result<bool, StoreError> {
    if owner == consumer {
        return Ok(true);
    }
    Ok(tx.get(&grant_key(region, consumer, owner, resource_arn))?.is_some())
}

/// Every resource other accounts share with `consumer` in `region` now, by owner then ARN.
pub fn shared_with(tx: &mut dyn Tx, region: &str, consumer: &str) -> Result<Vec<Grant>, StoreError> {
    let prefix = format!("{GRANT}{region}/{consumer}/");
    let rows = decode_all::<GrantRec>(tx.scan(&prefix, None, usize::MAX)?)?;
    Ok(rows.into_iter().map(|(_, g)| Grant { owner: g.owner, resource_arn: g.resource_arn }).collect())
}

/// Records that share `share_id` of `owner` in `region` now grants exactly `grants` ((consumer,
/// resource ARN) pairs; empty when the share is not `ACTIVE` or has ended). Call it in the transaction
/// of every change to a share's status, resources or principals.
pub fn sync_share(
    tx: &mut dyn Tx,
    region: &str,
    owner: &str,
    share_id: &str,
    grants: BTreeSet<(String, String)>,
) -> Result<(), StoreError> {
    let key = share_key(region, owner, share_id);
    let before = get_json::<ShareGrantsRec>(tx, &key)?.unwrap_or_default().grants;
    for (consumer, arn) in before.difference(&grants) {
        let gk = grant_key(region, consumer, owner, arn);
        if let Some(mut g) = get_json::<GrantRec>(tx, &gk)? {
            g.shares.remove(share_id);
            if g.shares.is_empty() {
                tx.delete(&gk)?;
            } else {
                put_json(tx, &gk, &g)?;
            }
        }
    }
    for (consumer, arn) in grants.difference(&before) {
        let gk = grant_key(region, consumer, owner, arn);
        let mut g = get_json::<GrantRec>(tx, &gk)?.unwrap_or_else(|| GrantRec {
            owner: owner.to_string(),
            resource_arn: arn.clone(),
            shares: BTreeSet::new(),
        });
        g.shares.insert(share_id.to_string());
        put_json(tx, &gk, &g)?;
    }
    if grants.is_empty() {
        tx.delete(&key)?;
    } else {
        put_json(tx, &key, &ShareGrantsRec { grants })?;
    }
    Ok(())
}

/// The owning service deleted `owner`'s resource `resource_arn` in `region`: every grant of it ends
/// and its resource associations become `DISASSOCIATED` (C13).
pub fn resource_gone(tx: &mut dyn Tx, region: &str, owner: &str, resource_arn: &str) -> Result<(), StoreError> {
    use super::records::{shares_prefix, EntityKind, ShareRec};
    use crate::model::ram::ResourceShareAssociationStatus as S;
    // The owning service's request has no engine clock to hand over; the wall clock dates the change.
    let now = crate::engine::Clock::now_ms(&crate::engine::SystemClock);
    for (key, mut share) in decode_all::<ShareRec>(tx.scan(&shares_prefix(region, owner), None, usize::MAX)?)? {
        let Some(a) = share.association_mut(EntityKind::Resource, resource_arn) else { continue };
        if a.status == S::Disassociated {
            continue;
        }
        a.status = S::Disassociated;
        a.status_message = Some(format!("{resource_arn} was deleted"));
        a.moving = None;
        a.updated = now.max(a.updated);
        put_json(tx, &key, &share)?;
    }
    let prefix = format!("{SHARE_GRANTS}{region}/{owner}/");
    for (key, rec) in decode_all::<ShareGrantsRec>(tx.scan(&prefix, None, usize::MAX)?)? {
        if rec.grants.iter().any(|(_, arn)| arn == resource_arn) {
            let share_id = &key[prefix.len()..];
            let kept = rec.grants.into_iter().filter(|(_, arn)| arn != resource_arn).collect();
            sync_share(tx, region, owner, share_id, kept)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    //! The grant index follows what each share grants.

    use super::*;
    use crate::store::{memory::Memory, Store};
    use std::sync::Arc;

    const NS1: &str = "arn:aws:servicediscovery:us-east-1:111111111111:namespace/ns-1";
    const NS2: &str = "arn:aws:servicediscovery:us-east-1:111111111111:namespace/ns-2";

    fn pairs(p: &[(&str, &str)]) -> BTreeSet<(String, String)> {
        p.iter().map(|(c, a)| (c.to_string(), a.to_string())).collect()
    }

    #[tokio::test]
    async fn grants_follow_their_shares() {
        let store = Store::new(Arc::new(Memory::new()));
        let (o, c, x, r) = ("111111111111", "222222222222", "333333333333", "us-east-1");
        store
            .write(move |tx| -> Result<(), StoreError> {
                sync_share(tx, r, o, "s1", pairs(&[(c, NS1), (c, NS2)]))?;
                sync_share(tx, r, o, "s2", pairs(&[(c, NS1)]))?;
                assert!(may_use(tx, r, o, c, NS1)? && may_use(tx, r, o, c, NS2)?);
                assert!(may_use(tx, r, o, o, NS1)?, "an owner always may");
                assert!(!may_use(tx, r, o, x, NS1)? && !may_use(tx, "eu-west-1", o, c, NS1)?);
                assert_eq!(shared_with(tx, r, c)?.len(), 2);
                // s1 ends: NS1 is still granted through s2, NS2 no longer.
                sync_share(tx, r, o, "s1", BTreeSet::new())?;
                assert!(may_use(tx, r, o, c, NS1)? && !may_use(tx, r, o, c, NS2)?);
                sync_share(tx, r, o, "s1", pairs(&[(c, NS2)]))?;
                resource_gone(tx, r, o, NS1)?;
                assert!(!may_use(tx, r, o, c, NS1)? && may_use(tx, r, o, c, NS2)?);
                assert_eq!(shared_with(tx, r, c)?, vec![Grant { owner: o.to_string(), resource_arn: NS2.to_string() }]);
                Ok(())
            })
            .await
            .unwrap();
    }
}
