//! In-process tests of the rules for namespaces shared across accounts: an owner O shares a
//! namespace with a consumer C (through the RAM grant index, as an accepted share leaves it), an
//! outsider X has no share; each test a story of the reference's matrix.

use super::*;
use crate::engine::{StoppedClock, Timing, TimingProfile};
use crate::model::servicediscovery::Api as _;
use crate::store::{memory::Memory, Store};
use std::collections::{BTreeMap, BTreeSet};

const O: &str = "111111111111";
const C: &str = "222222222222";
const X: &str = "333333333333";
const REGION: &str = "us-east-1";

fn cloud_map() -> CloudMap {
    let store = Store::new(Arc::new(Memory::new()));
    let engine = Engine::new(store, Arc::new(StoppedClock::at(1_750_000_000_000)), Timing::new(TimingProfile::Instant));
    engine.register(SERVICE, Arc::new(driver::CloudMapDriver::default()));
    CloudMap::new(engine, Quotas::default())
}

fn as_(account: &str) -> RequestContext {
    RequestContext {
        account: account.into(),
        region: REGION.into(),
        request_id: "test".into(),
        protocol: Protocol::AwsJson11,
    }
}

fn ns_arn(id: &str) -> String {
    format!("arn:aws:servicediscovery:{REGION}:{O}:namespace/{id}")
}

/// Shares (or, with `to` empty, stops sharing) O's namespace `ns` through share `s1`.
async fn share(cm: &CloudMap, ns: &str, to: &[&str]) {
    let grants: BTreeSet<(String, String)> = to.iter().map(|c| (c.to_string(), ns_arn(ns))).collect();
    cm.engine.store().write(move |tx| crate::ram::grants::sync_share(tx, REGION, O, "s1", grants)).await.unwrap();
}

/// O's HTTP namespace `name`, created and active; its id.
async fn owner_namespace(cm: &CloudMap, name: &str) -> String {
    let input = m::CreateHttpNamespaceRequest { name: name.into(), ..Default::default() };
    let op = cm.create_http_namespace(&as_(O), input).await.unwrap().operation_id.unwrap();
    let got = m::GetOperationRequest { operation_id: op, ..Default::default() };
    let op = cm.get_operation(&as_(O), got).await.unwrap().operation.unwrap();
    assert_eq!(op.status, Some(m::OperationStatus::Success));
    op.targets.unwrap()["NAMESPACE"].clone()
}

fn code(r: Result<impl std::fmt::Debug, ApiError>) -> &'static str {
    r.expect_err("an error").shape.name
}

async fn create_service(cm: &CloudMap, who: &str, ns: &str, name: &str) -> Result<m::Service, ApiError> {
    let input = m::CreateServiceRequest { name: name.into(), namespace_id: Some(ns.into()), ..Default::default() };
    Ok(cm.create_service(&as_(who), input).await?.service.unwrap())
}

async fn register(cm: &CloudMap, who: &str, srv: &str, id: &str) -> Result<String, ApiError> {
    let input = m::RegisterInstanceRequest {
        service_id: srv.into(),
        instance_id: id.into(),
        attributes: BTreeMap::from([("k".to_string(), "v".to_string())]),
        ..Default::default()
    };
    Ok(cm.register_instance(&as_(who), input).await?.operation_id.unwrap())
}

async fn get_operation(cm: &CloudMap, who: &str, id: &str, owner: Option<&str>) -> Result<m::OperationShape, ApiError> {
    let input = m::GetOperationRequest { operation_id: id.into(), owner_account: owner.map(str::to_string) };
    Ok(cm.get_operation(&as_(who), input).await?.operation.unwrap())
}

async fn discover(cm: &CloudMap, who: &str, ns: &str, srv: &str, owner: Option<&str>) -> Result<usize, ApiError> {
    let input = m::DiscoverInstancesRequest {
        namespace_name: ns.into(),
        service_name: srv.into(),
        owner_account: owner.map(str::to_string),
        ..Default::default()
    };
    Ok(cm.discover_instances(&as_(who), input).await?.instances.unwrap_or_default().len())
}

