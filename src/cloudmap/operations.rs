//! Operations: GetOperation and ListOperations (newest first), both over the operation cache, so
//! that polling an operation costs a read and a copy of its kept answer.

use super::cache::KeptOperation;
use super::records::*;
use super::scope::*;
use crate::kept::Entry;
use crate::model::servicediscovery as m;
use crate::wire::shape::ApiError;
use std::sync::Arc;

/// GetOperation: the operation, decoded unless kept from an earlier read of the same bytes. It is
/// looked up among the operations of `OwnerAccount` (the caller's when absent); another account's
/// operation is visible only while the namespace it concerns is shared with the caller.
pub fn get(s: &mut Scope, input: &m::GetOperationRequest) -> Result<Arc<Entry<KeptOperation>>, ApiError> {
    s.enter_owner_account(&input.owner_account);
    let key = s.keys.operation(&input.operation_id);
    let entry = s
        .cache
        .operations
        .read(s.tx, &key, |raw| KeptOperation::decode(&key, raw))?
        .ok_or_else(|| op_not_found(&input.operation_id))?;
    if s.is_consumer() {
        let owner = s.partition.clone();
        let visible = match entry.value.rec.namespace_id.as_deref() {
            Some(ns) => s.may_use_namespace(&owner, ns)?,
            None => false,
        };
        if !visible {
            return Err(op_not_found(&input.operation_id));
        }
    }
    Ok(entry)
}

/// A ListOperations filter, checked.
enum Filter {
    Namespace(String),
    Service(String),
    Status(Vec<m::OperationStatus>),
    Type(Vec<m::OperationType>),
    Updated(i64, i64),
}

impl Filter {
    /// Whether `op`, as it reads at `now`, passes.
    fn keeps(&self, op: &OperationRec, now: i64) -> bool {
        let (status, update_date) = op.status_at(now);
        match self {
            Filter::Namespace(n) => op.namespace_id.as_deref() == Some(n.as_str()),
            Filter::Service(s) => op.service_id.as_deref() == Some(s.as_str()),
            Filter::Status(v) => v.contains(&status),
            Filter::Type(v) => v.contains(&op.op_type),
            Filter::Updated(a, b) => update_date >= *a && update_date <= *b,
        }
    }
}

fn filters(s: &Scope, input: &m::ListOperationsRequest) -> Result<Vec<Filter>, ApiError> {
    use m::FilterCondition as C;
    let mut filters = Vec::new();
    for f in input.filters.iter().flatten() {
        let name = f.name.as_str();
        filters.push(match f.name {
            m::OperationFilterName::NamespaceId => {
                let (_, v) = filter_values(&f.values, f.condition, C::Eq, &[C::Eq], name)?;
                Filter::Namespace(address(s.cx, "namespace", &v[0])?.id().unwrap_or_default().to_string())
            }
            m::OperationFilterName::ServiceId => {
                let (_, v) = filter_values(&f.values, f.condition, C::Eq, &[C::Eq], name)?;
                Filter::Service(address(s.cx, "service", &v[0])?.id().unwrap_or_default().to_string())
            }
            m::OperationFilterName::Status => {
                let (_, v) = filter_values(&f.values, f.condition, C::Eq, &[C::Eq, C::In], name)?;
                let mut out = Vec::new();
                for s in v {
                    let s = if s == "SUCCEED" { "SUCCESS" } else { s.as_str() };
                    let Some(status) = m::OperationStatus::from_wire(s) else {
                        return Err(invalid(format!("{s} is not an operation status")));
                    };
                    out.push(status);
                }
                Filter::Status(out)
            }
            m::OperationFilterName::Type => {
                let (_, v) = filter_values(&f.values, f.condition, C::Eq, &[C::Eq, C::In], name)?;
                let mut out = Vec::new();
                for t in v {
                    let Some(op_type) = m::OperationType::from_wire(t) else {
                        return Err(invalid(format!("{t} is not an operation type")));
                    };
                    out.push(op_type);
                }
                Filter::Type(out)
            }
            m::OperationFilterName::UpdateDate => {
                let (_, v) = filter_values(&f.values, f.condition, C::Between, &[C::Between], name)?;
                Filter::Updated(parse_epoch(&v[0])?, parse_epoch(&v[1])?)
            }
        });
    }
    Ok(filters)
}

/// ListOperations: the operations the caller asked for, newest first (its by-time index), filtered
/// before paging. Those filed in another account's namespace list while it is still shared.
pub fn list(s: &mut Scope, input: m::ListOperationsRequest) -> Result<m::ListOperationsResponse, ApiError> {
    let filters = filters(s, &input)?;
    let prefix = s.keys.operations_newest_first();
    let after = token_key(&input.next_token, &prefix)?;
    let (keys, cache, cx, now) = (&s.keys, s.cache, s.cx, s.engine.now_ms());
    let (operations, next_token) =
        crate::paging::page(s.tx, &prefix, after, page_size(input.max_results), |tx, index_key, filed_in| {
            let id = index_key.rsplit('/').next().unwrap_or_default();
            let owner = std::str::from_utf8(filed_in).unwrap_or_default();
            let key = if owner.is_empty() { keys.operation(id) } else { Keys::new(owner, &cx.region).operation(id) };
            // Decoded unless kept from an earlier read of the same bytes.
            let Some(entry) = cache.operations.read(tx, &key, |raw| KeptOperation::decode(&key, raw))? else {
                return Ok::<_, ApiError>(None);
            };
            let op = &entry.value.rec;
            if !owner.is_empty() {
                let arn = arn_of(&cx.region, owner, "namespace", op.namespace_id.as_deref().unwrap_or_default());
                if !crate::ram::grants::may_use(tx, &cx.region, owner, &cx.account, &arn)? {
                    return Ok(None);
                }
            }
            let keep = filters.iter().all(|f| f.keeps(op, now));
            Ok(keep.then(|| m::OperationSummary { id: Some(op.id.clone()), status: Some(op.status_at(now).0) }))
        })?;
    Ok(m::ListOperationsResponse { operations: Some(operations), next_token })
}

fn parse_epoch(v: &str) -> Result<i64, ApiError> {
    v.trim()
        .parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .map(|f| (f * 1000.0) as i64)
        .ok_or_else(|| invalid(format!("UPDATE_DATE value {v} is not a time in epoch seconds")))
}
