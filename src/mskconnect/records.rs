//! What MSK Connect keeps in the store: the documents of connectors, custom plugins, worker
//! configurations and connector operations, their keys per account and region, the tasks the engine
//! drives for them, and the ARN and version formats AWS uses.

use crate::engine::Rollback;
use crate::model::kafkaconnect as m;
use crate::wire::shape::Timestamp;
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The store key prefix of every MSK Connect key.
pub const KEY_PREFIX: &str = "kc/";

/// The engine's name for MSK Connect tasks.
pub const SERVICE: crate::model::Service = crate::model::Service::KafkaConnect;

/// What follows the UUID in the last ARN segment of connectors, plugins and worker configurations.
/// Real ARNs end in `-1`…`-4` (meaning undocumented); localplane always uses one fixed digit.
pub const RESOURCE_ID_SUFFIX: &str = "-2";

/// A `{code, message}` pair: a resource's `stateDescription` or an operation's `errorInfo`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    /// Short machine-readable code.
    pub code: String,
    /// What went wrong, for a person.
    pub message: String,
}

impl Problem {
    /// A problem with `code` and `message`.
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Problem { code: code.to_string(), message: message.into() }
    }

    /// The wire shape.
    pub fn to_model(&self) -> m::StateDescription {
        m::StateDescription { code: Some(self.code.clone()), message: Some(self.message.clone()) }
    }
}

/// The workers of a connector: a fixed count or an auto-scaling range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CapacityRec {
    /// `autoScaling`.
    AutoScaling {
        /// MSK Connect units per worker.
        mcu_count: i32,
        /// Fewest workers.
        min_worker_count: i32,
        /// Most workers.
        max_worker_count: i32,
        /// CPU percentage below which workers are removed.
        scale_in_cpu: i32,
        /// CPU percentage above which workers are added.
        scale_out_cpu: i32,
        /// Most tasks across all workers.
        max_autoscaling_task_count: Option<i32>,
    },
    /// `provisionedCapacity`.
    Provisioned {
        /// MSK Connect units per worker.
        mcu_count: i32,
        /// Number of workers.
        worker_count: i32,
    },
}

impl CapacityRec {
    /// The wire shape.
    pub fn to_model(&self) -> m::CapacityDescription {
        match self {
            CapacityRec::AutoScaling {
                mcu_count,
                min_worker_count,
                max_worker_count,
                scale_in_cpu,
                scale_out_cpu,
                max_autoscaling_task_count,
            } => m::CapacityDescription {
                auto_scaling: Some(m::AutoScalingDescription {
                    max_autoscaling_task_count: *max_autoscaling_task_count,
                    max_worker_count: Some(*max_worker_count),
                    mcu_count: Some(*mcu_count),
                    min_worker_count: Some(*min_worker_count),
                    scale_in_policy: Some(m::ScaleInPolicyDescription {
                        cpu_utilization_percentage: Some(*scale_in_cpu),
                    }),
                    scale_out_policy: Some(m::ScaleOutPolicyDescription {
                        cpu_utilization_percentage: Some(*scale_out_cpu),
                    }),
                }),
                provisioned_capacity: None,
            },
            CapacityRec::Provisioned { mcu_count, worker_count } => m::CapacityDescription {
                auto_scaling: None,
                provisioned_capacity: Some(m::ProvisionedCapacityDescription {
                    mcu_count: Some(*mcu_count),
                    worker_count: Some(*worker_count),
                }),
            },
        }
    }
}

/// A reference to one revision of a custom plugin or worker configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RevisionRef {
    /// The ARN of the plugin or worker configuration.
    pub arn: String,
    /// The revision.
    pub revision: i64,
}

/// A connector's worker setting: what an `UPDATE_WORKER_SETTING` operation changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerSettingRec {
    /// Workers.
    pub capacity: CapacityRec,
    /// The custom plugins (exactly one).
    pub plugins: Vec<RevisionRef>,
    /// The worker configuration; `None` is MSK Connect's default one.
    pub worker_configuration: Option<RevisionRef>,
}

