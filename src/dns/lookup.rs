//! Answering one question from the store: find the zone, look the name up among the apex records and
//! the records of the zone's services, pick records by routing policy and health, follow a CNAME into
//! another served zone, and say NOERROR, NODATA, NXDOMAIN or REFUSED as Route 53 would.

use super::apex;
use super::names::{self, Labels};
use super::records::{Candidate, Data, Kind, Routing, ServiceEntry};
use super::routing;
use super::view::View;
use super::zones::{self, Zone};
use crate::cloudmap::records::{InstanceRec, ServiceRec};
use crate::model::servicediscovery as m;
use crate::store::{decode_all, get_json, StoreError, Tx};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::{A, AAAA, CNAME, SRV};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use rand::Rng;
use std::collections::BTreeMap;

/// How many CNAMEs an answer follows through served zones before it stops.
const MAX_CNAME_CHAIN: usize = 8;

/// What the store says about one question.
#[derive(Debug)]
pub enum Outcome {
    /// No served zone contains the name: localplane is not authoritative for it.
    Refused,
    /// The zone's answer: NOERROR (with records or NODATA) or NXDOMAIN.
    Answer(Resolution),
    /// The answer would need data localplane cannot produce (an alias to an ELB name); the reason.
    ServFail(String),
}

/// The sections of an authoritative answer.
#[derive(Debug, Default)]
pub struct Resolution {
    /// NOERROR or NXDOMAIN.
    pub rcode: ResponseCode,
    /// The answer section.
    pub answers: Vec<Record>,
    /// The authority section: the zone's NS for positive answers, its SOA for negative ones.
    pub authority: Vec<Record>,
    /// The additional section: addresses of SRV targets.
    pub additional: Vec<Record>,
}

/// The outcome plus the same-name zones the chosen zone hid (for a warning).
#[derive(Debug)]
pub struct Lookup {
    /// The answer.
    pub outcome: Outcome,
    /// `(chosen, hidden)` zone descriptions when two namespaces of the view share the apex.
    pub shadowed: Vec<(String, String)>,
}

/// What one zone has to say about one name.
enum ZoneAnswer {
    Records { answers: Vec<Record>, additional: Vec<Record> },
    Cname { record: Box<Record>, target: Labels },
    NoData,
    NxDomain,
    ServFail(String),
}

/// Answers `qname`/`qtype` through `view` from the store. `qname` keeps the asker's spelling, which
/// the answer's owner names copy; names derived from the store are lowercase.
pub fn resolve<R: Rng>(
    tx: &mut dyn Tx,
    view: &View,
    qname: &Name,
    qtype: RecordType,
    rng: &mut R,
) -> Result<Lookup, StoreError> {
    let zones = zones::served_zones(tx, view)?;
    let wanted = names::from_wire(qname);
    let Some((zone, hidden)) = zones::zone_for(&zones, &wanted) else {
        return Ok(Lookup { outcome: Outcome::Refused, shadowed: Vec::new() });
    };
    let shadowed = hidden.iter().map(|h| (zone.describe(), h.describe())).collect();
    let mut out = Resolution::default();
    let mut zone = zone;
    let mut owner = qname.clone();
    let mut name = wanted;
    let mut seen: Vec<Labels> = Vec::new();
    loop {
        match lookup_in_zone(tx, zone, &name, &owner, qtype, rng)? {
            ZoneAnswer::Records { answers, additional } => {
                out.answers.extend(answers);
                out.additional.extend(additional);
                break;
            }
            ZoneAnswer::Cname { record, target } => {
                out.answers.push(*record);
                seen.push(name);
                // RFC 1034 §4.3.2: go on with the target when this server holds it, else stop here.
                let next = zones::zone_for(&zones, &target).map(|(z, _)| z);
                let (Some(next), Some(target_name)) = (next, names::to_wire(&target)) else { break };
                if seen.len() >= MAX_CNAME_CHAIN || seen.contains(&target) {
                    break;
                }
                zone = next;
                owner = target_name;
                name = target;
            }
            ZoneAnswer::NoData => {
                out.authority.extend(apex::negative_soa(zone));
                return Ok(Lookup { outcome: Outcome::Answer(out), shadowed });
            }
            ZoneAnswer::NxDomain => {
                out.rcode = ResponseCode::NXDomain;
                out.authority.extend(apex::negative_soa(zone));
                return Ok(Lookup { outcome: Outcome::Answer(out), shadowed });
            }
            ZoneAnswer::ServFail(reason) => return Ok(Lookup { outcome: Outcome::ServFail(reason), shadowed }),
        }
    }
    if !out.answers.iter().any(|r| r.record_type() == RecordType::NS) {
        out.authority.extend(apex::ns_records(zone));
    }
    Ok(Lookup { outcome: Outcome::Answer(out), shadowed })
}

