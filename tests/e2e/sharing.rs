//! Cloud Map namespaces shared across accounts through AWS RAM, end to end with aws-sdk-ram and
//! aws-sdk-servicediscovery: an owner O shares a namespace, a consumer C accepts and works in it, an
//! outsider X sees nothing; revoking cuts C off without deleting anything. Each story runs on the
//! in-memory store and on the durable one of the pass (SQLite, or PostgreSQL in the second pass).

use crate::common::*;
use aws_sdk_ram as ram;
use aws_sdk_servicediscovery as sd;
use sd::types::*;
use std::time::{Duration, Instant};

const O: &str = "111111111111";
const C: &str = "222222222222";
const X: &str = "333333333333";

fn ram_as(server: &Server, account: &str) -> ram::Client {
    let conf = ram::Config::builder()
        .behavior_version(ram::config::BehaviorVersion::latest())
        .region(ram::config::Region::new(REGION))
        .credentials_provider(ram::config::Credentials::new(account, "secret", None, None, "test"))
        .endpoint_url(server.endpoint())
        .build();
    ram::Client::from_conf(conf)
}

fn ns_arn(account: &str, id: &str) -> String {
    format!("arn:aws:servicediscovery:{REGION}:{account}:namespace/{id}")
}

async fn namespace(c: &sd::Client, name: &str) -> String {
    let op = c.create_http_namespace().name(name).send().await.expect("CreateHttpNamespace");
    let (op, _) = wait_cloudmap_operation(c, op.operation_id().unwrap()).await;
    assert_eq!(op.status(), Some(&OperationStatus::Success));
    op.targets().unwrap().get(&OperationTargetType::Namespace).unwrap().clone()
}