impl WorkerSettingRec {
    /// The `plugins` member of the wire shapes.
    pub fn plugins_model(&self) -> Vec<m::PluginDescription> {
        self.plugins
            .iter()
            .map(|p| m::PluginDescription {
                custom_plugin: Some(m::CustomPluginDescription {
                    custom_plugin_arn: Some(p.arn.clone()),
                    revision: Some(p.revision),
                }),
            })
            .collect()
    }

    /// The `workerConfiguration` member of the wire shapes.
    pub fn worker_configuration_model(&self) -> Option<m::WorkerConfigurationDescription> {
        self.worker_configuration.as_ref().map(|w| m::WorkerConfigurationDescription {
            revision: Some(w.revision),
            worker_configuration_arn: Some(w.arn.clone()),
        })
    }

    /// The wire shape of operation origins and targets.
    pub fn to_model(&self) -> m::WorkerSetting {
        m::WorkerSetting {
            capacity: Some(self.capacity.to_model()),
            plugins: Some(self.plugins_model()),
            use_default_worker_configuration: Some(self.worker_configuration.is_none()),
            worker_configuration: self.worker_configuration_model(),
        }
    }
}

/// One destination of worker logs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogDestinationRec {
    /// Whether logs go there.
    pub enabled: bool,
    /// The log group, delivery stream or bucket.
    pub target: Option<String>,
    /// The S3 key prefix (S3 only).
    pub prefix: Option<String>,
}

/// Where worker logs go; only the destinations the caller supplied are kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogDeliveryRec {
    /// CloudWatch Logs.
    pub cloud_watch_logs: Option<LogDestinationRec>,
    /// Kinesis Data Firehose.
    pub firehose: Option<LogDestinationRec>,
    /// Amazon S3.
    pub s3: Option<LogDestinationRec>,
}

impl LogDeliveryRec {
    /// The wire shape.
    pub fn to_model(&self) -> m::LogDeliveryDescription {
        m::LogDeliveryDescription {
            worker_log_delivery: Some(m::WorkerLogDeliveryDescription {
                cloud_watch_logs: self.cloud_watch_logs.as_ref().map(|d| m::CloudWatchLogsLogDeliveryDescription {
                    enabled: Some(d.enabled),
                    log_group: d.target.clone(),
                }),
                firehose: self.firehose.as_ref().map(|d| m::FirehoseLogDeliveryDescription {
                    delivery_stream: d.target.clone(),
                    enabled: Some(d.enabled),
                }),
                s3: self.s3.as_ref().map(|d| m::S3LogDeliveryDescription {
                    bucket: d.target.clone(),
                    enabled: Some(d.enabled),
                    prefix: d.prefix.clone(),
                }),
            }),
        }
    }
}

/// A connector.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConnectorRec {
    /// The last ARN segment (`{uuid}-2`), the key of the document.
    pub id: String,
    /// The ARN.
    pub arn: String,
    /// The name, unique in the account and region.
    pub name: String,
    /// `connectorDescription`.
    pub description: Option<String>,
    /// The lifecycle state.
    pub state: m::ConnectorState,
    /// Why the connector is in its state (set when it FAILED).
    pub state_description: Option<Problem>,
    /// Creation time, ms since the epoch.
    pub creation_time: i64,
    /// The value UpdateConnector and DeleteConnector compare `currentVersion` against.
    pub current_version: String,
    /// Capacity, plugins and worker configuration.
    pub worker: WorkerSettingRec,
    /// The Kafka Connect configuration.
    pub connector_configuration: BTreeMap<String, String>,
    /// `kafkaCluster.apacheKafkaCluster.bootstrapServers`.
    pub bootstrap_servers: String,
    /// `…vpc.subnets`.
    pub subnets: Vec<String>,
    /// `…vpc.securityGroups`.
    pub security_groups: Option<Vec<String>>,
    /// `kafkaClusterClientAuthentication`.
    pub authentication_type: m::KafkaClusterClientAuthenticationType,
    /// `kafkaClusterEncryptionInTransit`.
    pub encryption_type: m::KafkaClusterEncryptionInTransitType,
    /// `kafkaConnectVersion`.
    pub kafka_connect_version: String,
    /// `logDelivery`, only when supplied.
    pub log_delivery: Option<LogDeliveryRec>,
    /// `networkType`.
    pub network_type: m::NetworkType,
    /// `serviceExecutionRoleArn`.
    pub service_execution_role_arn: String,
    /// The id of the operation in flight; at most one at a time.
    pub active_operation: Option<String>,
    /// How many connector operations were started; numbers them for newest-first listing.
    pub operation_count: u64,
    /// Why creation will fail, decided when the request was accepted (applied at the end).
    pub planned_create_failure: Option<Problem>,
    /// When deletion was requested, ms since the epoch.
    pub deleting_since: Option<i64>,
}

