//! Snapshot compatibility: a snapshot written by an earlier build (`tests/fixtures/snapshot-v2.json`,
//! made by `tests/fixtures/make_snapshot_v2.py`) still loads, and every resource reads back exactly
//! as it was, through both services' SDKs.
#![allow(deprecated)] // HealthCheckCustomConfig.FailureThreshold is deprecated but still on the wire.

use crate::common::*;
use crate::kafkaconnect::kafkaconnect;
use aws_sdk_servicediscovery as sd;
use std::collections::HashMap;

const FIXTURE: &str = include_str!("../fixtures/snapshot-v2.json");

const HTTP_NS: &str = "ns-uxraocgu3ygk47t4";
const PRIVATE_NS: &str = "ns-7x5ihvccworimt3b";
const PUBLIC_NS: &str = "ns-bvyzap4qogenr7jc";
const API: &str = "srv-3p5fw7rbeux6pcpe";
const WEB: &str = "srv-lmqaw5575fvwoxni";
const CHECKED: &str = "srv-yy7qznfk2cupztin";
const BACKEND: &str = "srv-2ywl2rolpmb74d6j";
const FAILED_OP: &str = "7qi2keflfwuldhrgloj4d32z4sto5iuq-mx5d8lv6";
const DEREGISTER_OP: &str = "qq3apwqkxl2ykcmqxe4zcogqdyzeyqpz-mx5d8ly8";
const HTTP_NS_OP: &str = "pmpw35fyoxwszdty2wqqjsxopvf4j26f-mx5d8lt9";
const CONNECTOR: &str =
    "arn:aws:kafkaconnect:us-east-1:123456789012:connector/orders/9e0c59f0-86f2-4d52-8785-6e449a8ebad4-2";
const CONNECTOR_OP: &str = "arn:aws:kafkaconnect:us-east-1:123456789012:connector-operation/orders/9e0c59f0-86f2-4d52-8785-6e449a8ebad4-2/27a26cca-31cc-4b80-83a5-41a9e225db79";
const PLUGIN: &str =
    "arn:aws:kafkaconnect:us-east-1:123456789012:custom-plugin/debezium/0f60a8a5-f55b-4c19-a570-8029f90db680-2";
const WORKERS: &str =
    "arn:aws:kafkaconnect:us-east-1:123456789012:worker-configuration/workers/a6e74253-794b-41c4-ac51-f3ec6218c77d-2";

fn namespace_arn(id: &str) -> String {
    format!("arn:aws:servicediscovery:us-east-1:123456789012:namespace/{id}")
}

fn service_arn(id: &str) -> String {
    format!("arn:aws:servicediscovery:us-east-1:123456789012:service/{id}")
}

