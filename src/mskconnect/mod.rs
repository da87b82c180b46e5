//! AWS MSK Connect: the 21 operations of `kafkaconnect` over the store and the operation engine.
//! Each operation validates its input, then reads and writes in one unit of work ([`scope`]);
//! asynchronous changes (creation, deletion, connector operations) are tasks handed to the engine
//! in that same transaction, and [`driver`] moves them on. The operations live by resource:
//! [`connectors`], [`plugins`], [`worker_configurations`], [`operations`] and [`tags`].

mod connector_settings;
mod connectors;
pub mod console;
pub mod driver;
mod operations;
mod plugins;
pub mod records;
mod scope;
mod tags;
#[cfg(test)]
mod tests;
mod worker_configurations;

use crate::engine::Engine;
use crate::kept::Kept;
use crate::model::kafkaconnect as m;
use crate::wire::shape::{ApiError, Protocol, RequestContext};
use operations::{KeptOperation, KeptOperations};
use records::SERVICE;
use std::sync::Arc;

/// The MSK Connect backend.
#[derive(Clone)]
pub struct MskConnect {
    engine: Engine,
    operations: KeptOperations,
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
}

impl m::Api for MskConnect {
    async fn create_connector(
        &self,
        cx: &RequestContext,
        input: m::CreateConnectorRequest,
    ) -> Result<m::CreateConnectorResponse, ApiError> {
        connectors::create(&self.engine, cx, input).await
    }

    async fn create_custom_plugin(
        &self,
        cx: &RequestContext,
        input: m::CreateCustomPluginRequest,
    ) -> Result<m::CreateCustomPluginResponse, ApiError> {
        plugins::create(&self.engine, cx, input).await
    }

    async fn create_worker_configuration(
        &self,
        cx: &RequestContext,
        input: m::CreateWorkerConfigurationRequest,
    ) -> Result<m::CreateWorkerConfigurationResponse, ApiError> {
        worker_configurations::create(&self.engine, cx, input).await
    }

    async fn delete_connector(
        &self,
        cx: &RequestContext,
        input: m::DeleteConnectorRequest,
    ) -> Result<m::DeleteConnectorResponse, ApiError> {
        connectors::delete(&self.engine, cx, input).await
    }

    async fn delete_custom_plugin(
        &self,
        cx: &RequestContext,
        input: m::DeleteCustomPluginRequest,
    ) -> Result<m::DeleteCustomPluginResponse, ApiError> {
        plugins::delete(&self.engine, cx, input).await
    }

    async fn delete_worker_configuration(
        &self,
        cx: &RequestContext,
        input: m::DeleteWorkerConfigurationRequest,
    ) -> Result<m::DeleteWorkerConfigurationResponse, ApiError> {
        worker_configurations::delete(&self.engine, cx, input).await
    }

    async fn describe_connector(
        &self,
        cx: &RequestContext,
        input: m::DescribeConnectorRequest,
    ) -> Result<m::DescribeConnectorResponse, ApiError> {
        connectors::describe(&self.engine, cx, input).await
    }

    async fn describe_connector_operation(
        &self,
        cx: &RequestContext,
        input: m::DescribeConnectorOperationRequest,
    ) -> Result<m::DescribeConnectorOperationResponse, ApiError> {
        operations::describe(&self.engine, &self.operations, cx, input).await
    }

    async fn describe_connector_operation_encoded(
        &self,
        cx: &RequestContext,
        input: m::DescribeConnectorOperationRequest,
        protocol: Protocol,
    ) -> Result<Vec<u8>, ApiError> {
        operations::describe_encoded(&self.engine, &self.operations, cx, input, protocol).await
    }

    async fn describe_custom_plugin(
        &self,
        cx: &RequestContext,
        input: m::DescribeCustomPluginRequest,
    ) -> Result<m::DescribeCustomPluginResponse, ApiError> {
        plugins::describe(&self.engine, cx, input).await
    }

    async fn describe_worker_configuration(
        &self,
        cx: &RequestContext,
        input: m::DescribeWorkerConfigurationRequest,
    ) -> Result<m::DescribeWorkerConfigurationResponse, ApiError> {
        worker_configurations::describe(&self.engine, cx, input).await
    }

    async fn list_connector_operations(
        &self,
        cx: &RequestContext,
        input: m::ListConnectorOperationsRequest,
    ) -> Result<m::ListConnectorOperationsResponse, ApiError> {
        operations::list(&self.engine, &self.operations, cx, input).await
    }

