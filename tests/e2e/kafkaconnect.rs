//! MSK Connect through `aws-sdk-kafkaconnect` (restJson1): plugins, worker configurations,
//! connectors, their update/pause/resume/restart operations, rollback, paging, errors and restarts.

use crate::common::*;
use aws_sdk_kafkaconnect as kc;
use kc::error::ProvideErrorMetadata as _;
use kc::types::*;
use std::time::{Duration, Instant};

/// A MSK Connect client for `server`, signing as the test account.
pub fn kafkaconnect(server: &Server) -> kc::Client {
    let conf = kc::Config::builder()
        .behavior_version(kc::config::BehaviorVersion::latest())
        .region(kc::config::Region::new(REGION))
        .credentials_provider(kc::config::Credentials::new(ACCOUNT, "secret", None, None, "test"))
        .endpoint_url(server.endpoint())
        .build();
    kc::Client::from_conf(conf)
}

const ROLE: &str = "arn:aws:iam::123456789012:role/msk-connect";
/// `key.converter=org.apache.kafka.connect.json.JsonConverter`, base64-encoded.
const PROPERTIES: &str = "a2V5LmNvbnZlcnRlcj1vcmcuYXBhY2hlLmthZmthLmNvbm5lY3QuanNvbi5Kc29uQ29udmVydGVy";
const WAIT: Duration = Duration::from_secs(20);

fn location(bucket_arn: &str, key: &str) -> CustomPluginLocation {
    CustomPluginLocation::builder()
        .s3_location(S3Location::builder().bucket_arn(bucket_arn).file_key(key).build().unwrap())
        .build()
}

/// Creates a ZIP plugin at a valid location; returns its ARN without waiting.
async fn create_plugin(c: &kc::Client, name: &str) -> String {
    let out = c
        .create_custom_plugin()
        .name(name)
        .content_type(CustomPluginContentType::Zip)
        .location(location("arn:aws:s3:::plugins-bucket", &format!("connectors/{name}.zip")))
        .send()
        .await
        .expect("CreateCustomPlugin");
    out.custom_plugin_arn().unwrap().to_string()
}

