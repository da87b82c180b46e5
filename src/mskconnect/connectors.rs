//! Connectors: CreateConnector, DescribeConnector, ListConnectors, DeleteConnector, and the
//! operations on a running connector (UpdateConnector, PauseConnector, ResumeConnector,
//! RestartConnector), each of which starts a connector operation.

use super::connector_settings::*;
use super::records::*;
use super::scope::{self, bad_request, check_name, check_tags, conflict, page_after, page_size, Scope};
use crate::engine::{Engine, Rollback};
use crate::model::kafkaconnect as m;
use crate::paging;
use crate::store::{get_json, put_json};
use crate::tags::Tags;
use crate::wire::shape::{ApiError, RequestContext};
use std::collections::BTreeMap;

/// CreateConnector: checks the request, then writes the connector CREATING and hands its creation
/// to the engine.
pub async fn create(
    engine: &Engine,
    cx: &RequestContext,
    input: m::CreateConnectorRequest,
) -> Result<m::CreateConnectorResponse, ApiError> {
    check_name("connector", &input.connector_name)?;
    let capacity = capacity_from_create(&input.capacity)?;
    if input.plugins.len() != 1 {
        return Err(bad_request(format!("plugins must list exactly one custom plugin, got {}", input.plugins.len())));
    }
    if !input.connector_configuration.contains_key("connector.class") {
        return Err(bad_request("connectorConfiguration must set connector.class, the Java class of the connector"));
    }
    if input.kafka_cluster_client_authentication.authentication_type == m::KafkaClusterClientAuthenticationType::Iam
        && input.kafka_cluster_encryption_in_transit.encryption_type
            == m::KafkaClusterEncryptionInTransitType::Plaintext
    {
        return Err(bad_request(
            "IAM authentication needs TLS: set kafkaClusterEncryptionInTransit.encryptionType to TLS",
        ));
    }
    check_kafka_connect_version(&input.kafka_connect_version)?;
    let cluster = &input.kafka_cluster.apache_kafka_cluster;
    if cluster.bootstrap_servers.trim().is_empty() {
        return Err(bad_request("kafkaCluster.apacheKafkaCluster.bootstrapServers must not be empty"));
    }
    if cluster.vpc.subnets.is_empty() {
        return Err(bad_request("kafkaCluster.apacheKafkaCluster.vpc.subnets must list at least one subnet"));
    }
    check_role_arn(&input.service_execution_role_arn)?;
    let log_delivery = input.log_delivery.as_ref().map(log_delivery_rec).transpose()?;
    let tags = Tags::from_pairs(input.tags.clone().unwrap_or_default());
    check_tags(&format!("Connector {}", input.connector_name), &tags)?;
    scope::write(engine, cx, move |s| {
        let name = input.connector_name;
        let name_key = s.keys.connector_name(&name);
        if s.tx.get(&name_key)?.is_some() {
            return Err(conflict(format!("A connector named {name} already exists in {}", s.cx.region)));
        }
        let mut plugins = Vec::new();
        for p in &input.plugins {
            let r = &p.custom_plugin;
            plugins.push(s.plugin_ref(&r.custom_plugin_arn, r.revision)?);
        }
        let worker_configuration = match &input.worker_configuration {
            Some(w) => Some(s.worker_configuration_ref(&w.worker_configuration_arn, w.revision)?),
            None => None,
        };
        // Connectors list in creation order, also when two are created in one millisecond.
        let now = s.engine.creation_ms();
        let id = new_resource_id();
        let arn = resource_arn(&s.cx.region, &s.cx.account, ArnKind::Connector, &name, &id);
        // The fault rule is used up even when the configuration fails on its own.
        let fault = s.creation_fault("CREATE_CONNECTOR", &[&arn, &id, &name])?;
        let planned_create_failure = configuration_problem(&input.connector_configuration).or(fault);
        let cluster = input.kafka_cluster.apache_kafka_cluster;
        let c = ConnectorRec {
            id: id.clone(),
            arn: arn.clone(),
            name: name.clone(),
            description: input.connector_description,
            state: m::ConnectorState::Creating,
            state_description: None,
            creation_time: now,
            current_version: new_current_version(),
            worker: WorkerSettingRec { capacity, plugins, worker_configuration },
            planned_create_failure,
            connector_configuration: input.connector_configuration,
            bootstrap_servers: cluster.bootstrap_servers,
            subnets: cluster.vpc.subnets,
            security_groups: cluster.vpc.security_groups,
            authentication_type: input.kafka_cluster_client_authentication.authentication_type,
            encryption_type: input.kafka_cluster_encryption_in_transit.encryption_type,
            kafka_connect_version: input.kafka_connect_version,
            log_delivery,
            network_type: input.network_type.unwrap_or(m::NetworkType::Ipv4),
            service_execution_role_arn: input.service_execution_role_arn,
            active_operation: None,
            operation_count: 0,
            deleting_since: None,
        };
        put_json(s.tx, &s.keys.connector(&id), &c)?;
        s.tx.put(&s.keys.connector_in_order(now, &id), id.as_bytes())?;
        s.tx.put(&name_key, id.as_bytes())?;
        if !tags.is_empty() {
            s.put_tags(&arn, &tags)?;
        }
        s.submit(&Task::CreateConnector(id), None)?;
        Ok(m::CreateConnectorResponse {
            connector_arn: Some(arn),
            connector_name: Some(name),
            connector_state: Some(m::ConnectorState::Creating),
        })
    })
    .await
}