    async fn list_connector_operations_encoded(
        &self,
        cx: &RequestContext,
        input: m::ListConnectorOperationsRequest,
        protocol: Protocol,
    ) -> Result<Vec<u8>, ApiError> {
        operations::list_encoded(&self.engine, &self.operations, cx, input, protocol).await
    }

    async fn list_connectors(
        &self,
        cx: &RequestContext,
        input: m::ListConnectorsRequest,
    ) -> Result<m::ListConnectorsResponse, ApiError> {
        connectors::list(&self.engine, cx, input).await
    }

    async fn list_custom_plugins(
        &self,
        cx: &RequestContext,
        input: m::ListCustomPluginsRequest,
    ) -> Result<m::ListCustomPluginsResponse, ApiError> {
        plugins::list(&self.engine, cx, input).await
    }

    async fn list_tags_for_resource(
        &self,
        cx: &RequestContext,
        input: m::ListTagsForResourceRequest,
    ) -> Result<m::ListTagsForResourceResponse, ApiError> {
        tags::list(&self.engine, cx, input).await
    }

    async fn list_worker_configurations(
        &self,
        cx: &RequestContext,
        input: m::ListWorkerConfigurationsRequest,
    ) -> Result<m::ListWorkerConfigurationsResponse, ApiError> {
        worker_configurations::list(&self.engine, cx, input).await
    }

    async fn pause_connector(
        &self,
        cx: &RequestContext,
        input: m::PauseConnectorRequest,
    ) -> Result<m::PauseConnectorResponse, ApiError> {
        let op_type = m::ConnectorOperationType::PauseConnector;
        let (arn, op) = connectors::lifecycle_operation(&self.engine, cx, input.connector_arn, op_type, false).await?;
        Ok(m::PauseConnectorResponse { connector_arn: Some(arn), connector_operation_arn: Some(op) })
    }

    async fn restart_connector(
        &self,
        cx: &RequestContext,
        input: m::RestartConnectorRequest,
    ) -> Result<m::RestartConnectorResponse, ApiError> {
        let op_type = m::ConnectorOperationType::RestartConnector;
        let only_failed_tasks = input.only_failed_tasks.unwrap_or(false);
        let (arn, op) =
            connectors::lifecycle_operation(&self.engine, cx, input.connector_arn, op_type, only_failed_tasks).await?;
        Ok(m::RestartConnectorResponse { connector_arn: Some(arn), connector_operation_arn: Some(op) })
    }

    async fn resume_connector(
        &self,
        cx: &RequestContext,
        input: m::ResumeConnectorRequest,
    ) -> Result<m::ResumeConnectorResponse, ApiError> {
        let op_type = m::ConnectorOperationType::ResumeConnector;
        let (arn, op) = connectors::lifecycle_operation(&self.engine, cx, input.connector_arn, op_type, false).await?;
        Ok(m::ResumeConnectorResponse { connector_arn: Some(arn), connector_operation_arn: Some(op) })
    }

    async fn tag_resource(
        &self,
        cx: &RequestContext,
        input: m::TagResourceRequest,
    ) -> Result<m::TagResourceResponse, ApiError> {
        tags::tag(&self.engine, cx, input).await
    }

    async fn untag_resource(
        &self,
        cx: &RequestContext,
        input: m::UntagResourceRequest,
    ) -> Result<m::UntagResourceResponse, ApiError> {
        tags::untag(&self.engine, cx, input).await
    }

    async fn update_connector(
        &self,
        cx: &RequestContext,
        input: m::UpdateConnectorRequest,
    ) -> Result<m::UpdateConnectorResponse, ApiError> {
        connectors::update(&self.engine, cx, input).await
    }
}

/// MSK Connect as it registers with the service registry.
pub static REGISTRATION: crate::registry::Registration = crate::registry::Registration {
    service: SERVICE,
    key_prefix: records::KEY_PREFIX,
    check_fault_rule,
    check_document: records::check_document,
    shareable: &[],
    start: |engine, _| (Arc::new(MskConnect::new(engine.clone())), Arc::new(driver::MskConnectDriver)),
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
        Box::pin(m::dispatch_route(self, cx, operation, input))
    }

    fn forget_cached(&self) {
        MskConnect::forget_cached(self);
    }

    fn console_resources(
        &self,
        tx: &mut dyn crate::store::Tx,
    ) -> Result<Vec<crate::resource_tree::ScopeResources>, crate::store::StoreError> {
        console::resources(tx)
    }
}
