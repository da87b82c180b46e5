//! In-process tests of Cloud Map's rules: a [`CloudMap`] over an in-memory store and an engine on a
//! stopped clock, called through the `m::Api` trait (no HTTP), each test a user's story.

use super::*;
use crate::engine::{FaultRule, StoppedClock, Timing, TimingProfile};
use crate::model::servicediscovery::Api as _;
use crate::store::{memory::Memory, Store};
use std::collections::BTreeMap;

const NOW: i64 = 1_750_000_000_000;

/// A backend whose operations end before the response (`instant`) or wait for an advance (`manual`).
fn cloud_map(profile: TimingProfile) -> CloudMap {
    cloud_map_with(profile, Quotas::default())
}

fn cloud_map_with(profile: TimingProfile, quotas: Quotas) -> CloudMap {
    cloud_map_on(Arc::new(StoppedClock::at(NOW)), profile, quotas)
}

fn cloud_map_on(clock: Arc<StoppedClock>, profile: TimingProfile, quotas: Quotas) -> CloudMap {
    let store = Store::new(Arc::new(Memory::new()));
    let engine = Engine::new(store, clock, Timing::new(profile));
    engine.register(SERVICE, Arc::new(driver::CloudMapDriver::default()));
    CloudMap::new(engine, quotas)
}

fn caller() -> RequestContext {
    RequestContext {
        account: "123456789012".into(),
        region: "us-east-1".into(),
        request_id: "test".into(),
        protocol: Protocol::AwsJson11,
    }
}

fn code(err: &ApiError) -> &'static str {
    err.shape.name
}

fn field<'e>(err: &'e ApiError, name: &str) -> Option<&'e str> {
    err.fields.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str())
}

async fn operation(cm: &CloudMap, id: &str) -> m::OperationShape {
    let input = m::GetOperationRequest { operation_id: id.into(), ..Default::default() };
    cm.get_operation(&caller(), input).await.expect("the operation").operation.expect("an operation")
}

/// Creates an HTTP namespace; returns (operation id, namespace id).
async fn http_namespace(cm: &CloudMap, name: &str) -> (String, String) {
    let input = m::CreateHttpNamespaceRequest { name: name.into(), ..Default::default() };
    let op = cm.create_http_namespace(&caller(), input).await.expect("created").operation_id.expect("an operation");
    let ns = operation(cm, &op).await.targets.expect("targets")["NAMESPACE"].clone();
    (op, ns)
}

async fn http_service(cm: &CloudMap, ns: &str, name: &str, custom_health: bool) -> String {
    let input = m::CreateServiceRequest {
        name: name.into(),
        namespace_id: Some(ns.into()),
        health_check_custom_config: custom_health.then(m::HealthCheckCustomConfig::default),
        ..Default::default()
    };
    cm.create_service(&caller(), input).await.expect("a service").service.and_then(|s| s.id).expect("an id")
}

async fn register(cm: &CloudMap, srv: &str, id: &str) -> Result<String, ApiError> {
    let input = m::RegisterInstanceRequest {
        service_id: srv.into(),
        instance_id: id.into(),
        attributes: BTreeMap::from([("color".to_string(), "blue".to_string())]),
        ..Default::default()
    };
    Ok(cm.register_instance(&caller(), input).await?.operation_id.expect("an operation"))
}

#[tokio::test]
async fn a_created_namespace_is_visible_once_its_operation_succeeds() {
    let cm = cloud_map(TimingProfile::Manual);
    let input = m::CreateHttpNamespaceRequest { name: "orders".into(), ..Default::default() };
    let op = cm.create_http_namespace(&caller(), input).await.unwrap().operation_id.unwrap();
    let submitted = operation(&cm, &op).await;
    assert_eq!(submitted.status, Some(m::OperationStatus::Submitted));
    assert_eq!(submitted.type_, Some(m::OperationType::CreateNamespace));
    assert_eq!(submitted.create_date, Some(crate::wire::shape::Timestamp(NOW)));
    let ns = submitted.targets.unwrap()["NAMESPACE"].clone();
    let hidden = cm.get_namespace(&caller(), m::GetNamespaceRequest { id: ns.clone() }).await.unwrap_err();
    assert_eq!(code(&hidden), "NamespaceNotFound");

    cm.engine.advance_all().await.unwrap();
    assert_eq!(operation(&cm, &op).await.status, Some(m::OperationStatus::Pending));
    cm.engine.advance_all().await.unwrap();
    let done = operation(&cm, &op).await;
    assert_eq!(done.status, Some(m::OperationStatus::Success));
    let got = cm.get_namespace(&caller(), m::GetNamespaceRequest { id: ns }).await.unwrap().namespace.unwrap();
    assert_eq!(got.name.as_deref(), Some("orders"));
    assert_eq!(got.type_, Some(m::NamespaceType::Http));
}