/// DeleteConnector: cancels the operation in flight (and a creation under way) and hands the
/// deletion to the engine; deleting a DELETING connector answers the same again.
pub async fn delete(
    engine: &Engine,
    cx: &RequestContext,
    input: m::DeleteConnectorRequest,
) -> Result<m::DeleteConnectorResponse, ApiError> {
    scope::write(engine, cx, move |s| {
        let mut c = s.connector(&input.connector_arn)?;
        if let Some(v) = &input.current_version {
            if *v != c.current_version {
                return Err(bad_request(format!(
                    "The provided currentVersion {v} is not the latest version of connector {}",
                    c.arn
                )));
            }
        }
        let response = m::DeleteConnectorResponse {
            connector_arn: Some(c.arn.clone()),
            connector_state: Some(m::ConnectorState::Deleting),
        };
        if c.state == m::ConnectorState::Deleting {
            return Ok(response);
        }
        let now = s.engine.now_ms();
        s.cancel_operation_for_deletion(&mut c, now)?;
        if c.state == m::ConnectorState::Creating {
            s.cancel(&Task::CreateConnector(c.id.clone()))?;
        }
        c.state = m::ConnectorState::Deleting;
        c.state_description = None;
        c.deleting_since = Some(now);
        put_json(s.tx, &s.keys.connector(&c.id), &c)?;
        s.submit(&Task::DeleteConnector(c.id.clone()), None)?;
        Ok(response)
    })
    .await
}

/// DescribeConnector.
pub async fn describe(
    engine: &Engine,
    cx: &RequestContext,
    input: m::DescribeConnectorRequest,
) -> Result<m::DescribeConnectorResponse, ApiError> {
    scope::read(engine, cx, move |s| Ok(s.connector(&input.connector_arn)?.describe())).await
}

/// ListConnectors: in creation order, filtered by name prefix.
pub async fn list(
    engine: &Engine,
    cx: &RequestContext,
    input: m::ListConnectorsRequest,
) -> Result<m::ListConnectorsResponse, ApiError> {
    scope::read(engine, cx, move |s| {
        let name_prefix = input.connector_name_prefix.unwrap_or_default();
        let prefix = s.keys.connectors_in_order();
        let after = page_after(input.next_token.as_deref(), &prefix)?;
        let keys = &s.keys;
        let (connectors, next_token) =
            paging::page(s.tx, &prefix, after, page_size(input.max_results), |tx, _, id| -> Result<_, ApiError> {
                let id = String::from_utf8_lossy(id);
                Ok(get_json::<ConnectorRec>(tx, &keys.connector(&id))?
                    .filter(|c| c.name.starts_with(&name_prefix))
                    .map(|c| c.summary()))
            })?;
        Ok(m::ListConnectorsResponse { connectors: Some(connectors), next_token })
    })
    .await
}

/// The connector `c` as an operation may start on it: the version the caller read must be the
/// latest, and no other operation may be in flight.
fn check_can_update(c: &ConnectorRec, current_version: &str) -> Result<(), ApiError> {
    if current_version != c.current_version {
        return Err(bad_request(format!(
            "The provided currentVersion {current_version} is not the latest version of connector {}; describe the connector for its current version",
            c.arn
        )));
    }
    if let Some(op) = c.active_operation_arn() {
        return Err(bad_request(format!("Connector {} has operation {op} in progress; wait for it to finish", c.arn)));
    }
    Ok(())
}

