//! AWS MSK Connect: the 21 operations of `kafkaconnect` over the store and the operation engine.
//! Each operation validates its input, then reads and writes in one transaction; asynchronous
//! changes (creation, deletion, connector operations) are tasks handed to the engine in that same
//! transaction, and [`driver`] moves them on.

pub mod driver;
pub mod records;

use crate::engine::{Engine, Rollback};
use crate::kept::{Entry, Kept};
use crate::model::kafkaconnect::{self as m, errors as e};
use crate::store::{get_json, put_json, StoreError, Tx};
use crate::wire::shape::{
    encode_output, ApiError, Encoder, JsonEncoder, JsonTimestamps, Protocol, RequestContext, Timestamp,
};
use base64::Engine as _;
use md5::Digest as _;
use records::*;
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

/// The most tags one resource can carry (the usual AWS limit; MSK Connect's own is undocumented).
pub const MAX_TAGS_PER_RESOURCE: usize = 50;
/// Page size of List* when `maxResults` is absent.
const DEFAULT_PAGE_SIZE: usize = 100;
/// `scaleInPolicy.cpuUtilizationPercentage` when CreateConnector omits it (the console default).
const DEFAULT_SCALE_IN_CPU: i32 = 20;
/// `scaleOutPolicy.cpuUtilizationPercentage` when CreateConnector omits it (the console default).
const DEFAULT_SCALE_OUT_CPU: i32 = 80;
/// The Kafka Connect versions MSK Connect offers.
const KAFKA_CONNECT_VERSIONS: &[&str] = &["2.7.1", "3.7.x"];
/// The MSK Connect unit counts a worker can have.
const MCU_COUNTS: &[i32] = &[1, 2, 4, 8];
/// The worker count range (what Terraform validates; the service's own limit is undocumented).
const WORKER_COUNTS: std::ops::RangeInclusive<i32> = 1..=10;
/// How many entries a list transaction reads from the store at a time.
const SCAN_BATCH: usize = 256;

/// The MSK Connect backend.
#[derive(Clone)]
pub struct MskConnect {
    engine: Engine,
    operations: Arc<Kept<KeptOperation>>,
}

/// A connector operation record as last read (DescribeConnectorOperation,
/// ListConnectorOperations), with its describe answer and its summary encoded at first use.
struct KeptOperation {
    rec: ConnectorOperationRec,
    describe: OnceLock<Vec<u8>>,
    summary: OnceLock<Vec<u8>>,
}

impl KeptOperation {
    /// The most connector operation records kept decoded.
    const MAX: usize = 20_000;

    fn decode(key: &str, raw: &[u8]) -> Result<KeptOperation, StoreError> {
        Ok(KeptOperation {
            rec: crate::store::decode_one(key, raw)?,
            describe: OnceLock::new(),
            summary: OnceLock::new(),
        })
    }

    fn describe(&self) -> &[u8] {
        self.describe.get_or_init(|| encode_output(&self.rec.describe(), Protocol::RestJson1))
    }

    fn summary(&self) -> &[u8] {
        self.summary.get_or_init(|| encode_output(&self.rec.summary(), Protocol::RestJson1))
    }
}

/// The ListConnectorOperations response of `ops`, assembled from their kept summaries.
fn connector_operations_response(ops: &[Arc<Entry<KeptOperation>>], next_token: Option<&str>) -> Vec<u8> {
    let size: usize = ops.iter().map(|o| o.value.summary().len() + 1).sum::<usize>() + 64;
    let mut e = JsonEncoder::with_capacity(JsonTimestamps::Iso8601, size);
    // The member order and count of the generated ListConnectorOperationsResponse encoder.
    e.begin_map(1 + next_token.is_some() as usize);
    e.key("connectorOperations");
    e.begin_list(ops.len());
    for o in ops {
        e.raw(o.value.summary());
    }
    e.end_list();
    if let Some(t) = next_token {
        e.key("nextToken");
        e.str(t);
    }
    e.end_map();
    e.finish()
}

fn bad_request(msg: impl Into<String>) -> ApiError {
    ApiError::new(&e::BAD_REQUEST_EXCEPTION, msg)
}

fn not_found(msg: impl Into<String>) -> ApiError {
    ApiError::new(&e::NOT_FOUND_EXCEPTION, msg)
}

fn conflict(msg: impl Into<String>) -> ApiError {
    ApiError::new(&e::CONFLICT_EXCEPTION, msg)
}

/// Names of connectors, plugins and worker configurations: letters, digits and hyphens, starting
/// with a letter or digit (the console's rule; the model only limits the length).
fn check_name(noun: &str, name: &str) -> Result<(), ApiError> {
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-')
        && name.len() <= 128;
    if ok {
        Ok(())
    } else {
        Err(bad_request(format!(
            "The {noun} name '{name}' is not valid: use 1-128 letters, digits and hyphens, starting with a letter or digit"
        )))
    }
}

fn check_tags(resource: &str, tags: &BTreeMap<String, String>) -> Result<(), ApiError> {
    if let Some(k) = tags.keys().find(|k| k.starts_with("aws:")) {
        return Err(bad_request(format!("Tag key {k} is reserved: keys starting with aws: belong to AWS")));
    }
    if tags.len() > MAX_TAGS_PER_RESOURCE {
        return Err(bad_request(format!(
            "{resource} would have {} tags; a resource can have at most {MAX_TAGS_PER_RESOURCE}",
            tags.len()
        )));
    }
    Ok(())
}

fn check_role_arn(arn: &str) -> Result<(), ApiError> {
    let ok = arn
        .strip_prefix("arn:")
        .and_then(|r| r.split_once(":iam::"))
        .and_then(|(partition, rest)| partition.starts_with("aws").then_some(rest))
        .and_then(|rest| rest.split_once(":role/"))
        .is_some_and(|(account, role)| {
            account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) && !role.is_empty()
        });
    if ok {
        Ok(())
    } else {
        Err(bad_request(format!(
            "serviceExecutionRoleArn {arn} is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)"
        )))
    }
}

/// Takes apart an ARN the caller passed for a resource of one of `kinds`. A string that is not an
/// MSK Connect ARN of such a kind is a bad request; an ARN of another account or region names
/// nothing here (`None`).
fn resolve(cx: &RequestContext, arn: &str, kinds: &[ArnKind]) -> Result<Option<ParsedArn>, ApiError> {
    let parsed = parse_arn(arn).filter(|p| kinds.contains(&p.kind));
    let Some(p) = parsed else {
        let expected: Vec<String> = kinds
            .iter()
            .map(|k| format!("arn:aws:kafkaconnect:{}:{}:{}/NAME/ID", cx.region, cx.account, k.resource_type()))
            .collect();
        let nouns: Vec<&str> = kinds.iter().map(|k| k.noun()).collect();
        return Err(bad_request(format!(
            "'{arn}' is not a valid {} ARN (expected {})",
            nouns.join(" or "),
            expected.join(" or ")
        )));
    };
    if p.account != cx.account || p.region != cx.region {
        return Ok(None);
    }
    Ok(Some(p))
}

fn connector_not_found(arn: &str) -> ApiError {
    not_found(format!("Connector {arn} not found"))
}

fn plugin_not_found(arn: &str) -> ApiError {
    not_found(format!("Custom plugin {arn} not found"))
}

fn worker_configuration_not_found(arn: &str) -> ApiError {
    not_found(format!("Worker configuration {arn} not found"))
}

/// Reads the connector `arn` names: 400 for a string that is not a connector ARN, 404 for one
/// that names no connector.
fn load_connector(tx: &mut dyn Tx, cx: &RequestContext, keys: &Keys, arn: &str) -> Result<ConnectorRec, ApiError> {
    let Some(p) = resolve(cx, arn, &[ArnKind::Connector])? else {
        return Err(connector_not_found(arn));
    };
    match get_json::<ConnectorRec>(tx, &keys.connector(&p.id))? {
        Some(c) if c.arn == arn => Ok(c),
        _ => Err(connector_not_found(arn)),
    }
}

