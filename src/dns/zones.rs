//! The zones localplane is authoritative for: every active DNS_PRIVATE and DNS_PUBLIC namespace of
//! every account and region in a listener's view, read from the store for each query, and the choice
//! of the zone that answers a name (longest apex wins; same-name zones by a fixed preference).

use super::names::{self, Labels};
use super::view::View;
use crate::cloudmap::records::{Keys, NamespaceRec, NamespaceState};
use crate::model::servicediscovery as m;
use crate::store::{decode_all, prefix_end, StoreError, Tx};
use std::cmp::Ordering;

/// Key prefix of all Cloud Map documents: `sd/{account}/{region}/…`.
const CLOUDMAP_PREFIX: &str = "sd/";

/// SOA TTL of a private namespace created without `Properties` (what AWS reports today).
const DEFAULT_PRIVATE_SOA_TTL: i64 = 15;
/// SOA TTL of a public namespace created without `Properties`.
const DEFAULT_PUBLIC_SOA_TTL: i64 = 60;

/// Every (account, region) that holds Cloud Map data, found by skipping from one scope's keys to the
/// next rather than reading them all.
pub fn cloudmap_scopes(tx: &mut dyn Tx) -> Result<Vec<(String, String)>, StoreError> {
    let mut scopes = Vec::new();
    let mut after: Option<String> = None;
    while let Some((key, _)) = tx.scan(CLOUDMAP_PREFIX, after.as_deref(), 1)?.into_iter().next() {
        let mut parts = key[CLOUDMAP_PREFIX.len()..].splitn(3, '/');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(account), Some(region), Some(_)) => {
                after = Some(prefix_end(&format!("{CLOUDMAP_PREFIX}{account}/{region}/")));
                scopes.push((account.to_string(), region.to_string()));
            }
            // Not a scoped key: step over it.
            _ => after = Some(key),
        }
    }
    Ok(scopes)
}

/// One served zone: a DNS namespace whose CREATE_NAMESPACE operation has succeeded.
#[derive(Debug, Clone)]
pub struct Zone {
    /// The account that owns the namespace.
    pub account: String,
    /// Its region.
    pub region: String,
    /// The namespace.
    pub ns: NamespaceRec,
    /// The apex as lowercase labels.
    pub apex: Labels,
}

impl Zone {
    /// The key space the namespace's services and instances live in.
    pub fn keys(&self) -> Keys {
        Keys::new(&self.account, &self.region)
    }

    /// The TTL of the apex SOA record: the namespace's `SOA.TTL`, or AWS's default for its type.
    pub fn soa_ttl(&self) -> u32 {
        let default = if self.ns.ns_type == m::NamespaceType::DnsPublic {
            DEFAULT_PUBLIC_SOA_TTL
        } else {
            DEFAULT_PRIVATE_SOA_TTL
        };
        clamp_ttl(self.ns.soa_ttl.unwrap_or(default))
    }

    /// Whether it is a private namespace.
    pub fn is_private(&self) -> bool {
        self.ns.ns_type == m::NamespaceType::DnsPrivate
    }

    /// `cm.test (ns-…, account 123456789012, us-east-1, vpc-1)` for logs.
    pub fn describe(&self) -> String {
        let vpc = self.ns.vpc.as_deref().map(|v| format!(", {v}")).unwrap_or_default();
        format!(
            "{} ({}, {}, account {}, {}{vpc})",
            self.ns.name,
            self.ns.id,
            self.ns.ns_type.as_str(),
            self.account,
            self.region
        )
    }
}

/// A DNS TTL from a stored value (the API allows 0..2^31-1).
pub fn clamp_ttl(ttl: i64) -> u32 {
    ttl.clamp(0, i64::from(i32::MAX)) as u32
}