/// UpdateConnector: either the worker setting or the connector configuration changes, through an
/// update operation whose steps the engine runs.
pub async fn update(
    engine: &Engine,
    cx: &RequestContext,
    input: m::UpdateConnectorRequest,
) -> Result<m::UpdateConnectorResponse, ApiError> {
    let worker_change = input.capacity.is_some()
        || input.plugins.is_some()
        || input.worker_configuration.is_some()
        || input.use_default_worker_configuration.is_some();
    match (worker_change, input.connector_configuration.is_some()) {
        (true, true) => {
            return Err(bad_request(
                "An update changes either the worker setting (capacity, plugins, workerConfiguration, useDefaultWorkerConfiguration) or connectorConfiguration, not both; send two updates",
            ))
        }
        (false, false) => {
            return Err(bad_request(
                "Nothing to update: specify capacity, plugins, workerConfiguration, useDefaultWorkerConfiguration or connectorConfiguration",
            ))
        }
        _ => {}
    }
    if input.worker_configuration.is_some() && input.use_default_worker_configuration == Some(true) {
        return Err(bad_request(
            "workerConfiguration and useDefaultWorkerConfiguration=true contradict each other; send one of them",
        ));
    }
    let capacity = input.capacity.as_ref().map(capacity_from_update).transpose()?;
    if let Some(p) = &input.plugins {
        if p.len() != 1 {
            return Err(bad_request(format!("plugins must list exactly one custom plugin, got {}", p.len())));
        }
    }
    scope::write(engine, cx, move |s| {
        let mut c = s.connector(&input.connector_arn)?;
        check_can_update(&c, &input.current_version)?;
        let skip = input.skip_health_validation.unwrap_or(false);
        match c.state {
            m::ConnectorState::Running => {}
            m::ConnectorState::Paused if skip => {}
            m::ConnectorState::Paused => {
                return Err(bad_request(format!(
                    "Connector {} is PAUSED; resume it first, or update it with skipHealthValidation=true",
                    c.arn
                )))
            }
            other => {
                return Err(bad_request(format!(
                    "Connector {} is {}; only a RUNNING connector can be updated",
                    c.arn,
                    other.as_str()
                )))
            }
        }
        let now = s.engine.now_ms();
        let mut op = if worker_change {
            worker_setting_update(s, &c, capacity, &input, now)?
        } else {
            configuration_update(&c, input.connector_configuration.unwrap_or_default(), now)?
        };
        op.skip_health_validation = skip;
        c.current_version = new_current_version();
        let connector_arn = c.arn.clone();
        let op_arn = s.start_operation(&mut c, op, m::ConnectorState::Updating)?;
        Ok(m::UpdateConnectorResponse {
            connector_arn: Some(connector_arn),
            connector_operation_arn: Some(op_arn),
            connector_state: Some(m::ConnectorState::Updating),
        })
    })
    .await
}

/// The operation of an update of connector `c`'s worker setting: the request merged into the
/// current setting, which must then differ from it.
fn worker_setting_update(
    s: &mut Scope,
    c: &ConnectorRec,
    capacity: Option<CapacityRec>,
    input: &m::UpdateConnectorRequest,
    now: i64,
) -> Result<ConnectorOperationRec, ApiError> {
    let origin = c.worker.clone();
    let mut target = origin.clone();
    if let Some(cap) = capacity {
        if cap == origin.capacity {
            return Err(bad_request(format!(
                "The capacity is identical to the current capacity of connector {}",
                c.arn
            )));
        }
        target.capacity = cap;
    }
    if let Some(p) = input.plugins.as_ref().and_then(|p| p.first()) {
        let r = &p.custom_plugin;
        target.plugins = vec![s.plugin_ref(&r.custom_plugin_arn, r.revision)?];
    }
    if let Some(w) = &input.worker_configuration {
        target.worker_configuration = Some(s.worker_configuration_ref(&w.worker_configuration_arn, w.revision)?);
    } else if input.use_default_worker_configuration == Some(true) {
        target.worker_configuration = None;
    } else if input.use_default_worker_configuration == Some(false) && origin.worker_configuration.is_none() {
        return Err(bad_request("useDefaultWorkerConfiguration=false needs a workerConfiguration to use instead"));
    }
    if target == origin {
        return Err(bad_request(format!(
            "The requested worker setting is identical to the current one of connector {}",
            c.arn
        )));
    }
    let mut op = ConnectorOperationRec::pending(c, m::ConnectorOperationType::UpdateWorkerSetting, now);
    op.steps = update_steps(m::ConnectorOperationStepType::UpdateWorkerSetting);
    op.origin_worker_setting = Some(origin);
    op.target_worker_setting = Some(target);
    Ok(op)
}