/// Reads the custom plugin `arn` names (400 / 404 like [`load_connector`]).
fn load_plugin(tx: &mut dyn Tx, cx: &RequestContext, keys: &Keys, arn: &str) -> Result<PluginRec, ApiError> {
    let Some(p) = resolve(cx, arn, &[ArnKind::CustomPlugin])? else {
        return Err(plugin_not_found(arn));
    };
    match get_json::<PluginRec>(tx, &keys.plugin(&p.id))? {
        Some(r) if r.arn == arn => Ok(r),
        _ => Err(plugin_not_found(arn)),
    }
}

/// Reads the worker configuration `arn` names (400 / 404 like [`load_connector`]).
fn load_worker_configuration(
    tx: &mut dyn Tx,
    cx: &RequestContext,
    keys: &Keys,
    arn: &str,
) -> Result<WorkerConfigRec, ApiError> {
    let Some(p) = resolve(cx, arn, &[ArnKind::WorkerConfiguration])? else {
        return Err(worker_configuration_not_found(arn));
    };
    match get_json::<WorkerConfigRec>(tx, &keys.worker_configuration(&p.id))? {
        Some(r) if r.arn == arn => Ok(r),
        _ => Err(worker_configuration_not_found(arn)),
    }
}

/// A plugin a connector may use: it must exist with that revision (404) and not be failed or on
/// its way out (400). A plugin still CREATING is accepted; the connector fails later if it never
/// becomes ACTIVE.
fn plugin_ref(
    tx: &mut dyn Tx,
    cx: &RequestContext,
    keys: &Keys,
    arn: &str,
    revision: i64,
) -> Result<RevisionRef, ApiError> {
    let p = load_plugin(tx, cx, keys, arn)?;
    if revision != 1 {
        return Err(not_found(format!("Revision {revision} of custom plugin {arn} not found (it has revision 1)")));
    }
    match p.state {
        m::CustomPluginState::CreateFailed | m::CustomPluginState::Deleting => {
            Err(bad_request(format!("Custom plugin {arn} is {} and cannot be used by a connector", p.state.as_str())))
        }
        _ => Ok(RevisionRef { arn: p.arn, revision }),
    }
}

/// A worker configuration a connector may use: it must exist with that revision (404) and not be
/// DELETING (400).
fn worker_configuration_ref(
    tx: &mut dyn Tx,
    cx: &RequestContext,
    keys: &Keys,
    arn: &str,
    revision: i64,
) -> Result<RevisionRef, ApiError> {
    let w = load_worker_configuration(tx, cx, keys, arn)?;
    if revision != WorkerConfigRec::REVISION {
        return Err(not_found(format!(
            "Revision {revision} of worker configuration {arn} not found (it has revision 1)"
        )));
    }
    if w.state == m::WorkerConfigurationState::Deleting {
        return Err(bad_request(format!("Worker configuration {arn} is DELETING and cannot be used by a connector")));
    }
    Ok(RevisionRef { arn: w.arn, revision })
}

fn check_mcu(at: &str, mcu: i32) -> Result<(), ApiError> {
    if MCU_COUNTS.contains(&mcu) {
        Ok(())
    } else {
        Err(bad_request(format!("{at}.mcuCount must be 1, 2, 4 or 8, got {mcu}")))
    }
}

fn check_workers(at: &str, n: i32) -> Result<(), ApiError> {
    if WORKER_COUNTS.contains(&n) {
        Ok(())
    } else {
        Err(bad_request(format!("{at} must be between {} and {}, got {n}", WORKER_COUNTS.start(), WORKER_COUNTS.end())))
    }
}

/// Validates an auto-scaling capacity.
fn auto_scaling(
    mcu_count: i32,
    min_worker_count: i32,
    max_worker_count: i32,
    scale_in_cpu: i32,
    scale_out_cpu: i32,
    max_autoscaling_task_count: Option<i32>,
) -> Result<CapacityRec, ApiError> {
    let at = "capacity.autoScaling";
    check_mcu(at, mcu_count)?;
    check_workers(&format!("{at}.minWorkerCount"), min_worker_count)?;
    check_workers(&format!("{at}.maxWorkerCount"), max_worker_count)?;
    if min_worker_count > max_worker_count {
        return Err(bad_request(format!(
            "{at}.minWorkerCount ({min_worker_count}) must not exceed maxWorkerCount ({max_worker_count})"
        )));
    }
    if let Some(tasks) = max_autoscaling_task_count {
        if tasks < max_worker_count {
            return Err(bad_request(format!(
                "{at}.maxAutoscalingTaskCount ({tasks}) must be at least maxWorkerCount ({max_worker_count})"
            )));
        }
    }
    Ok(CapacityRec::AutoScaling {
        mcu_count,
        min_worker_count,
        max_worker_count,
        scale_in_cpu,
        scale_out_cpu,
        max_autoscaling_task_count,
    })
}

fn provisioned(mcu_count: i32, worker_count: i32) -> Result<CapacityRec, ApiError> {
    check_mcu("capacity.provisionedCapacity", mcu_count)?;
    check_workers("capacity.provisionedCapacity.workerCount", worker_count)?;
    Ok(CapacityRec::Provisioned { mcu_count, worker_count })
}

fn exactly_one_capacity_kind() -> ApiError {
    bad_request("capacity must contain exactly one of autoScaling and provisionedCapacity")
}

fn capacity_from_create(c: &m::Capacity) -> Result<CapacityRec, ApiError> {
    match (&c.auto_scaling, &c.provisioned_capacity) {
        (Some(a), None) => auto_scaling(
            a.mcu_count,
            a.min_worker_count,
            a.max_worker_count,
            a.scale_in_policy.as_ref().map_or(DEFAULT_SCALE_IN_CPU, |p| p.cpu_utilization_percentage),
            a.scale_out_policy.as_ref().map_or(DEFAULT_SCALE_OUT_CPU, |p| p.cpu_utilization_percentage),
            a.max_autoscaling_task_count,
        ),
        (None, Some(p)) => provisioned(p.mcu_count, p.worker_count),
        _ => Err(exactly_one_capacity_kind()),
    }
}

fn capacity_from_update(c: &m::CapacityUpdate) -> Result<CapacityRec, ApiError> {
    match (&c.auto_scaling, &c.provisioned_capacity) {
        (Some(a), None) => auto_scaling(
            a.mcu_count,
            a.min_worker_count,
            a.max_worker_count,
            a.scale_in_policy.cpu_utilization_percentage,
            a.scale_out_policy.cpu_utilization_percentage,
            a.max_autoscaling_task_count,
        ),
        (None, Some(p)) => provisioned(p.mcu_count, p.worker_count),
        _ => Err(exactly_one_capacity_kind()),
    }
}

fn log_destination(
    at: &str,
    enabled: bool,
    target_name: &str,
    target: &Option<String>,
    prefix: Option<String>,
) -> Result<LogDestinationRec, ApiError> {
    if enabled && target.as_deref().is_none_or(str::is_empty) {
        return Err(bad_request(format!(
            "logDelivery.workerLogDelivery.{at}.{target_name} is required when {at} is enabled"
        )));
    }
    Ok(LogDestinationRec { enabled, target: target.clone(), prefix })
}

fn log_delivery_rec(l: &m::LogDelivery) -> Result<LogDeliveryRec, ApiError> {
    let w = &l.worker_log_delivery;
    Ok(LogDeliveryRec {
        cloud_watch_logs: w
            .cloud_watch_logs
            .as_ref()
            .map(|d| log_destination("cloudWatchLogs", d.enabled, "logGroup", &d.log_group, None))
            .transpose()?,
        firehose: w
            .firehose
            .as_ref()
            .map(|d| log_destination("firehose", d.enabled, "deliveryStream", &d.delivery_stream, None))
            .transpose()?,
        s3: w
            .s3
            .as_ref()
            .map(|d| log_destination("s3", d.enabled, "bucket", &d.bucket, d.prefix.clone()))
            .transpose()?,
    })
}