#[tokio::test]
async fn a_consumer_works_in_a_shared_namespace_by_arn_and_the_accounts_say_who_is_who() {
    let cm = cloud_map();
    let ns = owner_namespace(&cm, "shared").await;
    // Before the share: the ARN is refused, the bare id is not found.
    let get = |id: String| m::GetNamespaceRequest { id };
    assert_eq!(code(cm.get_namespace(&as_(C), get(ns_arn(&ns))).await), "AccessDeniedException");
    assert_eq!(code(cm.get_namespace(&as_(C), get(ns.clone())).await), "NamespaceNotFound");
    share(&cm, &ns, &[C]).await;
    let got = cm.get_namespace(&as_(C), get(ns_arn(&ns))).await.unwrap().namespace.unwrap();
    assert_eq!(got.resource_owner.as_deref(), Some(O));
    assert_eq!(code(cm.get_namespace(&as_(C), get(ns.clone())).await), "NamespaceNotFound", "bare id: own only");
    assert_eq!(code(cm.get_namespace(&as_(X), get(ns_arn(&ns))).await), "AccessDeniedException");

    // C creates a service: filed with O's account in its ARN, created by C.
    assert_eq!(code(create_service(&cm, C, &ns, "web").await), "NamespaceNotFound", "bare id");
    let srv = create_service(&cm, C, &ns_arn(&ns), "web").await.unwrap();
    let srv_arn = srv.arn.clone().unwrap();
    assert!(srv_arn.starts_with(&format!("arn:aws:servicediscovery:{REGION}:{O}:service/srv-")), "{srv_arn}");
    assert_eq!((srv.resource_owner.as_deref(), srv.created_by_account.as_deref()), (Some(O), Some(C)));
    assert_eq!(srv.namespace_id.as_deref(), Some(ns.as_str()));
    assert_eq!(code(create_service(&cm, O, &ns, "web").await), "ServiceAlreadyExists", "names are per namespace");
    let tagged = m::CreateServiceRequest {
        name: "tagged".into(),
        namespace_id: Some(ns_arn(&ns)),
        tags: Some(vec![m::Tag { key: "k".into(), value: "v".into() }]),
        ..Default::default()
    };
    assert_eq!(code(cm.create_service(&as_(C), tagged).await), "AccessDeniedException");
    // O sees it by bare id; C only by ARN.
    let srv_id = srv.id.clone().unwrap();
    let by = |id: &str| m::GetServiceRequest { id: id.into() };
    assert_eq!(
        cm.get_service(&as_(O), by(&srv_id)).await.unwrap().service.unwrap().created_by_account.as_deref(),
        Some(C)
    );
    assert_eq!(code(cm.get_service(&as_(C), by(&srv_id)).await), "ServiceNotFound");
    assert!(cm.get_service(&as_(C), by(&srv_arn)).await.is_ok());

    // C registers: the operation is O's, asked for by C.
    let op = register(&cm, C, &srv_arn, "i-1").await.unwrap();
    assert_eq!(code(get_operation(&cm, C, &op, None).await), "OperationNotFound");
    let seen = get_operation(&cm, C, &op, Some(O)).await.unwrap();
    assert_eq!((seen.owner_account.as_deref(), seen.type_), (Some(O), Some(m::OperationType::RegisterInstance)));
    assert_eq!(seen.status, Some(m::OperationStatus::Success));
    assert!(get_operation(&cm, O, &op, None).await.is_ok(), "the owner reads operations of its namespace");
    assert_eq!(code(get_operation(&cm, X, &op, Some(O)).await), "OperationNotFound");
    let inst = m::GetInstanceRequest { service_id: srv_arn.clone(), instance_id: "i-1".into() };
    let got = cm.get_instance(&as_(C), inst).await.unwrap();
    assert_eq!(got.resource_owner.as_deref(), Some(O));
    assert_eq!(got.instance.unwrap().created_by_account.as_deref(), Some(C));

    // Discovery: with OwnerAccount for C, plain for O; not for X.
    assert_eq!(discover(&cm, C, "shared", "web", Some(O)).await.unwrap(), 1);
    assert_eq!(code(discover(&cm, C, "shared", "web", None).await), "NamespaceNotFound");
    assert_eq!(discover(&cm, O, "shared", "web", None).await.unwrap(), 1);
    assert_eq!(code(discover(&cm, X, "shared", "web", Some(O)).await), "NamespaceNotFound");

    // ListOperations: what each asked for.
    let listed = |who: &'static str| {
        let cm = cm.clone();
        async move {
            let out = cm.list_operations(&as_(who), m::ListOperationsRequest::default()).await.unwrap();
            out.operations.unwrap().into_iter().map(|o| o.id.unwrap()).collect::<Vec<_>>()
        }
    };
    assert_eq!(listed(C).await, vec![op.clone()]);
    assert!(!listed(O).await.contains(&op), "the owner does not list what C asked for");
}