impl ConnectorRec {
    fn kafka_cluster_model(&self) -> m::KafkaClusterDescription {
        m::KafkaClusterDescription {
            apache_kafka_cluster: Some(m::ApacheKafkaClusterDescription {
                bootstrap_servers: Some(self.bootstrap_servers.clone()),
                vpc: Some(m::VpcDescription {
                    security_groups: self.security_groups.clone(),
                    subnets: Some(self.subnets.clone()),
                }),
            }),
        }
    }

    /// The DescribeConnector output.
    pub fn describe(&self) -> m::DescribeConnectorResponse {
        m::DescribeConnectorResponse {
            capacity: Some(self.worker.capacity.to_model()),
            connector_arn: Some(self.arn.clone()),
            connector_configuration: Some(self.connector_configuration.clone()),
            connector_description: self.description.clone(),
            connector_name: Some(self.name.clone()),
            connector_state: Some(self.state),
            creation_time: Some(Timestamp(self.creation_time)),
            current_version: Some(self.current_version.clone()),
            kafka_cluster: Some(self.kafka_cluster_model()),
            kafka_cluster_client_authentication: Some(m::KafkaClusterClientAuthenticationDescription {
                authentication_type: Some(self.authentication_type),
            }),
            kafka_cluster_encryption_in_transit: Some(m::KafkaClusterEncryptionInTransitDescription {
                encryption_type: Some(self.encryption_type),
            }),
            kafka_connect_version: Some(self.kafka_connect_version.clone()),
            log_delivery: self.log_delivery.as_ref().map(LogDeliveryRec::to_model),
            network_type: Some(self.network_type),
            plugins: Some(self.worker.plugins_model()),
            service_execution_role_arn: Some(self.service_execution_role_arn.clone()),
            state_description: self.state_description.as_ref().map(Problem::to_model),
            worker_configuration: self.worker.worker_configuration_model(),
        }
    }

    /// The ListConnectors entry.
    pub fn summary(&self) -> m::ConnectorSummary {
        let d = self.describe();
        m::ConnectorSummary {
            capacity: d.capacity,
            connector_arn: d.connector_arn,
            connector_description: d.connector_description,
            connector_name: d.connector_name,
            connector_state: d.connector_state,
            creation_time: d.creation_time,
            current_version: d.current_version,
            kafka_cluster: d.kafka_cluster,
            kafka_cluster_client_authentication: d.kafka_cluster_client_authentication,
            kafka_cluster_encryption_in_transit: d.kafka_cluster_encryption_in_transit,
            kafka_connect_version: d.kafka_connect_version,
            log_delivery: d.log_delivery,
            network_type: d.network_type,
            plugins: d.plugins,
            service_execution_role_arn: d.service_execution_role_arn,
            worker_configuration: d.worker_configuration,
        }
    }
}

/// A custom plugin (always exactly one revision: no public API creates more).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PluginRec {
    /// The last ARN segment, the key of the document.
    pub id: String,
    /// The ARN.
    pub arn: String,
    /// The name, unique in the account and region.
    pub name: String,
    /// `description`.
    pub description: Option<String>,
    /// The lifecycle state.
    pub state: m::CustomPluginState,
    /// Why the plugin is in its state (set when CREATE_FAILED).
    pub state_description: Option<Problem>,
    /// Creation time, ms since the epoch.
    pub creation_time: i64,
    /// `JAR` or `ZIP`.
    pub content_type: m::CustomPluginContentType,
    /// `location.s3Location.bucketArn`.
    pub bucket_arn: String,
    /// `location.s3Location.fileKey`.
    pub file_key: String,
    /// `location.s3Location.objectVersion`.
    pub object_version: Option<String>,
    /// Hex MD5 of the plugin file (derived from its location: localplane does not read S3).
    pub file_md5: String,
    /// Size of the plugin file in bytes (derived likewise).
    pub file_size: i64,
    /// The newest successfully created revision; `None` until creation succeeds.
    pub latest_revision: Option<i64>,
    /// Why creation will fail, decided when the request was accepted (applied at the end).
    pub planned_create_failure: Option<Problem>,
    /// When deletion was requested, ms since the epoch.
    pub deleting_since: Option<i64>,
}