/// Connector configurations that MSK Connect accepts at the API but Kafka Connect rejects when it
/// validates them. They are not request errors: a connector created with one ends FAILED with this
/// as its `stateDescription`, and an update to one fails at `VALIDATE_UPDATE` and rolls back (or
/// ends `UPDATE_FAILED` with `skipHealthValidation`). The rules:
///
/// * `tasks.max` is present but not a positive integer;
/// * a key is empty;
/// * both `topics` and `topics.regex` are set (a sink takes one or the other).
///
/// A missing or changed `connector.class` is different: the request itself is rejected (400).
pub fn configuration_problem(cfg: &BTreeMap<String, String>) -> Option<Problem> {
    const CODE: &str = "InvalidConnectorConfiguration";
    if let Some(v) = cfg.get("tasks.max") {
        if !v.trim().parse::<u32>().is_ok_and(|n| n > 0) {
            return Some(Problem::new(CODE, format!("tasks.max must be a positive integer, got '{v}'")));
        }
    }
    if cfg.keys().any(|k| k.trim().is_empty()) {
        return Some(Problem::new(CODE, "The connector configuration has a property with an empty name"));
    }
    if cfg.contains_key("topics") && cfg.contains_key("topics.regex") {
        return Some(Problem::new(CODE, "topics and topics.regex are mutually exclusive; set only one of them"));
    }
    None
}

/// Why a plugin location cannot hold a usable plugin, if it cannot. localplane does not read S3, so
/// it only checks the form: a bucket ARN and a key whose extension matches the content type.
fn location_problem(content_type: m::CustomPluginContentType, loc: &m::S3Location) -> Option<Problem> {
    const CODE: &str = "InvalidPluginLocation";
    let bucket_ok =
        loc.bucket_arn.strip_prefix("arn:").and_then(|r| r.split_once(":s3:::")).is_some_and(|(partition, bucket)| {
            partition.starts_with("aws")
                && (3..=63).contains(&bucket.len())
                && bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
                && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
                && bucket.ends_with(|c: char| c.is_ascii_alphanumeric())
        });
    if !bucket_ok {
        return Some(Problem::new(
            CODE,
            format!("bucketArn {} is not an S3 bucket ARN (arn:aws:s3:::BUCKET)", loc.bucket_arn),
        ));
    }
    let ext = match content_type {
        m::CustomPluginContentType::Jar => ".jar",
        m::CustomPluginContentType::Zip => ".zip",
    };
    if !loc.file_key.to_ascii_lowercase().ends_with(ext) || loc.file_key.len() <= ext.len() {
        return Some(Problem::new(
            CODE,
            format!(
                "fileKey {} does not name a {} file (expected a key ending in {ext})",
                loc.file_key,
                content_type.as_str()
            ),
        ));
    }
    None
}

/// The MD5 and size a plugin file reports: derived from its location, so the same location always
/// describes the same file.
fn file_fingerprint(loc: &m::S3Location) -> (String, i64) {
    let mut h = md5::Md5::new();
    h.update(loc.bucket_arn.as_bytes());
    h.update(b"/");
    h.update(loc.file_key.as_bytes());
    h.update(b"#");
    h.update(loc.object_version.as_deref().unwrap_or("").as_bytes());
    let digest = h.finalize();
    let n = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
    (hex::encode(digest), 4_096 + i64::from(n % (64 * 1024 * 1024)))
}

fn encode_token(key: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key)
}

fn decode_token(token: &str, prefix: &str) -> Result<String, ApiError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .filter(|k| k.starts_with(prefix))
        .ok_or_else(|| {
            bad_request("The nextToken is not valid for this request; pass the value from the previous response")
        })
}

fn page_size(max: Option<i32>) -> usize {
    max.map_or(DEFAULT_PAGE_SIZE, |m| m.clamp(1, 100) as usize)
}

/// One page of an index whose values are document ids: walks `prefix` after the token's key,
/// keeping what `load` returns (`None` skips an entry: filtered out or gone), `max` at most. The
/// next token is returned only when another entry would follow.
fn page<T>(
    tx: &mut dyn Tx,
    prefix: &str,
    token: &Option<String>,
    max: usize,
    mut load: impl FnMut(&mut dyn Tx, &str) -> Result<Option<T>, ApiError>,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let mut after = match token {
        Some(t) => Some(decode_token(t, prefix)?),
        None => None,
    };
    let mut out = Vec::new();
    // One row past a full page is enough to know there is a next page when nothing is skipped.
    let batch = (max + 1).min(SCAN_BATCH);
    loop {
        let rows = tx.scan(prefix, after.as_deref(), batch)?;
        let exhausted = rows.len() < batch;
        for (k, v) in rows {
            let id = String::from_utf8_lossy(&v).into_owned();
            if let Some(item) = load(tx, &id)? {
                if out.len() == max {
                    return Ok((out, after.map(|a| encode_token(&a))));
                }
                out.push(item);
            }
            after = Some(k);
        }
        if exhausted {
            return Ok((out, None));
        }
    }
}

/// The name of a connector whose settings, current or being applied, use the resource `arn`.
fn connector_using(tx: &mut dyn Tx, keys: &Keys, arn: &str) -> Result<Option<String>, ApiError> {
    let uses = |w: &WorkerSettingRec| {
        w.plugins.iter().any(|p| p.arn == arn) || w.worker_configuration.as_ref().is_some_and(|r| r.arn == arn)
    };
    let prefix = keys.connectors();
    let mut after: Option<String> = None;
    loop {
        let rows = tx.scan(&prefix, after.as_deref(), SCAN_BATCH)?;
        let exhausted = rows.len() < SCAN_BATCH;
        for (k, c) in crate::store::decode_all::<ConnectorRec>(rows)? {
            if uses(&c.worker) {
                return Ok(Some(c.name));
            }
            if let Some(op_id) = &c.active_operation {
                let op = get_json::<ConnectorOperationRec>(tx, &keys.operation(&c.id, op_id))?;
                if op.and_then(|o| o.target_worker_setting).is_some_and(|t| uses(&t)) {
                    return Ok(Some(c.name));
                }
            }
            after = Some(k);
        }
        if exhausted {
            return Ok(None);
        }
    }
}

/// A connector, custom plugin or worker configuration that tags can be read and written on;
/// returns its ARN as issued.
fn tagged_resource(tx: &mut dyn Tx, cx: &RequestContext, keys: &Keys, arn: &str) -> Result<String, ApiError> {
    let kinds = [ArnKind::Connector, ArnKind::CustomPlugin, ArnKind::WorkerConfiguration];
    let missing = || not_found(format!("Resource {arn} not found"));
    let Some(p) = resolve(cx, arn, &kinds)? else {
        return Err(missing());
    };
    let stored_arn = match p.kind {
        ArnKind::Connector => get_json::<ConnectorRec>(tx, &keys.connector(&p.id))?.map(|r| r.arn),
        ArnKind::CustomPlugin => get_json::<PluginRec>(tx, &keys.plugin(&p.id))?.map(|r| r.arn),
        ArnKind::WorkerConfiguration => {
            get_json::<WorkerConfigRec>(tx, &keys.worker_configuration(&p.id))?.map(|r| r.arn)
        }
        ArnKind::ConnectorOperation => None,
    };
    match stored_arn {
        Some(a) if a == arn => Ok(a),
        _ => Err(missing()),
    }
}

/// The steps of an update of `op_type`, all PENDING.
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

