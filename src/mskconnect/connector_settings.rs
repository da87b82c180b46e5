//! The checks of a connector's settings: capacity, log delivery, the service execution role, and
//! the connector configuration rules that Kafka Connect (not the API) enforces.

use super::records::{CapacityRec, LogDeliveryRec, LogDestinationRec, Problem};
use super::scope::bad_request;
use crate::model::kafkaconnect as m;
use crate::wire::shape::ApiError;
use std::collections::BTreeMap;

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

/// `serviceExecutionRoleArn` must be an IAM role ARN.
pub fn check_role_arn(arn: &str) -> Result<(), ApiError> {
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

/// `kafkaConnectVersion` must be one MSK Connect offers.
pub fn check_kafka_connect_version(version: &str) -> Result<(), ApiError> {
    if KAFKA_CONNECT_VERSIONS.contains(&version) {
        Ok(())
    } else {
        Err(bad_request(format!(
            "kafkaConnectVersion {version} is not supported; use one of {}",
            KAFKA_CONNECT_VERSIONS.join(", ")
        )))
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

/// The capacity CreateConnector asks for, checked, with the console's scaling defaults.
pub fn capacity_from_create(c: &m::Capacity) -> Result<CapacityRec, ApiError> {
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

/// The capacity UpdateConnector asks for, checked.
pub fn capacity_from_update(c: &m::CapacityUpdate) -> Result<CapacityRec, ApiError> {
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

/// The log delivery CreateConnector asks for, checked.
pub fn log_delivery_rec(l: &m::LogDelivery) -> Result<LogDeliveryRec, ApiError> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