#[tokio::test]
async fn an_http_name_is_taken_once() {
    let cm = cloud_map(TimingProfile::Instant);
    let (_, first) = http_namespace(&cm, "orders").await;
    let input = m::CreateHttpNamespaceRequest { name: "orders".into(), ..Default::default() };
    let err = cm.create_http_namespace(&caller(), input).await.unwrap_err();
    assert_eq!(code(&err), "NamespaceAlreadyExists");
    assert_eq!(field(&err, "NamespaceId"), Some(first.as_str()));
}

#[tokio::test]
async fn a_creator_request_id_replays_its_request_and_refuses_another() {
    let cm = cloud_map(TimingProfile::Instant);
    let request = |description: &str| m::CreateHttpNamespaceRequest {
        name: "orders".into(),
        creator_request_id: Some("once".into()),
        description: Some(description.into()),
        ..Default::default()
    };
    let first = cm.create_http_namespace(&caller(), request("a")).await.unwrap().operation_id;
    let again = cm.create_http_namespace(&caller(), request("a")).await.unwrap().operation_id;
    assert_eq!(first, again);
    let other = cm.create_http_namespace(&caller(), request("b")).await.unwrap_err();
    assert_eq!(code(&other), "InvalidInput");
    assert!(other.message.contains("already used for a different request"), "{}", other.message);
}

#[tokio::test]
async fn a_service_with_instances_cannot_be_deleted() {
    let cm = cloud_map(TimingProfile::Instant);
    let (_, ns) = http_namespace(&cm, "orders").await;
    let srv = http_service(&cm, &ns, "api", false).await;
    register(&cm, &srv, "i-1").await.unwrap();
    let err = cm.delete_service(&caller(), m::DeleteServiceRequest { id: srv.clone() }).await.unwrap_err();
    assert_eq!(code(&err), "ResourceInUse");
    let input = m::DeregisterInstanceRequest { service_id: srv.clone(), instance_id: "i-1".into() };
    let op = cm.deregister_instance(&caller(), input).await.unwrap().operation_id.unwrap();
    assert_eq!(operation(&cm, &op).await.type_, Some(m::OperationType::DeregisterInstance));
    cm.delete_service(&caller(), m::DeleteServiceRequest { id: srv.clone() }).await.unwrap();
    let gone = cm.get_service(&caller(), m::GetServiceRequest { id: srv }).await.unwrap_err();
    assert_eq!(code(&gone), "ServiceNotFound");
    let deleted = cm.delete_namespace(&caller(), m::DeleteNamespaceRequest { id: ns }).await;
    assert!(deleted.is_ok(), "an empty namespace can be deleted: {:?}", deleted.err().map(|e| e.message));
}

#[tokio::test]
async fn a_service_holds_at_most_its_quota_of_instances() {
    let quotas = Quotas { instances_per_service: 2, ..Quotas::default() };
    let cm = cloud_map_with(TimingProfile::Instant, quotas);
    let (_, ns) = http_namespace(&cm, "orders").await;
    let srv = http_service(&cm, &ns, "api", false).await;
    register(&cm, &srv, "i-1").await.unwrap();
    register(&cm, &srv, "i-2").await.unwrap();
    let err = register(&cm, &srv, "i-3").await.unwrap_err();
    assert_eq!(code(&err), "ResourceLimitExceeded");
    assert_eq!(err.message, format!("Service {srv} already has 2 instances"));
    register(&cm, &srv, "i-2").await.expect("re-registering an instance is no new instance");
}

#[tokio::test]
async fn custom_health_needs_a_custom_health_config() {
    let cm = cloud_map(TimingProfile::Instant);
    let (_, ns) = http_namespace(&cm, "orders").await;
    let plain = http_service(&cm, &ns, "plain", false).await;
    let custom = http_service(&cm, &ns, "custom", true).await;
    for srv in [&plain, &custom] {
        register(&cm, srv, "i-1").await.unwrap();
    }
    let set = |srv: &str| m::UpdateInstanceCustomHealthStatusRequest {
        service_id: srv.into(),
        instance_id: "i-1".into(),
        status: m::CustomHealthStatus::Unhealthy,
    };
    let err = cm.update_instance_custom_health_status(&caller(), set(&plain)).await.unwrap_err();
    assert_eq!(code(&err), "CustomHealthNotFound");
    cm.update_instance_custom_health_status(&caller(), set(&custom)).await.unwrap();
    let health = |srv: &str| m::GetInstancesHealthStatusRequest { service_id: srv.into(), ..Default::default() };
    let status = cm.get_instances_health_status(&caller(), health(&custom)).await.unwrap().status.unwrap();
    assert_eq!(status["i-1"], m::HealthStatus::Unhealthy);
    let status = cm.get_instances_health_status(&caller(), health(&plain)).await.unwrap().status.unwrap();
    assert_eq!(status["i-1"], m::HealthStatus::Unknown, "a service without health checks reports UNKNOWN");
}