impl PluginRec {
    /// The `latestRevision` member, present once a revision was created.
    pub fn latest_revision_model(&self) -> Option<m::CustomPluginRevisionSummary> {
        let revision = self.latest_revision?;
        Some(m::CustomPluginRevisionSummary {
            content_type: Some(self.content_type),
            creation_time: Some(Timestamp(self.creation_time)),
            description: self.description.clone(),
            file_description: Some(m::CustomPluginFileDescription {
                file_md5: Some(self.file_md5.clone()),
                file_size: Some(self.file_size),
            }),
            location: Some(m::CustomPluginLocationDescription {
                s3_location: Some(m::S3LocationDescription {
                    bucket_arn: Some(self.bucket_arn.clone()),
                    file_key: Some(self.file_key.clone()),
                    object_version: self.object_version.clone(),
                }),
            }),
            revision: Some(revision),
        })
    }

    /// The DescribeCustomPlugin output.
    pub fn describe(&self) -> m::DescribeCustomPluginResponse {
        m::DescribeCustomPluginResponse {
            creation_time: Some(Timestamp(self.creation_time)),
            custom_plugin_arn: Some(self.arn.clone()),
            custom_plugin_state: Some(self.state),
            description: self.description.clone(),
            latest_revision: self.latest_revision_model(),
            name: Some(self.name.clone()),
            state_description: self.state_description.as_ref().map(Problem::to_model),
        }
    }

    /// The ListCustomPlugins entry.
    pub fn summary(&self) -> m::CustomPluginSummary {
        m::CustomPluginSummary {
            creation_time: Some(Timestamp(self.creation_time)),
            custom_plugin_arn: Some(self.arn.clone()),
            custom_plugin_state: Some(self.state),
            description: self.description.clone(),
            latest_revision: self.latest_revision_model(),
            name: Some(self.name.clone()),
        }
    }
}

/// A worker configuration (always exactly revision 1).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerConfigRec {
    /// The last ARN segment, the key of the document.
    pub id: String,
    /// The ARN.
    pub arn: String,
    /// The name, unique in the account and region.
    pub name: String,
    /// `description`.
    pub description: Option<String>,
    /// The lifecycle state.
    pub state: m::WorkerConfigurationState,
    /// Creation time, ms since the epoch.
    pub creation_time: i64,
    /// The base64 `connect-distributed.properties` text, as the caller sent it.
    pub properties_file_content: String,
    /// When deletion was requested, ms since the epoch.
    pub deleting_since: Option<i64>,
}

impl WorkerConfigRec {
    /// The only revision there is.
    pub const REVISION: i64 = 1;

    /// The `latestRevision` member of create and list outputs.
    pub fn revision_summary(&self) -> m::WorkerConfigurationRevisionSummary {
        m::WorkerConfigurationRevisionSummary {
            creation_time: Some(Timestamp(self.creation_time)),
            description: self.description.clone(),
            revision: Some(Self::REVISION),
        }
    }

    /// The DescribeWorkerConfiguration output.
    pub fn describe(&self) -> m::DescribeWorkerConfigurationResponse {
        m::DescribeWorkerConfigurationResponse {
            creation_time: Some(Timestamp(self.creation_time)),
            description: self.description.clone(),
            latest_revision: Some(m::WorkerConfigurationRevisionDescription {
                creation_time: Some(Timestamp(self.creation_time)),
                description: self.description.clone(),
                properties_file_content: Some(self.properties_file_content.clone()),
                revision: Some(Self::REVISION),
            }),
            name: Some(self.name.clone()),
            worker_configuration_arn: Some(self.arn.clone()),
            worker_configuration_state: Some(self.state),
        }
    }