#[tokio::test]
async fn a_consumer_may_not_change_the_namespace_or_what_others_made() {
    let cm = cloud_map();
    let ns = owner_namespace(&cm, "shared").await;
    share(&cm, &ns, &[C]).await;
    let owners = create_service(&cm, O, &ns, "owners").await.unwrap();
    let owners_arn = owners.arn.clone().unwrap();
    register(&cm, O, &owners.id.clone().unwrap(), "i-o").await.unwrap();

    let update = m::UpdateHttpNamespaceRequest {
        id: ns_arn(&ns),
        namespace: m::HttpNamespaceChange { description: "d".into() },
        ..Default::default()
    };
    assert_eq!(code(cm.update_http_namespace(&as_(C), update).await), "AccessDeniedException");
    let delete = m::DeleteNamespaceRequest { id: ns_arn(&ns) };
    assert_eq!(code(cm.delete_namespace(&as_(C), delete).await), "AccessDeniedException");
    let tag =
        m::TagResourceRequest { resource_arn: ns_arn(&ns), tags: vec![m::Tag { key: "k".into(), value: "v".into() }] };
    assert_eq!(code(cm.tag_resource(&as_(C), tag).await), "AccessDeniedException");
    let list_tags = m::ListTagsForResourceRequest { resource_arn: ns_arn(&ns) };
    assert_eq!(code(cm.list_tags_for_resource(&as_(C), list_tags).await), "AccessDeniedException");

    // O's service: C reads it and registers into it, but may not delete it or O's instance.
    assert!(cm.get_service(&as_(C), m::GetServiceRequest { id: owners_arn.clone() }).await.is_ok());
    let del = m::DeleteServiceRequest { id: owners_arn.clone() };
    assert_eq!(code(cm.delete_service(&as_(C), del).await), "AccessDeniedException");
    let attrs = m::UpdateServiceAttributesRequest {
        service_id: owners_arn.clone(),
        attributes: BTreeMap::from([("a".to_string(), "b".to_string())]),
    };
    assert_eq!(code(cm.update_service_attributes(&as_(C), attrs).await), "AccessDeniedException");
    let dereg = m::DeregisterInstanceRequest { service_id: owners_arn.clone(), instance_id: "i-o".into() };
    assert_eq!(code(cm.deregister_instance(&as_(C), dereg).await), "AccessDeniedException");
    assert_eq!(code(register(&cm, C, &owners_arn, "i-o").await), "AccessDeniedException", "not C's to replace");
    register(&cm, C, &owners_arn, "i-c").await.unwrap();
    let dereg = m::DeregisterInstanceRequest { service_id: owners_arn.clone(), instance_id: "i-c".into() };
    assert!(cm.deregister_instance(&as_(C), dereg).await.is_ok(), "its own instance");

    // The owner deletes anything in its namespace, C's services and instances included.
    let c_srv = create_service(&cm, C, &ns_arn(&ns), "consumers").await.unwrap();
    let c_id = c_srv.id.clone().unwrap();
    register(&cm, C, &c_srv.arn.clone().unwrap(), "i-1").await.unwrap();
    let dereg = m::DeregisterInstanceRequest { service_id: c_id.clone(), instance_id: "i-1".into() };
    cm.deregister_instance(&as_(O), dereg).await.unwrap();
    cm.delete_service(&as_(O), m::DeleteServiceRequest { id: c_id }).await.unwrap();
}

#[tokio::test]
async fn update_service_is_refused_while_the_service_holds_other_accounts_instances() {
    let cm = cloud_map();
    let input = m::CreatePublicDnsNamespaceRequest { name: "shared.example.com".into(), ..Default::default() };
    let op = cm.create_public_dns_namespace(&as_(O), input).await.unwrap().operation_id.unwrap();
    let ns = get_operation(&cm, O, &op, None).await.unwrap().targets.unwrap()["NAMESPACE"].clone();
    share(&cm, &ns, &[C]).await;
    let input = m::CreateServiceRequest {
        name: "api".into(),
        dns_config: Some(m::DnsConfig {
            namespace_id: Some(ns.clone()),
            routing_policy: None,
            dns_records: vec![m::DnsRecord { type_: m::RecordType::A, ttl: 60 }],
        }),
        ..Default::default()
    };
    let srv = cm.create_service(&as_(O), input).await.unwrap().service.unwrap();
    let (srv_id, srv_arn) = (srv.id.unwrap(), srv.arn.unwrap());
    let update = |id: &str| m::UpdateServiceRequest {
        id: id.into(),
        service: m::ServiceChange { description: Some("new".into()), ..Default::default() },
    };
    cm.update_service(&as_(O), update(&srv_id)).await.expect("only O's instances (none)");
    let input = m::RegisterInstanceRequest {
        service_id: srv_arn.clone(),
        instance_id: "i-c".into(),
        attributes: BTreeMap::from([("AWS_INSTANCE_IPV4".to_string(), "10.0.0.1".to_string())]),
        ..Default::default()
    };
    cm.register_instance(&as_(C), input).await.unwrap();
    assert_eq!(code(cm.update_service(&as_(O), update(&srv_id)).await), "InvalidInput");
    assert_eq!(code(cm.update_service(&as_(C), update(&srv_arn)).await), "AccessDeniedException", "not C's service");
}

