//! Which addresses health checks may probe. A probe connects where a caller said and reports what
//! it found, so by default it refuses the addresses that reach the host itself rather than an
//! instance (unspecified: 0.0.0.0, ::) and the link-local ones (169.254.0.0/16 — the cloud
//! metadata service — and fe80::/10), plus multicast and broadcast. Beside a real network, an
//! allow-list of CIDRs (`--health-check-allowed-cidrs`) limits probes to those ranges.

use ipnet::IpNet;
use std::net::IpAddr;

/// The addresses probes may reach.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetPolicy {
    /// When set, only addresses in these ranges are probed.
    allowed: Option<Vec<IpNet>>,
}

impl TargetPolicy {
    /// A policy from a comma-separated list of CIDRs or addresses (`10.0.0.0/8, 127.0.0.1`).
    pub fn allow_only(list: &str) -> Result<TargetPolicy, String> {
        let mut nets = Vec::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let net = item
                .parse::<IpNet>()
                .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("'{item}' is not a CIDR (such as 10.0.0.0/8) or an IP address"))?;
            nets.push(net);
        }
        if nets.is_empty() {
            return Err("the list of allowed CIDRs is empty".into());
        }
        Ok(TargetPolicy { allowed: Some(nets) })
    }

    /// Whether `ip` may be probed; the error says why not and how to allow it.
    pub fn check(&self, ip: IpAddr) -> Result<(), String> {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        if ip.is_unspecified() {
            return Err(format!("probing {ip} is refused: the unspecified address reaches this host, not an instance"));
        }
        let listed = self.allowed.as_ref().map(|nets| nets.iter().any(|n| n.contains(&ip)));
        match listed {
            Some(true) => Ok(()),
            Some(false) => Err(format!(
                "probing {ip} is refused: it is outside --health-check-allowed-cidrs (health_check_allowed_cidrs)"
            )),
            None if special(ip) => Err(format!(
                "probing {ip} is refused: link-local, multicast and broadcast addresses are not probed unless \
                 --health-check-allowed-cidrs lists them"
            )),
            None => Ok(()),
        }
    }
}

/// Link-local, multicast or broadcast.
fn special(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_link_local() || v4.is_multicast() || v4.is_broadcast(),
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80 || v6.is_multicast(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_default_refuses_the_host_and_link_local() {
        let p = TargetPolicy::default();
        for refused in ["0.0.0.0", "::", "169.254.169.254", "fe80::1", "::ffff:169.254.169.254", "224.0.0.1"] {
            assert!(p.check(ip(refused)).is_err(), "{refused}");
        }
        for allowed in ["127.0.0.1", "10.1.2.3", "::1", "2001:db8::1"] {
            assert_eq!(p.check(ip(allowed)), Ok(()), "{allowed}");
        }
    }

    #[test]
    fn an_allow_list_limits_probes_to_its_ranges() {
        let p = TargetPolicy::allow_only("10.0.0.0/8, 169.254.0.0/16,127.0.0.1").unwrap();
        assert_eq!(p.check(ip("10.9.9.9")), Ok(()));
        assert_eq!(p.check(ip("169.254.1.1")), Ok(()), "listed explicitly");
        assert_eq!(p.check(ip("127.0.0.1")), Ok(()));
        assert!(p.check(ip("127.0.0.2")).is_err());
        assert!(p.check(ip("0.0.0.0")).is_err(), "never the unspecified address");
        assert!(TargetPolicy::allow_only("ten/8").is_err());
        assert!(TargetPolicy::allow_only(" , ").is_err());
    }
}
