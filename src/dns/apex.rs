//! The records at a zone's apex: the SOA and NS sets Route 53 creates for every Cloud Map zone.

use super::names;
use super::zones::Zone;
use hickory_proto::rr::rdata::{NS, SOA};
use hickory_proto::rr::{Name, RData, Record};

/// TTL of the apex NS records (Route 53's default).
pub const NS_TTL: u32 = 172_800;
/// SOA MINIMUM: Route 53's default, which Cloud Map leaves alone.
pub const SOA_MINIMUM: u32 = 86_400;
const SOA_REFRESH: i32 = 7_200;
const SOA_RETRY: i32 = 900;
const SOA_EXPIRE: i32 = 1_209_600;
const SOA_RNAME: &str = "awsdns-hostmaster.amazon.com.";

/// The name servers every private zone shows, in the order AWS lists them.
const PRIVATE_NAME_SERVERS: [&str; 4] =
    ["ns-1536.awsdns-00.co.uk.", "ns-0.awsdns-00.com.", "ns-1024.awsdns-00.org.", "ns-512.awsdns-00.net."];

/// The apex as a wire name.
pub fn apex_name(zone: &Zone) -> Name {
    names::to_wire(&zone.apex).unwrap_or_else(Name::root)
}

/// The zone's four name servers. Private zones all show the same fixed set; public zones get four
/// `ns-N.awsdns-NN.<tld>` names derived from the hosted zone id (one per TLD, N in the TLD's range).
pub fn name_servers(zone: &Zone) -> Vec<Name> {
    let texts: Vec<String> = if zone.is_private() {
        PRIVATE_NAME_SERVERS.iter().map(|s| s.to_string()).collect()
    } else {
        let seed = zone.ns.hosted_zone_id.as_deref().unwrap_or(&zone.ns.id);
        let h = fnv1a(seed.as_bytes());
        // co.uk first, as in the private set; `range` is the block of N for that TLD.
        [("co.uk", 3u64), ("com", 0), ("org", 2), ("net", 1)]
            .iter()
            .enumerate()
            .map(|(i, (tld, range))| {
                let n = range * 512 + (h >> (i * 9)) % 512;
                format!("ns-{n}.awsdns-{:02}.{tld}.", (n % 512) / 8)
            })
            .collect()
    };
    texts.iter().filter_map(|t| Name::from_ascii(t).ok()).collect()
}

/// The apex SOA record with TTL `ttl`.
pub fn soa_record(zone: &Zone, ttl: u32) -> Option<Record> {
    let mname = name_servers(zone).into_iter().next()?;
    let rname = Name::from_ascii(SOA_RNAME).ok()?;
    let soa = SOA::new(mname, rname, 1, SOA_REFRESH, SOA_RETRY, SOA_EXPIRE, SOA_MINIMUM);
    Some(Record::from_rdata(apex_name(zone), ttl, RData::SOA(soa)))
}

/// The SOA for the authority section of a negative answer: TTL min(SOA TTL, MINIMUM) (RFC 2308).
pub fn negative_soa(zone: &Zone) -> Option<Record> {
    soa_record(zone, zone.soa_ttl().min(SOA_MINIMUM))
}

/// The apex NS records.
pub fn ns_records(zone: &Zone) -> Vec<Record> {
    let apex = apex_name(zone);
    name_servers(zone).into_iter().map(|ns| Record::from_rdata(apex.clone(), NS_TTL, RData::NS(NS(ns)))).collect()
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3))
}