    /// The ListWorkerConfigurations entry.
    pub fn summary(&self) -> m::WorkerConfigurationSummary {
        m::WorkerConfigurationSummary {
            creation_time: Some(Timestamp(self.creation_time)),
            description: self.description.clone(),
            latest_revision: Some(self.revision_summary()),
            name: Some(self.name.clone()),
            worker_configuration_arn: Some(self.arn.clone()),
            worker_configuration_state: Some(self.state),
        }
    }
}

/// One step of an update operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRec {
    /// What the step does.
    pub step_type: m::ConnectorOperationStepType,
    /// Where it is.
    pub state: m::ConnectorOperationStepState,
}

/// A failure an operation will meet: set when the request is accepted (localplane's own validation,
/// or an operation fault rule), honoured by the driver when the operation reaches `step`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedFailure {
    /// The step that fails; `None` for operations without steps (pause, resume, restart), which
    /// then fail while in progress.
    pub step: Option<m::ConnectorOperationStepType>,
    /// `errorInfo.code`.
    pub code: String,
    /// `errorInfo.message`.
    pub message: String,
    /// How the rollback ends (ignored where no rollback can happen).
    pub rollback: Rollback,
}

/// A connector operation: one UpdateConnector, PauseConnector, ResumeConnector or RestartConnector.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConnectorOperationRec {
    /// The last ARN segment (a UUID).
    pub id: String,
    /// The ARN.
    pub arn: String,
    /// The connector's id.
    pub connector_id: String,
    /// The connector's ARN.
    pub connector_arn: String,
    /// What the operation does.
    pub op_type: m::ConnectorOperationType,
    /// Where it is.
    pub state: m::ConnectorOperationState,
    /// Steps of update operations; empty for pause, resume and restart.
    pub steps: Vec<StepRec>,
    /// Worker setting before (worker-setting updates).
    pub origin_worker_setting: Option<WorkerSettingRec>,
    /// Worker setting after: the request merged into the origin (worker-setting updates).
    pub target_worker_setting: Option<WorkerSettingRec>,
    /// Connector configuration before (configuration updates).
    pub origin_connector_configuration: Option<BTreeMap<String, String>>,
    /// Connector configuration after (configuration updates).
    pub target_connector_configuration: Option<BTreeMap<String, String>>,
    /// Why it failed.
    pub error_info: Option<Problem>,
    /// When the request was accepted, ms since the epoch.
    pub creation_time: i64,
    /// When it reached a terminal state; `None` while it runs.
    pub end_time: Option<i64>,
    /// `skipHealthValidation` of the request: a failure is then not rolled back.
    pub skip_health_validation: bool,
    /// The connector's state when the operation started (RUNNING or PAUSED).
    pub origin_state: m::ConnectorState,
    /// The failure this operation will meet, if any.
    pub planned_failure: Option<PlannedFailure>,
}

impl ConnectorOperationRec {
    /// Whether the operation has ended.
    pub fn is_terminal(&self) -> bool {
        self.end_time.is_some()
    }

    /// Whether it is one of the two update types (the ones with steps and rollback).
    pub fn is_update(&self) -> bool {
        matches!(
            self.op_type,
            m::ConnectorOperationType::UpdateWorkerSetting | m::ConnectorOperationType::UpdateConnectorConfiguration
        )
    }

    /// The DescribeConnectorOperation output.
    pub fn describe(&self) -> m::DescribeConnectorOperationResponse {
        m::DescribeConnectorOperationResponse {
            connector_arn: Some(self.connector_arn.clone()),
            connector_operation_arn: Some(self.arn.clone()),
            connector_operation_state: Some(self.state),
            connector_operation_type: Some(self.op_type),
            creation_time: Some(Timestamp(self.creation_time)),
            end_time: self.end_time.map(Timestamp),
            error_info: self.error_info.as_ref().map(Problem::to_model),
            operation_steps: self.is_update().then(|| {
                self.steps
                    .iter()
                    .map(|s| m::ConnectorOperationStep { step_state: Some(s.state), step_type: Some(s.step_type) })
                    .collect()
            }),
            origin_connector_configuration: self.origin_connector_configuration.clone(),
            origin_worker_setting: self.origin_worker_setting.as_ref().map(WorkerSettingRec::to_model),
            target_connector_configuration: self.target_connector_configuration.clone(),
            target_worker_setting: self.target_worker_setting.as_ref().map(WorkerSettingRec::to_model),
        }
    }