/// Polls the owner's resource association of `resource` in `share` until it is `want`.
async fn wait_association(owner: &ram::Client, share: &str, resource: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = owner
            .get_resource_share_associations()
            .association_type(ram::types::ResourceShareAssociationType::Resource)
            .resource_share_arns(share)
            .send()
            .await
            .expect("GetResourceShareAssociations");
        let status = out
            .resource_share_associations()
            .iter()
            .find(|a| a.associated_entity() == Some(resource))
            .and_then(|a| a.status())
            .map(|s| s.as_str().to_string());
        if status.as_deref() == Some(want) {
            return;
        }
        assert!(Instant::now() < deadline, "association of {resource} stayed {status:?}, not {want}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// O shares a new HTTP namespace `name` with C, C accepts; returns (namespace id, share ARN).
async fn share_namespace(server: &Server, name: &str) -> (String, String) {
    let (ram_o, ram_c) = (ram_as(server, O), ram_as(server, C));
    let ns = namespace(&cloudmap_as(server, Wire::Json, O), name).await;
    let arn = ns_arn(O, &ns);
    let share = ram_o
        .create_resource_share()
        .name("cloud-map")
        .resource_arns(&arn)
        .principals(C)
        .send()
        .await
        .expect("CreateResourceShare")
        .resource_share
        .unwrap();
    let share_arn = share.resource_share_arn().unwrap().to_string();
    let invitations = ram_c
        .get_resource_share_invitations()
        .resource_share_arns(&share_arn)
        .send()
        .await
        .expect("GetResourceShareInvitations");
    let invitation = &invitations.resource_share_invitations()[0];
    assert_eq!(invitation.sender_account_id(), Some(O));
    assert_eq!(invitation.status().map(|s| s.as_str()), Some("PENDING"));
    let accepted = ram_c
        .accept_resource_share_invitation()
        .resource_share_invitation_arn(invitation.resource_share_invitation_arn().unwrap())
        .send()
        .await
        .expect("AcceptResourceShareInvitation");
    assert_eq!(accepted.resource_share_invitation().and_then(|i| i.status()).map(|s| s.as_str()), Some("ACCEPTED"));
    wait_association(&ram_o, &share_arn, &arn, "ASSOCIATED").await;
    (ns, share_arn)
}

async fn story(server: Server) {
    let (sd_o, sd_c, sd_x) =
        (cloudmap_as(&server, Wire::Json, O), cloudmap_as(&server, Wire::Cbor, C), cloudmap_as(&server, Wire::Json, X));
    let (ns, share_arn) = share_namespace(&server, "platform").await;
    let arn = ns_arn(O, &ns);

    // The consumer reads the namespace by ARN; the bare id is only ever its own.
    let got = sd_c.get_namespace().id(&arn).send().await.expect("GetNamespace by ARN").namespace.unwrap();
    assert_eq!(got.resource_owner(), Some(O));
    let err = sd_c.get_namespace().id(&ns).send().await.unwrap_err();
    assert_eq!(code(&err), "NamespaceNotFound");
    let err = sd_x.get_namespace().id(&arn).send().await.unwrap_err();
    assert_eq!(code(&err), "AccessDeniedException");
    let listed = sd_c
        .list_namespaces()
        .filters(
            NamespaceFilter::builder()
                .name(NamespaceFilterName::ResourceOwner)
                .values("OTHER_ACCOUNTS")
                .condition(FilterCondition::Eq)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(listed.namespaces().iter().map(|n| n.id().unwrap()).collect::<Vec<_>>(), vec![ns.as_str()]);

    // C creates a service and registers an instance in it: filed under O, made by C.
    let srv =
        sd_c.create_service().name("web").namespace_id(&arn).send().await.expect("CreateService").service.unwrap();
    let srv_arn = srv.arn().unwrap().to_string();
    assert!(srv_arn.contains(&format!(":{O}:service/")), "{srv_arn}");
    assert_eq!((srv.resource_owner(), srv.created_by_account()), (Some(O), Some(C)));
    let op = sd_c
        .register_instance()
        .service_id(&srv_arn)
        .instance_id("i-1")
        .attributes("AWS_INSTANCE_IPV4", "10.0.0.7")
        .send()
        .await
        .expect("RegisterInstance")
        .operation_id
        .unwrap();
    let err = sd_c.get_operation().operation_id(&op).send().await.unwrap_err();
    assert_eq!(code(&err), "OperationNotFound", "a consumer names the owner");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let seen = sd_c.get_operation().operation_id(&op).owner_account(O).send().await.unwrap().operation.unwrap();
        assert_eq!(seen.owner_account(), Some(O));
        if seen.status() == Some(&OperationStatus::Success) {
            break;
        }
        assert!(Instant::now() < deadline, "RegisterInstance did not finish: {seen:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let err = sd_x.get_operation().operation_id(&op).owner_account(O).send().await.unwrap_err();
    assert_eq!(code(&err), "OperationNotFound");
    let inst = sd_c.get_instance().service_id(&srv_arn).instance_id("i-1").send().await.unwrap();
    assert_eq!(inst.resource_owner(), Some(O));
    assert_eq!(inst.instance().unwrap().created_by_account(), Some(C));
    let found = sd_c
        .discover_instances()
        .namespace_name("platform")
        .service_name("web")
        .owner_account(O)
        .send()
        .await
        .expect("DiscoverInstances with OwnerAccount");
    assert_eq!(found.instances().len(), 1);
    let found = sd_o.discover_instances().namespace_name("platform").service_name("web").send().await.unwrap();
    assert_eq!(found.instances().len(), 1, "the owner discovers what C registered");
    let err = sd_x
        .discover_instances()
        .namespace_name("platform")
        .service_name("web")
        .owner_account(O)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NamespaceNotFound");
    // What C may not do: change the namespace, tag.
    let err = sd_c.delete_namespace().id(&arn).send().await.unwrap_err();
    assert_eq!(code(&err), "AccessDeniedException");
    let err = sd_c.list_tags_for_resource().resource_arn(&arn).send().await.unwrap_err();
    assert_eq!(code(&err), "AccessDeniedException");

    // The owner takes the namespace out of the share: C is cut off, nothing is deleted.
    let ram_o = ram_as(&server, O);
    ram_o
        .disassociate_resource_share()
        .resource_share_arn(&share_arn)
        .resource_arns(&arn)
        .send()
        .await
        .expect("DisassociateResourceShare");
    wait_association(&ram_o, &share_arn, &arn, "DISASSOCIATED").await;
    let err = sd_c.get_service().id(&srv_arn).send().await.unwrap_err();
    assert_eq!(code(&err), "AccessDeniedException");
    let err = sd_c.deregister_instance().service_id(&srv_arn).instance_id("i-1").send().await.unwrap_err();
    assert_eq!(code(&err), "AccessDeniedException");
    let err = sd_c
        .discover_instances()
        .namespace_name("platform")
        .service_name("web")
        .owner_account(O)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NamespaceNotFound");
    let kept = sd_o.get_service().id(srv.id().unwrap()).send().await.expect("still there").service.unwrap();
    assert_eq!(kept.created_by_account(), Some(C));
    assert_eq!(kept.instance_count(), Some(1));
}

#[tokio::test]
async fn a_shared_namespace_serves_its_consumer_and_not_the_outsider_in_memory() {
    story(Server::ephemeral("fast").await).await;
}

#[tokio::test]
async fn a_shared_namespace_serves_its_consumer_and_not_the_outsider_durably_across_a_restart() {
    let dir = temp_dir("sharing");
    let mut server = Server::persistent(&dir, "fast").await;
    let (ns, _) = share_namespace(&server, "durable").await;
    server.restart().await;
    let got = cloudmap_as(&server, Wire::Json, C).get_namespace().id(ns_arn(O, &ns)).send().await;
    assert_eq!(got.expect("the share survives a restart").namespace.unwrap().resource_owner(), Some(O));
    drop(server);
    story(Server::persistent(&temp_dir("sharing-story"), "fast").await).await;
}

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

/// `dig +short` against localplane's DNS server.
fn dig_short(port: u16, name: &str, rtype: &str) -> Vec<String> {
    let out = std::process::Command::new("dig")
        .args(["@127.0.0.1", "-p", &port.to_string(), "+norecurse", "+time=3", "+tries=1", "+short", name, rtype])
        .output()
        .expect("run dig: install Debian's bind9-dnsutils (scripts/test does)");
    let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect();
    lines.sort();
    lines
}

#[tokio::test]
async fn instances_a_consumer_registers_answer_in_the_owners_zone() {
    let dns = free_dns_port();
    let listen = format!("127.0.0.1:{dns}");
    let server = Server::ephemeral_with(&["--timing", "instant", "--dns-listen", listen.as_str()]).await;
    let (sd_o, sd_c) = (cloudmap_as(&server, Wire::Json, O), cloudmap_as(&server, Wire::Json, C));
    let op = sd_o.create_public_dns_namespace().name("shared.test").send().await.unwrap();
    let (op, _) = wait_cloudmap_operation(&sd_o, op.operation_id().unwrap()).await;
    let ns = op.targets().unwrap().get(&OperationTargetType::Namespace).unwrap().clone();
    let arn = ns_arn(O, &ns);
    let (ram_o, ram_c) = (ram_as(&server, O), ram_as(&server, C));
    let share = ram_o.create_resource_share().name("dns").resource_arns(&arn).principals(C).send().await.unwrap();
    let share_arn = share.resource_share().unwrap().resource_share_arn().unwrap().to_string();
    let inv = ram_c.get_resource_share_invitations().resource_share_arns(&share_arn).send().await.unwrap();
    let inv_arn = inv.resource_share_invitations()[0].resource_share_invitation_arn().unwrap().to_string();
    ram_c.accept_resource_share_invitation().resource_share_invitation_arn(inv_arn).send().await.unwrap();
    wait_association(&ram_o, &share_arn, &arn, "ASSOCIATED").await;

    let dns_config = DnsConfig::builder()
        .dns_records(DnsRecord::builder().r#type(RecordType::A).ttl(30).build().unwrap())
        .build()
        .unwrap();
    let srv = sd_c.create_service().name("api").namespace_id(&arn).dns_config(dns_config).send().await.unwrap();
    let srv_arn = srv.service().unwrap().arn().unwrap().to_string();
    let op = sd_c
        .register_instance()
        .service_id(&srv_arn)
        .instance_id("i-1")
        .attributes("AWS_INSTANCE_IPV4", "10.9.0.1")
        .send()
        .await
        .unwrap();
    let seen = sd_c.get_operation().operation_id(op.operation_id().unwrap()).owner_account(O).send().await.unwrap();
    assert_eq!(seen.operation().unwrap().status(), Some(&OperationStatus::Success));
    assert_eq!(dig_short(dns, "api.shared.test", "A"), vec!["10.9.0.1".to_string()]);

    // Revoking access leaves the records in the owner's zone.
    ram_o.delete_resource_share().resource_share_arn(&share_arn).send().await.unwrap();
    let err = sd_c.get_service().id(&srv_arn).send().await.unwrap_err();
    assert_eq!(code(&err), "AccessDeniedException");
    assert_eq!(dig_short(dns, "api.shared.test", "A"), vec!["10.9.0.1".to_string()]);
}

#[tokio::test]
async fn ops_list_shows_the_owner_and_the_consumer_that_asked() {
    let server = Server::ephemeral("manual").await;
    let (sd_o, sd_c) = (cloudmap_as(&server, Wire::Json, O), cloudmap_as(&server, Wire::Json, C));
    let op = sd_o.create_http_namespace().name("watched").send().await.unwrap();
    let op = op.operation_id().unwrap().to_string();
    let (status, _) =
        admin(&server, reqwest::Method::POST, &format!("/_localplane/operations/{op}/advance?until=terminal"), None)
            .await;
    assert_eq!(status, 200);
    let ns = sd_o.get_operation().operation_id(&op).send().await.unwrap();
    let ns = ns.operation().unwrap().targets().unwrap().get(&OperationTargetType::Namespace).unwrap().clone();
    let arn = ns_arn(O, &ns);
    let (ram_o, ram_c) = (ram_as(&server, O), ram_as(&server, C));
    let share = ram_o.create_resource_share().name("watched").resource_arns(&arn).principals(C).send().await.unwrap();
    let share_arn = share.resource_share().unwrap().resource_share_arn().unwrap().to_string();
    let inv = ram_c.get_resource_share_invitations().resource_share_arns(&share_arn).send().await.unwrap();
    let inv_arn = inv.resource_share_invitations()[0].resource_share_invitation_arn().unwrap().to_string();
    ram_c.accept_resource_share_invitation().resource_share_invitation_arn(inv_arn).send().await.unwrap();
    // Under `manual` the resource association waits for an advance, like every operation.
    let (status, _) = admin(&server, reqwest::Method::POST, "/_localplane/operations/advance", None).await;
    assert_eq!(status, 200);
    wait_association(&ram_o, &share_arn, &arn, "ASSOCIATED").await;

    let srv = sd_c.create_service().name("web").namespace_id(&arn).send().await.unwrap();
    let srv_arn = srv.service().unwrap().arn().unwrap().to_string();
    let reg = sd_c.register_instance().service_id(&srv_arn).instance_id("i-1").attributes("k", "v").send().await;
    let reg = reg.unwrap();
    let reg = reg.operation_id().unwrap().to_string();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_localplane"))
        .args(["ops", "list", "--endpoint", &server.endpoint()])
        .output()
        .expect("run localplane ops list");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("id: {reg}  account: {O} (asked by {C})")), "{text}");
    let (_, listing) = admin(&server, reqwest::Method::GET, "/_localplane/operations", None).await;
    let row = listing["operations"].as_array().unwrap().iter().find(|o| o["id"] == reg.as_str()).cloned().unwrap();
    assert_eq!((row["account"].as_str(), row["actingAccount"].as_str()), (Some(O), Some(C)));
}