/// The DNS records of a service as (type, TTL).
fn records(s: &sd::types::Service) -> Vec<(String, i64)> {
    let dns = s.dns_config().expect("a DnsConfig");
    dns.dns_records().iter().map(|r| (r.r#type().as_str().to_string(), r.ttl())).collect()
}

async fn imported_server() -> Server {
    // The fixture's operations were made on 2026-12-02: past the default retention of finished
    // operations (24 h), so this server keeps them forever.
    let server = Server::ephemeral_with(&["--timing", "manual", "--operation-retention", "forever"]).await;
    let fixture: serde_json::Value = serde_json::from_str(FIXTURE).expect("the fixture is JSON");
    let (status, body) = admin(&server, reqwest::Method::PUT, "/_localplane/snapshot", Some(fixture)).await;
    assert_eq!(status, 200, "{body}");
    server
}

#[tokio::test(flavor = "multi_thread")]
async fn cloud_map_reads_back_a_version_2_snapshot() {
    let server = imported_server().await;
    let c = cloudmap(&server, Wire::Json);

    let namespaces = c.list_namespaces().send().await.unwrap();
    let mut by_id: HashMap<String, (String, String)> = HashMap::new();
    for n in namespaces.namespaces() {
        let kind = n.r#type().map(|t| t.as_str().to_string()).unwrap_or_default();
        by_id.insert(n.id().unwrap().to_string(), (n.name().unwrap().to_string(), kind));
    }
    assert_eq!(by_id.len(), 3, "{by_id:?}");
    assert_eq!(by_id[HTTP_NS], ("fixture-http".to_string(), "HTTP".to_string()));
    assert_eq!(by_id[PRIVATE_NS], ("fixture.internal".to_string(), "DNS_PRIVATE".to_string()));
    assert_eq!(by_id[PUBLIC_NS], ("fixture.example.com".to_string(), "DNS_PUBLIC".to_string()));

    let http = c.get_namespace().id(HTTP_NS).send().await.unwrap().namespace.unwrap();
    assert_eq!(http.description(), Some("the HTTP one"));
    assert_eq!(http.creator_request_id(), Some("crid-http"));
    assert_eq!(http.service_count(), Some(1));
    let props = http.properties().unwrap();
    assert_eq!(props.http_properties().unwrap().http_name(), Some("fixture-http"));
    let private = c.get_namespace().id(PRIVATE_NS).send().await.unwrap().namespace.unwrap();
    let dns = private.properties().unwrap().dns_properties().unwrap();
    assert_eq!(dns.soa().map(|s| s.ttl()), Some(60));
    assert_eq!(dns.hosted_zone_id(), Some("ZLL368KMWUZU2CPXM8EG5"));
    let public = c.get_namespace().id(PUBLIC_NS).send().await.unwrap().namespace.unwrap();
    assert_eq!(public.service_count(), Some(2));

    let tags = c.list_tags_for_resource().resource_arn(namespace_arn(HTTP_NS)).send().await.unwrap();
    let tags: Vec<(&str, &str)> = tags.tags().iter().map(|t| (t.key(), t.value())).collect();
    assert_eq!(tags, [("team", "core"), ("env", "test")]);
    let tags = c.list_tags_for_resource().resource_arn(service_arn(BACKEND)).send().await.unwrap();
    assert_eq!(tags.tags().iter().map(|t| (t.key(), t.value())).collect::<Vec<_>>(), [("tier", "2")]);

    let api = c.get_service().id(API).send().await.unwrap().service.unwrap();
    assert_eq!(api.r#type().map(|t| t.as_str()), Some("DNS_HTTP"));
    assert_eq!(api.description(), Some("A and SRV"));
    assert_eq!(api.dns_config().unwrap().routing_policy().map(|p| p.as_str()), Some("MULTIVALUE"));
    assert_eq!(records(&api), [("A".to_string(), 30), ("SRV".to_string(), 40)]);
    assert_eq!(api.health_check_custom_config().and_then(|h| h.failure_threshold()), Some(1));
    assert!(api.health_check_config().is_none());
    assert_eq!(api.instance_count(), Some(2));

    let web = c.get_service().id(WEB).send().await.unwrap().service.unwrap();
    assert_eq!(web.dns_config().unwrap().routing_policy().map(|p| p.as_str()), Some("WEIGHTED"));
    assert_eq!(records(&web), [("CNAME".to_string(), 300)]);

    let checked = c.get_service().id(CHECKED).send().await.unwrap().service.unwrap();
    let check = checked.health_check_config().unwrap();
    assert_eq!(check.r#type().as_str(), "HTTP");
    assert_eq!(check.resource_path(), Some("/health"));
    assert_eq!(check.failure_threshold(), Some(2));
    assert_eq!(records(&checked), [("A".to_string(), 60)]);

    let backend = c.get_service().id(BACKEND).send().await.unwrap().service.unwrap();
    assert_eq!(backend.r#type().map(|t| t.as_str()), Some("HTTP"));
    assert!(backend.dns_config().is_none());
    assert_eq!(backend.instance_count(), Some(1));
    let attrs = c.get_service_attributes().service_id(BACKEND).send().await.unwrap().service_attributes.unwrap();
    let attrs = attrs.attributes().unwrap();
    assert_eq!(attrs.len(), 2);
    assert_eq!((attrs["owner"].as_str(), attrs["version"].as_str()), ("fixtures", "7"));

    let services = c.list_services().send().await.unwrap();
    assert_eq!(services.services().len(), 4);

    let health = c.get_instances_health_status().service_id(API).send().await.unwrap();
    let health: Vec<(&str, &str)> = health.status().unwrap().iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut health = health;
    health.sort();
    assert_eq!(health, [("api-1", "HEALTHY"), ("api-2", "UNHEALTHY")]);
    let health = c.get_instances_health_status().service_id(BACKEND).send().await.unwrap();
    assert_eq!(health.status().unwrap()["backend-1"].as_str(), "UNKNOWN");

    let api1 = c.get_instance().service_id(API).instance_id("api-1").send().await.unwrap().instance.unwrap();
    assert_eq!(api1.creator_request_id(), Some("crid-api-1"));
    let a = api1.attributes().unwrap();
    assert_eq!((a["AWS_INSTANCE_IPV4"].as_str(), a["AWS_INSTANCE_PORT"].as_str()), ("10.0.0.1", "8080"));
    assert_eq!(a["zone"], "a");
    let listed = c.list_instances().service_id(BACKEND).send().await.unwrap();
    let ids: Vec<&str> = listed.instances().iter().filter_map(|i| i.id()).collect();
    assert_eq!(ids, ["backend-1"]);
    let gone = c.get_instance().service_id(BACKEND).instance_id("backend-gone").send().await.unwrap_err();
    assert_eq!(code(&gone), "InstanceNotFound");

    let found = c
        .discover_instances()
        .namespace_name("fixture.internal")
        .service_name("api")
        .health_status(sd::types::HealthStatusFilter::All)
        .send()
        .await
        .unwrap();
    let mut found: Vec<(String, String)> = found
        .instances()
        .iter()
        .map(|i| (i.instance_id().unwrap().to_string(), i.health_status().unwrap().as_str().to_string()))
        .collect();
    found.sort();
    assert_eq!(found, [("api-1".into(), "HEALTHY".into()), ("api-2".into(), "UNHEALTHY".into())]);
    let web = c.discover_instances().namespace_name("fixture.example.com").service_name("web").send().await.unwrap();
    let web1 = &web.instances()[0];
    assert_eq!(web1.attributes().unwrap()["AWS_INSTANCE_CNAME"], "web.example.net");

    let failed = c.get_operation().operation_id(FAILED_OP).send().await.unwrap().operation.unwrap();
    assert_eq!(failed.status().map(|s| s.as_str()), Some("FAIL"));
    assert_eq!(failed.r#type().map(|t| t.as_str()), Some("CREATE_NAMESPACE"));
    assert_eq!(failed.error_code(), Some("X"));
    assert!(failed.error_message().unwrap().starts_with("Injected fault"));
    let dereg = c.get_operation().operation_id(DEREGISTER_OP).send().await.unwrap().operation.unwrap();
    assert_eq!(dereg.status().map(|s| s.as_str()), Some("SUCCESS"));
    assert_eq!(dereg.r#type().map(|t| t.as_str()), Some("DEREGISTER_INSTANCE"));
    let targets = dereg.targets().unwrap();
    assert_eq!(targets.get(&sd::types::OperationTargetType::Instance).map(String::as_str), Some("backend-gone"));
    assert_eq!(targets.get(&sd::types::OperationTargetType::Service).map(String::as_str), Some(BACKEND));

    let ops = c.list_operations().send().await.unwrap();
    let ops: Vec<(&str, &str)> =
        ops.operations().iter().map(|o| (o.id().unwrap(), o.status().unwrap().as_str())).collect();
    assert_eq!(ops.len(), 10, "{ops:?}");
    assert_eq!(ops[0], (DEREGISTER_OP, "SUCCESS"));
    assert_eq!(ops[9], (HTTP_NS_OP, "SUCCESS"));
    assert_eq!(ops.iter().filter(|(_, s)| *s == "FAIL").count(), 1);

    // The idempotency token of the HTTP namespace still replays its operation.
    let again = c
        .create_http_namespace()
        .name("fixture-http")
        .description("the HTTP one")
        .creator_request_id("crid-http")
        .tags(sd::types::Tag::builder().key("team").value("core").build().unwrap())
        .tags(sd::types::Tag::builder().key("env").value("test").build().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(again.operation_id(), Some(HTTP_NS_OP));
}

#[tokio::test(flavor = "multi_thread")]
async fn msk_connect_reads_back_a_version_2_snapshot() {
    let server = imported_server().await;
    let k = kafkaconnect(&server);

    let connector = k.describe_connector().connector_arn(CONNECTOR).send().await.unwrap();
    assert_eq!(connector.connector_name(), Some("orders"));
    assert_eq!(connector.connector_state().map(|s| s.as_str()), Some("RUNNING"));
    assert_eq!(connector.current_version(), Some("O8MH4W0SJ37N6W"));
    assert_eq!(connector.kafka_connect_version(), Some("2.7.1"));
    let config = connector.connector_configuration().unwrap();
    assert_eq!(config["tasks.max"], "2");
    let capacity = connector.capacity().unwrap().provisioned_capacity().unwrap();
    assert_eq!((capacity.mcu_count(), capacity.worker_count()), (1, 1));
    assert_eq!(connector.plugins()[0].custom_plugin().unwrap().custom_plugin_arn(), Some(PLUGIN));
    assert_eq!(connector.worker_configuration().unwrap().worker_configuration_arn(), Some(WORKERS));

    let tags = k.list_tags_for_resource().resource_arn(CONNECTOR).send().await.unwrap();
    let tags = tags.tags().unwrap();
    assert_eq!(tags.len(), 2);
    assert_eq!((tags["app"].as_str(), tags["owner"].as_str()), ("orders", "data"));

    let op = k.describe_connector_operation().connector_operation_arn(CONNECTOR_OP).send().await.unwrap();
    assert_eq!(op.connector_operation_type().map(|t| t.as_str()), Some("UPDATE_CONNECTOR_CONFIGURATION"));
    assert_eq!(op.connector_operation_state().map(|s| s.as_str()), Some("UPDATE_COMPLETE"));
    let steps: Vec<(&str, &str)> = op
        .operation_steps()
        .iter()
        .map(|s| (s.step_type().unwrap().as_str(), s.step_state().unwrap().as_str()))
        .collect();
    assert_eq!(
        steps,
        [
            ("INITIALIZE_UPDATE", "COMPLETED"),
            ("UPDATE_CONNECTOR_CONFIGURATION", "COMPLETED"),
            ("VALIDATE_UPDATE", "COMPLETED"),
            ("FINALIZE_UPDATE", "COMPLETED"),
        ]
    );
    assert_eq!(op.origin_connector_configuration().unwrap()["tasks.max"], "1");
    assert_eq!(op.target_connector_configuration().unwrap()["tasks.max"], "2");
    let listed = k.list_connector_operations().connector_arn(CONNECTOR).send().await.unwrap();
    assert_eq!(listed.connector_operations().len(), 1);

    let plugin = k.describe_custom_plugin().custom_plugin_arn(PLUGIN).send().await.unwrap();
    assert_eq!(plugin.custom_plugin_state().map(|s| s.as_str()), Some("ACTIVE"));
    let revision = plugin.latest_revision().unwrap();
    assert_eq!(revision.revision(), 1);
    assert_eq!(revision.content_type().map(|t| t.as_str()), Some("ZIP"));
    let workers = k.describe_worker_configuration().worker_configuration_arn(WORKERS).send().await.unwrap();
    assert_eq!(workers.name(), Some("workers"));
    assert_eq!(workers.worker_configuration_state().map(|s| s.as_str()), Some("ACTIVE"));
}