/// A new PENDING operation of `op_type` on connector `c`, with no steps or settings yet.
fn new_operation(c: &ConnectorRec, op_type: m::ConnectorOperationType, now: i64) -> ConnectorOperationRec {
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

/// Where `step` falls in `op`'s steps (operations without steps fail while in progress: 0).
fn step_position(op: &ConnectorOperationRec, step: Option<m::ConnectorOperationStepType>) -> usize {
    step.and_then(|s| op.steps.iter().position(|x| x.step_type == s)).unwrap_or(0)
}

/// The failure an operation fault rule plans for `op`. Updates fail at the rule's step (default
/// `VALIDATE_UPDATE`; a change step of the other update type means this one's change step);
/// pause, resume and restart fail while in progress.
fn injected_failure(op: &ConnectorOperationRec, rule: crate::engine::FaultRule) -> PlannedFailure {
    let step = if op.is_update() {
        let wanted = rule
            .step
            .as_deref()
            .and_then(m::ConnectorOperationStepType::from_wire)
            .unwrap_or(m::ConnectorOperationStepType::ValidateUpdate);
        let change_step = op.steps.get(1).map(|s| s.step_type);
        Some(if op.steps.iter().any(|s| s.step_type == wanted) { wanted } else { change_step.unwrap_or(wanted) })
    } else {
        None
    };
    PlannedFailure {
        step,
        message: rule.error_message.unwrap_or_else(|| format!("Injected fault {}", rule.id)),
        code: rule.error_code,
        rollback: rule.rollback.unwrap_or_default(),
    }
}

impl MskConnect {
    /// A backend over the engine's store.
    pub fn new(engine: Engine) -> Self {
        MskConnect { engine, operations: Arc::new(Kept::new(KeptOperation::MAX)) }
    }

    /// Forgets cached decoded records (after a reset or an import replaced what the store holds).
    pub fn forget_cached(&self) {
        self.operations.clear();
    }

    /// The connector operation `input` names, decoded unless kept from an earlier read of the
    /// same bytes.
    async fn kept_operation(
        &self,
        cx: &RequestContext,
        input: m::DescribeConnectorOperationRequest,
    ) -> Result<Arc<Entry<KeptOperation>>, ApiError> {
        let cx = cx.clone();
        let kept = self.operations.clone();
        self.engine
            .store()
            .read(move |tx| {
                let keys = Keys::new(&cx.account, &cx.region);
                let arn = &input.connector_operation_arn;
                let missing = || not_found(format!("Connector operation {arn} not found"));
                let Some(p) = resolve(&cx, arn, &[ArnKind::ConnectorOperation])? else {
                    return Err(missing());
                };
                let key = keys.operation(&p.id, &p.operation_id.unwrap_or_default());
                match kept.read(tx, &key, |raw| KeptOperation::decode(&key, raw))? {
                    Some(op) if op.value.rec.arn == *arn => Ok(op),
                    _ => Err(missing()),
                }
            })
            .await
    }

    /// One ListConnectorOperations page (newest first) and its next token.
    async fn kept_operations_page(
        &self,
        cx: &RequestContext,
        input: m::ListConnectorOperationsRequest,
    ) -> Result<(Vec<Arc<Entry<KeptOperation>>>, Option<String>), ApiError> {
        let cx = cx.clone();
        let kept = self.operations.clone();
        self.engine
            .store()
            .read(move |tx| {
                let keys = Keys::new(&cx.account, &cx.region);
                let c = load_connector(tx, &cx, &keys, &input.connector_arn)?;
                page(
                    tx,
                    &keys.operations_newest_first(&c.id),
                    &input.next_token,
                    page_size(input.max_results),
                    |tx, op_id| {
                        let key = keys.operation(&c.id, op_id);
                        Ok(kept.read(tx, &key, |raw| KeptOperation::decode(&key, raw))?)
                    },
                )
            })
            .await
    }

    /// Hands `task` to the engine in the caller's transaction.
    fn submit(
        &self,
        tx: &mut dyn Tx,
        cx: &RequestContext,
        task: &Task,
        op_type: Option<m::ConnectorOperationType>,
    ) -> Result<(), StoreError> {
        let timing = self.engine.timing();
        let delay = driver::first_step_ms(&timing, task, op_type);
        self.engine.submit(tx, SERVICE, &task.to_ref(&cx.account, &cx.region), delay)
    }

    /// The failure an operation fault rule injects into a create of `operation_type`
    /// (`CREATE_CONNECTOR`, `CREATE_CUSTOM_PLUGIN`) on one of `resources`, taking one use of it.
    fn creation_fault(
        &self,
        tx: &mut dyn Tx,
        operation_type: &str,
        resources: &[&str],
    ) -> Result<Option<Problem>, StoreError> {
        Ok(self.engine.take_operation_fault(tx, SERVICE, operation_type, resources)?.map(|rule| {
            let message = rule.error_message.unwrap_or_else(|| format!("Injected fault {}", rule.id));
            Problem::new(&rule.error_code, message)
        }))
    }

    /// Removes `task` from the engine's schedule (its resource went another way).
    fn cancel(&self, tx: &mut dyn Tx, cx: &RequestContext, task: &Task) -> Result<(), StoreError> {
        self.engine.cancel(tx, SERVICE, &task.to_ref(&cx.account, &cx.region))
    }

    /// Writes operation `op` as connector `c`'s one operation in flight, moves the connector to
    /// `state`, and starts it; returns the operation's ARN. `c` is stale afterwards (under the
    /// `instant` timing the operation has already run).
    fn start_operation(
        &self,
        tx: &mut dyn Tx,
        cx: &RequestContext,
        keys: &Keys,
        c: &mut ConnectorRec,
        mut op: ConnectorOperationRec,
        state: m::ConnectorState,
    ) -> Result<String, StoreError> {
        let rule = self.engine.take_operation_fault(tx, SERVICE, op.op_type.as_str(), &[&c.arn, &c.id, &c.name])?;
        if let Some(rule) = rule {
            let injected = injected_failure(&op, rule);
            op.planned_failure = match op.planned_failure.take() {
                Some(own) if step_position(&op, own.step) < step_position(&op, injected.step) => Some(own),
                _ => Some(injected),
            };
        }
        c.operation_count += 1;
        c.active_operation = Some(op.id.clone());
        c.state = state;
        c.state_description = None;
        put_json(tx, &keys.operation(&c.id, &op.id), &op)?;
        tx.put(&keys.operation_newest_first(&c.id, c.operation_count), op.id.as_bytes())?;
        put_json(tx, &keys.connector(&c.id), c)?;
        let task = Task::Operation { connector_id: c.id.clone(), operation_id: op.id.clone() };
        self.submit(tx, cx, &task, Some(op.op_type))?;
        Ok(op.arn)
    }

    /// The ARN of connector `c`'s operation in flight, for messages.
    fn active_operation_arn(c: &ConnectorRec) -> Option<String> {
        c.active_operation.as_ref().map(|id| operation_arn(&c.arn, id))
    }

    /// Pause, resume and restart: one operation without steps. Each needs its connector in one
    /// state and moves it through another; an operation already in flight is a conflict (409)
    /// where the model has ConflictException (pause, resume), else a bad request.
    async fn lifecycle_operation(
        &self,
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
        let this = self.clone();
        let cx = cx.clone();
        self.engine
            .store()
            .write(move |tx| {
                let keys = Keys::new(&cx.account, &cx.region);
                let mut c = load_connector(tx, &cx, &keys, &connector_arn)?;
                if let Some(op) = Self::active_operation_arn(&c) {
                    return Err(busy(format!(
                        "Connector {connector_arn} has operation {op} in progress; wait for it to finish"
                    )));
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
                let op = new_operation(&c, op_type, this.engine.now_ms());
                let op_arn = this.start_operation(tx, &cx, &keys, &mut c, op, via)?;
                Ok((c.arn, op_arn))
            })
            .await
    }
}

impl m::Api for MskConnect {
    async fn create_connector(
        &self,
        cx: &RequestContext,
        input: m::CreateConnectorRequest,
    ) -> Result<m::CreateConnectorResponse, ApiError> {
        check_name("connector", &input.connector_name)?;
        let capacity = capacity_from_create(&input.capacity)?;
        if input.plugins.len() != 1 {
            return Err(bad_request(format!(
                "plugins must list exactly one custom plugin, got {}",
                input.plugins.len()
            )));
        }
        if !input.connector_configuration.contains_key("connector.class") {
            return Err(bad_request(
                "connectorConfiguration must set connector.class, the Java class of the connector",
            ));
        }
        if input.kafka_cluster_client_authentication.authentication_type == m::KafkaClusterClientAuthenticationType::Iam
            && input.kafka_cluster_encryption_in_transit.encryption_type
                == m::KafkaClusterEncryptionInTransitType::Plaintext
        {
            return Err(bad_request(
                "IAM authentication needs TLS: set kafkaClusterEncryptionInTransit.encryptionType to TLS",
            ));
        }
        if !KAFKA_CONNECT_VERSIONS.contains(&input.kafka_connect_version.as_str()) {
            return Err(bad_request(format!(
                "kafkaConnectVersion {} is not supported; use one of {}",
                input.kafka_connect_version,
                KAFKA_CONNECT_VERSIONS.join(", ")
            )));
        }
        let cluster = &input.kafka_cluster.apache_kafka_cluster;
        if cluster.bootstrap_servers.trim().is_empty() {
            return Err(bad_request("kafkaCluster.apacheKafkaCluster.bootstrapServers must not be empty"));
        }
        if cluster.vpc.subnets.is_empty() {
            return Err(bad_request("kafkaCluster.apacheKafkaCluster.vpc.subnets must list at least one subnet"));
        }
        check_role_arn(&input.service_execution_role_arn)?;
        let log_delivery = input.log_delivery.as_ref().map(log_delivery_rec).transpose()?;
        let tags = input.tags.clone().unwrap_or_default();
        check_tags(&format!("Connector {}", input.connector_name), &tags)?;
        let this = self.clone();
        let cx = cx.clone();
        self.engine
            .store()
            .write(move |tx| {
                let keys = Keys::new(&cx.account, &cx.region);
                let name = input.connector_name;
                let name_key = keys.connector_name(&name);
                if tx.get(&name_key)?.is_some() {
                    return Err(conflict(format!("A connector named {name} already exists in {}", cx.region)));
                }
                let mut plugins = Vec::new();
                for p in &input.plugins {
                    let r = &p.custom_plugin;
                    plugins.push(plugin_ref(tx, &cx, &keys, &r.custom_plugin_arn, r.revision)?);
                }
                let worker_configuration = match &input.worker_configuration {
                    Some(w) => Some(worker_configuration_ref(tx, &cx, &keys, &w.worker_configuration_arn, w.revision)?),
                    None => None,
                };
                // Connectors list in creation order, also when two are created in one millisecond.
                let now = this.engine.creation_ms();
                let id = new_resource_id();
                let arn = resource_arn(&cx.region, &cx.account, ArnKind::Connector, &name, &id);
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
                    planned_create_failure: configuration_problem(&input.connector_configuration)
                        .or(this.creation_fault(tx, "CREATE_CONNECTOR", &[&arn, &id, &name])?),
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
                put_json(tx, &keys.connector(&id), &c)?;
                tx.put(&keys.connector_in_order(now, &id), id.as_bytes())?;
                tx.put(&name_key, id.as_bytes())?;
                if !tags.is_empty() {
                    put_json(tx, &keys.tags(&arn), &tags)?;
                }
                this.submit(tx, &cx, &Task::CreateConnector(id), None)?;
                Ok(m::CreateConnectorResponse {
                    connector_arn: Some(arn),
                    connector_name: Some(name),
                    connector_state: Some(m::ConnectorState::Creating),
                })
            })
            .await
    }

    async fn create_custom_plugin(
        &self,
        cx: &RequestContext,
        input: m::CreateCustomPluginRequest,
    ) -> Result<m::CreateCustomPluginResponse, ApiError> {
        check_name("custom plugin", &input.name)?;
        let tags = input.tags.clone().unwrap_or_default();
        check_tags(&format!("Custom plugin {}", input.name), &tags)?;
        let loc = input.location.s3_location;
        let planned_create_failure = location_problem(input.content_type, &loc);
        let (file_md5, file_size) = file_fingerprint(&loc);
        let this = self.clone();
        let cx = cx.clone();
        self.engine
            .store()
            .write(move |tx| {
                let keys = Keys::new(&cx.account, &cx.region);
                let name = input.name;
                let name_key = keys.plugin_name(&name);
                if tx.get(&name_key)?.is_some() {
                    return Err(conflict(format!("A custom plugin named {name} already exists in {}", cx.region)));
                }
                // Plugins list in creation order, also when two are created in one millisecond.
                let now = this.engine.creation_ms();
                let id = new_resource_id();
                let arn = resource_arn(&cx.region, &cx.account, ArnKind::CustomPlugin, &name, &id);
                let p = PluginRec {
                    id: id.clone(),
                    arn: arn.clone(),
                    name: name.clone(),
                    description: input.description,
                    state: m::CustomPluginState::Creating,
                    state_description: None,
                    creation_time: now,
                    content_type: input.content_type,
                    bucket_arn: loc.bucket_arn,
                    file_key: loc.file_key,
                    object_version: loc.object_version,
                    file_md5,
                    file_size,
                    latest_revision: None,
                    planned_create_failure: match planned_create_failure {
                        Some(p) => Some(p),
                        None => this.creation_fault(tx, "CREATE_CUSTOM_PLUGIN", &[&arn, &id, &name])?,
                    },
                    deleting_since: None,
                };
                put_json(tx, &keys.plugin(&id), &p)?;
                tx.put(&keys.plugin_in_order(now, &id), id.as_bytes())?;
                tx.put(&name_key, id.as_bytes())?;
                if !tags.is_empty() {
                    put_json(tx, &keys.tags(&arn), &tags)?;
                }
                this.submit(tx, &cx, &Task::CreatePlugin(id), None)?;
                Ok(m::CreateCustomPluginResponse {
                    custom_plugin_arn: Some(arn),
                    custom_plugin_state: Some(m::CustomPluginState::Creating),
                    name: Some(name),
                    revision: Some(1),
                })
            })
            .await
    }

    async fn create_worker_configuration(
        &self,
        cx: &RequestContext,
        input: m::CreateWorkerConfigurationRequest,
    ) -> Result<m::CreateWorkerConfigurationResponse, ApiError> {
        check_name("worker configuration", &input.name)?;
        let tags = input.tags.clone().unwrap_or_default();
        check_tags(&format!("Worker configuration {}", input.name), &tags)?;
        let content = input.properties_file_content.trim();
        let b64 = base64::engine::general_purpose::STANDARD;
        let decoded = b64
            .decode(content)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(content))
            .map_err(|err| {
                bad_request(format!(
                    "propertiesFileContent must be the base64 encoding of a connect-distributed.properties file: {err}"
                ))
            })?;
        if content.is_empty() || String::from_utf8(decoded).is_err() {
            return Err(bad_request(
                "propertiesFileContent must encode non-empty UTF-8 text (a connect-distributed.properties file)",
            ));
        }
        let this = self.clone();
        let cx = cx.clone();
        self.engine
            .store()
            .write(move |tx| {
                let keys = Keys::new(&cx.account, &cx.region);
                let name = input.name;
                let name_key = keys.worker_configuration_name(&name);
                if tx.get(&name_key)?.is_some() {
                    return Err(conflict(format!(
                        "A worker configuration named {name} already exists in {}",
                        cx.region
                    )));
                }
                // Worker configurations list in creation order, as plugins and connectors do.
                let now = this.engine.creation_ms();
                let id = new_resource_id();
                let arn = resource_arn(&cx.region, &cx.account, ArnKind::WorkerConfiguration, &name, &id);
                let w = WorkerConfigRec {
                    id: id.clone(),
                    arn: arn.clone(),
                    name: name.clone(),
                    description: input.description,
                    state: m::WorkerConfigurationState::Active,
                    creation_time: now,
                    properties_file_content: input.properties_file_content,
                    deleting_since: None,
                };
                put_json(tx, &keys.worker_configuration(&id), &w)?;
                tx.put(&keys.worker_configuration_in_order(now, &id), id.as_bytes())?;
                tx.put(&name_key, id.as_bytes())?;
                if !tags.is_empty() {
                    put_json(tx, &keys.tags(&arn), &tags)?;
                }
                Ok(m::CreateWorkerConfigurationResponse {
                    creation_time: Some(Timestamp(now)),
                    latest_revision: Some(w.revision_summary()),
                    name: Some(name),
                    worker_configuration_arn: Some(arn),
                    worker_configuration_state: Some(m::WorkerConfigurationState::Active),
                })
            })
            .await
    }

    async fn delete_connector(
        &self,
        cx: &RequestContext,
        input: m::DeleteConnectorRequest,
    ) -> Result<m::DeleteConnectorResponse, ApiError> {
        let this = self.clone();
        let cx = cx.clone();
        self.engine
            .store()
            .write(move |tx| {
                let keys = Keys::new(&cx.account, &cx.region);
                let mut c = load_connector(tx, &cx, &keys, &input.connector_arn)?;
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
                let now = this.engine.now_ms();
                if let Some(op_id) = c.active_operation.take() {
                    let op_key = keys.operation(&c.id, &op_id);
                    if let Some(mut op) = get_json::<ConnectorOperationRec>(tx, &op_key)? {
                        driver::cancel_for_deletion(&mut op, now);
                        put_json(tx, &op_key, &op)?;
                    }
                    let task = Task::Operation { connector_id: c.id.clone(), operation_id: op_id };
                    this.cancel(tx, &cx, &task)?;
                }
                if c.state == m::ConnectorState::Creating {
                    this.cancel(tx, &cx, &Task::CreateConnector(c.id.clone()))?;
                }
                c.state = m::ConnectorState::Deleting;
                c.state_description = None;
                c.deleting_since = Some(now);
                put_json(tx, &keys.connector(&c.id), &c)?;
                this.submit(tx, &cx, &Task::DeleteConnector(c.id.clone()), None)?;
                Ok(response)
            })
            .await
    }

    async fn delete_custom_plugin(
        &self,
        cx: &RequestContext,
        input: m::DeleteCustomPluginRequest,
    ) -> Result<m::DeleteCustomPluginResponse, ApiError> {
        let this = self.clone();
        let cx = cx.clone();
        self.engine
            .store()
            .write(move |tx| {
                let keys = Keys::new(&cx.account, &cx.region);
                let mut p = load_plugin(tx, &cx, &keys, &input.custom_plugin_arn)?;
                let response = m::DeleteCustomPluginResponse {
                    custom_plugin_arn: Some(p.arn.clone()),
                    custom_plugin_state: Some(m::CustomPluginState::Deleting),
                };
                if p.state == m::CustomPluginState::Deleting {
                    return Ok(response);
                }
                if let Some(user) = connector_using(tx, &keys, &p.arn)? {
                    return Err(bad_request(format!(
                        "Custom plugin {} is used by connector {user}; delete or update the connector first",
                        p.arn
                    )));
                }
                if p.state == m::CustomPluginState::Creating {
                    this.cancel(tx, &cx, &Task::CreatePlugin(p.id.clone()))?;
                }
                p.state = m::CustomPluginState::Deleting;
                p.deleting_since = Some(this.engine.now_ms());
                put_json(tx, &keys.plugin(&p.id), &p)?;
                this.submit(tx, &cx, &Task::DeletePlugin(p.id.clone()), None)?;
                Ok(response)
            })
            .await
    }

    async fn delete_worker_configuration(
        &self,
        cx: &RequestContext,
        input: m::DeleteWorkerConfigurationRequest,
    ) -> Result<m::DeleteWorkerConfigurationResponse, ApiError> {
        let this = self.clone();
        let cx = cx.clone();
        self.engine
            .store()
            .write(move |tx| {
                let keys = Keys::new(&cx.account, &cx.region);
                let mut w = load_worker_configuration(tx, &cx, &keys, &input.worker_configuration_arn)?;
                let response = m::DeleteWorkerConfigurationResponse {
                    worker_configuration_arn: Some(w.arn.clone()),
                    worker_configuration_state: Some(m::WorkerConfigurationState::Deleting),
                };
                if w.state == m::WorkerConfigurationState::Deleting {
                    return Ok(response);
                }
                if let Some(user) = connector_using(tx, &keys, &w.arn)? {
                    return Err(bad_request(format!(
                        "Worker configuration {} is used by connector {user}; delete or update the connector first",
                        w.arn
                    )));
                }
                w.state = m::WorkerConfigurationState::Deleting;
                w.deleting_since = Some(this.engine.now_ms());
                put_json(tx, &keys.worker_configuration(&w.id), &w)?;
                this.submit(tx, &cx, &Task::DeleteWorkerConfiguration(w.id.clone()), None)?;
                Ok(response)
            })
            .await
    }

    async fn describe_connector(
        &self,
        cx: &RequestContext,
        input: m::DescribeConnectorRequest,
    ) -> Result<m::DescribeConnectorResponse, ApiError> {
        let cx = cx.clone();
        self.engine
            .store()
            .read(move |tx| {
                let keys = Keys::new(&cx.account, &cx.region);
                Ok(load_connector(tx, &cx, &keys, &input.connector_arn)?.describe())
            })
            .await
    }

    async fn describe_connector_operation(
        &self,
        cx: &RequestContext,
        input: m::DescribeConnectorOperationRequest,
    ) -> Result<m::DescribeConnectorOperationResponse, ApiError> {
        Ok(self.kept_operation(cx, input).await?.value.rec.describe())
    }

    async fn describe_connector_operation_encoded(
        &self,
        cx: &RequestContext,
        input: m::DescribeConnectorOperationRequest,
        protocol: Protocol,
    ) -> Result<Vec<u8>, ApiError> {
        let op = self.kept_operation(cx, input).await?;
        Ok(match protocol {
            Protocol::RestJson1 => op.value.describe().to_vec(),
            _ => encode_output(&op.value.rec.describe(), protocol),
        })
    }

    async fn describe_custom_plugin(
        &self,
        cx: &RequestContext,
        input: m::DescribeCustomPluginRequest,
    ) -> Result<m::DescribeCustomPluginResponse, ApiError> {
        let cx = cx.clone();
        self.engine
            .store()
            .read(move |tx| {
                let keys = Keys::new(&cx.account, &cx.region);
                Ok(load_plugin(tx, &cx, &keys, &input.custom_plugin_arn)?.describe())
            })
            .await
    }

    async fn describe_worker_configuration(
        &self,
        cx: &RequestContext,
        input: m::DescribeWorkerConfigurationRequest,
    ) -> Result<m::DescribeWorkerConfigurationResponse, ApiError> {
        let cx = cx.clone();
        self.engine
            .store()
            .read(move |tx| {
                let keys = Keys::new(&cx.account, &cx.region);
                Ok(load_worker_configuration(tx, &cx, &keys, &input.worker_configuration_arn)?.describe())
            })
            .await
    }

    async fn list_connector_operations(
        &self,
        cx: &RequestContext,
        input: m::ListConnectorOperationsRequest,
    ) -> Result<m::ListConnectorOperationsResponse, ApiError> {
        let (ops, next_token) = self.kept_operations_page(cx, input).await?;
        let ops = ops.iter().map(|o| o.value.rec.summary()).collect();
        Ok(m::ListConnectorOperationsResponse { connector_operations: Some(ops), next_token })
    }

    async fn list_connector_operations_encoded(
        &self,
        cx: &RequestContext,
        input: m::ListConnectorOperationsRequest,
        protocol: Protocol,
    ) -> Result<Vec<u8>, ApiError> {
        if protocol != Protocol::RestJson1 {
            return Ok(encode_output(&self.list_connector_operations(cx, input).await?, protocol));
        }
        let (ops, next_token) = self.kept_operations_page(cx, input).await?;
        Ok(connector_operations_response(&ops, next_token.as_deref()))
    }

    async fn list_connectors(
        &self,
        cx: &RequestContext,
        input: m::ListConnectorsRequest,
    ) -> Result<m::ListConnectorsResponse, ApiError> {
        let cx = cx.clone();
        self.engine
            .store()
            .read(move |tx| {
                let keys = Keys::new(&cx.account, &cx.region);
                let prefix = input.connector_name_prefix.unwrap_or_default();
                let (connectors, next_token) = page(
                    tx,
                    &keys.connectors_in_order(),
                    &input.next_token,
                    page_size(input.max_results),
                    |tx, id| {
                        Ok(get_json::<ConnectorRec>(tx, &keys.connector(id))?
                            .filter(|c| c.name.starts_with(&prefix))
                            .map(|c| c.summary()))
                    },
                )?;
                Ok(m::ListConnectorsResponse { connectors: Some(connectors), next_token })
            })
            .await
    }

    async fn list_custom_plugins(
        &self,
        cx: &RequestContext,
        input: m::ListCustomPluginsRequest,
    ) -> Result<m::ListCustomPluginsResponse, ApiError> {
        let cx = cx.clone();
        self.engine
            .store()
            .read(move |tx| {
                let keys = Keys::new(&cx.account, &cx.region);
                let prefix = input.name_prefix.unwrap_or_default();
                let (plugins, next_token) =
                    page(tx, &keys.plugins_in_order(), &input.next_token, page_size(input.max_results), |tx, id| {
                        Ok(get_json::<PluginRec>(tx, &keys.plugin(id))?
                            .filter(|p| p.name.starts_with(&prefix))
                            .map(|p| p.summary()))
                    })?;
                Ok(m::ListCustomPluginsResponse { custom_plugins: Some(plugins), next_token })
            })
            .await
    }

    async fn list_tags_for_resource(
        &self,
        cx: &RequestContext,
        input: m::ListTagsForResourceRequest,
    ) -> Result<m::ListTagsForResourceResponse, ApiError> {
        let cx = cx.clone();
        self.engine
            .store()
            .read(move |tx| {
                let keys = Keys::new(&cx.account, &cx.region);
                let arn = tagged_resource(tx, &cx, &keys, &input.resource_arn)?;
                let tags: BTreeMap<String, String> = get_json(tx, &keys.tags(&arn))?.unwrap_or_default();
                Ok(m::ListTagsForResourceResponse { tags: Some(tags) })
            })
            .await
    }

    async fn list_worker_configurations(
        &self,
        cx: &RequestContext,
        input: m::ListWorkerConfigurationsRequest,
    ) -> Result<m::ListWorkerConfigurationsResponse, ApiError> {
        let cx = cx.clone();
        self.engine
            .store()
            .read(move |tx| {
                let keys = Keys::new(&cx.account, &cx.region);
                let prefix = input.name_prefix.unwrap_or_default();
                let (configs, next_token) = page(
                    tx,
                    &keys.worker_configurations_in_order(),
                    &input.next_token,
                    page_size(input.max_results),
                    |tx, id| {
                        Ok(get_json::<WorkerConfigRec>(tx, &keys.worker_configuration(id))?
                            .filter(|w| w.name.starts_with(&prefix))
                            .map(|w| w.summary()))
                    },
                )?;
                Ok(m::ListWorkerConfigurationsResponse { next_token, worker_configurations: Some(configs) })
            })
            .await
    }

    async fn pause_connector(
        &self,
        cx: &RequestContext,
        input: m::PauseConnectorRequest,
    ) -> Result<m::PauseConnectorResponse, ApiError> {
        let (arn, op) =
            self.lifecycle_operation(cx, input.connector_arn, m::ConnectorOperationType::PauseConnector, false).await?;
        Ok(m::PauseConnectorResponse { connector_arn: Some(arn), connector_operation_arn: Some(op) })
    }

    async fn restart_connector(
        &self,
        cx: &RequestContext,
        input: m::RestartConnectorRequest,
    ) -> Result<m::RestartConnectorResponse, ApiError> {
        let (arn, op) = self
            .lifecycle_operation(
                cx,
                input.connector_arn,
                m::ConnectorOperationType::RestartConnector,
                input.only_failed_tasks.unwrap_or(false),
            )
            .await?;
        Ok(m::RestartConnectorResponse { connector_arn: Some(arn), connector_operation_arn: Some(op) })
    }

    async fn resume_connector(
        &self,
        cx: &RequestContext,
        input: m::ResumeConnectorRequest,
    ) -> Result<m::ResumeConnectorResponse, ApiError> {
        let (arn, op) = self
            .lifecycle_operation(cx, input.connector_arn, m::ConnectorOperationType::ResumeConnector, false)
            .await?;
        Ok(m::ResumeConnectorResponse { connector_arn: Some(arn), connector_operation_arn: Some(op) })
    }

    async fn tag_resource(
        &self,
        cx: &RequestContext,
        input: m::TagResourceRequest,
    ) -> Result<m::TagResourceResponse, ApiError> {
        let cx = cx.clone();
        self.engine
            .store()
            .write(move |tx| {
                let keys = Keys::new(&cx.account, &cx.region);
                let arn = tagged_resource(tx, &cx, &keys, &input.resource_arn)?;
                let key = keys.tags(&arn);
                let mut tags: BTreeMap<String, String> = get_json(tx, &key)?.unwrap_or_default();
                tags.extend(input.tags);
                check_tags(&format!("Resource {arn}"), &tags)?;
                put_json(tx, &key, &tags)?;
                Ok(m::TagResourceResponse {})
            })
            .await
    }

    async fn untag_resource(
        &self,
        cx: &RequestContext,
        input: m::UntagResourceRequest,
    ) -> Result<m::UntagResourceResponse, ApiError> {
        let cx = cx.clone();
        self.engine
            .store()
            .write(move |tx| {
                let keys = Keys::new(&cx.account, &cx.region);
                let arn = tagged_resource(tx, &cx, &keys, &input.resource_arn)?;
                let key = keys.tags(&arn);
                let mut tags: BTreeMap<String, String> = get_json(tx, &key)?.unwrap_or_default();
                for k in &input.tag_keys {
                    tags.remove(k);
                }
                put_json(tx, &key, &tags)?;
                Ok(m::UntagResourceResponse {})
            })
            .await
    }

    async fn update_connector(
        &self,
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
        let this = self.clone();
        let cx = cx.clone();
        self.engine
            .store()
            .write(move |tx| {
                let keys = Keys::new(&cx.account, &cx.region);
                let mut c = load_connector(tx, &cx, &keys, &input.connector_arn)?;
                if input.current_version != c.current_version {
                    return Err(bad_request(format!(
                        "The provided currentVersion {} is not the latest version of connector {}; describe the connector for its current version",
                        input.current_version, c.arn
                    )));
                }
                if let Some(op) = Self::active_operation_arn(&c) {
                    return Err(bad_request(format!(
                        "Connector {} has operation {op} in progress; wait for it to finish",
                        c.arn
                    )));
                }
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
                let now = this.engine.now_ms();
                let mut op = if worker_change {
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
                        target.plugins = vec![plugin_ref(tx, &cx, &keys, &r.custom_plugin_arn, r.revision)?];
                    }
                    if let Some(w) = &input.worker_configuration {
                        target.worker_configuration = Some(worker_configuration_ref(
                            tx,
                            &cx,
                            &keys,
                            &w.worker_configuration_arn,
                            w.revision,
                        )?);
                    } else if input.use_default_worker_configuration == Some(true) {
                        target.worker_configuration = None;
                    } else if input.use_default_worker_configuration == Some(false)
                        && origin.worker_configuration.is_none()
                    {
                        return Err(bad_request(
                            "useDefaultWorkerConfiguration=false needs a workerConfiguration to use instead",
                        ));
                    }
                    if target == origin {
                        return Err(bad_request(format!(
                            "The requested worker setting is identical to the current one of connector {}",
                            c.arn
                        )));
                    }
                    let mut op = new_operation(&c, m::ConnectorOperationType::UpdateWorkerSetting, now);
                    op.steps = update_steps(m::ConnectorOperationStepType::UpdateWorkerSetting);
                    op.origin_worker_setting = Some(origin);
                    op.target_worker_setting = Some(target);
                    op
                } else {
                    let cfg = input.connector_configuration.unwrap_or_default();
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
                    let mut op = new_operation(
                        &c,
                        m::ConnectorOperationType::UpdateConnectorConfiguration,
                        now,
                    );
                    op.steps = update_steps(m::ConnectorOperationStepType::UpdateConnectorConfiguration);
                    op.planned_failure = configuration_problem(&cfg).map(|p| PlannedFailure {
                        step: Some(m::ConnectorOperationStepType::ValidateUpdate),
                        code: p.code,
                        message: p.message,
                        rollback: Rollback::Complete,
                    });
                    op.origin_connector_configuration = Some(c.connector_configuration.clone());
                    op.target_connector_configuration = Some(cfg);
                    op
                };
                op.skip_health_validation = skip;
                c.current_version = new_current_version();
                let connector_arn = c.arn.clone();
                let op_arn = this.start_operation(tx, &cx, &keys, &mut c, op, m::ConnectorState::Updating)?;
                Ok(m::UpdateConnectorResponse {
                    connector_arn: Some(connector_arn),
                    connector_operation_arn: Some(op_arn),
                    connector_state: Some(m::ConnectorState::Updating),
                })
            })
            .await
    }
}