    /// The ListConnectorOperations entry.
    pub fn summary(&self) -> m::ConnectorOperationSummary {
        m::ConnectorOperationSummary {
            connector_operation_arn: Some(self.arn.clone()),
            connector_operation_state: Some(self.state),
            connector_operation_type: Some(self.op_type),
            creation_time: Some(Timestamp(self.creation_time)),
            end_time: self.end_time.map(Timestamp),
        }
    }
}

/// The key space of one account and region.
#[derive(Debug, Clone)]
pub struct Keys {
    /// `kc/{account}/{region}/`, the prefix of every key below.
    pub scope: String,
}

impl Keys {
    /// The keys of `account` in `region`.
    pub fn new(account: &str, region: &str) -> Self {
        Keys { scope: format!("{KEY_PREFIX}{account}/{region}/") }
    }
    /// Connector documents.
    pub fn connectors(&self) -> String {
        format!("{}conn/", self.scope)
    }
    /// A connector document.
    pub fn connector(&self, id: &str) -> String {
        format!("{}conn/{id}", self.scope)
    }
    /// The creation-order index of connectors (value: the id).
    pub fn connectors_in_order(&self) -> String {
        format!("{}connorder/", self.scope)
    }
    /// A connector's entry in the creation-order index.
    pub fn connector_in_order(&self, created: i64, id: &str) -> String {
        format!("{}connorder/{:016x}/{id}", self.scope, created.max(0))
    }
    /// The reservation of a connector name (value: the id).
    pub fn connector_name(&self, name: &str) -> String {
        format!("{}connname/{name}", self.scope)
    }
    /// A custom plugin document.
    pub fn plugin(&self, id: &str) -> String {
        format!("{}plugin/{id}", self.scope)
    }
    /// The creation-order index of custom plugins (value: the id).
    pub fn plugins_in_order(&self) -> String {
        format!("{}pluginorder/", self.scope)
    }
    /// A plugin's entry in the creation-order index.
    pub fn plugin_in_order(&self, created: i64, id: &str) -> String {
        format!("{}pluginorder/{:016x}/{id}", self.scope, created.max(0))
    }
    /// The reservation of a custom plugin name (value: the id).
    pub fn plugin_name(&self, name: &str) -> String {
        format!("{}pluginname/{name}", self.scope)
    }
    /// A worker configuration document.
    pub fn worker_configuration(&self, id: &str) -> String {
        format!("{}wc/{id}", self.scope)
    }
    /// The creation-order index of worker configurations (value: the id).
    pub fn worker_configurations_in_order(&self) -> String {
        format!("{}wcorder/", self.scope)
    }
    /// A worker configuration's entry in the creation-order index.
    pub fn worker_configuration_in_order(&self, created: i64, id: &str) -> String {
        format!("{}wcorder/{:016x}/{id}", self.scope, created.max(0))
    }
    /// The reservation of a worker configuration name (value: the id).
    pub fn worker_configuration_name(&self, name: &str) -> String {
        format!("{}wcname/{name}", self.scope)
    }
    /// The operation documents of a connector.
    pub fn operations(&self, connector_id: &str) -> String {
        format!("{}op/{connector_id}/", self.scope)
    }
    /// An operation document.
    pub fn operation(&self, connector_id: &str, op_id: &str) -> String {
        // Not `format!`: this key is made for every operation a page lists, and formatting showed
        // in profiles of ListConnectorOperations.
        [self.scope.as_str(), "op/", connector_id, "/", op_id].concat()
    }
    /// The newest-first index of a connector's operations (value: the operation id).
    pub fn operations_newest_first(&self, connector_id: &str) -> String {
        format!("{}opnew/{connector_id}/", self.scope)
    }
    /// The `seq`-th operation's entry in the newest-first index.
    pub fn operation_newest_first(&self, connector_id: &str, seq: u64) -> String {
        format!("{}opnew/{connector_id}/{:016x}", self.scope, u64::MAX - seq)
    }
    /// The tags of a resource.
    pub fn tags(&self, arn: &str) -> String {
        format!("{}tags/{arn}", self.scope)
    }
}

