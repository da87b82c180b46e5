//! MSK Connect's rules, tested in process (no HTTP): an [`MskConnect`] over a memory store and an
//! engine on a stopped clock, driven through the `Api` trait, with operations run to their end
//! (`instant` timing) or one step at a time (`manual`).

use super::driver::MskConnectDriver;
use super::records::{parse_arn, Keys, Task, SERVICE};
use super::MskConnect;
use crate::engine::{Engine, FaultRule, Rollback, StoppedClock, Timing, TimingProfile};
use crate::model::kafkaconnect::{self as m, Api as _};
use crate::store::{memory::Memory, Store, StoreError};
use crate::wire::shape::{ApiError, Protocol, RequestContext};
use std::collections::BTreeMap;
use std::sync::Arc;

use m::ConnectorOperationState as OpState;
use m::ConnectorOperationStepState as StepState;
use m::ConnectorOperationStepType as StepType;

const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";

/// An MSK Connect backend with its engine and the caller's context.
struct World {
    msk: MskConnect,
    engine: Engine,
    cx: RequestContext,
}

fn world(profile: TimingProfile) -> World {
    let store = Store::new(Arc::new(Memory::new()));
    let engine = Engine::new(store, Arc::new(StoppedClock::at(1_700_000_000_000)), Timing::new(profile));
    engine.register(SERVICE, Arc::new(MskConnectDriver));
    let cx = RequestContext {
        account: ACCOUNT.into(),
        region: REGION.into(),
        request_id: "test".into(),
        protocol: Protocol::RestJson1,
    };
    World { msk: MskConnect::new(engine.clone()), engine, cx }
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Asserts that `result` failed with the error `code` and exactly `message`.
fn assert_error<T: std::fmt::Debug>(result: Result<T, ApiError>, code: &str, message: &str) {
    let err = result.expect_err("the call should fail");
    assert_eq!((err.shape.name, err.message.as_str()), (code, message));
}

fn plugin_request(name: &str) -> m::CreateCustomPluginRequest {
    m::CreateCustomPluginRequest {
        content_type: m::CustomPluginContentType::Zip,
        location: m::CustomPluginLocation {
            s3_location: m::S3Location {
                bucket_arn: "arn:aws:s3:::plugins".into(),
                file_key: format!("{name}.zip"),
                object_version: None,
            },
        },
        name: name.into(),
        ..Default::default()
    }
}

fn connector_request(name: &str, plugin_arn: &str) -> m::CreateConnectorRequest {
    m::CreateConnectorRequest {
        capacity: m::Capacity {
            provisioned_capacity: Some(m::ProvisionedCapacity { mcu_count: 1, worker_count: 1 }),
            ..Default::default()
        },
        connector_configuration: map(&[("connector.class", "io.example.Sink"), ("tasks.max", "1")]),
        connector_name: name.into(),
        kafka_cluster: m::KafkaCluster {
            apache_kafka_cluster: m::ApacheKafkaCluster {
                bootstrap_servers: "b-1.example:9098".into(),
                vpc: m::Vpc { subnets: vec!["subnet-1".into()], security_groups: None },
            },
        },
        kafka_cluster_encryption_in_transit: m::KafkaClusterEncryptionInTransit {
            encryption_type: m::KafkaClusterEncryptionInTransitType::Tls,
        },
        kafka_connect_version: "2.7.1".into(),
        plugins: vec![m::Plugin {
            custom_plugin: m::CustomPlugin { custom_plugin_arn: plugin_arn.into(), revision: 1 },
        }],
        service_execution_role_arn: format!("arn:aws:iam::{ACCOUNT}:role/connect"),
        ..Default::default()
    }
}

fn configuration_update(arn: &str, version: &str, tasks: &str) -> m::UpdateConnectorRequest {
    m::UpdateConnectorRequest {
        connector_arn: arn.into(),
        current_version: version.into(),
        connector_configuration: Some(map(&[("connector.class", "io.example.Sink"), ("tasks.max", tasks)])),
        ..Default::default()
    }
}

impl World {
    /// Moves the engine's task `task` one step, or to its end.
    async fn advance(&self, task: Task, to_end: bool) {
        self.engine.advance_operation(SERVICE.name(), &task.to_ref(ACCOUNT, REGION), to_end).await.unwrap();
    }

    /// Moves the connector operation `op_arn` one step.
    async fn step(&self, op_arn: &str) {
        let p = parse_arn(op_arn).unwrap();
        let task = Task::Operation { connector_id: p.id, operation_id: p.operation_id.unwrap() };
        self.advance(task, false).await;
    }

    async fn operation(&self, op_arn: &str) -> m::DescribeConnectorOperationResponse {
        let input = m::DescribeConnectorOperationRequest { connector_operation_arn: op_arn.into() };
        self.msk.describe_connector_operation(&self.cx, input).await.unwrap()
    }

    async fn connector(&self, arn: &str) -> m::DescribeConnectorResponse {
        let input = m::DescribeConnectorRequest { connector_arn: arn.into() };
        self.msk.describe_connector(&self.cx, input).await.unwrap()
    }

    /// An ACTIVE custom plugin.
    async fn active_plugin(&self, name: &str) -> String {
        let out = self.msk.create_custom_plugin(&self.cx, plugin_request(name)).await.unwrap();
        let arn = out.custom_plugin_arn.unwrap();
        self.advance(Task::CreatePlugin(parse_arn(&arn).unwrap().id), true).await;
        arn
    }

    /// A RUNNING connector using a new plugin; returns its ARN and current version.
    async fn running_connector(&self, name: &str) -> (String, String) {
        let plugin_arn = self.active_plugin(&format!("{name}-plugin")).await;
        let out = self.msk.create_connector(&self.cx, connector_request(name, &plugin_arn)).await.unwrap();
        let arn = out.connector_arn.unwrap();
        self.advance(Task::CreateConnector(parse_arn(&arn).unwrap().id), true).await;
        let d = self.connector(&arn).await;
        assert_eq!(d.connector_state, Some(m::ConnectorState::Running));
        (arn, d.current_version.unwrap())
    }
}

fn steps(op: &m::DescribeConnectorOperationResponse) -> Vec<(StepType, StepState)> {
    let steps = op.operation_steps.as_deref().unwrap_or_default();
    steps.iter().map(|s| (s.step_type.unwrap(), s.step_state.unwrap())).collect()
}

#[tokio::test]
async fn a_custom_plugin_becomes_active_with_revision_one() {
    let w = world(TimingProfile::Instant);
    let out = w.msk.create_custom_plugin(&w.cx, plugin_request("debezium")).await.unwrap();
    assert_eq!(out.custom_plugin_state, Some(m::CustomPluginState::Creating));
    let input = m::DescribeCustomPluginRequest { custom_plugin_arn: out.custom_plugin_arn.unwrap() };
    let d = w.msk.describe_custom_plugin(&w.cx, input).await.unwrap();
    assert_eq!(d.custom_plugin_state, Some(m::CustomPluginState::Active));
    assert_eq!(d.latest_revision.and_then(|r| r.revision), Some(1));
}

#[tokio::test]
async fn a_connector_runs_with_a_current_version() {
    let w = world(TimingProfile::Instant);
    let plugin_arn = w.active_plugin("sink").await;
    let out = w.msk.create_connector(&w.cx, connector_request("orders", &plugin_arn)).await.unwrap();
    assert_eq!(out.connector_state, Some(m::ConnectorState::Creating));
    let d = w.connector(&out.connector_arn.unwrap()).await;
    assert_eq!(d.connector_state, Some(m::ConnectorState::Running));
    let version = d.current_version.unwrap();
    assert_eq!(version.len(), 14);
    assert_eq!(d.plugins.unwrap()[0].custom_plugin.as_ref().unwrap().custom_plugin_arn, Some(plugin_arn));
}

#[tokio::test]
async fn a_configuration_kafka_connect_rejects_makes_the_connector_fail() {
    let w = world(TimingProfile::Instant);
    let plugin_arn = w.active_plugin("sink").await;
    let mut request = connector_request("bad-tasks", &plugin_arn);
    request.connector_configuration.insert("tasks.max".into(), "zero".into());
    let arn = w.msk.create_connector(&w.cx, request).await.unwrap().connector_arn.unwrap();
    let d = w.connector(&arn).await;
    assert_eq!(d.connector_state, Some(m::ConnectorState::Failed));
    let problem = d.state_description.unwrap();
    assert_eq!(problem.code.as_deref(), Some("InvalidConnectorConfiguration"));
    assert_eq!(problem.message.as_deref(), Some("tasks.max must be a positive integer, got 'zero'"));
}

#[tokio::test]
async fn an_update_goes_through_its_steps_and_brings_a_new_version() {
    let w = world(TimingProfile::Manual);
    let (arn, version) = w.running_connector("orders").await;
    let out = w.msk.update_connector(&w.cx, configuration_update(&arn, &version, "4")).await.unwrap();
    assert_eq!(out.connector_state, Some(m::ConnectorState::Updating));
    let op_arn = out.connector_operation_arn.unwrap();
    let op = w.operation(&op_arn).await;
    assert_eq!(op.connector_operation_state, Some(OpState::Pending));
    assert_eq!(op.connector_operation_type, Some(m::ConnectorOperationType::UpdateConnectorConfiguration));
    let order = [
        StepType::InitializeUpdate,
        StepType::UpdateConnectorConfiguration,
        StepType::ValidateUpdate,
        StepType::FinalizeUpdate,
    ];
    for (i, running) in order.iter().enumerate() {
        w.step(&op_arn).await;
        let op = w.operation(&op_arn).await;
        assert_eq!(op.connector_operation_state, Some(OpState::UpdateInProgress));
        let want: Vec<_> = order
            .iter()
            .enumerate()
            .map(|(j, t)| {
                let state = match j.cmp(&i) {
                    std::cmp::Ordering::Less => StepState::Completed,
                    std::cmp::Ordering::Equal => StepState::InProgress,
                    std::cmp::Ordering::Greater => StepState::Pending,
                };
                (*t, state)
            })
            .collect();
        assert_eq!(steps(&op), want, "while {running:?} runs");
        assert_eq!(w.connector(&arn).await.connector_configuration.unwrap()["tasks.max"], "1");
    }
    w.step(&op_arn).await;
    let op = w.operation(&op_arn).await;
    assert_eq!(op.connector_operation_state, Some(OpState::UpdateComplete));
    assert!(steps(&op).iter().all(|(_, s)| *s == StepState::Completed));
    assert!(op.end_time.is_some());
    let d = w.connector(&arn).await;
    assert_eq!(d.connector_state, Some(m::ConnectorState::Running));
    assert_eq!(d.connector_configuration.unwrap()["tasks.max"], "4");
    assert_ne!(d.current_version.unwrap(), version);
}

#[tokio::test]
async fn one_operation_at_a_time_and_only_on_the_latest_version() {
    let w = world(TimingProfile::Manual);
    let (arn, version) = w.running_connector("orders").await;
    let op_arn = w
        .msk
        .update_connector(&w.cx, configuration_update(&arn, &version, "2"))
        .await
        .unwrap()
        .connector_operation_arn
        .unwrap();
    assert_error(
        w.msk.update_connector(&w.cx, configuration_update(&arn, &version, "3")).await,
        "BadRequestException",
        &format!(
            "The provided currentVersion {version} is not the latest version of connector {arn}; describe the connector for its current version"
        ),
    );
    let latest = w.connector(&arn).await.current_version.unwrap();
    assert_error(
        w.msk.update_connector(&w.cx, configuration_update(&arn, &latest, "3")).await,
        "BadRequestException",
        &format!("Connector {arn} has operation {op_arn} in progress; wait for it to finish"),
    );
    assert_error(
        w.msk.pause_connector(&w.cx, m::PauseConnectorRequest { connector_arn: arn.clone() }).await,
        "ConflictException",
        &format!("Connector {arn} has operation {op_arn} in progress; wait for it to finish"),
    );
    let op = w.operation(&op_arn).await;
    assert_eq!(op.target_connector_configuration.unwrap()["tasks.max"], "2");
}

#[tokio::test]
async fn a_fault_rule_fails_the_step_and_the_rollback_restores_the_origin() {
    let w = world(TimingProfile::Manual);
    let (arn, version) = w.running_connector("orders").await;
    w.engine
        .add_fault(FaultRule {
            id: String::new(),
            service: SERVICE,
            operation_type: Some("UPDATE_CONNECTOR_CONFIGURATION".into()),
            step: Some("VALIDATE_UPDATE".into()),
            error_code: "KafkaConnectValidationFailed".into(),
            error_message: Some("The worker rejected the configuration".into()),
            rollback: Some(Rollback::Complete),
            resource: Some(arn.clone()),
            api: None,
            http_status: None,
            count: 1,
        })
        .await
        .unwrap();
    let out = w.msk.update_connector(&w.cx, configuration_update(&arn, &version, "8")).await.unwrap();
    let op_arn = out.connector_operation_arn.unwrap();
    let mut seen = Vec::new();
    for _ in 0..8 {
        w.step(&op_arn).await;
        let state = w.operation(&op_arn).await.connector_operation_state.unwrap();
        if seen.last() != Some(&state) {
            seen.push(state);
        }
    }
    assert_eq!(
        seen,
        [OpState::UpdateInProgress, OpState::UpdateFailed, OpState::RollbackInProgress, OpState::RollbackComplete]
    );
    let op = w.operation(&op_arn).await;
    assert_eq!(
        steps(&op),
        [
            (StepType::InitializeUpdate, StepState::Completed),
            (StepType::UpdateConnectorConfiguration, StepState::Completed),
            (StepType::ValidateUpdate, StepState::Failed),
            (StepType::FinalizeUpdate, StepState::Cancelled),
        ]
    );
    let info = op.error_info.unwrap();
    assert_eq!(info.code.as_deref(), Some("KafkaConnectValidationFailed"));
    assert_eq!(info.message.as_deref(), Some("The worker rejected the configuration"));
    let d = w.connector(&arn).await;
    assert_eq!(d.connector_state, Some(m::ConnectorState::Running));
    assert_eq!(d.connector_configuration.unwrap()["tasks.max"], "1");
}

#[tokio::test]
async fn a_plugin_in_use_cannot_be_deleted() {
    let w = world(TimingProfile::Instant);
    let (arn, _) = w.running_connector("orders").await;
    let plugin_arn =
        w.connector(&arn).await.plugins.unwrap()[0].custom_plugin.clone().unwrap().custom_plugin_arn.unwrap();
    assert_error(
        w.msk.delete_custom_plugin(&w.cx, m::DeleteCustomPluginRequest { custom_plugin_arn: plugin_arn.clone() }).await,
        "BadRequestException",
        &format!("Custom plugin {plugin_arn} is used by connector orders; delete or update the connector first"),
    );
    w.msk
        .delete_connector(&w.cx, m::DeleteConnectorRequest { connector_arn: arn, current_version: None })
        .await
        .unwrap();
    let out = w.msk.delete_custom_plugin(&w.cx, m::DeleteCustomPluginRequest { custom_plugin_arn: plugin_arn }).await;
    assert_eq!(out.unwrap().custom_plugin_state, Some(m::CustomPluginState::Deleting));
}

#[tokio::test]
async fn list_connectors_pages_one_at_a_time_in_creation_order() {
    let w = world(TimingProfile::Instant);
    let plugin_arn = w.active_plugin("sink").await;
    for name in ["alpha", "bravo", "charlie"] {
        w.msk.create_connector(&w.cx, connector_request(name, &plugin_arn)).await.unwrap();
    }
    let mut names = Vec::new();
    let mut token = None;
    loop {
        let input = m::ListConnectorsRequest { max_results: Some(1), next_token: token, ..Default::default() };
        let page = w.msk.list_connectors(&w.cx, input).await.unwrap();
        let connectors = page.connectors.unwrap();
        assert!(connectors.len() <= 1);
        names.extend(connectors.into_iter().map(|c| c.connector_name.unwrap()));
        token = page.next_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(names, ["alpha", "bravo", "charlie"]);
    let filtered = m::ListConnectorsRequest { connector_name_prefix: Some("br".into()), ..Default::default() };
    let page = w.msk.list_connectors(&w.cx, filtered).await.unwrap();
    assert_eq!(page.connectors.unwrap().len(), 1);
    assert_eq!(page.next_token, None);
    let foreign = crate::paging::token_after(&Keys::new(ACCOUNT, REGION).plugins_in_order());
    assert_error(
        w.msk
            .list_connectors(&w.cx, m::ListConnectorsRequest { next_token: Some(foreign), ..Default::default() })
            .await,
        "BadRequestException",
        "The nextToken is not valid for this request; pass the value from the previous response",
    );
}

#[tokio::test]
async fn tags_refuse_aws_keys_and_more_than_fifty() {
    let w = world(TimingProfile::Instant);
    let mut request = plugin_request("tagged");
    request.tags = Some(map(&[("aws:owner", "me"), ("team", "data")]));
    assert_error(
        w.msk.create_custom_plugin(&w.cx, request).await,
        "BadRequestException",
        "Tag key aws:owner is reserved: keys starting with aws: belong to AWS",
    );
    let arn = w.active_plugin("tagged").await;
    let tag = |tags: BTreeMap<String, String>| m::TagResourceRequest { resource_arn: arn.clone(), tags };
    w.msk.tag_resource(&w.cx, tag(map(&[("team", "data")]))).await.unwrap();
    let fifty: BTreeMap<String, String> = (0..50).map(|i| (format!("k{i}"), String::new())).collect();
    assert_error(
        w.msk.tag_resource(&w.cx, tag(fifty)).await,
        "BadRequestException",
        &format!("Resource {arn} would have 51 tags; a resource can have at most 50"),
    );
    let untag = m::UntagResourceRequest { resource_arn: arn.clone(), tag_keys: vec!["absent".into()] };
    w.msk.untag_resource(&w.cx, untag).await.unwrap();
    let listed = w.msk.list_tags_for_resource(&w.cx, m::ListTagsForResourceRequest { resource_arn: arn }).await;
    assert_eq!(listed.unwrap().tags, Some(map(&[("team", "data")])));
}

#[tokio::test]
async fn tags_stored_as_a_map_still_read() {
    let w = world(TimingProfile::Instant);
    let arn = w.active_plugin("old").await;
    let key = Keys::new(ACCOUNT, REGION).tags(&arn);
    w.engine
        .store()
        .write(move |tx| -> Result<(), StoreError> { tx.put(&key, br#"{"b":"2","a":"1"}"#) })
        .await
        .unwrap();
    let input = m::UntagResourceRequest { resource_arn: arn.clone(), tag_keys: vec!["b".into()] };
    w.msk.untag_resource(&w.cx, input).await.unwrap();
    let listed = w.msk.list_tags_for_resource(&w.cx, m::ListTagsForResourceRequest { resource_arn: arn }).await;
    assert_eq!(listed.unwrap().tags, Some(map(&[("a", "1")])));
}