/// MSK Connect as it registers with the service registry.
pub static REGISTRATION: crate::registry::Registration = crate::registry::Registration {
    service: SERVICE,
    key_prefix: records::KEY_PREFIX,
    check_fault_rule,
    check_document: crate::registry::any_document,
    start: |engine| (Arc::new(MskConnect::new(engine.clone())), Arc::new(driver::MskConnectDriver)),
};

/// A fault rule's step must be a step of a connector operation.
fn check_fault_rule(rule: &crate::engine::FaultRule) -> Result<(), String> {
    match &rule.step {
        Some(step) if m::ConnectorOperationStepType::from_wire(step).is_none() => {
            Err(format!("step must be one of {}, not '{step}'", m::ConnectorOperationStepType::VALUES.join(", ")))
        }
        _ => Ok(()),
    }
}

impl crate::registry::ServiceBackend for MskConnect {
    fn dispatch<'a>(
        &'a self,
        cx: &'a RequestContext,
        operation: &'static crate::wire::shape::OperationInfo,
        input: &'a crate::wire::shape::Json,
    ) -> crate::registry::Answer<'a> {
        Box::pin(async move {
            let op =
                m::Operation::from_name(operation.name).ok_or_else(|| ApiError::unknown_operation(operation.name))?;
            m::dispatch(self, cx, op, input, cx.protocol).await
        })
    }

    fn forget_cached(&self) {
        MskConnect::forget_cached(self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes assembled from kept summaries are the bytes the generated encoder writes.
    #[test]
    fn assembled_operation_pages_equal_the_generated_encoding() {
        let op = |i: i64| {
            let rec = ConnectorOperationRec {
                id: format!("op-{i}"),
                arn: format!("arn:aws:kafkaconnect:us-east-1:123456789012:connector-operation/c/x/op-{i}"),
                connector_id: "x".into(),
                connector_arn: "arn:aws:kafkaconnect:us-east-1:123456789012:connector/c/x".into(),
                op_type: m::ConnectorOperationType::UpdateConnectorConfiguration,
                state: if i % 2 == 0 {
                    m::ConnectorOperationState::UpdateComplete
                } else {
                    m::ConnectorOperationState::Pending
                },
                steps: vec![],
                origin_worker_setting: None,
                target_worker_setting: None,
                origin_connector_configuration: Some(cfg(&[("tasks.max", "1")])),
                target_connector_configuration: Some(cfg(&[("tasks.max", "2")])),
                error_info: None,
                creation_time: 1_700_000_000_123 + i,
                end_time: (i % 2 == 0).then_some(1_700_000_001_000 + i),
                skip_health_validation: false,
                origin_state: m::ConnectorState::Running,
                planned_failure: None,
            };
            let raw = serde_json::to_vec(&rec).unwrap();
            let kept = Kept::new(10);
            kept.get("k", raw, |r| KeptOperation::decode("k", r)).unwrap()
        };
        let ops: Vec<_> = (0..4).map(op).collect();
        for (n, next) in [(0, None), (1, Some("tok")), (4, Some("a/b")), (4, None)] {
            let typed = m::ListConnectorOperationsResponse {
                connector_operations: Some(ops[..n].iter().map(|o| o.value.rec.summary()).collect()),
                next_token: next.map(str::to_string),
            };
            let want = encode_output(&typed, Protocol::RestJson1);
            assert_eq!(connector_operations_response(&ops[..n], next), want);
        }
        assert_eq!(ops[0].value.describe(), encode_output(&ops[0].value.rec.describe(), Protocol::RestJson1));
    }

    fn cfg(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn configuration_rules() {
        let class = ("connector.class", "x.Y");
        assert!(configuration_problem(&cfg(&[class, ("tasks.max", "4")])).is_none());
        assert!(configuration_problem(&cfg(&[class, ("tasks.max", "zero")])).is_some());
        assert!(configuration_problem(&cfg(&[class, ("tasks.max", "0")])).is_some());
        assert!(configuration_problem(&cfg(&[class, ("", "v")])).is_some());
        assert!(configuration_problem(&cfg(&[class, ("topics", "a"), ("topics.regex", "a.*")])).is_some());
    }

    #[test]
    fn plugin_locations() {
        let loc = |bucket: &str, key: &str| m::S3Location {
            bucket_arn: bucket.into(),
            file_key: key.into(),
            object_version: None,
        };
        let jar = m::CustomPluginContentType::Jar;
        let zip = m::CustomPluginContentType::Zip;
        assert!(location_problem(zip, &loc("arn:aws:s3:::my-bucket", "p/debezium.zip")).is_none());
        assert!(location_problem(jar, &loc("arn:aws:s3:::my-bucket", "p/debezium.zip")).is_some());
        assert!(location_problem(zip, &loc("my-bucket", "p.zip")).is_some());
        let a = file_fingerprint(&loc("arn:aws:s3:::b-1", "k.zip"));
        assert_eq!(a, file_fingerprint(&loc("arn:aws:s3:::b-1", "k.zip")));
        assert_eq!(a.0.len(), 32);
    }

    #[test]
    fn names() {
        assert!(check_name("connector", "orders-s3-sink").is_ok());
        assert!(check_name("connector", "-x").is_err());
        assert!(check_name("connector", "a_b").is_err());
        assert!(check_name("connector", "").is_err());
    }
}