/// A piece of asynchronous work the engine drives for MSK Connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Task {
    /// CREATING → RUNNING | FAILED of a connector.
    CreateConnector(String),
    /// DELETING → gone of a connector.
    DeleteConnector(String),
    /// CREATING → ACTIVE | CREATE_FAILED of a custom plugin.
    CreatePlugin(String),
    /// DELETING → gone of a custom plugin.
    DeletePlugin(String),
    /// DELETING → gone of a worker configuration.
    DeleteWorkerConfiguration(String),
    /// A connector operation.
    Operation {
        /// The connector's id.
        connector_id: String,
        /// The operation's id.
        operation_id: String,
    },
}

impl Task {
    /// The engine's reference of this task in `account`/`region`.
    pub fn to_ref(&self, account: &str, region: &str) -> String {
        let what = match self {
            Task::CreateConnector(id) => format!("create-connector/{id}"),
            Task::DeleteConnector(id) => format!("delete-connector/{id}"),
            Task::CreatePlugin(id) => format!("create-plugin/{id}"),
            Task::DeletePlugin(id) => format!("delete-plugin/{id}"),
            Task::DeleteWorkerConfiguration(id) => format!("delete-worker-configuration/{id}"),
            Task::Operation { connector_id, operation_id } => format!("operation/{connector_id}/{operation_id}"),
        };
        format!("{account}/{region}/{what}")
    }

    /// Parses an engine reference back into its scope and task.
    pub fn parse_ref(task_ref: &str) -> Option<(Keys, Task)> {
        let mut it = task_ref.splitn(4, '/');
        let (account, region, kind, rest) = (it.next()?, it.next()?, it.next()?, it.next()?);
        let task = match kind {
            "create-connector" => Task::CreateConnector(rest.to_string()),
            "delete-connector" => Task::DeleteConnector(rest.to_string()),
            "create-plugin" => Task::CreatePlugin(rest.to_string()),
            "delete-plugin" => Task::DeletePlugin(rest.to_string()),
            "delete-worker-configuration" => Task::DeleteWorkerConfiguration(rest.to_string()),
            "operation" => {
                let (c, o) = rest.split_once('/')?;
                Task::Operation { connector_id: c.to_string(), operation_id: o.to_string() }
            }
            _ => return None,
        };
        Some((Keys::new(account, region), task))
    }
}

/// The resource types an MSK Connect ARN can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArnKind {
    /// `connector/{name}/{id}`
    Connector,
    /// `custom-plugin/{name}/{id}`
    CustomPlugin,
    /// `worker-configuration/{name}/{id}`
    WorkerConfiguration,
    /// `connector-operation/{connectorName}/{connectorId}/{operationId}`
    ConnectorOperation,
}

impl ArnKind {
    /// The resource type segment of the ARN.
    pub fn resource_type(self) -> &'static str {
        match self {
            ArnKind::Connector => "connector",
            ArnKind::CustomPlugin => "custom-plugin",
            ArnKind::WorkerConfiguration => "worker-configuration",
            ArnKind::ConnectorOperation => "connector-operation",
        }
    }

    /// How error messages name the kind.
    pub fn noun(self) -> &'static str {
        match self {
            ArnKind::Connector => "connector",
            ArnKind::CustomPlugin => "custom plugin",
            ArnKind::WorkerConfiguration => "worker configuration",
            ArnKind::ConnectorOperation => "connector operation",
        }
    }
}

/// A well-formed MSK Connect ARN, taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedArn {
    /// What it names.
    pub kind: ArnKind,
    /// Its region.
    pub region: String,
    /// Its account.
    pub account: String,
    /// The resource name (the connector's name for an operation).
    pub name: String,
    /// The resource id (the connector's id for an operation).
    pub id: String,
    /// The operation id (operations only).
    pub operation_id: Option<String>,
}