/// The services of `zone` that matter for the name `rel` (apex-relative): the one named `rel`, SRV
/// services `rel` may be an instance target of, and services below `rel` (which make it exist).
fn relevant_services(tx: &mut dyn Tx, zone: &Zone, rel: &[Vec<u8>]) -> Result<Vec<ServiceEntry>, StoreError> {
    let keys = zone.keys();
    let prefix = keys.service_name_prefix(&zone.ns.id);
    let mut out = Vec::new();
    for (key, id) in tx.scan(&prefix, None, usize::MAX)? {
        let Some(labels) = names::from_dotted(&key[prefix.len()..]) else { continue };
        let same = labels == rel;
        let above = rel.len() > labels.len() && rel.ends_with(&labels);
        let below = labels.len() > rel.len() && labels.ends_with(rel) && !rel.is_empty();
        if !(same || above || below) {
            continue;
        }
        let id = String::from_utf8_lossy(&id).into_owned();
        let Some(service) = get_json::<ServiceRec>(tx, &keys.service(&id))? else { continue };
        if service.dns_records.is_none()
            || (above && !service.dns_records.iter().flatten().any(|r| r.record_type == m::RecordType::Srv))
        {
            continue;
        }
        let rows = tx.scan(&keys.instances(&id), None, usize::MAX)?;
        let instances = decode_all::<InstanceRec>(rows)?.into_iter().map(|(_, i)| i).collect();
        out.push(ServiceEntry { service, labels, instances });
    }
    Ok(out)
}

/// One RRset candidate group: the records of one type one service has at the name.
struct Group {
    kind: Kind,
    routing: Routing,
    service: usize,
    candidates: Vec<Candidate>,
}

/// Everything one name of a zone holds.
struct NameContents {
    groups: Vec<Group>,
    exists: bool,
}

fn contents(zone: &Zone, services: &[ServiceEntry], rel: &[Vec<u8>]) -> NameContents {
    let absolute = names::join(rel, &zone.apex);
    let mut groups = Vec::new();
    let mut exists = rel.is_empty();
    for (si, s) in services.iter().enumerate() {
        if s.labels == rel {
            let mut by_kind: BTreeMap<Kind, Vec<Candidate>> = BTreeMap::new();
            for inst in &s.instances {
                for c in s.records_at_service(inst, &zone.apex) {
                    by_kind.entry(c.kind).or_default().push(c);
                }
            }
            for (kind, candidates) in by_kind {
                exists = true;
                groups.push(Group { kind, routing: s.routing(), service: si, candidates });
            }
        } else if rel.len() > s.labels.len() {
            // `rel` may be an SRV target `<instance-id>.<service>` or lie between the two.
            let mut by_kind: BTreeMap<Kind, Vec<Candidate>> = BTreeMap::new();
            for inst in &s.instances {
                let Some(target) = s.target_labels(inst, &zone.apex) else { continue };
                if target == absolute {
                    for c in s.records_at_target(inst) {
                        by_kind.entry(c.kind).or_default().push(c);
                    }
                } else if target.len() > absolute.len() && target.ends_with(&absolute) {
                    exists = true;
                }
            }
            for (kind, candidates) in by_kind {
                exists = true;
                groups.push(Group { kind, routing: Routing::Multivalue, service: si, candidates });
            }
        } else if !exists {
            // `rel` is above the service name: an empty non-terminal when the service has records.
            exists = s.instances.iter().any(|i| !s.records_at_service(i, &zone.apex).is_empty());
        }
    }
    NameContents { groups, exists }
}