#[tokio::test]
async fn list_namespaces_filters_before_it_pages() {
    let cm = cloud_map(TimingProfile::Instant);
    for name in ["a-1", "b-1", "a-2", "a-3"] {
        http_namespace(&cm, name).await;
    }
    let list = |token: Option<String>| m::ListNamespacesRequest {
        filters: Some(vec![m::NamespaceFilter {
            name: m::NamespaceFilterName::Name,
            values: vec!["a-".into()],
            condition: Some(m::FilterCondition::BeginsWith),
        }]),
        max_results: Some(2),
        next_token: token,
    };
    let first = cm.list_namespaces(&caller(), list(None)).await.unwrap();
    assert_eq!(first.namespaces.as_ref().unwrap().len(), 2);
    let token = first.next_token.expect("a third namespace follows");
    let second = cm.list_namespaces(&caller(), list(Some(token))).await.unwrap();
    assert_eq!(second.namespaces.as_ref().unwrap().len(), 1);
    assert_eq!(second.next_token, None);
    let mut names: Vec<String> =
        first.namespaces.into_iter().chain(second.namespaces).flatten().filter_map(|n| n.name).collect();
    names.sort();
    assert_eq!(names, ["a-1", "a-2", "a-3"]);

    let err = cm.list_namespaces(&caller(), list(Some("not base64!".into()))).await.unwrap_err();
    assert_eq!(err.message, "The NextToken is not valid; pass the value from the previous response");
    let foreign = crate::paging::token_after("sd/123456789012/us-east-1/srv/srv-x");
    let err = cm.list_namespaces(&caller(), list(Some(foreign))).await.unwrap_err();
    assert_eq!(err.message, "The NextToken does not belong to this request");
}

#[tokio::test]
async fn a_resource_carries_at_most_its_quota_of_tags() {
    let quotas = Quotas { tags_per_resource: 2, ..Quotas::default() };
    let cm = cloud_map_with(TimingProfile::Instant, quotas);
    let (_, ns) = http_namespace(&cm, "orders").await;
    let arn = format!("arn:aws:servicediscovery:us-east-1:123456789012:namespace/{ns}");
    let tag = |k: &str| m::Tag { key: k.into(), value: "v".into() };
    let input = m::TagResourceRequest { resource_arn: arn.clone(), tags: vec![tag("a"), tag("b")] };
    cm.tag_resource(&caller(), input).await.unwrap();
    let input = m::TagResourceRequest { resource_arn: arn.clone(), tags: vec![tag("b"), tag("c")] };
    let err = cm.tag_resource(&caller(), input).await.unwrap_err();
    assert_eq!(code(&err), "TooManyTagsException");
    assert_eq!(field(&err, "ResourceName"), Some(arn.as_str()));
    let input = m::TagResourceRequest { resource_arn: arn.clone(), tags: vec![tag("aws:x")] };
    assert_eq!(code(&cm.tag_resource(&caller(), input).await.unwrap_err()), "InvalidInput");
    let listed = cm.list_tags_for_resource(&caller(), m::ListTagsForResourceRequest { resource_arn: arn }).await;
    let keys: Vec<String> = listed.unwrap().tags.unwrap().into_iter().map(|t| t.key).collect();
    assert_eq!(keys, ["a", "b"], "a refused change leaves the tags as they were");
}

#[tokio::test]
async fn a_fault_rule_fails_the_next_matching_operation_with_its_code() {
    let cm = cloud_map(TimingProfile::Instant);
    let rule: FaultRule = serde_json::from_value(serde_json::json!({
        "service": "servicediscovery", "operationType": "CREATE_NAMESPACE", "errorCode": "ROUTE_53_DOWN",
        "errorMessage": "Route 53 is down"
    }))
    .unwrap();
    cm.engine.add_fault(rule).await.unwrap();
    let input = m::CreateHttpNamespaceRequest { name: "orders".into(), ..Default::default() };
    let op = cm.create_http_namespace(&caller(), input).await.unwrap().operation_id.unwrap();
    let failed = operation(&cm, &op).await;
    assert_eq!(failed.status, Some(m::OperationStatus::Fail));
    assert_eq!(failed.error_code.as_deref(), Some("ROUTE_53_DOWN"));
    assert_eq!(failed.error_message.as_deref(), Some("Route 53 is down"));
    let listed = cm.list_namespaces(&caller(), m::ListNamespacesRequest::default()).await.unwrap();
    assert!(listed.namespaces.unwrap().is_empty(), "a failed creation leaves no namespace");
    let (_, ns) = http_namespace(&cm, "orders").await;
    assert!(ns.starts_with("ns-"), "the name is free again and the rule is used up");
}

