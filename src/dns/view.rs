//! Which namespaces a DNS listener serves. AWS shows each VPC only the private zones associated with
//! it; localplane has no VPCs, so a listener carries a view: optional account, region and VPC filters.
//! The default listener's view is everything.

use crate::cloudmap::records::NamespaceRec;
use crate::model::servicediscovery as m;
use serde::Deserialize;

/// The filters of one DNS listener; every filter is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct View {
    /// Only namespaces of this account.
    pub account: Option<String>,
    /// Only namespaces of this region.
    pub region: Option<String>,
    /// Only private namespaces associated with this VPC (public namespaces stay visible, as they are
    /// from inside a VPC).
    pub vpc: Option<String>,
}

impl View {
    /// Whether a DNS namespace of `account`/`region` is visible through this view.
    pub fn admits(&self, account: &str, region: &str, ns: &NamespaceRec) -> bool {
        if self.account.as_deref().is_some_and(|a| a != account) {
            return false;
        }
        if self.region.as_deref().is_some_and(|r| r != region) {
            return false;
        }
        match (&self.vpc, ns.ns_type) {
            (Some(vpc), m::NamespaceType::DnsPrivate) => ns.vpc.as_deref() == Some(vpc.as_str()),
            _ => true,
        }
    }

    /// A short description for logs (`everything`, `vpc=vpc-1 account=…`).
    pub fn describe(&self) -> String {
        let parts: Vec<String> = [("account", &self.account), ("region", &self.region), ("vpc", &self.vpc)]
            .into_iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
            .collect();
        if parts.is_empty() {
            "everything".to_string()
        } else {
            parts.join(" ")
        }
    }
}