/// The operation of an update of connector `c`'s configuration to `cfg`: `connector.class` must
/// stay, something else must change; a configuration Kafka Connect would reject fails at
/// `VALIDATE_UPDATE`.
fn configuration_update(
    c: &ConnectorRec,
    cfg: BTreeMap<String, String>,
    now: i64,
) -> Result<ConnectorOperationRec, ApiError> {
    let class = "connector.class";
    if cfg.get(class) != c.connector_configuration.get(class) {
        return Err(bad_request(format!(
            "connector.class of connector {} cannot change (it is {}); create a new connector instead",
            c.arn,
            c.connector_configuration.get(class).map_or("unset", String::as_str)
        )));
    }
    if cfg == c.connector_configuration {
        return Err(bad_request(format!(
            "The connector configuration is identical to the current one of connector {}",
            c.arn
        )));
    }
    let mut op = ConnectorOperationRec::pending(c, m::ConnectorOperationType::UpdateConnectorConfiguration, now);
    op.steps = update_steps(m::ConnectorOperationStepType::UpdateConnectorConfiguration);
    op.planned_failure = configuration_problem(&cfg).map(|p| PlannedFailure {
        step: Some(m::ConnectorOperationStepType::ValidateUpdate),
        code: p.code,
        message: p.message,
        rollback: Rollback::Complete,
    });
    op.origin_connector_configuration = Some(c.connector_configuration.clone());
    op.target_connector_configuration = Some(cfg);
    Ok(op)
}

/// The steps of an update whose change step is `change`, all PENDING.
fn update_steps(change: m::ConnectorOperationStepType) -> Vec<StepRec> {
    [
        m::ConnectorOperationStepType::InitializeUpdate,
        change,
        m::ConnectorOperationStepType::ValidateUpdate,
        m::ConnectorOperationStepType::FinalizeUpdate,
    ]
    .into_iter()
    .map(|step_type| StepRec { step_type, state: m::ConnectorOperationStepState::Pending })
    .collect()
}

/// Pause, resume and restart: one operation without steps. Each needs its connector in one state
/// and moves it through another; an operation already in flight is a conflict (409) where the
/// model has ConflictException (pause, resume), else a bad request. Returns the connector's and the
/// operation's ARNs.
pub async fn lifecycle_operation(
    engine: &Engine,
    cx: &RequestContext,
    connector_arn: String,
    op_type: m::ConnectorOperationType,
    only_failed_tasks: bool,
) -> Result<(String, String), ApiError> {
    use m::ConnectorState as S;
    let (from, via, verb, busy): (S, S, &str, fn(String) -> ApiError) = match op_type {
        m::ConnectorOperationType::PauseConnector => (S::Running, S::Pausing, "paused", conflict),
        m::ConnectorOperationType::ResumeConnector => (S::Paused, S::Resuming, "resumed", conflict),
        _ => (S::Running, S::Restarting, "restarted", bad_request),
    };
    scope::write(engine, cx, move |s| {
        let mut c = s.connector(&connector_arn)?;
        if let Some(op) = c.active_operation_arn() {
            return Err(busy(format!("Connector {connector_arn} has operation {op} in progress; wait for it to finish")));
        }
        if c.state != from {
            return Err(bad_request(format!(
                "Connector {connector_arn} is {}; only a {} connector can be {verb}",
                c.state.as_str(),
                from.as_str()
            )));
        }
        if only_failed_tasks && !c.kafka_connect_version.starts_with("3.") {
            return Err(bad_request(format!(
                "onlyFailedTasks is supported only for Kafka Connect 3.7.x connectors; connector {connector_arn} runs {}",
                c.kafka_connect_version
            )));
        }
        let op = ConnectorOperationRec::pending(&c, op_type, s.engine.now_ms());
        let op_arn = s.start_operation(&mut c, op, via)?;
        Ok((c.arn, op_arn))
    })
    .await
}
