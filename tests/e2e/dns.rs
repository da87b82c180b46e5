//! DNS and health checks against the running binary: `dig` (Debian `bind9-dnsutils`) and
//! hickory-resolver ask localplane's DNS server about Cloud Map namespaces, and small HTTP and TCP
//! servers started here on 127.0.0.x are health-checked.
#![allow(deprecated)] // HealthCheckCustomConfig.FailureThreshold is deprecated but still on the wire.

use crate::common::*;
use aws_sdk_servicediscovery as sd;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{RData, RecordType as Rt};
use hickory_resolver::{Resolver, TokioResolver};
use sd::types::*;
use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

// ---------------------------------------------------------------------------------------------
// Servers, clients and small helpers
// ---------------------------------------------------------------------------------------------

/// A port free for both UDP and TCP on 127.0.0.1.
fn free_dns_port() -> u16 {
    for _ in 0..100 {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind a UDP socket");
        let port = udp.local_addr().expect("local address").port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no loopback port is free for both UDP and TCP");
}

/// A localplane with its DNS server on a free port.
struct DnsServer {
    server: Server,
    dns: u16,
}

async fn dns_server(timing: &str, extra: &[&str]) -> DnsServer {
    let dns = free_dns_port();
    let listen = format!("127.0.0.1:{dns}");
    let mut args = vec!["--timing", timing, "--dns-listen", listen.as_str()];
    args.extend_from_slice(extra);
    DnsServer { server: Server::ephemeral_with(&args).await, dns }
}

/// One resource record as `dig` prints it.
#[derive(Debug, Clone)]
struct Rr {
    name: String,
    ttl: u32,
    rtype: String,
    data: String,
}

/// What `dig` printed, split into header and sections.
#[derive(Debug, Default)]
struct Dig {
    status: String,
    flags: Vec<String>,
    question: Vec<String>,
    answer: Vec<Rr>,
    authority: Vec<Rr>,
    additional: Vec<Rr>,
    raw: String,
}

impl Dig {
    fn has_flag(&self, f: &str) -> bool {
        self.flags.iter().any(|x| x == f)
    }
    fn data(&self, rtype: &str) -> BTreeSet<String> {
        self.answer.iter().filter(|r| r.rtype == rtype).map(|r| r.data.clone()).collect()
    }
}

/// Runs `dig @127.0.0.1 -p PORT +norecurse ARGS…` and parses its output.
fn dig(port: u16, args: &[&str]) -> Dig {
    let out = Command::new("dig")
        .arg("@127.0.0.1")
        .arg("-p")
        .arg(port.to_string())
        .args(["+norecurse", "+time=3", "+tries=1"])
        .args(args)
        .output()
        .expect("run dig: install Debian's bind9-dnsutils (scripts/test does)");
    let raw = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut d = Dig { raw: raw.clone(), ..Dig::default() };
    let mut section = "";
    for line in raw.lines() {
        if let Some(rest) = line.split("status: ").nth(1) {
            d.status = rest.split(',').next().unwrap_or_default().trim().to_string();
        } else if let Some(rest) = line.strip_prefix(";; flags:") {
            d.flags = rest.split(';').next().unwrap_or_default().split_whitespace().map(str::to_string).collect();
        } else if line.starts_with(";; QUESTION SECTION") {
            section = "question";
        } else if line.starts_with(";; ANSWER SECTION") {
            section = "answer";
        } else if line.starts_with(";; AUTHORITY SECTION") {
            section = "authority";
        } else if line.starts_with(";; ADDITIONAL SECTION") {
            section = "additional";
        } else if line.trim().is_empty() || line.starts_with(";;") {
            if line.trim().is_empty() {
                section = "";
            }
        } else if section == "question" {
            d.question.push(line.trim_start_matches(';').trim().to_string());
        } else if !section.is_empty() && !line.starts_with(';') {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() >= 4 {
                let rr = Rr {
                    name: f[0].to_string(),
                    ttl: f[1].parse().unwrap_or(u32::MAX),
                    rtype: f[3].to_string(),
                    data: f[4..].join(" "),
                };
                match section {
                    "answer" => d.answer.push(rr),
                    "authority" => d.authority.push(rr),
                    _ => d.additional.push(rr),
                }
            }
        }
    }
    d
}

/// A hickory-resolver that asks only localplane, over the given transports, with no cache.
fn resolver(port: u16, transports: &[&str], tweak: impl FnOnce(&mut ResolverOpts)) -> TokioResolver {
    let connections = transports
        .iter()
        .map(|t| {
            let mut c = if *t == "tcp" { ConnectionConfig::tcp() } else { ConnectionConfig::udp() };
            c.port = port;
            c
        })
        .collect();
    let ns = NameServerConfig::new(IpAddr::V4(Ipv4Addr::LOCALHOST), true, connections);
    let config = ResolverConfig::from_parts(None, vec![], vec![ns]);
    let mut opts = ResolverOpts::default();
    opts.cache_size = 0;
    opts.attempts = 1;
    opts.timeout = Duration::from_secs(3);
    opts.recursion_desired = false;
    opts.use_hosts_file = ResolveHosts::Never;
    tweak(&mut opts);
    Resolver::builder_with_config(config, TokioRuntimeProvider::default()).with_options(opts).build().expect("resolver")
}

/// The answer records of a lookup, as text (`10.1.0.1`, `1 1 8080 a1.api.cm.test.`).
async fn lookup(r: &TokioResolver, name: &str, rtype: Rt) -> Result<BTreeSet<String>, NetError> {
    let found = r.lookup(name, rtype).await?;
    Ok(found.answers().iter().filter(|rec| rec.record_type() == rtype).map(|rec| rec.data.to_string()).collect())
}

/// The response code a failed lookup carries (NXDOMAIN / NOERROR for "no records", or the error code).
fn failure_code(e: &NetError) -> Option<ResponseCode> {
    match e {
        NetError::Dns(DnsError::NoRecordsFound(nr)) => Some(nr.response_code),
        NetError::Dns(DnsError::ResponseCode(code)) => Some(*code),
        _ => None,
    }
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

async fn private_ns(c: &sd::Client, name: &str, vpc: &str, soa_ttl: Option<i64>) -> String {
    let mut req = c.create_private_dns_namespace().name(name).vpc(vpc);
    if let Some(ttl) = soa_ttl {
        req = req.properties(
            PrivateDnsNamespaceProperties::builder()
                .dns_properties(
                    PrivateDnsPropertiesMutable::builder().soa(Soa::builder().ttl(ttl).build().expect("soa")).build(),
                )
                .build(),
        );
    }
    let op = req.send().await.expect("CreatePrivateDnsNamespace");
    namespace_of(c, op.operation_id().expect("OperationId")).await
}

async fn public_ns(c: &sd::Client, name: &str) -> String {
    let op = c.create_public_dns_namespace().name(name).send().await.expect("CreatePublicDnsNamespace");
    namespace_of(c, op.operation_id().expect("OperationId")).await
}

async fn http_ns(c: &sd::Client, name: &str) -> String {
    let op = c.create_http_namespace().name(name).send().await.expect("CreateHttpNamespace");
    namespace_of(c, op.operation_id().expect("OperationId")).await
}

async fn namespace_of(c: &sd::Client, op_id: &str) -> String {
    let (op, _) = wait_cloudmap_operation(c, op_id).await;
    assert_eq!(op.status(), Some(&OperationStatus::Success), "{op:?}");
    op.targets().and_then(|t| t.get(&OperationTargetType::Namespace)).expect("NAMESPACE target").clone()
}

/// A DNS service: `routing` MULTIVALUE or WEIGHTED, `records` (type, TTL), optional custom health.
async fn dns_service(
    c: &sd::Client,
    ns: &str,
    name: &str,
    routing: RoutingPolicy,
    records: &[(RecordType, i64)],
    custom_health: bool,
) -> String {
    let mut dns = DnsConfig::builder().routing_policy(routing);
    for (t, ttl) in records {
        dns = dns.dns_records(DnsRecord::builder().r#type(t.clone()).ttl(*ttl).build().expect("record"));
    }
    let mut req = c.create_service().name(name).namespace_id(ns).dns_config(dns.build().expect("dns config"));
    if custom_health {
        req = req.health_check_custom_config(HealthCheckCustomConfig::builder().build());
    }
    req.send().await.expect("CreateService").service.and_then(|s| s.id).expect("service id")
}

async fn register(c: &sd::Client, service: &str, id: &str, attrs: &[(&str, &str)]) {
    let mut req = c.register_instance().service_id(service).instance_id(id);
    for (k, v) in attrs {
        req = req.attributes(*k, *v);
    }
    let op = req.send().await.expect("RegisterInstance");
    let (op, _) = wait_cloudmap_operation(c, op.operation_id().expect("OperationId")).await;
    assert_eq!(op.status(), Some(&OperationStatus::Success), "registering {id}: {op:?}");
}

async fn deregister(c: &sd::Client, service: &str, id: &str) {
    let op = c.deregister_instance().service_id(service).instance_id(id).send().await.expect("DeregisterInstance");
    let (op, _) = wait_cloudmap_operation(c, op.operation_id().expect("OperationId")).await;
    assert_eq!(op.status(), Some(&OperationStatus::Success), "deregistering {id}: {op:?}");
}

async fn discover(c: &sd::Client, ns: &str, service: &str, filter: HealthStatusFilter) -> BTreeSet<String> {
    let out = c
        .discover_instances()
        .namespace_name(ns)
        .service_name(service)
        .health_status(filter)
        .send()
        .await
        .expect("DiscoverInstances");
    out.instances().iter().filter_map(|i| i.instance_id().map(str::to_string)).collect()
}

async fn health_of(c: &sd::Client, service: &str, id: &str) -> String {
    let out = c.get_instances_health_status().service_id(service).send().await.expect("GetInstancesHealthStatus");
    out.status().and_then(|s| s.get(id)).map(|h| h.as_str().to_string()).unwrap_or_else(|| "<absent>".into())
}

/// Polls GetInstancesHealthStatus until `id` reports `want`; returns how long it took.
async fn wait_health(c: &sd::Client, service: &str, id: &str, want: &str) -> Duration {
    let start = Instant::now();
    loop {
        let got = health_of(c, service, id).await;
        if got == want {
            return start.elapsed();
        }
        assert!(start.elapsed() < Duration::from_secs(20), "instance {id} stayed {got}, expected {want}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends one raw query over `sock` and returns the (id, rcode) of the answer.
async fn rcode_of(sock: &tokio::net::UdpSocket, packet: Vec<u8>) -> (u16, u8) {
    let mut buf = [0u8; 4096];
    // Drop late answers to earlier packets.
    while tokio::time::timeout(Duration::from_millis(50), sock.recv(&mut buf)).await.is_ok() {}
    sock.send(&packet).await.expect("send");
    let n = tokio::time::timeout(Duration::from_secs(3), sock.recv(&mut buf)).await.expect("an answer").expect("recv");
    assert!(n >= 12, "a DNS header");
    (u16::from_be_bytes([buf[0], buf[1]]), buf[3] & 0x0f)
}

/// Switches the server's timing profile through the admin API.
async fn set_timing(server: &Server, profile: &str) {
    let resp = reqwest::Client::new()
        .put(format!("{}/_localplane/timing", server.endpoint()))
        .json(&serde_json::json!({ "profile": profile }))
        .send()
        .await
        .expect("PUT /_localplane/timing");
    assert!(resp.status().is_success(), "{}", resp.text().await.unwrap_or_default());
}

// ---------------------------------------------------------------------------------------------
// The reference fixture: private namespace cm.test (vpc-1, SOA TTL 15)
// ---------------------------------------------------------------------------------------------

struct Fixture {
    ns: String,
    web: String,
}

async fn cm_fixture(c: &sd::Client) -> Fixture {
    let ns = private_ns(c, "cm.test", "vpc-1", Some(15)).await;
    let web =
        dns_service(c, &ns, "web", RoutingPolicy::Multivalue, &[(RecordType::A, 60), (RecordType::Aaaa, 60)], true)
            .await;
    register(c, &web, "w1", &[("AWS_INSTANCE_IPV4", "10.1.0.1"), ("AWS_INSTANCE_IPV6", "fd00:0000::0001")]).await;
    register(c, &web, "w2", &[("AWS_INSTANCE_IPV4", "10.1.0.2"), ("AWS_INSTANCE_IPV6", "fd00::2")]).await;
    let api = dns_service(c, &ns, "api", RoutingPolicy::Multivalue, &[(RecordType::Srv, 30)], false).await;
    register(c, &api, "a1", &[("AWS_INSTANCE_IPV4", "10.1.1.1"), ("AWS_INSTANCE_PORT", "8080")]).await;
    register(
        c,
        &api,
        "A2",
        &[("AWS_INSTANCE_IPV4", "10.1.1.2"), ("AWS_INSTANCE_IPV6", "fd00::2"), ("AWS_INSTANCE_PORT", "9090")],
    )
    .await;
    let legacy = dns_service(c, &ns, "legacy", RoutingPolicy::Weighted, &[(RecordType::Cname, 300)], false).await;
    register(c, &legacy, "c1", &[("AWS_INSTANCE_CNAME", "a.example.org")]).await;
    register(c, &legacy, "c2", &[("AWS_INSTANCE_CNAME", "b.example.org")]).await;
    let hidden = c
        .create_service()
        .name("hidden")
        .namespace_id(&ns)
        .r#type(ServiceTypeOption::Http)
        .send()
        .await
        .expect("CreateService hidden")
        .service
        .and_then(|s| s.id)
        .expect("id");
    register(c, &hidden, "h1", &[("AWS_INSTANCE_IPV4", "10.1.3.1")]).await;
    dns_service(c, &ns, "empty", RoutingPolicy::Multivalue, &[(RecordType::A, 60)], false).await;
    let haproxy = dns_service(c, &ns, "_http._tcp", RoutingPolicy::Multivalue, &[(RecordType::Srv, 30)], false).await;
    register(c, &haproxy, "hp1", &[("AWS_INSTANCE_IPV4", "10.1.5.1"), ("AWS_INSTANCE_PORT", "80")]).await;
    Fixture { ns, web }
}

const CM_SOA: &str = "ns-1536.awsdns-00.co.uk. awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400";

// ---------------------------------------------------------------------------------------------
// DNS answers
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn dns_answers_a_aaaa_srv_and_cname_records_of_registered_instances() {
    let s = dns_server("instant", &[]).await;
    let c = cloudmap(&s.server, Wire::Json);
    cm_fixture(&c).await;

    // T1: both A records, authoritative, the service TTL, NS in authority, no recursion offered.
    let d = dig(s.dns, &["web.cm.test", "A"]);
    assert_eq!(d.status, "NOERROR", "{}", d.raw);
    assert!(d.has_flag("aa") && !d.has_flag("ra") && !d.has_flag("tc"), "{}", d.raw);
    assert_eq!(d.data("A"), set(&["10.1.0.1", "10.1.0.2"]));
    assert!(d.answer.iter().all(|r| r.ttl == 60), "{}", d.raw);
    assert_eq!(d.authority.iter().filter(|r| r.rtype == "NS").count(), 4, "{}", d.raw);

    // T2: case-insensitive, the question keeps its spelling, IPv6 in compressed form.
    let d = dig(s.dns, &["wEb.Cm.TeSt", "AAAA"]);
    assert_eq!(d.status, "NOERROR");
    assert_eq!(d.data("AAAA"), set(&["fd00::1", "fd00::2"]));
    assert!(d.question.iter().any(|q| q.starts_with("wEb.Cm.TeSt.")), "{:?}", d.question);
    assert_eq!(d.answer[0].ttl, 60);

    // T7: SRV with lowercase targets and their addresses in the additional section.
    let d = dig(s.dns, &["api.cm.test", "SRV"]);
    assert_eq!(d.data("SRV"), set(&["1 1 8080 a1.api.cm.test.", "1 1 9090 a2.api.cm.test."]), "{}", d.raw);
    assert!(d.answer.iter().all(|r| r.ttl == 30));
    let extra: BTreeSet<String> = d.additional.iter().map(|r| format!("{} {} {}", r.name, r.rtype, r.data)).collect();
    assert_eq!(
        extra,
        set(&["a1.api.cm.test. A 10.1.1.1", "a2.api.cm.test. A 10.1.1.2", "a2.api.cm.test. AAAA fd00::2"]),
        "{}",
        d.raw
    );

    // T8: the SRV target name answers; A at an SRV-only name is NODATA; A services have no
    // per-instance names.
    let d = dig(s.dns, &["a2.api.cm.test", "AAAA"]);
    assert_eq!(d.data("AAAA"), set(&["fd00::2"]));
    let d = dig(s.dns, &["api.cm.test", "A"]);
    assert_eq!(d.status, "NOERROR");
    assert!(d.answer.is_empty(), "{}", d.raw);
    assert_eq!(d.authority.len(), 1, "{}", d.raw);
    assert_eq!((d.authority[0].rtype.as_str(), d.authority[0].ttl), ("SOA", 15));
    let d = dig(s.dns, &["a1.web.cm.test", "A"]);
    assert_eq!(d.status, "NXDOMAIN");

    // T9: a WEIGHTED CNAME service answers exactly one CNAME, never followed out of localplane's zones.
    let mut seen = BTreeSet::new();
    for _ in 0..20 {
        let d = dig(s.dns, &["legacy.cm.test", "A"]);
        assert_eq!(d.status, "NOERROR");
        assert_eq!(d.answer.len(), 1, "{}", d.raw);
        assert_eq!((d.answer[0].rtype.as_str(), d.answer[0].ttl), ("CNAME", 300));
        seen.insert(d.answer[0].data.clone());
    }
    assert_eq!(seen, set(&["a.example.org.", "b.example.org."]));

    // An empty non-terminal (`_tcp` above `_http._tcp`) is NODATA, not NXDOMAIN.
    assert_eq!(dig(s.dns, &["_http._tcp.cm.test", "SRV"]).data("SRV"), set(&["1 1 80 hp1._http._tcp.cm.test."]));
    let d = dig(s.dns, &["_tcp.cm.test", "A"]);
    assert_eq!((d.status.as_str(), d.answer.len()), ("NOERROR", 0), "{}", d.raw);
}

#[tokio::test(flavor = "multi_thread")]
async fn dns_negative_answers_apex_records_and_refusals() {
    let s = dns_server("instant", &[]).await;
    let c = cloudmap(&s.server, Wire::Json);
    let f = cm_fixture(&c).await;

    // T10: NXDOMAIN carries the SOA with min(SOA TTL, MINIMUM).
    let d = dig(s.dns, &["nothere.cm.test", "A"]);
    assert_eq!(d.status, "NXDOMAIN");
    assert!(d.has_flag("aa"));
    assert_eq!(d.authority.len(), 1, "{}", d.raw);
    let soa = &d.authority[0];
    assert_eq!((soa.name.as_str(), soa.ttl, soa.rtype.as_str(), soa.data.as_str()), ("cm.test.", 15, "SOA", CM_SOA));

    // T11: a service without instances and a Type HTTP service have no DNS names, though
    // DiscoverInstances finds the HTTP one's instance.
    assert_eq!(dig(s.dns, &["empty.cm.test", "A"]).status, "NXDOMAIN");
    assert_eq!(dig(s.dns, &["hidden.cm.test", "A"]).status, "NXDOMAIN");
    assert_eq!(discover(&c, "cm.test", "hidden", HealthStatusFilter::All).await, set(&["h1"]));

    // T12: SOA and NS at the apex; a new SOA TTL shows once its operation succeeds.
    let d = dig(s.dns, &["cm.test", "SOA"]);
    assert_eq!((d.answer.len(), d.answer[0].ttl, d.answer[0].data.as_str()), (1, 15, CM_SOA));
    let d = dig(s.dns, &["CM.TEST", "NS"]);
    assert_eq!(
        d.data("NS"),
        set(&["ns-1536.awsdns-00.co.uk.", "ns-0.awsdns-00.com.", "ns-1024.awsdns-00.org.", "ns-512.awsdns-00.net."])
    );
    assert!(d.answer.iter().all(|r| r.ttl == 172_800));
    let change = PrivateDnsNamespaceChange::builder()
        .properties(
            PrivateDnsNamespacePropertiesChange::builder()
                .dns_properties(
                    PrivateDnsPropertiesMutableChange::builder()
                        .soa(SoaChange::builder().ttl(120).build().expect("soa"))
                        .build(),
                )
                .build(),
        )
        .build();
    let op =
        c.update_private_dns_namespace().id(&f.ns).namespace(change).send().await.expect("UpdatePrivateDnsNamespace");
    wait_cloudmap_operation(&c, op.operation_id().expect("OperationId")).await;
    assert_eq!(dig(s.dns, &["cm.test", "SOA"]).answer[0].ttl, 120);

    // T13 and friends: names outside every namespace, other classes and zone transfers are refused.
    for args in [&["example.org", "A"][..], &["-c", "CH", "web.cm.test", "A"]] {
        let d = dig(s.dns, args);
        assert_eq!(d.status, "REFUSED", "{args:?}: {}", d.raw);
        assert!(d.answer.is_empty() && d.authority.is_empty() && !d.has_flag("ra") && !d.has_flag("aa"));
    }
    // An EDNS version localplane does not speak.
    assert_eq!(dig(s.dns, &["+edns=1", "+noednsneg", "web.cm.test", "A"]).status, "BADVERS");
    // ANY returns every RRset at the name.
    let d = dig(s.dns, &["web.cm.test", "ANY"]);
    assert_eq!(d.data("A").len() + d.data("AAAA").len(), 4, "{}", d.raw);
}

#[tokio::test(flavor = "multi_thread")]
async fn dns_answers_hickory_resolver_over_udp_and_tcp() {
    let s = dns_server("instant", &[]).await;
    let c = cloudmap(&s.server, Wire::Cbor);
    cm_fixture(&c).await;
    // 0x20 case randomization on UDP: the answer must echo the asker's spelling.
    let udp = resolver(s.dns, &["udp"], |o| o.case_randomization = true);
    let tcp = resolver(s.dns, &["tcp"], |_| {});
    for (transport, r) in [("udp", &udp), ("tcp", &tcp)] {
        assert_eq!(lookup(r, "web.cm.test.", Rt::A).await.expect(transport), set(&["10.1.0.1", "10.1.0.2"]));
        assert_eq!(lookup(r, "WEB.cm.test.", Rt::AAAA).await.expect(transport), set(&["fd00::1", "fd00::2"]));
        assert_eq!(
            lookup(r, "api.cm.test.", Rt::SRV).await.expect(transport),
            set(&["1 1 8080 a1.api.cm.test.", "1 1 9090 a2.api.cm.test."])
        );
        let cname = r.lookup("legacy.cm.test.", Rt::CNAME).await.expect(transport);
        assert_eq!(cname.answers().len(), 1);
        assert!(matches!(cname.answers()[0].data, RData::CNAME(_)));

        let err = r.lookup("nothere.cm.test.", Rt::A).await.expect_err("NXDOMAIN");
        assert_eq!(failure_code(&err), Some(ResponseCode::NXDomain), "{transport}: {err:?}");
        if let NetError::Dns(DnsError::NoRecordsFound(nr)) = &err {
            assert!(nr.soa.is_some(), "the SOA comes with a negative answer");
            assert_eq!(nr.negative_ttl, Some(15));
        }
        let err = r.lookup("api.cm.test.", Rt::A).await.expect_err("NODATA");
        assert_eq!(failure_code(&err), Some(ResponseCode::NoError), "{transport}: {err:?}");
        let err = r.lookup("example.org.", Rt::A).await.expect_err("REFUSED");
        assert_eq!(failure_code(&err), Some(ResponseCode::Refused), "{transport}: {err:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn dns_multivalue_answers_at_most_eight_and_weighted_exactly_one() {
    let s = dns_server("instant", &[]).await;
    let c = cloudmap(&s.server, Wire::Json);
    let ns = private_ns(&c, "cm.test", "vpc-1", None).await;
    let big = dns_service(&c, &ns, "big", RoutingPolicy::Multivalue, &[(RecordType::A, 10)], false).await;
    for i in 1..=12 {
        register(&c, &big, &format!("b{i:02}"), &[("AWS_INSTANCE_IPV4", &format!("10.1.2.{i}"))]).await;
    }
    let one = dns_service(&c, &ns, "one", RoutingPolicy::Weighted, &[(RecordType::A, 10)], false).await;
    for i in 1..=3 {
        register(&c, &one, &format!("o{i}"), &[("AWS_INSTANCE_IPV4", &format!("10.1.4.{i}"))]).await;
    }
    // The default SOA TTL of a private namespace is 15 s.
    assert_eq!(dig(s.dns, &["cm.test", "SOA"]).answer[0].ttl, 15);

    // T5 and T6, with dig for the shape and hickory-resolver for the many rounds.
    let d = dig(s.dns, &["big.cm.test", "A"]);
    assert_eq!(d.data("A").len(), 8, "{}", d.raw);
    assert!(d.answer.iter().all(|r| r.ttl == 10));
    assert_eq!(dig(s.dns, &["one.cm.test", "A"]).answer.len(), 1);
    let r = resolver(s.dns, &["udp"], |_| {});
    let (mut all_big, mut all_one) = (BTreeSet::new(), BTreeSet::new());
    for _ in 0..40 {
        let got = lookup(&r, "big.cm.test.", Rt::A).await.expect("big");
        assert_eq!(got.len(), 8, "{got:?}");
        all_big.extend(got);
        let got = lookup(&r, "one.cm.test.", Rt::A).await.expect("one");
        assert_eq!(got.len(), 1, "{got:?}");
        all_one.extend(got);
    }
    assert_eq!(all_big.len(), 12, "every instance shows up sooner or later");
    assert_eq!(all_one, set(&["10.1.4.1", "10.1.4.2", "10.1.4.3"]));
}

#[tokio::test(flavor = "multi_thread")]
async fn dns_follows_custom_health_deregistration_and_namespace_deletion() {
    let s = dns_server("instant", &[]).await;
    let c = cloudmap(&s.server, Wire::Json);
    let f = cm_fixture(&c).await;
    let web_a = || dig(s.dns, &["web.cm.test", "A"]).data("A");
    assert_eq!(web_a(), set(&["10.1.0.1", "10.1.0.2"]));

    // T3: an UNHEALTHY custom status leaves DNS and DiscoverInstances(HEALTHY).
    c.update_instance_custom_health_status()
        .service_id(&f.web)
        .instance_id("w2")
        .status(CustomHealthStatus::Unhealthy)
        .send()
        .await
        .expect("UpdateInstanceCustomHealthStatus");
    assert_eq!(web_a(), set(&["10.1.0.1"]));
    assert_eq!(discover(&c, "cm.test", "web", HealthStatusFilter::Healthy).await, set(&["w1"]));
    assert_eq!(health_of(&c, &f.web, "w2").await, "UNHEALTHY");

    // T4: with every instance unhealthy, DNS fails open; DiscoverInstances(HEALTHY) does not.
    c.update_instance_custom_health_status()
        .service_id(&f.web)
        .instance_id("w1")
        .status(CustomHealthStatus::Unhealthy)
        .send()
        .await
        .expect("UpdateInstanceCustomHealthStatus");
    assert_eq!(web_a(), set(&["10.1.0.1", "10.1.0.2"]));
    assert!(discover(&c, "cm.test", "web", HealthStatusFilter::Healthy).await.is_empty());
    assert_eq!(discover(&c, "cm.test", "web", HealthStatusFilter::HealthyOrElseAll).await, set(&["w1", "w2"]));

    // AWS_INIT_HEALTH_STATUS=UNHEALTHY keeps a new instance out while a healthy one exists.
    c.update_instance_custom_health_status()
        .service_id(&f.web)
        .instance_id("w1")
        .status(CustomHealthStatus::Healthy)
        .send()
        .await
        .expect("UpdateInstanceCustomHealthStatus");
    let w3 =
        [("AWS_INSTANCE_IPV4", "10.1.0.3"), ("AWS_INSTANCE_IPV6", "fd00::3"), ("AWS_INIT_HEALTH_STATUS", "UNHEALTHY")];
    register(&c, &f.web, "w3", &w3).await;
    assert_eq!(web_a(), set(&["10.1.0.1"]));

    // Deregistration removes records the moment its operation succeeds (not before: under `fast`
    // the registration is still answered while the operation is pending).
    set_timing(&s.server, "fast").await;
    let op = c.deregister_instance().service_id(&f.web).instance_id("w1").send().await.expect("DeregisterInstance");
    assert!(web_a().contains("10.1.0.1"), "still registered while the operation is pending");
    wait_cloudmap_operation(&c, op.operation_id().expect("OperationId")).await;
    assert_eq!(web_a(), set(&["10.1.0.2", "10.1.0.3"]), "w2 and w3 are both unhealthy: fail open");
    assert_eq!(dig(s.dns, &["web.cm.test", "AAAA"]).data("AAAA"), set(&["fd00::2", "fd00::3"]));
    set_timing(&s.server, "instant").await;
    deregister(&c, &f.web, "w2").await;
    deregister(&c, &f.web, "w3").await;
    assert_eq!(dig(s.dns, &["web.cm.test", "A"]).status, "NXDOMAIN", "no instances, no name");

    // Namespace deletion: the zone is gone, and localplane is no longer authoritative.
    let services = c.list_services().send().await.expect("ListServices");
    for svc in services.services() {
        let id = svc.id().expect("id");
        let instances = c.list_instances().service_id(id).send().await.expect("ListInstances");
        for inst in instances.instances() {
            deregister(&c, id, inst.id().expect("instance id")).await;
        }
        c.delete_service().id(id).send().await.expect("DeleteService");
    }
    set_timing(&s.server, "fast").await;
    let op = c.delete_namespace().id(&f.ns).send().await.expect("DeleteNamespace");
    assert_eq!(dig(s.dns, &["cm.test", "SOA"]).status, "NOERROR", "answered until the deletion succeeds");
    wait_cloudmap_operation(&c, op.operation_id().expect("OperationId")).await;
    assert_eq!(dig(s.dns, &["cm.test", "SOA"]).status, "REFUSED");
    assert_eq!(dig(s.dns, &["web.cm.test", "A"]).status, "REFUSED");
}

#[tokio::test(flavor = "multi_thread")]
async fn dns_large_answers_truncate_over_udp_and_fall_back_to_tcp() {
    let s = dns_server("instant", &[]).await;
    let c = cloudmap(&s.server, Wire::Json);
    let ns = private_ns(&c, "cm.test", "vpc-1", None).await;
    let t = dns_service(&c, &ns, "t", RoutingPolicy::Multivalue, &[(RecordType::Srv, 30)], false).await;
    for i in 0..8 {
        let id = format!("{i}{}", "x".repeat(59));
        register(&c, &t, &id, &[("AWS_INSTANCE_IPV4", &format!("10.1.6.{}", i + 1)), ("AWS_INSTANCE_PORT", "8080")])
            .await;
    }
    // T15: without EDNS the eight SRV records do not fit in 512 bytes.
    let d = dig(s.dns, &["+noedns", "+ignore", "t.cm.test", "SRV"]);
    assert!(d.has_flag("tc"), "{}", d.raw);
    let d = dig(s.dns, &["+tcp", "t.cm.test", "SRV"]);
    assert_eq!((d.answer.len(), d.has_flag("tc")), (8, false), "{}", d.raw);
    let d = dig(s.dns, &["+bufsize=4096", "+ignore", "t.cm.test", "SRV"]);
    assert_eq!((d.answer.len(), d.has_flag("tc")), (8, false), "{}", d.raw);
    // The additional (then the authority) section gives way first: at 900 bytes the answers fit alone.
    let d = dig(s.dns, &["+bufsize=900", "+ignore", "t.cm.test", "SRV"]);
    assert_eq!((d.answer.len(), d.has_flag("tc")), (8, false), "{}", d.raw);
    assert!(d.additional.is_empty() && d.authority.is_empty(), "{}", d.raw);

    // A resolver without EDNS gets TC over UDP and retries over TCP by itself.
    let r = resolver(s.dns, &["udp", "tcp"], |o| o.edns0 = false);
    assert_eq!(lookup(&r, "t.cm.test.", Rt::SRV).await.expect("TCP fallback").len(), 8);
}

#[tokio::test(flavor = "multi_thread")]
async fn dns_survives_malformed_and_odd_queries() {
    let s = dns_server("instant", &[]).await;
    let c = cloudmap(&s.server, Wire::Json);
    cm_fixture(&c).await;
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.expect("udp");
    sock.connect(("127.0.0.1", s.dns)).await.expect("connect");
    let header = |id: u16, flags: u16, qd: u16| {
        let mut h = Vec::new();
        for v in [id, flags, qd, 0, 0, 0] {
            h.extend_from_slice(&v.to_be_bytes());
        }
        h
    };
    let question = |name: &[&[u8]], qtype: u16, class: u16| {
        let mut q = Vec::new();
        for label in name {
            q.push(label.len() as u8);
            q.extend_from_slice(label);
        }
        q.push(0);
        q.extend_from_slice(&qtype.to_be_bytes());
        q.extend_from_slice(&class.to_be_bytes());
        q
    };
    let web: &[&[u8]] = &[b"web", b"cm", b"test"];
    let mut packets: Vec<Vec<u8>> = vec![
        vec![1, 2, 3],                                                                  // shorter than a header
        header(1, 0x0100, 1), // a question promised, none sent
        [header(2, 0x0100, 1), vec![64], vec![b'a'; 64], vec![0, 0, 1, 0, 1]].concat(), // a 64-octet label
        [header(3, 0x0100, 1), vec![0xC0, 12, 0, 1, 0, 1]].concat(), // a compression pointer to itself
        [header(4, 0x0100, 2), question(web, 1, 1), question(web, 1, 1)].concat(), // two questions
        [header(5, 0x1100, 1), question(web, 1, 1)].concat(), // opcode STATUS
        [header(6, 0x8100, 1), question(web, 1, 1)].concat(), // a response, not a query
        [header(7, 0x0100, 1), question(&[&[b'x'; 63][..], &[b'y'; 63], &[b'z'; 63], &[b'w'; 61]], 1, 1)].concat(),
    ];
    // Random bytes from a fixed-seed generator (xorshift), some behind a valid-looking header.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for i in 0..300u16 {
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let len = (next() % 600) as usize;
        let mut p: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if i % 2 == 0 && p.len() > 12 {
            p[..12].copy_from_slice(&header(i, 0x0100, 1));
        }
        packets.push(p);
    }
    let mut buf = [0u8; 4096];
    for p in &packets {
        sock.send(p).await.expect("send");
        // Answer or silence; either way the next valid question must still be answered.
        let _ = tokio::time::timeout(Duration::from_millis(20), sock.recv(&mut buf)).await;
    }
    // Typed checks of the rcodes that matter.
    let two = [header(40, 0x0100, 2), question(web, 1, 1), question(web, 1, 1)].concat();
    assert_eq!(rcode_of(&sock, two).await, (40, 1), "two questions: FORMERR");
    assert_eq!(rcode_of(&sock, [header(41, 0x1100, 1), question(web, 1, 1)].concat()).await, (41, 4), "NOTIMP");
    let chaos = [header(42, 0x0100, 1), question(web, 1, 3)].concat();
    assert_eq!(rcode_of(&sock, chaos).await, (42, 5), "class CHAOS: REFUSED");
    let spf = [header(43, 0x0100, 1), question(web, 99, 1)].concat();
    assert_eq!(rcode_of(&sock, spf).await, (43, 0), "a type no service publishes: NODATA");
    let axfr = [header(44, 0x0000, 1), question(&[b"cm", b"test"], 252, 1)].concat();
    assert_eq!(rcode_of(&sock, axfr).await, (44, 5), "no zone transfers");

    // Garbage over TCP closes that connection, nothing else.
    let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", s.dns)).await.expect("tcp");
    let _ = tcp.write_all(&[0, 5, 1, 2, 3, 4, 5, 0xff, 0xff]).await;
    let _ = tokio::time::timeout(Duration::from_millis(200), tcp.read(&mut buf)).await;

    let d = dig(s.dns, &["web.cm.test", "A"]);
    assert_eq!(d.data("A"), set(&["10.1.0.1", "10.1.0.2"]), "still answering: {}", d.raw);
    assert_eq!(dig(s.dns, &["+tcp", "web.cm.test", "A"]).data("A").len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn dns_same_name_namespaces_prefer_private_then_oldest_and_listen_per_vpc() {
    let dir = temp_dir("dns-views");
    let vpc2 = free_dns_port();
    let config = dir.join("localplane.toml");
    std::fs::write(&config, format!("[[dns_listeners]]\nlisten = \"127.0.0.1:{vpc2}\"\nvpc = \"vpc-2\"\n"))
        .expect("write config");
    let s = dns_server("instant", &["--config", config.to_str().expect("utf-8 path")]).await;
    let c = cloudmap(&s.server, Wire::Json);
    // A public namespace first, then the private one of vpc-1, then vpc-2's.
    for (ns, ip) in [
        (public_ns(&c, "dup.test").await, "10.9.0.1"),
        (private_ns(&c, "dup.test", "vpc-1", None).await, "10.9.1.1"),
        (private_ns(&c, "dup.test", "vpc-2", None).await, "10.9.2.1"),
    ] {
        let web = dns_service(&c, &ns, "web", RoutingPolicy::Multivalue, &[(RecordType::A, 60)], false).await;
        register(&c, &web, "i1", &[("AWS_INSTANCE_IPV4", ip)]).await;
    }
    // The default listener sees all three: private beats public, then the oldest private wins.
    assert_eq!(dig(s.dns, &["web.dup.test", "A"]).data("A"), set(&["10.9.1.1"]));
    // vpc-2's listener sees its private namespace and the public one.
    assert_eq!(dig(vpc2, &["web.dup.test", "A"]).data("A"), set(&["10.9.2.1"]));
    // A public namespace has its own four name servers and a 60 s default SOA TTL.
    let public = c.create_public_dns_namespace().name("only-public.test").send().await.expect("public");
    wait_cloudmap_operation(&c, public.operation_id().expect("OperationId")).await;
    let d = dig(vpc2, &["only-public.test", "SOA"]);
    assert_eq!(d.answer[0].ttl, 60, "{}", d.raw);
    assert_eq!(dig(vpc2, &["only-public.test", "NS"]).data("NS").len(), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn dns_listen_on_a_taken_port_fails_only_when_asked_for() {
    // An address the user chose must bind.
    let held = std::net::UdpSocket::bind("127.0.0.1:0").expect("hold a port");
    let port = held.local_addr().expect("addr").port();
    let http = free_dns_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_localplane"))
        .args(["serve", "--ephemeral", "--listen", &format!("127.0.0.1:{http}")])
        .args(["--dns-listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start localplane");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "serve kept running on a taken DNS port");
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr).expect("stderr");
    assert!(!status.success());
    assert!(stderr.contains("cannot listen for DNS") && stderr.contains("--dns-listen"), "{stderr}");
    drop(held);

    // The built-in default gives way: with 127.0.0.1:8053 taken (by us, or by anyone), serve runs.
    let _default_held = std::net::UdpSocket::bind("127.0.0.1:8053");
    let http = free_dns_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_localplane"))
        .args(["serve", "--ephemeral", "--listen", &format!("127.0.0.1:{http}")])
        .env_remove("LOCALPLANE_DNS_LISTEN")
        .env("LOCALPLANE_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start localplane");
    let deadline = Instant::now() + Duration::from_secs(20);
    let healthy = loop {
        if let Ok(r) = reqwest::get(format!("http://127.0.0.1:{http}/_localplane/health")).await {
            break r.status().is_success();
        }
        if Instant::now() > deadline || child.try_wait().ok().flatten().is_some() {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(healthy, "serve must start without DNS when the default DNS port is taken");
}

// ---------------------------------------------------------------------------------------------
// Health checks
// ---------------------------------------------------------------------------------------------

/// A tiny HTTP server that answers every request with the current status code and keeps the
/// request heads it received.
struct HttpEndpoint {
    addr: SocketAddr,
    status: Arc<AtomicU16>,
    requests: Arc<Mutex<Vec<(u16, String)>>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl HttpEndpoint {
    async fn start(ip: &str, status: u16) -> HttpEndpoint {
        let listener = tokio::net::TcpListener::bind((ip, 0)).await.expect("bind the test HTTP server");
        let mut e = HttpEndpoint {
            addr: listener.local_addr().expect("addr"),
            status: Arc::new(AtomicU16::new(status)),
            requests: Arc::new(Mutex::new(Vec::new())),
            task: None,
        };
        e.serve(listener);
        e
    }

    fn serve(&mut self, listener: tokio::net::TcpListener) {
        let (status, requests) = (self.status.clone(), self.requests.clone());
        self.task = Some(tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let (status, requests) = (status.clone(), requests.clone());
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16_384 {
                        match tokio::time::timeout(Duration::from_secs(2), conn.read(&mut buf)).await {
                            Ok(Ok(n)) if n > 0 => head.extend_from_slice(&buf[..n]),
                            _ => return,
                        }
                    }
                    let code = status.load(Ordering::SeqCst);
                    if let Ok(mut r) = requests.lock() {
                        r.push((code, String::from_utf8_lossy(&head).into_owned()));
                    }
                    let reply = format!("HTTP/1.1 {code} Test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                    let _ = conn.write_all(reply.as_bytes()).await;
                    let _ = conn.shutdown().await;
                });
            }
        }));
    }

    fn set_status(&self, code: u16) {
        self.status.store(code, Ordering::SeqCst);
    }

    /// Stops listening: probes now get "connection refused".
    async fn stop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = t.await;
        }
    }

    /// Listens again on the same address.
    async fn restart(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        let listener = loop {
            match tokio::net::TcpListener::bind(self.addr).await {
                Ok(l) => break l,
                Err(e) => assert!(Instant::now() < deadline, "rebinding {}: {e}", self.addr),
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        self.serve(listener);
    }

    fn served(&self, code: u16) -> usize {
        self.requests.lock().map(|r| r.iter().filter(|(c, _)| *c == code).count()).unwrap_or(0)
    }

    fn last_request(&self) -> String {
        self.requests.lock().ok().and_then(|r| r.last().map(|(_, h)| h.clone())).unwrap_or_default()
    }
}

fn health_check(t: HealthCheckType, path: Option<&str>, threshold: i32) -> HealthCheckConfig {
    let mut b = HealthCheckConfig::builder().r#type(t).failure_threshold(threshold);
    if let Some(p) = path {
        b = b.resource_path(p);
    }
    b.build().expect("health check config")
}

#[tokio::test(flavor = "multi_thread")]
async fn health_http_checks_drive_the_status_discovery_and_dns() {
    let s = dns_server("instant", &["--health-check-interval", "200ms"]).await;
    let c = cloudmap(&s.server, Wire::Json);
    let mut s1 = HttpEndpoint::start("127.0.0.1", 200).await;
    let s2 = HttpEndpoint::start("127.0.0.2", 503).await;
    let ns = public_ns(&c, "pub.test").await;
    let site = c
        .create_service()
        .name("site")
        .namespace_id(&ns)
        .dns_config(
            DnsConfig::builder()
                .routing_policy(RoutingPolicy::Multivalue)
                .dns_records(DnsRecord::builder().r#type(RecordType::A).ttl(5).build().expect("record"))
                .build()
                .expect("dns config"),
        )
        .health_check_config(health_check(HealthCheckType::Http, Some("/healthz"), 2))
        .send()
        .await
        .expect("CreateService")
        .service
        .and_then(|s| s.id)
        .expect("id");
    let p1 = s1.addr.port().to_string();
    let p2 = s2.addr.port().to_string();
    register(&c, &site, "s1", &[("AWS_INSTANCE_IPV4", "127.0.0.1"), ("AWS_INSTANCE_PORT", &p1)]).await;
    register(&c, &site, "s2", &[("AWS_INSTANCE_IPV4", "127.0.0.2"), ("AWS_INSTANCE_PORT", &p2)]).await;
    let site_a = || dig(s.dns, &["site.pub.test", "A"]).data("A");

    // The first verdicts: s1 answers 200, s2 503.
    wait_health(&c, &site, "s1", "HEALTHY").await;
    wait_health(&c, &site, "s2", "UNHEALTHY").await;
    assert_eq!(site_a(), set(&["127.0.0.1"]));
    assert_eq!(discover(&c, "pub.test", "site", HealthStatusFilter::Healthy).await, set(&["s1"]));
    assert_eq!(discover(&c, "pub.test", "site", HealthStatusFilter::Unhealthy).await, set(&["s2"]));
    let req = s1.last_request();
    assert!(req.starts_with("GET /healthz HTTP/1.1\r\n"), "{req}");
    assert!(req.contains(&format!("Host: site.pub.test:{p1}\r\n")), "{req}");
    assert!(req.contains("User-Agent: Amazon-Route53-Health-Check-Service"), "{req}");

    // s1 starts failing: UNHEALTHY only after FailureThreshold (2) failed probes.
    s1.set_status(500);
    wait_health(&c, &site, "s1", "UNHEALTHY").await;
    assert!(s1.served(500) >= 2, "flipped after {} failed probe(s)", s1.served(500));
    // Every instance unhealthy: DNS fails open, DiscoverInstances(HEALTHY) is empty.
    assert_eq!(site_a(), set(&["127.0.0.1", "127.0.0.2"]));
    assert!(discover(&c, "pub.test", "site", HealthStatusFilter::Healthy).await.is_empty());
    assert_eq!(discover(&c, "pub.test", "site", HealthStatusFilter::HealthyOrElseAll).await, set(&["s1", "s2"]));

    // Back to 200, then stopped altogether, then restarted.
    s1.set_status(200);
    wait_health(&c, &site, "s1", "HEALTHY").await;
    assert_eq!(site_a(), set(&["127.0.0.1"]));
    s1.stop().await;
    wait_health(&c, &site, "s1", "UNHEALTHY").await;
    s1.restart().await;
    wait_health(&c, &site, "s1", "HEALTHY").await;
    s2.set_status(302); // 3xx is healthy and not followed
    wait_health(&c, &site, "s2", "HEALTHY").await;
    assert_eq!(site_a(), set(&["127.0.0.1", "127.0.0.2"]));

    // Deregistered instances are no longer probed.
    deregister(&c, &site, "s2").await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let before = s2.served(302);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(s2.served(302), before, "probes stop with the deregistration");
}

#[tokio::test(flavor = "multi_thread")]
async fn health_tcp_and_https_checks() {
    let s = dns_server("instant", &["--health-check-interval", "200ms"]).await;
    let c = cloudmap(&s.server, Wire::Json);
    let ns = http_ns(&c, "checks").await;
    let svc = |name: &'static str, check: HealthCheckConfig| {
        let c = c.clone();
        let ns = ns.clone();
        async move {
            c.create_service()
                .name(name)
                .namespace_id(&ns)
                .health_check_config(check)
                .send()
                .await
                .expect("CreateService")
                .service
                .and_then(|s| s.id)
                .expect("id")
        }
    };
    // TCP: a listening socket is healthy; once it is closed, UNHEALTHY after one failure.
    let tcp_svc = svc("db", health_check(HealthCheckType::Tcp, None, 1)).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port().to_string();
    let accept = tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            drop(conn);
        }
    });
    register(&c, &tcp_svc, "db1", &[("AWS_INSTANCE_IPV4", "127.0.0.1"), ("AWS_INSTANCE_PORT", &port)]).await;
    wait_health(&c, &tcp_svc, "db1", "HEALTHY").await;
    assert_eq!(discover(&c, "checks", "db", HealthStatusFilter::Healthy).await, set(&["db1"]));
    accept.abort();
    let _ = accept.await;
    wait_health(&c, &tcp_svc, "db1", "UNHEALTHY").await;
    assert!(discover(&c, "checks", "db", HealthStatusFilter::Healthy).await.is_empty());

    // HTTPS against a plain-HTTP server: the TLS handshake fails, so the instance is unhealthy.
    let plain = HttpEndpoint::start("127.0.0.1", 200).await;
    let https_svc = svc("web", health_check(HealthCheckType::Https, None, 1)).await;
    let port = plain.addr.port().to_string();
    register(&c, &https_svc, "w1", &[("AWS_INSTANCE_IPV4", "127.0.0.1"), ("AWS_INSTANCE_PORT", &port)]).await;
    wait_health(&c, &https_svc, "w1", "UNHEALTHY").await;
    // Re-registering the instance elsewhere starts its check over.
    let http_svc = svc("api", health_check(HealthCheckType::Http, None, 1)).await;
    register(&c, &http_svc, "a1", &[("AWS_INSTANCE_IPV4", "127.0.0.1"), ("AWS_INSTANCE_PORT", "1")]).await;
    wait_health(&c, &http_svc, "a1", "UNHEALTHY").await;
    register(&c, &http_svc, "a1", &[("AWS_INSTANCE_IPV4", "127.0.0.1"), ("AWS_INSTANCE_PORT", &port)]).await;
    wait_health(&c, &http_svc, "a1", "HEALTHY").await;
    assert!(plain.last_request().starts_with("GET / HTTP/1.1\r\n"), "ResourcePath defaults to /");
    assert!(plain.last_request().contains(&format!("Host: 127.0.0.1:{port}\r\n")), "HTTP namespaces: Host is the IP");
}

/// A DNS server probing every 200 ms (with `extra` flags), a client, and a service of a public
/// namespace with an HTTP health check that flips after one probe.
async fn probing(extra: &[&str]) -> (DnsServer, sd::Client, String) {
    let args: Vec<&str> = ["--health-check-interval", "200ms"].into_iter().chain(extra.iter().copied()).collect();
    let s = dns_server("instant", &args).await;
    let c = cloudmap(&s.server, Wire::Json);
    let ns = public_ns(&c, "probe.test").await;
    let web = c
        .create_service()
        .name("web")
        .namespace_id(&ns)
        .health_check_config(health_check(HealthCheckType::Http, Some("/"), 1))
        .send()
        .await
        .expect("CreateService")
        .service
        .and_then(|s| s.id)
        .expect("id");
    (s, c, web)
}

#[tokio::test(flavor = "multi_thread")]
async fn health_checks_refuse_the_host_itself_and_follow_the_allow_list() {
    let endpoint = HttpEndpoint::start("127.0.0.1", 200).await;
    let port = endpoint.addr.port().to_string();
    let own = [("AWS_INSTANCE_IPV4", "127.0.0.1"), ("AWS_INSTANCE_PORT", port.as_str())];

    // By default: 0.0.0.0 reaches this host's own listeners (here the endpoint on 127.0.0.1), so it
    // is refused, not probed; the instance at the endpoint's own address is healthy.
    let (s, c, web) = probing(&[]).await;
    register(&c, &web, "own", &own).await;
    register(&c, &web, "host", &[("AWS_INSTANCE_IPV4", "0.0.0.0"), ("AWS_INSTANCE_PORT", &port)]).await;
    wait_health(&c, &web, "own", "HEALTHY").await;
    wait_health(&c, &web, "host", "UNHEALTHY").await;
    drop(s);

    // With an allow-list, only its ranges are probed.
    let (_s, c, web) = probing(&["--health-check-allowed-cidrs", "10.0.0.0/8"]).await;
    register(&c, &web, "own", &own).await;
    wait_health(&c, &web, "own", "UNHEALTHY").await;
    let (_s, c, web) = probing(&["--health-check-allowed-cidrs", "127.0.0.0/8"]).await;
    register(&c, &web, "own", &own).await;
    wait_health(&c, &web, "own", "HEALTHY").await;
}
