//! Connector operations as clients read them: DescribeConnectorOperation and
//! ListConnectorOperations. Both are hot paths of pollers, so the records they read stay decoded
//! ([`KeptOperation`]) with their restJson1 answers encoded at first use, and a page is assembled
//! from the kept bytes.

use super::records::*;
use super::scope::{self, not_found, page_after, page_size, resolve};
use crate::engine::Engine;
use crate::kept::{Entry, Kept};
use crate::model::kafkaconnect as m;
use crate::paging;
use crate::store::StoreError;
use crate::wire::shape::{encode_output, encode_output_sized, ApiError, PreEncoded, Protocol, RequestContext};
use std::sync::{Arc, OnceLock};

/// A connector operation record as last read, with its describe answer and its summary encoded at
/// first use.
pub struct KeptOperation {
    rec: ConnectorOperationRec,
    describe: OnceLock<Vec<u8>>,
    summary: OnceLock<Vec<u8>>,
}

/// The connector operation records kept decoded, shared by every request.
pub type KeptOperations = Arc<Kept<KeptOperation>>;

impl KeptOperation {
    /// The most connector operation records kept decoded.
    pub const MAX: usize = 20_000;

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
    let summaries: Vec<PreEncoded> = ops.iter().map(|o| PreEncoded(o.value.summary())).collect();
    let size = summaries.iter().map(|p| p.len() + 1).sum::<usize>() + 64;
    let parts = m::ListConnectorOperationsResponseParts {
        connector_operations: Some(summaries),
        next_token: next_token.map(str::to_string),
    };
    encode_output_sized(&parts, Protocol::RestJson1, size)
}

/// The connector operation `input` names, decoded unless kept from an earlier read of the same
/// bytes.
async fn kept_operation(
    engine: &Engine,
    kept: &KeptOperations,
    cx: &RequestContext,
    input: m::DescribeConnectorOperationRequest,
) -> Result<Arc<Entry<KeptOperation>>, ApiError> {
    let kept = kept.clone();
    scope::read(engine, cx, move |s| {
        let arn = &input.connector_operation_arn;
        let missing = || not_found(format!("Connector operation {arn} not found"));
        let p = resolve(s.cx, arn, &[ArnKind::ConnectorOperation])?.ok_or_else(missing)?;
        let key = s.keys.operation(&p.id, &p.operation_id.unwrap_or_default());
        match kept.read(s.tx, &key, |raw| KeptOperation::decode(&key, raw))? {
            Some(op) if op.value.rec.arn == *arn => Ok(op),
            _ => Err(missing()),
        }
    })
    .await
}

/// One ListConnectorOperations page (newest first) and its next token.
async fn kept_operations_page(
    engine: &Engine,
    kept: &KeptOperations,
    cx: &RequestContext,
    input: m::ListConnectorOperationsRequest,
) -> Result<(Vec<Arc<Entry<KeptOperation>>>, Option<String>), ApiError> {
    let kept = kept.clone();
    scope::read(engine, cx, move |s| {
        let c = s.connector(&input.connector_arn)?;
        let prefix = s.keys.operations_newest_first(&c.id);
        let after = page_after(input.next_token.as_deref(), &prefix)?;
        let keys = &s.keys;
        paging::page(s.tx, &prefix, after, page_size(input.max_results), |tx, _, op_id| -> Result<_, ApiError> {
            let key = keys.operation(&c.id, &String::from_utf8_lossy(op_id));
            Ok(kept.read(tx, &key, |raw| KeptOperation::decode(&key, raw))?)
        })
    })
    .await
}

/// DescribeConnectorOperation.
pub async fn describe(
    engine: &Engine,
    kept: &KeptOperations,
    cx: &RequestContext,
    input: m::DescribeConnectorOperationRequest,
) -> Result<m::DescribeConnectorOperationResponse, ApiError> {
    Ok(kept_operation(engine, kept, cx, input).await?.value.rec.describe())
}

/// DescribeConnectorOperation, encoded: restJson1 answers are the kept bytes.
pub async fn describe_encoded(
    engine: &Engine,
    kept: &KeptOperations,
    cx: &RequestContext,
    input: m::DescribeConnectorOperationRequest,
    protocol: Protocol,
) -> Result<Vec<u8>, ApiError> {
    let op = kept_operation(engine, kept, cx, input).await?;
    Ok(match protocol {
        Protocol::RestJson1 => op.value.describe().to_vec(),
        _ => encode_output(&op.value.rec.describe(), protocol),
    })
}

/// ListConnectorOperations: newest first.
pub async fn list(
    engine: &Engine,
    kept: &KeptOperations,
    cx: &RequestContext,
    input: m::ListConnectorOperationsRequest,
) -> Result<m::ListConnectorOperationsResponse, ApiError> {
    let (ops, next_token) = kept_operations_page(engine, kept, cx, input).await?;
    let ops = ops.iter().map(|o| o.value.rec.summary()).collect();
    Ok(m::ListConnectorOperationsResponse { connector_operations: Some(ops), next_token })
}

/// ListConnectorOperations, encoded: restJson1 pages are assembled from the kept summaries.
pub async fn list_encoded(
    engine: &Engine,
    kept: &KeptOperations,
    cx: &RequestContext,
    input: m::ListConnectorOperationsRequest,
    protocol: Protocol,
) -> Result<Vec<u8>, ApiError> {
    if protocol != Protocol::RestJson1 {
        return Ok(encode_output(&list(engine, kept, cx, input).await?, protocol));
    }
    let (ops, next_token) = kept_operations_page(engine, kept, cx, input).await?;
    Ok(connector_operations_response(&ops, next_token.as_deref()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn cfg(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

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
}