#[tokio::test]
async fn list_operations_filters_by_status_and_type() {
    let clock = Arc::new(StoppedClock::at(NOW));
    let cm = cloud_map_on(clock.clone(), TimingProfile::Instant, Quotas::default());
    let (create, ns) = http_namespace(&cm, "orders").await;
    let srv = http_service(&cm, &ns, "api", false).await;
    clock.advance(1_000);
    let registered = register(&cm, &srv, "i-1").await.unwrap();
    let filter = |name, values: &[&str]| m::OperationFilter {
        name,
        values: values.iter().map(|v| v.to_string()).collect(),
        condition: Some(m::FilterCondition::In),
    };
    let list = |filters| m::ListOperationsRequest { filters: Some(filters), ..Default::default() };
    let ids = |r: m::ListOperationsResponse| -> Vec<String> {
        r.operations.unwrap().into_iter().filter_map(|o| o.id).collect()
    };
    let all = list(vec![filter(m::OperationFilterName::Status, &["SUCCEED"])]);
    assert_eq!(ids(cm.list_operations(&caller(), all).await.unwrap()), [registered.clone(), create.clone()]);
    let types = list(vec![filter(m::OperationFilterName::Type, &["CREATE_NAMESPACE"])]);
    assert_eq!(ids(cm.list_operations(&caller(), types).await.unwrap()), [create]);
    let bad = list(vec![filter(m::OperationFilterName::Type, &["MAKE_COFFEE"])]);
    let err = cm.list_operations(&caller(), bad).await.unwrap_err();
    assert_eq!(err.message, "MAKE_COFFEE is not an operation type");
}

#[tokio::test]
async fn under_fast_timing_an_operation_turns_pending_on_time_and_its_end_is_its_only_step() {
    let clock = Arc::new(StoppedClock::at(NOW));
    let cm = cloud_map_on(clock.clone(), TimingProfile::Fast, Quotas::default());
    let input = m::CreateHttpNamespaceRequest { name: "orders".into(), ..Default::default() };
    let op = cm.create_http_namespace(&caller(), input).await.unwrap().operation_id.unwrap();
    assert_eq!(operation(&cm, &op).await.status, Some(m::OperationStatus::Submitted));
    assert!(encoded(&cm, &op).await.contains("\"SUBMITTED\""), "not kept while it will change");
    assert_eq!(cm.engine.advance_due_operations().await.unwrap(), 0, "nothing is due yet");

    clock.advance(500);
    let pending = operation(&cm, &op).await;
    assert_eq!(pending.status, Some(m::OperationStatus::Pending));
    assert_eq!(pending.update_date, Some(crate::wire::shape::Timestamp(NOW + 500)));
    assert!(encoded(&cm, &op).await.contains("\"PENDING\""));
    let listed = |status: &str| m::ListOperationsRequest {
        filters: Some(vec![m::OperationFilter {
            name: m::OperationFilterName::Status,
            values: vec![status.to_string()],
            condition: None,
        }]),
        ..Default::default()
    };
    let found = cm.list_operations(&caller(), listed("PENDING")).await.unwrap().operations.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].status, Some(m::OperationStatus::Pending));
    assert!(cm.list_operations(&caller(), listed("SUBMITTED")).await.unwrap().operations.unwrap().is_empty());
    assert_eq!(cm.engine.advance_due_operations().await.unwrap(), 0, "turning PENDING is not a step");

    clock.advance(1_500);
    assert_eq!(cm.engine.advance_due_operations().await.unwrap(), 1, "the end is the one step");
    let done = operation(&cm, &op).await;
    assert_eq!(done.status, Some(m::OperationStatus::Success));
    assert_eq!(done.update_date, Some(crate::wire::shape::Timestamp(NOW + 2_000)));
    assert!(encoded(&cm, &op).await.contains("\"SUCCESS\""));
}

/// The GetOperation answer as the awsJson1.1 wire carries it.
async fn encoded(cm: &CloudMap, op: &str) -> String {
    let input = m::GetOperationRequest { operation_id: op.into(), ..Default::default() };
    String::from_utf8(cm.get_operation_encoded(&caller(), input, Protocol::AwsJson11).await.unwrap()).unwrap()
}
