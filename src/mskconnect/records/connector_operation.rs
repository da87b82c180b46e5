//! The document of a connector operation (an update, pause, resume or restart), its steps and the
//! failure it is planned to meet.

use super::documents::{ConnectorRec, Problem, WorkerSettingRec};
use super::keys::{new_operation_id, operation_arn};
use crate::engine::Rollback;
use crate::model::kafkaconnect as m;
use crate::wire::shape::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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
    /// A new PENDING operation of `op_type` on connector `c`, with no steps or settings yet.
    pub fn pending(c: &ConnectorRec, op_type: m::ConnectorOperationType, now: i64) -> ConnectorOperationRec {
        let id = new_operation_id();
        ConnectorOperationRec {
            arn: operation_arn(&c.arn, &id),
            id,
            connector_id: c.id.clone(),
            connector_arn: c.arn.clone(),
            op_type,
            state: m::ConnectorOperationState::Pending,
            steps: Vec::new(),
            origin_worker_setting: None,
            target_worker_setting: None,
            origin_connector_configuration: None,
            target_connector_configuration: None,
            error_info: None,
            creation_time: now,
            end_time: None,
            skip_health_validation: false,
            origin_state: c.state,
            planned_failure: None,
        }
    }

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