/// Parses `arn:{partition}:kafkaconnect:{region}:{account}:{type}/{name}/{id}[/{operationId}]`;
/// `None` when the string is not an MSK Connect ARN of a known resource type.
pub fn parse_arn(arn: &str) -> Option<ParsedArn> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts.as_slice() else {
        return None;
    };
    if *prefix != "arn"
        || !partition.starts_with("aws")
        || *service != "kafkaconnect"
        || region.is_empty()
        || account.len() != 12
        || !account.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let segs: Vec<&str> = resource.split('/').collect();
    if segs.iter().any(|s| s.is_empty()) {
        return None;
    }
    let kind = match segs.first().copied() {
        Some("connector") => ArnKind::Connector,
        Some("custom-plugin") => ArnKind::CustomPlugin,
        Some("worker-configuration") => ArnKind::WorkerConfiguration,
        Some("connector-operation") => ArnKind::ConnectorOperation,
        _ => return None,
    };
    let expected = if kind == ArnKind::ConnectorOperation { 4 } else { 3 };
    if segs.len() != expected {
        return None;
    }
    Some(ParsedArn {
        kind,
        region: region.to_string(),
        account: account.to_string(),
        name: segs[1].to_string(),
        id: segs[2].to_string(),
        operation_id: segs.get(3).map(|s| s.to_string()),
    })
}

/// The ARN of a connector, custom plugin or worker configuration.
pub fn resource_arn(region: &str, account: &str, kind: ArnKind, name: &str, id: &str) -> String {
    format!("arn:aws:kafkaconnect:{region}:{account}:{}/{name}/{id}", kind.resource_type())
}

/// The ARN of an operation of the connector whose ARN is `connector_arn`.
pub fn operation_arn(connector_arn: &str, op_id: &str) -> String {
    let rest = connector_arn.strip_prefix("arn:").and_then(|r| r.split_once(":connector/"));
    match rest {
        Some((head, tail)) => format!("arn:{head}:connector-operation/{tail}/{op_id}"),
        None => format!("{connector_arn}/{op_id}"),
    }
}

/// A new resource id: a UUID v4 and the fixed suffix.
pub fn new_resource_id() -> String {
    format!("{}{RESOURCE_ID_SUFFIX}", uuid::Uuid::new_v4())
}

/// A new operation id: a UUID v4.
pub fn new_operation_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A new `currentVersion`: 14 characters of `[A-Z0-9]`, like the sibling MSK API's versions.
pub fn new_current_version() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::thread_rng();
    (0..14).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_round_trip() {
        let id = new_resource_id();
        let arn = resource_arn("us-east-1", "123456789012", ArnKind::Connector, "orders", &id);
        let p = parse_arn(&arn).expect("parses");
        assert_eq!(p.kind, ArnKind::Connector);
        assert_eq!((p.name.as_str(), p.id.as_str()), ("orders", id.as_str()));
        let op = operation_arn(&arn, "0f6e2d1c-7a8b-4e5f-9c0d-1b2a3c4d5e6f");
        assert_eq!(
            op,
            format!("arn:aws:kafkaconnect:us-east-1:123456789012:connector-operation/orders/{id}/0f6e2d1c-7a8b-4e5f-9c0d-1b2a3c4d5e6f")
        );
        let p = parse_arn(&op).expect("parses");
        assert_eq!(p.kind, ArnKind::ConnectorOperation);
        assert_eq!(p.id, id);
        assert!(parse_arn("arn:aws:kafkaconnect:us-east-1:123456789012:connector/orders").is_none());
        assert!(parse_arn("arn:aws:kafka:us-east-1:123456789012:connector/a/b").is_none());
        assert!(parse_arn("not-an-arn").is_none());
    }

    #[test]
    fn task_refs_round_trip() {
        let t = Task::Operation { connector_id: "c-2".into(), operation_id: "o".into() };
        let r = t.to_ref("123456789012", "us-east-1");
        let (keys, back) = Task::parse_ref(&r).expect("parses");
        assert_eq!(back, t);
        assert_eq!(keys.scope, "kc/123456789012/us-east-1/");
    }

    #[test]
    fn versions_are_fourteen_uppercase_alphanumerics() {
        let v = new_current_version();
        assert_eq!(v.len(), 14);
        assert!(v.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()));
    }
}
