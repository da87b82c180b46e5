//! The documents MSK Connect stores for connectors, custom plugins and worker configurations, and
//! the wire shapes they describe themselves as.

use super::keys::operation_arn;
use crate::model::kafkaconnect as m;
use crate::wire::shape::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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
    /// The ARN of the operation in flight, for messages.
    pub fn active_operation_arn(&self) -> Option<String> {
        self.active_operation.as_ref().map(|id| operation_arn(&self.arn, id))
    }

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