/// Every active DNS namespace visible through `view`.
pub fn served_zones(tx: &mut dyn Tx, view: &View) -> Result<Vec<Zone>, StoreError> {
    let mut zones = Vec::new();
    for (account, region) in cloudmap_scopes(tx)? {
        if view.account.as_deref().is_some_and(|a| a != account) || view.region.as_deref().is_some_and(|r| r != region)
        {
            continue;
        }
        let keys = Keys::new(&account, &region);
        let rows = tx.scan(&keys.namespaces(), None, usize::MAX)?;
        for (_, ns) in decode_all::<NamespaceRec>(rows)? {
            let dns = ns.ns_type != m::NamespaceType::Http;
            if !dns || ns.state != NamespaceState::Active || !view.admits(&account, &region, &ns) {
                continue;
            }
            let Some(apex) = names::from_dotted(&ns.name) else { continue };
            zones.push(Zone { account: account.clone(), region: region.clone(), ns, apex });
        }
    }
    Ok(zones)
}

/// Among zones with the same apex, which one answers: private before public (inside a VPC the
/// private zone wins), then the oldest, then the smallest id so the choice never flips.
pub fn preference(a: &Zone, b: &Zone) -> Ordering {
    b.is_private().cmp(&a.is_private()).then(a.ns.create_date.cmp(&b.ns.create_date)).then(a.ns.id.cmp(&b.ns.id))
}

/// The zone that answers `qname`: the one with the longest apex that contains it (a miss in it is
/// final, as with Route 53's resolver). Also returns the zones of the same apex it shadows.
pub fn zone_for<'z>(zones: &'z [Zone], qname: &[Vec<u8>]) -> Option<(&'z Zone, Vec<&'z Zone>)> {
    let mut matching: Vec<&Zone> = zones.iter().filter(|z| names::is_within(qname, &z.apex)).collect();
    matching.sort_by(|a, b| b.apex.len().cmp(&a.apex.len()).then_with(|| preference(a, b)));
    let (first, rest) = matching.split_first()?;
    let shadowed = rest.iter().copied().filter(|z| z.apex == first.apex).collect();
    Some((first, shadowed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(name: &str, ns_type: &str, created: i64, id: &str) -> Zone {
        Zone {
            account: "111111111111".into(),
            region: "us-east-1".into(),
            ns: NamespaceRec {
                id: id.into(),
                arn: String::new(),
                name: name.into(),
                http_name: name.into(),
                ns_type: m::NamespaceType::from_wire(ns_type).expect("a namespace type"),
                description: None,
                vpc: Some("vpc-1".into()),
                hosted_zone_id: None,
                soa_ttl: None,
                create_date: created,
                creator_request_id: None,
                owner: "111111111111".into(),
                state: NamespaceState::Active,
                service_count: 0,
            },
            apex: names::from_dotted(name).unwrap_or_default(),
        }
    }

    #[test]
    fn the_longest_apex_answers_and_private_beats_public() {
        let zones = vec![
            zone("cm.test", "DNS_PUBLIC", 1, "ns-pub"),
            zone("cm.test", "DNS_PRIVATE", 5, "ns-new"),
            zone("cm.test", "DNS_PRIVATE", 2, "ns-old"),
            zone("a.cm.test", "DNS_PRIVATE", 9, "ns-sub"),
        ];
        let q = names::from_dotted("web.cm.test").unwrap_or_default();
        let (z, shadowed) = zone_for(&zones, &q).expect("a zone");
        assert_eq!(z.ns.id, "ns-old");
        let mut ids: Vec<&str> = shadowed.iter().map(|z| z.ns.id.as_str()).collect();
        ids.sort_unstable();
        assert_eq!(ids, ["ns-new", "ns-pub"]);
        let q = names::from_dotted("x.a.cm.test").unwrap_or_default();
        assert_eq!(zone_for(&zones, &q).map(|(z, _)| z.ns.id.as_str()), Some("ns-sub"));
        let q = names::from_dotted("example.org").unwrap_or_default();
        assert!(zone_for(&zones, &q).is_none());
    }

    #[test]
    fn soa_ttl_defaults_follow_the_namespace_type() {
        assert_eq!(zone("cm.test", "DNS_PRIVATE", 1, "a").soa_ttl(), 15);
        assert_eq!(zone("cm.test", "DNS_PUBLIC", 1, "a").soa_ttl(), 60);
        let mut z = zone("cm.test", "DNS_PUBLIC", 1, "a");
        z.ns.soa_ttl = Some(120);
        assert_eq!(z.soa_ttl(), 120);
    }
}