async fn wait_plugin(
    c: &kc::Client,
    arn: &str,
    want: CustomPluginState,
) -> kc::operation::describe_custom_plugin::DescribeCustomPluginOutput {
    let deadline = Instant::now() + WAIT;
    loop {
        let d = c.describe_custom_plugin().custom_plugin_arn(arn).send().await.expect("DescribeCustomPlugin");
        if d.custom_plugin_state() == Some(&want) {
            return d;
        }
        assert!(Instant::now() < deadline, "plugin {arn} never became {want:?}: {d:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub(crate) async fn active_plugin(c: &kc::Client, name: &str) -> String {
    let arn = create_plugin(c, name).await;
    wait_plugin(c, &arn, CustomPluginState::Active).await;
    arn
}

fn plugin(arn: &str) -> Plugin {
    Plugin::builder().custom_plugin(CustomPlugin::builder().custom_plugin_arn(arn).revision(1).build().unwrap()).build()
}

fn provisioned(mcu: i32, workers: i32) -> Capacity {
    Capacity::builder()
        .provisioned_capacity(ProvisionedCapacity::builder().mcu_count(mcu).worker_count(workers).build())
        .build()
}

/// A CreateConnector request with everything required, one worker of 1 MCU and `tasks.max=1`.
pub(crate) fn connector_request(
    c: &kc::Client,
    name: &str,
    plugin_arn: &str,
) -> kc::operation::create_connector::builders::CreateConnectorFluentBuilder {
    c.create_connector()
        .connector_name(name)
        .capacity(provisioned(1, 1))
        .connector_configuration("connector.class", "io.confluent.connect.s3.S3SinkConnector")
        .connector_configuration("tasks.max", "1")
        .connector_configuration("topics", "orders")
        .kafka_cluster(
            KafkaCluster::builder()
                .apache_kafka_cluster(
                    ApacheKafkaCluster::builder()
                        .bootstrap_servers("b-1.example:9098")
                        .vpc(Vpc::builder().subnets("subnet-1").security_groups("sg-1").build().unwrap())
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .kafka_cluster_client_authentication(
            KafkaClusterClientAuthentication::builder()
                .authentication_type(KafkaClusterClientAuthenticationType::None)
                .build()
                .unwrap(),
        )
        .kafka_cluster_encryption_in_transit(
            KafkaClusterEncryptionInTransit::builder()
                .encryption_type(KafkaClusterEncryptionInTransitType::Tls)
                .build()
                .unwrap(),
        )
        .kafka_connect_version("2.7.1")
        .plugins(plugin(plugin_arn))
        .service_execution_role_arn(ROLE)
}

pub(crate) type Described = kc::operation::describe_connector::DescribeConnectorOutput;
pub(crate) type DescribedOperation = kc::operation::describe_connector_operation::DescribeConnectorOperationOutput;

/// Polls DescribeConnector until the connector is `want`; returns it and every state seen.
pub(crate) async fn wait_connector(c: &kc::Client, arn: &str, want: ConnectorState) -> (Described, Vec<String>) {
    let deadline = Instant::now() + WAIT;
    let mut seen: Vec<String> = Vec::new();
    loop {
        let d = c.describe_connector().connector_arn(arn).send().await.expect("DescribeConnector");
        let state = d.connector_state().map(|s| s.as_str().to_string()).unwrap_or_default();
        if seen.last() != Some(&state) {
            seen.push(state);
        }
        if d.connector_state() == Some(&want) {
            return (d, seen);
        }
        assert!(Instant::now() < deadline, "connector {arn} never became {want:?}: {seen:?}");
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
}

pub(crate) async fn running_connector(c: &kc::Client, name: &str, plugin_arn: &str) -> Described {
    let created = connector_request(c, name, plugin_arn).send().await.expect("CreateConnector");
    wait_connector(c, created.connector_arn().unwrap(), ConnectorState::Running).await.0
}

/// Polls DescribeConnectorOperation until it has an end time; returns it and every state seen.
pub(crate) async fn wait_operation(c: &kc::Client, arn: &str) -> (DescribedOperation, Vec<String>) {
    let deadline = Instant::now() + WAIT;
    let mut seen: Vec<String> = Vec::new();
    loop {
        let d = c
            .describe_connector_operation()
            .connector_operation_arn(arn)
            .send()
            .await
            .expect("DescribeConnectorOperation");
        let state = d.connector_operation_state().map(|s| s.as_str().to_string()).unwrap_or_default();
        if seen.last() != Some(&state) {
            seen.push(state);
        }
        if d.end_time().is_some() {
            return (d, seen);
        }
        assert!(Instant::now() < deadline, "operation {arn} never ended: {seen:?}");
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
}

/// Polls DescribeConnector until it answers NotFoundException.
async fn wait_connector_gone(c: &kc::Client, arn: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        match c.describe_connector().connector_arn(arn).send().await {
            Err(e) if code(&e) == "NotFoundException" => return,
            Ok(d) => assert_eq!(d.connector_state(), Some(&ConnectorState::Deleting)),
            Err(e) => panic!("DescribeConnector while deleting: {e:?}"),
        }
        assert!(Instant::now() < deadline, "connector {arn} was never deleted");
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
}

fn steps(op: &DescribedOperation) -> Vec<(String, String)> {
    op.operation_steps()
        .iter()
        .map(|s| {
            (
                s.step_type().map(|t| t.as_str().to_string()).unwrap_or_default(),
                s.step_state().map(|t| t.as_str().to_string()).unwrap_or_default(),
            )
        })
        .collect()
}

fn config_value<'a>(d: &'a Described, key: &str) -> Option<&'a str> {
    d.connector_configuration().and_then(|m| m.get(key)).map(String::as_str)
}

/// The user story: plugin → worker configuration → connector → each kind of update, watched through
/// its operation → pause, resume, restart → tags → delete everything.
#[tokio::test(flavor = "multi_thread")]
async fn connector_lifecycle_from_plugin_to_deletion() {
    let server = Server::ephemeral("fast").await;
    let c = kafkaconnect(&server);

    // A custom plugin goes CREATING → ACTIVE and then describes its one revision.
    let plugin_arn = c
        .create_custom_plugin()
        .name("s3-sink")
        .description("Confluent S3 sink")
        .content_type(CustomPluginContentType::Zip)
        .location(location("arn:aws:s3:::plugins-bucket", "connectors/s3-sink.zip"))
        .tags("team", "data")
        .send()
        .await
        .unwrap();
    assert_eq!(plugin_arn.custom_plugin_state(), Some(&CustomPluginState::Creating));
    assert_eq!(plugin_arn.revision(), 1);
    let plugin_arn = plugin_arn.custom_plugin_arn().unwrap().to_string();
    assert!(plugin_arn.starts_with("arn:aws:kafkaconnect:us-east-1:123456789012:custom-plugin/s3-sink/"));
    assert!(plugin_arn.ends_with("-2"));
    let p = wait_plugin(&c, &plugin_arn, CustomPluginState::Active).await;
    let rev = p.latest_revision().expect("latestRevision once ACTIVE");
    assert_eq!(rev.revision(), 1);
    assert_eq!(rev.content_type(), Some(&CustomPluginContentType::Zip));
    let file = rev.file_description().expect("fileDescription");
    assert_eq!(file.file_md5().map(str::len), Some(32));
    assert!(file.file_size() > 0);

    // A worker configuration is ACTIVE at once and keeps its properties as sent.
    let wc = c
        .create_worker_configuration()
        .name("json-converters")
        .properties_file_content(PROPERTIES)
        .send()
        .await
        .unwrap();
    assert_eq!(wc.worker_configuration_state(), Some(&WorkerConfigurationState::Active));
    let wc_arn = wc.worker_configuration_arn().unwrap().to_string();
    let wcd = c.describe_worker_configuration().worker_configuration_arn(&wc_arn).send().await.unwrap();
    assert_eq!(wcd.latest_revision().and_then(|r| r.properties_file_content()), Some(PROPERTIES));
    // GNU base64 wraps its lines (at 76 columns), as the README's `"$(… | base64)"` sends it: line breaks are
    // skipped, as MIME decoders do, and the text is kept as sent.
    let wrapped = format!("{}\n{}\n", &PROPERTIES[..40], &PROPERTIES[40..]);
    let wc = c.create_worker_configuration().name("wrapped").properties_file_content(&wrapped).send().await.unwrap();
    let wcd = c
        .describe_worker_configuration()
        .worker_configuration_arn(wc.worker_configuration_arn().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(wcd.latest_revision().and_then(|r| r.properties_file_content()), Some(wrapped.as_str()));

    // The connector goes CREATING → RUNNING with the service's defaults filled in.
    let created = connector_request(&c, "orders-s3-sink", &plugin_arn).tags("env", "test").send().await.unwrap();
    assert_eq!(created.connector_state(), Some(&ConnectorState::Creating));
    let arn = created.connector_arn().unwrap().to_string();
    let (d, seen) = wait_connector(&c, &arn, ConnectorState::Running).await;
    assert_eq!(seen.first().map(String::as_str), Some("CREATING"), "{seen:?}");
    assert_eq!(d.network_type(), Some(&NetworkType::Ipv4));
    assert!(d.log_delivery().is_none(), "logDelivery is omitted when not supplied");
    assert!(d.worker_configuration().is_none());
    let v1 = d.current_version().unwrap().to_string();
    assert_eq!(v1.len(), 14);
    assert!(v1.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()), "{v1}");
    let ops = c.list_connector_operations().connector_arn(&arn).send().await.unwrap();
    assert!(ops.connector_operations().is_empty(), "creating a connector is not a connector operation");

    // Connector configuration update: watched through every state to UPDATE_COMPLETE.
    let upd = c
        .update_connector()
        .connector_arn(&arn)
        .current_version(&v1)
        .connector_configuration("connector.class", "io.confluent.connect.s3.S3SinkConnector")
        .connector_configuration("tasks.max", "2")
        .connector_configuration("topics", "orders")
        .send()
        .await
        .unwrap();
    assert_eq!(upd.connector_state(), Some(&ConnectorState::Updating));
    let op_arn = upd.connector_operation_arn().unwrap().to_string();
    assert!(op_arn.starts_with(&arn.replace(":connector/", ":connector-operation/")), "{op_arn}");
    let during = c.describe_connector().connector_arn(&arn).send().await.unwrap();
    assert_eq!(config_value(&during, "tasks.max"), Some("1"), "settings apply only at UPDATE_COMPLETE");
    let v2 = during.current_version().unwrap().to_string();
    assert_ne!(v1, v2, "an accepted update issues a new currentVersion");
    let (op, seen) = wait_operation(&c, &op_arn).await;
    assert!(seen.contains(&"UPDATE_IN_PROGRESS".to_string()), "{seen:?}");
    assert_eq!(op.connector_operation_state(), Some(&ConnectorOperationState::UpdateComplete));
    assert_eq!(op.connector_operation_type(), Some(&ConnectorOperationType::UpdateConnectorConfiguration));
    let names: Vec<&str> =
        vec!["INITIALIZE_UPDATE", "UPDATE_CONNECTOR_CONFIGURATION", "VALIDATE_UPDATE", "FINALIZE_UPDATE"];
    assert_eq!(steps(&op), names.iter().map(|n| (n.to_string(), "COMPLETED".to_string())).collect::<Vec<_>>());
    assert_eq!(op.origin_connector_configuration().and_then(|m| m.get("tasks.max")).map(String::as_str), Some("1"));
    assert_eq!(op.target_connector_configuration().and_then(|m| m.get("tasks.max")).map(String::as_str), Some("2"));
    assert!(op.origin_worker_setting().is_none());
    assert!(op.creation_time().is_some() && op.error_info().is_none());
    let (d, _) = wait_connector(&c, &arn, ConnectorState::Running).await;
    assert_eq!(config_value(&d, "tasks.max"), Some("2"));

    // Capacity update: provisioned → auto scaling; the target worker setting is the merged result.
    let auto = CapacityUpdate::builder()
        .auto_scaling(
            AutoScalingUpdate::builder()
                .mcu_count(2)
                .min_worker_count(1)
                .max_worker_count(3)
                .scale_in_policy(ScaleInPolicyUpdate::builder().cpu_utilization_percentage(25).build())
                .scale_out_policy(ScaleOutPolicyUpdate::builder().cpu_utilization_percentage(75).build())
                .build(),
        )
        .build();
    let upd = c.update_connector().connector_arn(&arn).current_version(&v2).capacity(auto).send().await.unwrap();
    let (op, _) = wait_operation(&c, upd.connector_operation_arn().unwrap()).await;
    assert_eq!(op.connector_operation_state(), Some(&ConnectorOperationState::UpdateComplete));
    assert_eq!(op.connector_operation_type(), Some(&ConnectorOperationType::UpdateWorkerSetting));
    assert_eq!(steps(&op)[1].0, "UPDATE_WORKER_SETTING");
    let origin = op.origin_worker_setting().expect("originWorkerSetting");
    let target = op.target_worker_setting().expect("targetWorkerSetting");
    assert_eq!(origin.capacity().and_then(|c| c.provisioned_capacity()).map(|p| p.worker_count()), Some(1));
    assert_eq!(target.capacity().and_then(|c| c.auto_scaling()).map(|a| a.max_worker_count()), Some(3));
    assert_eq!(target.plugins().len(), 1, "unchanged parts are copied from the origin");
    assert!(target.use_default_worker_configuration());
    assert!(op.origin_connector_configuration().is_none());
    let (d, _) = wait_connector(&c, &arn, ConnectorState::Running).await;
    let a = d.capacity().and_then(|c| c.auto_scaling()).expect("autoScaling");
    assert_eq!((a.mcu_count(), a.min_worker_count(), a.max_worker_count()), (2, 1, 3));
    assert_eq!(a.scale_in_policy().map(|p| p.cpu_utilization_percentage()), Some(25));

    // Worker configuration update, then back to the default worker configuration.
    let v3 = d.current_version().unwrap().to_string();
    let wc_update = WorkerConfigurationUpdate::builder().worker_configuration_arn(&wc_arn).revision(1).build().unwrap();
    let upd = c
        .update_connector()
        .connector_arn(&arn)
        .current_version(&v3)
        .worker_configuration(wc_update)
        .send()
        .await
        .unwrap();
    let (op, _) = wait_operation(&c, upd.connector_operation_arn().unwrap()).await;
    assert_eq!(op.connector_operation_state(), Some(&ConnectorOperationState::UpdateComplete));
    let (d, _) = wait_connector(&c, &arn, ConnectorState::Running).await;
    assert_eq!(d.worker_configuration().and_then(|w| w.worker_configuration_arn()), Some(wc_arn.as_str()));
    let err = c.delete_worker_configuration().worker_configuration_arn(&wc_arn).send().await.unwrap_err();
    assert_eq!(code(&err), "BadRequestException", "a worker configuration in use cannot be deleted");
    let v4 = d.current_version().unwrap().to_string();
    let upd = c
        .update_connector()
        .connector_arn(&arn)
        .current_version(&v4)
        .use_default_worker_configuration(true)
        .send()
        .await
        .unwrap();
    wait_operation(&c, upd.connector_operation_arn().unwrap()).await;
    let (d, _) = wait_connector(&c, &arn, ConnectorState::Running).await;
    assert!(d.worker_configuration().is_none());

    // Pause → PAUSED, resume → RUNNING, restart → RUNNING, each its own operation.
    let paused = c.pause_connector().connector_arn(&arn).send().await.unwrap();
    let (op, _) = wait_operation(&c, paused.connector_operation_arn().unwrap()).await;
    assert_eq!(op.connector_operation_state(), Some(&ConnectorOperationState::PauseComplete));
    assert!(op.operation_steps().is_empty());
    wait_connector(&c, &arn, ConnectorState::Paused).await;
    let resumed = c.resume_connector().connector_arn(&arn).send().await.unwrap();
    let (op, _) = wait_operation(&c, resumed.connector_operation_arn().unwrap()).await;
    assert_eq!(op.connector_operation_state(), Some(&ConnectorOperationState::ResumeComplete));
    wait_connector(&c, &arn, ConnectorState::Running).await;
    let restarted = c.restart_connector().connector_arn(&arn).send().await.unwrap();
    let (op, _) = wait_operation(&c, restarted.connector_operation_arn().unwrap()).await;
    assert_eq!(op.connector_operation_state(), Some(&ConnectorOperationState::RestartComplete));
    assert_eq!(op.connector_operation_type(), Some(&ConnectorOperationType::RestartConnector));
    let (d, _) = wait_connector(&c, &arn, ConnectorState::Running).await;

    // Seven operations, newest first.
    let ops = c.list_connector_operations().connector_arn(&arn).send().await.unwrap();
    let types: Vec<&str> = ops
        .connector_operations()
        .iter()
        .map(|o| o.connector_operation_type().map(|t| t.as_str()).unwrap_or(""))
        .collect();
    assert_eq!(
        types,
        [
            "RESTART_CONNECTOR",
            "RESUME_CONNECTOR",
            "PAUSE_CONNECTOR",
            "UPDATE_WORKER_SETTING",
            "UPDATE_WORKER_SETTING",
            "UPDATE_WORKER_SETTING",
            "UPDATE_CONNECTOR_CONFIGURATION"
        ]
    );
    assert!(ops.next_token().is_none());

    // Tags on connectors, plugins and worker configurations.
    let tags = c.list_tags_for_resource().resource_arn(&arn).send().await.unwrap();
    assert_eq!(tags.tags().and_then(|t| t.get("env")).map(String::as_str), Some("test"));
    c.tag_resource().resource_arn(&arn).tags("owner", "payments").tags("env", "prod").send().await.unwrap();
    c.untag_resource().resource_arn(&arn).tag_keys("owner").tag_keys("absent").send().await.unwrap();
    let tags = c.list_tags_for_resource().resource_arn(&arn).send().await.unwrap();
    assert_eq!(tags.tags().map(|t| t.len()), Some(1));
    assert_eq!(tags.tags().and_then(|t| t.get("env")).map(String::as_str), Some("prod"));
    let tags = c.list_tags_for_resource().resource_arn(&plugin_arn).send().await.unwrap();
    assert_eq!(tags.tags().and_then(|t| t.get("team")).map(String::as_str), Some("data"));
    let tags = c.list_tags_for_resource().resource_arn(&wc_arn).send().await.unwrap();
    assert!(tags.tags().is_some_and(|t| t.is_empty()), "no tags is an empty map");

    // Delete: a plugin in use refuses; a stale version refuses; then DELETING → gone with its operations and tags.
    let err = c.delete_custom_plugin().custom_plugin_arn(&plugin_arn).send().await.unwrap_err();
    assert_eq!(code(&err), "BadRequestException", "{err:?}");
    let err = c.delete_connector().connector_arn(&arn).current_version(&v1).send().await.unwrap_err();
    assert_eq!(code(&err), "BadRequestException");
    let deleted =
        c.delete_connector().connector_arn(&arn).current_version(d.current_version().unwrap()).send().await.unwrap();
    assert_eq!(deleted.connector_state(), Some(&ConnectorState::Deleting));
    let again = c.delete_connector().connector_arn(&arn).send().await.unwrap();
    assert_eq!(again.connector_state(), Some(&ConnectorState::Deleting), "deleting twice is idempotent");
    wait_connector_gone(&c, &arn).await;
    let err = c.describe_connector_operation().connector_operation_arn(&op_arn).send().await.unwrap_err();
    assert_eq!(code(&err), "NotFoundException", "operations go with their connector");
    let err = c.list_tags_for_resource().resource_arn(&arn).send().await.unwrap_err();
    assert_eq!(code(&err), "NotFoundException");
    assert!(c.list_connectors().send().await.unwrap().connectors().is_empty());

    let d = c.delete_custom_plugin().custom_plugin_arn(&plugin_arn).send().await.unwrap();
    assert_eq!(d.custom_plugin_state(), Some(&CustomPluginState::Deleting));
    let d = c.delete_worker_configuration().worker_configuration_arn(&wc_arn).send().await.unwrap();
    assert_eq!(d.worker_configuration_state(), Some(&WorkerConfigurationState::Deleting));
    let deadline = Instant::now() + WAIT;
    loop {
        let p = c.describe_custom_plugin().custom_plugin_arn(&plugin_arn).send().await;
        let w = c.describe_worker_configuration().worker_configuration_arn(&wc_arn).send().await;
        if let (Err(pe), Err(we)) = (&p, &w) {
            assert_eq!((code(pe).as_str(), code(we).as_str()), ("NotFoundException", "NotFoundException"));
            break;
        }
        assert!(Instant::now() < deadline, "plugin and worker configuration were never deleted");
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
}

/// A configuration Kafka Connect would reject fails at VALIDATE_UPDATE and rolls back; with
/// skipHealthValidation the same kind of failure ends UPDATE_FAILED without a rollback.
#[tokio::test(flavor = "multi_thread")]
async fn failed_update_rolls_back_to_the_origin_configuration() {
    let server = Server::ephemeral("fast").await;
    let c = kafkaconnect(&server);
    let plugin_arn = active_plugin(&c, "rollback-plugin").await;
    let d = running_connector(&c, "rollback", &plugin_arn).await;
    let arn = d.connector_arn().unwrap().to_string();

    let upd = c
        .update_connector()
        .connector_arn(&arn)
        .current_version(d.current_version().unwrap())
        .connector_configuration("connector.class", "io.confluent.connect.s3.S3SinkConnector")
        .connector_configuration("tasks.max", "zero")
        .connector_configuration("topics", "orders")
        .send()
        .await
        .expect("the request itself is accepted");
    let (op, seen) = wait_operation(&c, upd.connector_operation_arn().unwrap()).await;
    assert!(seen.contains(&"ROLLBACK_IN_PROGRESS".to_string()), "{seen:?}");
    assert_eq!(op.connector_operation_state(), Some(&ConnectorOperationState::RollbackComplete));
    let states: Vec<String> = steps(&op).into_iter().map(|(_, s)| s).collect();
    assert_eq!(states, ["COMPLETED", "COMPLETED", "FAILED", "CANCELLED"]);
    let info = op.error_info().expect("errorInfo");
    assert_eq!(info.code(), Some("InvalidConnectorConfiguration"));
    assert!(info.message().unwrap_or_default().contains("tasks.max"));
    let (d, _) = wait_connector(&c, &arn, ConnectorState::Running).await;
    assert_eq!(config_value(&d, "tasks.max"), Some("1"), "the connector keeps its origin configuration");

    // skipHealthValidation: no rollback, the operation simply ends UPDATE_FAILED.
    let upd = c
        .update_connector()
        .connector_arn(&arn)
        .current_version(d.current_version().unwrap())
        .connector_configuration("connector.class", "io.confluent.connect.s3.S3SinkConnector")
        .connector_configuration("tasks.max", "1")
        .connector_configuration("topics", "orders")
        .connector_configuration("topics.regex", "orders.*")
        .skip_health_validation(true)
        .send()
        .await
        .unwrap();
    let (op, seen) = wait_operation(&c, upd.connector_operation_arn().unwrap()).await;
    assert_eq!(op.connector_operation_state(), Some(&ConnectorOperationState::UpdateFailed));
    assert!(!seen.contains(&"ROLLBACK_IN_PROGRESS".to_string()), "{seen:?}");
    let (d, _) = wait_connector(&c, &arn, ConnectorState::Running).await;
    assert_eq!(config_value(&d, "topics.regex"), None);
}

/// A stale currentVersion is refused and changes nothing.
#[tokio::test(flavor = "multi_thread")]
async fn stale_current_version_is_rejected_and_changes_nothing() {
    let server = Server::ephemeral("instant").await;
    let c = kafkaconnect(&server);
    let plugin_arn = active_plugin(&c, "stale-plugin").await;
    let d = running_connector(&c, "stale", &plugin_arn).await;
    let arn = d.connector_arn().unwrap().to_string();
    let old = d.current_version().unwrap().to_string();

    c.update_connector()
        .connector_arn(&arn)
        .current_version(&old)
        .capacity(
            CapacityUpdate::builder()
                .provisioned_capacity(ProvisionedCapacityUpdate::builder().mcu_count(2).worker_count(2).build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let before = c.describe_connector().connector_arn(&arn).send().await.unwrap();

    let err = c
        .update_connector()
        .connector_arn(&arn)
        .current_version(&old)
        .connector_configuration("connector.class", "io.confluent.connect.s3.S3SinkConnector")
        .connector_configuration("tasks.max", "8")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "BadRequestException", "{err:?}");
    let after = c.describe_connector().connector_arn(&arn).send().await.unwrap();
    assert_eq!(after.current_version(), before.current_version());
    assert_eq!(after.connector_configuration(), before.connector_configuration());
    assert_eq!(after.connector_state(), Some(&ConnectorState::Running));
    let ops = c.list_connector_operations().connector_arn(&arn).send().await.unwrap();
    assert_eq!(ops.connector_operations().len(), 1, "the refused update left no operation");
}

/// Sixteen clients update with the same currentVersion at once: exactly one wins.
#[tokio::test(flavor = "multi_thread")]
async fn concurrent_updates_with_one_version_have_one_winner() {
    let server = Server::ephemeral("fast").await;
    let c = kafkaconnect(&server);
    let plugin_arn = active_plugin(&c, "race-plugin").await;
    let d = running_connector(&c, "race", &plugin_arn).await;
    let arn = d.connector_arn().unwrap().to_string();
    let version = d.current_version().unwrap().to_string();

    let mut tasks = Vec::new();
    for i in 0..16 {
        let (c, arn, version) = (c.clone(), arn.clone(), version.clone());
        tasks.push(tokio::spawn(async move {
            c.update_connector()
                .connector_arn(&arn)
                .current_version(&version)
                .connector_configuration("connector.class", "io.confluent.connect.s3.S3SinkConnector")
                .connector_configuration("tasks.max", (i + 2).to_string())
                .send()
                .await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(e) => assert_eq!(code(&e), "BadRequestException", "{e:?}"),
        }
    }
    assert_eq!(ok, 1, "exactly one update wins the version");
    let ops = c.list_connector_operations().connector_arn(&arn).send().await.unwrap();
    assert_eq!(ops.connector_operations().len(), 1, "exactly one operation exists");
}

/// List* filter before paging, return creation order (operations newest first), and hand out a
/// nextToken only while more remain. Uses `instant` timing: every operation ends inside its request.
#[tokio::test(flavor = "multi_thread")]
async fn pagination_with_max_results_one() {
    let server = Server::ephemeral("instant").await;
    let c = kafkaconnect(&server);
    for name in ["page-a", "other", "page-b", "page-c"] {
        c.create_worker_configuration().name(name).properties_file_content(PROPERTIES).send().await.unwrap();
        create_plugin(&c, name).await;
    }
    let plugin_arn = c.list_custom_plugins().name_prefix("page-a").send().await.unwrap().custom_plugins()[0]
        .custom_plugin_arn()
        .unwrap()
        .to_string();
    for name in ["page-a", "other", "page-b", "page-c"] {
        let created = connector_request(&c, name, &plugin_arn).send().await.unwrap();
        assert_eq!(created.connector_state(), Some(&ConnectorState::Creating));
    }

    let mut names = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = c
            .list_worker_configurations()
            .name_prefix("page-")
            .max_results(1)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        assert_eq!(page.worker_configurations().len(), 1);
        names.push(page.worker_configurations()[0].name().unwrap().to_string());
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(names, ["page-a", "page-b", "page-c"]);

    let mut names = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page =
            c.list_custom_plugins().name_prefix("page-").max_results(1).set_next_token(token).send().await.unwrap();
        names.extend(page.custom_plugins().iter().map(|p| p.name().unwrap().to_string()));
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(names, ["page-a", "page-b", "page-c"]);

    let mut names = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = c
            .list_connectors()
            .connector_name_prefix("page-")
            .max_results(1)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        for s in page.connectors() {
            assert_eq!(s.connector_state(), Some(&ConnectorState::Running), "instant timing finished the creation");
            names.push(s.connector_name().unwrap().to_string());
        }
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(names, ["page-a", "page-b", "page-c"]);
    let all = c.list_connectors().send().await.unwrap();
    assert_eq!(all.connectors().len(), 4);
    assert!(all.next_token().is_none());

    let arn = all.connectors()[0].connector_arn().unwrap().to_string();
    c.pause_connector().connector_arn(&arn).send().await.unwrap();
    c.resume_connector().connector_arn(&arn).send().await.unwrap();
    c.restart_connector().connector_arn(&arn).send().await.unwrap();
    let mut types = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = c
            .list_connector_operations()
            .connector_arn(&arn)
            .max_results(1)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        for o in page.connector_operations() {
            assert!(o.end_time().is_some());
            types.push(o.connector_operation_type().unwrap().as_str().to_string());
        }
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(types, ["RESTART_CONNECTOR", "RESUME_CONNECTOR", "PAUSE_CONNECTOR"]);

    for bad in [0, 101] {
        let err = c.list_connectors().max_results(bad).send().await.unwrap_err();
        assert_eq!(code(&err), "BadRequestException", "maxResults {bad}");
    }
    let err = c.list_connector_operations().connector_arn(&arn).next_token("garbage!").send().await.unwrap_err();
    assert_eq!(code(&err), "BadRequestException");
    let err = c.list_custom_plugins().next_token("Z2FyYmFnZQ").send().await.unwrap_err();
    assert_eq!(code(&err), "BadRequestException", "a token of another list is refused");
}

/// Every error class the reference names, each from a request that should produce it.
#[tokio::test(flavor = "multi_thread")]
async fn errors_are_bad_request_not_found_and_conflict() {
    let server = Server::ephemeral("fast").await;
    let c = kafkaconnect(&server);
    let plugin_arn = active_plugin(&c, "errors-plugin").await;
    let d = running_connector(&c, "errors", &plugin_arn).await;
    let arn = d.connector_arn().unwrap().to_string();
    let version = d.current_version().unwrap().to_string();
    let unknown_connector = format!("{}/00000000-0000-4000-8000-000000000000-2", &arn[..arn.rfind('/').unwrap()]);
    let unknown_op =
        format!("{}/00000000-0000-4000-8000-000000000000", arn.replace(":connector/", ":connector-operation/"));

    // 404: well-formed ARNs that name nothing; references to missing plugins and worker configurations.
    let e = c.describe_connector().connector_arn(&unknown_connector).send().await.unwrap_err();
    assert_eq!(code(&e), "NotFoundException");
    let e = c.describe_connector_operation().connector_operation_arn(&unknown_op).send().await.unwrap_err();
    assert_eq!(code(&e), "NotFoundException");
    let e = c.list_connector_operations().connector_arn(&unknown_connector).send().await.unwrap_err();
    assert_eq!(code(&e), "NotFoundException");
    let e = c.delete_connector().connector_arn(&unknown_connector).send().await.unwrap_err();
    assert_eq!(code(&e), "NotFoundException");
    let e = c.list_tags_for_resource().resource_arn(&unknown_connector).send().await.unwrap_err();
    assert_eq!(code(&e), "NotFoundException");
    let unknown_plugin =
        format!("{}/00000000-0000-4000-8000-000000000000-2", &plugin_arn[..plugin_arn.rfind('/').unwrap()]);
    let e = c.describe_custom_plugin().custom_plugin_arn(&unknown_plugin).send().await.unwrap_err();
    assert_eq!(code(&e), "NotFoundException");
    let e = connector_request(&c, "missing-plugin", &unknown_plugin).send().await.unwrap_err();
    assert_eq!(code(&e), "NotFoundException");
    let missing_wc =
        "arn:aws:kafkaconnect:us-east-1:123456789012:worker-configuration/nope/00000000-0000-4000-8000-000000000000-2";
    let e = connector_request(&c, "missing-wc", &plugin_arn)
        .worker_configuration(
            WorkerConfiguration::builder().worker_configuration_arn(missing_wc).revision(1).build().unwrap(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NotFoundException");
    let e = c.describe_worker_configuration().worker_configuration_arn(missing_wc).send().await.unwrap_err();
    assert_eq!(code(&e), "NotFoundException");

    // 400: bad ARNs, invalid values, rule violations.
    for bad in ["not-an-arn", plugin_arn.as_str(), "arn:aws:kafkaconnect:us-east-1:123456789012:connector/only-name"] {
        let e = c.describe_connector().connector_arn(bad).send().await.unwrap_err();
        assert_eq!(code(&e), "BadRequestException", "{bad}");
    }
    let e = c.describe_connector_operation().connector_operation_arn(&arn).send().await.unwrap_err();
    assert_eq!(code(&e), "BadRequestException", "a connector ARN is not an operation ARN");
    let e = connector_request(&c, "three-mcu", &plugin_arn).capacity(provisioned(3, 1)).send().await.unwrap_err();
    assert_eq!(code(&e), "BadRequestException");
    let e = connector_request(&c, "eleven", &plugin_arn).capacity(provisioned(1, 11)).send().await.unwrap_err();
    assert_eq!(code(&e), "BadRequestException");
    let e = connector_request(&c, "two-plugins", &plugin_arn).plugins(plugin(&plugin_arn)).send().await.unwrap_err();
    assert_eq!(code(&e), "BadRequestException");
    let both = Capacity::builder()
        .provisioned_capacity(ProvisionedCapacity::builder().mcu_count(1).worker_count(1).build())
        .auto_scaling(AutoScaling::builder().mcu_count(1).min_worker_count(1).max_worker_count(2).build())
        .build();
    let e = connector_request(&c, "both-capacities", &plugin_arn).capacity(both).send().await.unwrap_err();
    assert_eq!(code(&e), "BadRequestException");
    let e = connector_request(&c, "iam-plaintext", &plugin_arn)
        .kafka_cluster_client_authentication(
            KafkaClusterClientAuthentication::builder()
                .authentication_type(KafkaClusterClientAuthenticationType::Iam)
                .build()
                .unwrap(),
        )
        .kafka_cluster_encryption_in_transit(
            KafkaClusterEncryptionInTransit::builder()
                .encryption_type(KafkaClusterEncryptionInTransitType::Plaintext)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "BadRequestException");
    let e = connector_request(&c, "no-class", &plugin_arn)
        .set_connector_configuration(Some([("tasks.max".to_string(), "1".to_string())].into()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "BadRequestException");
    let e = c
        .create_worker_configuration()
        .name("not-base64")
        .properties_file_content("not base64!")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "BadRequestException");
    let e = c
        .update_connector()
        .connector_arn(&arn)
        .current_version(&version)
        .connector_configuration("connector.class", "com.example.OtherConnector")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "BadRequestException", "connector.class cannot change");
    let e = c
        .update_connector()
        .connector_arn(&arn)
        .current_version(&version)
        .capacity(
            CapacityUpdate::builder()
                .provisioned_capacity(ProvisionedCapacityUpdate::builder().mcu_count(1).worker_count(1).build())
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "BadRequestException", "identical capacity");
    let e = c
        .update_connector()
        .connector_arn(&arn)
        .current_version(&version)
        .use_default_worker_configuration(true)
        .connector_configuration("connector.class", "io.confluent.connect.s3.S3SinkConnector")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "BadRequestException", "worker setting and configuration together");
    let e = c.resume_connector().connector_arn(&arn).send().await.unwrap_err();
    assert_eq!(code(&e), "BadRequestException", "a RUNNING connector cannot be resumed");
    let e = c.restart_connector().connector_arn(&arn).only_failed_tasks(true).send().await.unwrap_err();
    assert_eq!(code(&e), "BadRequestException", "onlyFailedTasks needs Kafka Connect 3.7.x");
    let e = c.tag_resource().resource_arn(&arn).tags("aws:reserved", "x").send().await.unwrap_err();
    assert_eq!(code(&e), "BadRequestException");

    // 409: names taken, and pause/resume while another operation runs.
    let e = connector_request(&c, "errors", &plugin_arn).send().await.unwrap_err();
    assert_eq!(code(&e), "ConflictException");
    let e = c
        .create_custom_plugin()
        .name("errors-plugin")
        .content_type(CustomPluginContentType::Zip)
        .location(location("arn:aws:s3:::plugins-bucket", "x.zip"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ConflictException");
    c.create_worker_configuration().name("dup").properties_file_content(PROPERTIES).send().await.unwrap();
    let e = c.create_worker_configuration().name("dup").properties_file_content(PROPERTIES).send().await.unwrap_err();
    assert_eq!(code(&e), "ConflictException");
    let upd = c
        .update_connector()
        .connector_arn(&arn)
        .current_version(&version)
        .connector_configuration("connector.class", "io.confluent.connect.s3.S3SinkConnector")
        .connector_configuration("tasks.max", "3")
        .send()
        .await
        .unwrap();
    let e = c.pause_connector().connector_arn(&arn).send().await.unwrap_err();
    assert_eq!(code(&e), "ConflictException", "pause while an update runs");
    let e = c.resume_connector().connector_arn(&arn).send().await.unwrap_err();
    assert_eq!(code(&e), "ConflictException", "resume while an update runs");
    let e = c.restart_connector().connector_arn(&arn).send().await.unwrap_err();
    assert_eq!(code(&e), "BadRequestException", "RestartConnector has no ConflictException");
    let fresh = c.describe_connector().connector_arn(&arn).send().await.unwrap();
    let e = c
        .update_connector()
        .connector_arn(&arn)
        .current_version(fresh.current_version().unwrap())
        .connector_configuration("connector.class", "io.confluent.connect.s3.S3SinkConnector")
        .connector_configuration("tasks.max", "4")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "BadRequestException", "one operation at a time");
    wait_operation(&c, upd.connector_operation_arn().unwrap()).await;
}

/// Malformed bodies, wrong JSON types, unknown paths: modelled errors, and the server keeps serving.
#[tokio::test(flavor = "multi_thread")]
async fn bad_input_gets_modelled_errors_and_the_server_stays_up() {
    let server = Server::ephemeral("fast").await;
    let http = reqwest::Client::new();
    let base = server.endpoint();
    let cases: [(&str, &str, &str); 5] = [
        ("POST", "/v1/connectors", "{\"connectorName\": "),
        ("POST", "/v1/worker-configurations", "[1, 2, 3]"),
        ("POST", "/v1/custom-plugins", "{\"name\": 42, \"contentType\": \"ZIP\"}"),
        ("POST", "/v1/custom-plugins", "{\"name\": \"p\", \"contentType\": \"TAR\", \"location\": {\"s3Location\": {\"bucketArn\": \"arn:aws:s3:::b\", \"fileKey\": \"k.zip\"}}}"),
        (
            "POST",
            "/v1/connectors",
            "{\"connectorName\": \"c\", \"capacity\": {\"provisionedCapacity\": {\"mcuCount\": \"one\", \"workerCount\": 1}}}",
        ),
    ];
    for (method, path, body) in cases {
        let resp = http
            .request(method.parse().unwrap(), format!("{base}{path}"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 400, "{method} {path} {body}");
        assert_eq!(resp.headers().get("x-amzn-errortype").and_then(|v| v.to_str().ok()), Some("BadRequestException"));
        let json: serde_json::Value = resp.json().await.unwrap();
        assert!(json["message"].as_str().is_some_and(|m| !m.is_empty()), "{json}");
    }
    let resp = http.get(format!("{base}/v1/connectors?maxResults=ten")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let resp = http.patch(format!("{base}/v1/connectors")).send().await.unwrap();
    assert!(resp.status().is_client_error());

    let c = kafkaconnect(&server);
    let e = c.describe_custom_plugin().custom_plugin_arn("arn:aws:s3:::not-kafkaconnect").send().await.unwrap_err();
    assert_eq!(code(&e), "BadRequestException");
    let e = c
        .untag_resource()
        .resource_arn("arn:aws:kafkaconnect:us-east-1:123456789012:cluster/x/y")
        .tag_keys("k")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "BadRequestException");
    let plugin_arn = active_plugin(&c, "still-up").await;
    let e = connector_request(&c, "three", &plugin_arn).capacity(provisioned(3, 1)).send().await.unwrap_err();
    assert_eq!(code(&e), "BadRequestException");
    assert!(e.into_service_error().message().is_some_and(|m| m.contains("mcuCount")));
    running_connector(&c, "still-serving", &plugin_arn).await;
}

/// Plugin and connector creation failures surface as states; deleting a connector cancels its
/// operation in flight.
#[tokio::test(flavor = "multi_thread")]
async fn creation_failures_and_deletion_during_an_operation() {
    let server = Server::ephemeral("fast").await;
    let c = kafkaconnect(&server);

    let bad = c
        .create_custom_plugin()
        .name("bad-location")
        .content_type(CustomPluginContentType::Jar)
        .location(location("my-bucket", "plugin.zip"))
        .send()
        .await
        .expect("a bad location is not a request error");
    let bad_arn = bad.custom_plugin_arn().unwrap().to_string();
    let p = wait_plugin(&c, &bad_arn, CustomPluginState::CreateFailed).await;
    assert!(p.state_description().and_then(|s| s.message()).is_some_and(|m| m.contains("bucketArn")));
    assert!(p.latest_revision().is_none(), "no revision was created");
    let e = connector_request(&c, "on-failed-plugin", &bad_arn).send().await.unwrap_err();
    assert_eq!(code(&e), "BadRequestException");

    let plugin_arn = active_plugin(&c, "good").await;
    let created = connector_request(&c, "bad-tasks", &plugin_arn)
        .connector_configuration("tasks.max", "abc")
        .send()
        .await
        .expect("accepted; Kafka Connect rejects it later");
    let (d, _) = wait_connector(&c, created.connector_arn().unwrap(), ConnectorState::Failed).await;
    assert_eq!(d.state_description().and_then(|s| s.code()), Some("InvalidConnectorConfiguration"));
    let e = c
        .update_connector()
        .connector_arn(d.connector_arn().unwrap())
        .current_version(d.current_version().unwrap())
        .connector_configuration("connector.class", "io.confluent.connect.s3.S3SinkConnector")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "BadRequestException", "a FAILED connector cannot be updated");

    let d = running_connector(&c, "doomed", &plugin_arn).await;
    let arn = d.connector_arn().unwrap().to_string();
    let upd = c
        .update_connector()
        .connector_arn(&arn)
        .current_version(d.current_version().unwrap())
        .connector_configuration("connector.class", "io.confluent.connect.s3.S3SinkConnector")
        .connector_configuration("tasks.max", "2")
        .send()
        .await
        .unwrap();
    c.delete_connector().connector_arn(&arn).send().await.unwrap();
    let op = c
        .describe_connector_operation()
        .connector_operation_arn(upd.connector_operation_arn().unwrap())
        .send()
        .await
        .expect("the operation is readable while its connector is DELETING");
    assert_eq!(op.connector_operation_state(), Some(&ConnectorOperationState::UpdateFailed));
    assert!(op.end_time().is_some());
    assert_eq!(op.error_info().and_then(|e| e.code()), Some("ConnectorDeleted"));
    assert!(steps(&op).iter().any(|(_, s)| s == "CANCELLED"));
    wait_connector_gone(&c, &arn).await;
}

/// An operation in flight when the process dies finishes after a restart on the same data.
#[tokio::test(flavor = "multi_thread")]
async fn operation_finishes_after_restart() {
    let dir = temp_dir("kc-restart");
    let mut server = Server::persistent(&dir, "fast").await;
    let c = kafkaconnect(&server);
    let plugin_arn = active_plugin(&c, "durable").await;
    let d = running_connector(&c, "durable", &plugin_arn).await;
    let arn = d.connector_arn().unwrap().to_string();
    let upd = c
        .update_connector()
        .connector_arn(&arn)
        .current_version(d.current_version().unwrap())
        .connector_configuration("connector.class", "io.confluent.connect.s3.S3SinkConnector")
        .connector_configuration("tasks.max", "6")
        .send()
        .await
        .unwrap();
    let op_arn = upd.connector_operation_arn().unwrap().to_string();
    let op = c.describe_connector_operation().connector_operation_arn(&op_arn).send().await.unwrap();
    assert!(op.end_time().is_none(), "still in flight before the kill");

    server.restart().await;
    let c = kafkaconnect(&server);
    let (op, _) = wait_operation(&c, &op_arn).await;
    assert_eq!(op.connector_operation_state(), Some(&ConnectorOperationState::UpdateComplete));
    let (d, _) = wait_connector(&c, &arn, ConnectorState::Running).await;
    assert_eq!(config_value(&d, "tasks.max"), Some("6"));
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// An operation fault rule (admin API) makes the chosen step fail with the chosen rollback outcome.
#[tokio::test(flavor = "multi_thread")]
async fn fault_rule_fails_the_chosen_step_with_the_chosen_rollback() {
    let server = Server::ephemeral("instant").await;
    let c = kafkaconnect(&server);
    let plugin_arn = active_plugin(&c, "fault-plugin").await;
    let d = running_connector(&c, "faulty", &plugin_arn).await;
    let arn = d.connector_arn().unwrap().to_string();
    let rule = serde_json::json!({
        "service": "kafkaconnect",
        "operationType": "UPDATE_WORKER_SETTING",
        "step": "FINALIZE_UPDATE",
        "errorCode": "WorkersUnhealthy",
        "errorMessage": "workers did not start",
        "rollback": "failed",
        "resource": arn,
    });
    let resp = reqwest::Client::new()
        .post(format!("{}/_localplane/faults", server.endpoint()))
        .json(&rule)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{:?}", resp.text().await);

    let upd = c
        .update_connector()
        .connector_arn(&arn)
        .current_version(d.current_version().unwrap())
        .capacity(
            CapacityUpdate::builder()
                .provisioned_capacity(ProvisionedCapacityUpdate::builder().mcu_count(2).worker_count(2).build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let (op, _) = wait_operation(&c, upd.connector_operation_arn().unwrap()).await;
    assert_eq!(op.connector_operation_state(), Some(&ConnectorOperationState::RollbackFailed));
    let states: Vec<String> = steps(&op).into_iter().map(|(_, s)| s).collect();
    assert_eq!(states, ["COMPLETED", "COMPLETED", "COMPLETED", "FAILED"]);
    assert_eq!(op.error_info().and_then(|e| e.code()), Some("WorkersUnhealthy"));
    let d = c.describe_connector().connector_arn(&arn).send().await.unwrap();
    assert_eq!(d.connector_state(), Some(&ConnectorState::Failed));
    assert_eq!(d.capacity().and_then(|c| c.provisioned_capacity()).map(|p| p.worker_count()), Some(1));
}