fn lookup_in_zone<R: Rng>(
    tx: &mut dyn Tx,
    zone: &Zone,
    name: &[Vec<u8>],
    owner: &Name,
    qtype: RecordType,
    rng: &mut R,
) -> Result<ZoneAnswer, StoreError> {
    let rel = names::relative(name, &zone.apex).to_vec();
    let services = relevant_services(tx, zone, &rel)?;
    let at = contents(zone, &services, &rel);
    let apex_here = rel.is_empty();
    let mut answers: Vec<Record> = Vec::new();
    let mut additional: Vec<Record> = Vec::new();
    let wanted: &[Kind] = match qtype {
        RecordType::A => &[Kind::A],
        RecordType::AAAA => &[Kind::Aaaa],
        RecordType::SRV => &[Kind::Srv],
        RecordType::CNAME => &[Kind::Cname],
        // ANY: every RRset at the name (one of RFC 8482's choices; Route 53's is not documented).
        RecordType::ANY => &[Kind::A, Kind::Aaaa, Kind::Srv, Kind::Cname],
        _ => &[],
    };
    if apex_here && matches!(qtype, RecordType::SOA | RecordType::ANY) {
        answers.extend(apex::soa_record(zone, zone.soa_ttl()));
    }
    if apex_here && matches!(qtype, RecordType::NS | RecordType::ANY) {
        answers.extend(apex::ns_records(zone));
    }
    let has_cname = at.groups.iter().any(|g| g.kind == Kind::Cname);
    if has_cname && !matches!(qtype, RecordType::CNAME | RecordType::ANY) {
        let group = at.groups.iter().filter(|g| g.kind == Kind::Cname);
        let candidates: Vec<Candidate> = group.flat_map(|g| g.candidates.iter().cloned()).collect();
        // A CNAME service is always WEIGHTED: one CNAME per answer.
        if let Some(chosen) = routing::select(Routing::Weighted, candidates, rng).into_iter().next() {
            if let (Data::Cname(target), Some(record)) = (&chosen.data, to_record(owner, &chosen)) {
                return Ok(ZoneAnswer::Cname { record: Box::new(record), target: target.clone() });
            }
        }
    }
    for group in at.groups.iter().filter(|g| wanted.contains(&g.kind)) {
        for chosen in routing::select(group.routing, group.candidates.clone(), rng) {
            if let Data::Alias(target) = &chosen.data {
                return Ok(ZoneAnswer::ServFail(format!(
                    "{} is an alias to {target}, which localplane cannot resolve (no upstream DNS)",
                    names::display(name)
                )));
            }
            if chosen.kind == Kind::Srv {
                additional.extend(srv_target_records(&services[group.service], &chosen));
            }
            if let Some(record) = to_record(owner, &chosen) {
                if !answers.iter().any(|a| a.data == record.data) {
                    answers.push(record);
                }
            }
        }
    }
    Ok(if !answers.is_empty() {
        ZoneAnswer::Records { answers, additional }
    } else if at.exists {
        ZoneAnswer::NoData
    } else {
        ZoneAnswer::NxDomain
    })
}

/// The A/AAAA records of the target of a chosen SRV record, for the additional section.
fn srv_target_records(service: &ServiceEntry, srv: &Candidate) -> Vec<Record> {
    let Data::Srv { target, .. } = &srv.data else { return Vec::new() };
    let Some(owner) = names::to_wire(target) else { return Vec::new() };
    service
        .instances
        .iter()
        .filter(|i| i.id == srv.instance_id)
        .flat_map(|i| service.records_at_target(i))
        .filter_map(|c| to_record(&owner, &c))
        .collect()
}

/// The wire record of a candidate (none for an alias, which has no local data).
fn to_record(owner: &Name, c: &Candidate) -> Option<Record> {
    let rdata = match &c.data {
        Data::A(ip) => RData::A(A(*ip)),
        Data::Aaaa(ip) => RData::AAAA(AAAA(*ip)),
        Data::Srv { port, target } => RData::SRV(SRV::new(1, 1, *port, names::to_wire(target)?)),
        Data::Cname(target) => RData::CNAME(CNAME(names::to_wire(target)?)),
        Data::Alias(_) => return None,
    };
    Some(Record::from_rdata(owner.clone(), c.ttl, rdata))
}