#[tokio::test]
async fn lists_merge_own_and_shared_and_follow_resource_owner_and_revocation_hides_without_deleting() {
    let cm = cloud_map();
    let ns = owner_namespace(&cm, "shared").await;
    share(&cm, &ns, &[C]).await;
    // C owns a namespace of the same name: without OwnerAccount that one answers.
    let input = m::CreateHttpNamespaceRequest { name: "shared".into(), ..Default::default() };
    cm.create_http_namespace(&as_(C), input).await.unwrap();
    let srv = create_service(&cm, C, &ns_arn(&ns), "web").await.unwrap();
    let srv_arn = srv.arn.clone().unwrap();
    register(&cm, C, &srv_arn, "i-1").await.unwrap();
    assert_eq!(code(discover(&cm, C, "shared", "web", None).await), "ServiceNotFound", "its own namespace answered");

    let namespaces = |who: &'static str, owner: Option<&'static str>| {
        let cm = cm.clone();
        async move {
            let filters = owner.map(|o| {
                vec![m::NamespaceFilter {
                    name: m::NamespaceFilterName::ResourceOwner,
                    values: vec![o.into()],
                    condition: None,
                }]
            });
            let mut out = Vec::new();
            let mut token = None;
            loop {
                let input =
                    m::ListNamespacesRequest { next_token: token, max_results: Some(1), filters: filters.clone() };
                let page = cm.list_namespaces(&as_(who), input).await.unwrap();
                out.extend(page.namespaces.unwrap().into_iter().map(|n| n.resource_owner.unwrap()));
                token = page.next_token;
                if token.is_none() {
                    return out;
                }
            }
        }
    };
    assert_eq!(namespaces(C, None).await, vec![C.to_string(), O.to_string()], "own first, then shared, page by page");
    assert_eq!(namespaces(C, Some("SELF")).await, vec![C.to_string()]);
    assert_eq!(namespaces(C, Some("OTHER_ACCOUNTS")).await, vec![O.to_string()]);
    assert_eq!(namespaces(O, None).await, vec![O.to_string()]);

    let services = |who: &'static str, filter: Option<(m::ServiceFilterName, String)>| {
        let cm = cm.clone();
        async move {
            let filters = filter.map(|(name, v)| vec![m::ServiceFilter { name, values: vec![v], condition: None }]);
            let input = m::ListServicesRequest { filters, ..Default::default() };
            let page = cm.list_services(&as_(who), input).await.unwrap();
            page.services.unwrap().into_iter().map(|s| s.created_by_account.unwrap()).collect::<Vec<_>>()
        }
    };
    assert_eq!(services(C, None).await, vec![C.to_string()]);
    assert_eq!(services(C, Some((m::ServiceFilterName::ResourceOwner, "SELF".into()))).await, Vec::<String>::new());
    assert_eq!(services(C, Some((m::ServiceFilterName::NamespaceId, ns_arn(&ns)))).await, vec![C.to_string()]);
    assert_eq!(services(O, Some((m::ServiceFilterName::ResourceOwner, "SELF".into()))).await, vec![C.to_string()]);

    // The share ends: C is cut off, nothing is deleted, and it all comes back with the share.
    share(&cm, &ns, &[]).await;
    assert!(services(C, None).await.is_empty());
    assert_eq!(namespaces(C, None).await, vec![C.to_string()]);
    let get = m::GetServiceRequest { id: srv_arn.clone() };
    assert_eq!(code(cm.get_service(&as_(C), get.clone()).await), "AccessDeniedException");
    let dereg = m::DeregisterInstanceRequest { service_id: srv_arn.clone(), instance_id: "i-1".into() };
    assert_eq!(code(cm.deregister_instance(&as_(C), dereg).await), "AccessDeniedException");
    assert_eq!(code(discover(&cm, C, "shared", "web", Some(O)).await), "NamespaceNotFound");
    assert_eq!(discover(&cm, O, "shared", "web", None).await.unwrap(), 1, "still in the owner's answers");
    let ops = cm.list_operations(&as_(C), m::ListOperationsRequest::default()).await.unwrap();
    assert_eq!(ops.operations.unwrap().len(), 1, "only its own namespace's CREATE_NAMESPACE");
    share(&cm, &ns, &[C]).await;
    assert!(cm.get_service(&as_(C), get).await.is_ok());
    assert_eq!(discover(&cm, C, "shared", "web", Some(O)).await.unwrap(), 1);
}

#[tokio::test]
async fn deleting_a_shared_namespace_ends_its_grants() {
    let cm = cloud_map();
    let ns = owner_namespace(&cm, "shared").await;
    share(&cm, &ns, &[C]).await;
    cm.delete_namespace(&as_(O), m::DeleteNamespaceRequest { id: ns.clone() }).await.unwrap();
    let arn = ns_arn(&ns);
    let granted = cm.engine.store().read(move |tx| crate::ram::grants::may_use(tx, REGION, O, C, &arn)).await.unwrap();
    assert!(!granted);
}
