//! AWS Cloud Map: the 30 operations of `servicediscovery` over the store and the operation engine.
//! This file is the table: each operation opens a unit of work ([`Scope`]) and hands it to the
//! function of its resource (`namespaces`, `services`, `instances`, `operations`, `tags`,
//! `discover`); rules live there, bytes do not.

pub mod cache;
pub mod console;
pub mod discover;
pub mod driver;
pub mod instances;
pub mod namespaces;
pub mod operations;
pub mod records;
pub mod scope;
pub mod services;
#[cfg(test)]
mod sharing_tests;
pub mod tags;
#[cfg(test)]
mod tests;

use crate::engine::Engine;
use crate::model::servicediscovery as m;
use crate::wire::shape::{ApiError, Protocol, RequestContext};
use records::SERVICE;
pub use scope::{Quotas, Scope};
use std::sync::Arc;

/// The Cloud Map backend.
#[derive(Clone)]
pub struct CloudMap {
    engine: Engine,
    quotas: Arc<Quotas>,
    cache: Arc<cache::Caches>,
}

impl CloudMap {
    /// A backend over the engine's store.
    pub fn new(engine: Engine, quotas: Quotas) -> Self {
        CloudMap { engine, quotas: Arc::new(quotas), cache: Arc::default() }
    }

    /// Runs `work` in a read-write transaction of the caller's account and region: committed when it
    /// returns `Ok`, rolled back otherwise.
    async fn write<T: Send + 'static>(
        &self,
        cx: &RequestContext,
        work: impl FnOnce(&mut Scope) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let (this, cx) = (self.clone(), cx.clone());
        self.engine
            .store()
            .write(move |tx| work(&mut Scope::new(tx, &cx, &this.quotas, &this.engine, &this.cache)))
            .await
    }

    /// Runs `work` in a read-only transaction of the caller's account and region.
    async fn read<T: Send + 'static>(
        &self,
        cx: &RequestContext,
        work: impl FnOnce(&mut Scope) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let (this, cx) = (self.clone(), cx.clone());
        self.engine
            .store()
            .read(move |tx| work(&mut Scope::new(tx, &cx, &this.quotas, &this.engine, &this.cache)))
            .await
    }
}

impl m::Api for CloudMap {
    async fn create_http_namespace(
        &self,
        cx: &RequestContext,
        input: m::CreateHttpNamespaceRequest,
    ) -> Result<m::CreateHttpNamespaceResponse, ApiError> {
        let op = self.write(cx, move |s| namespaces::create_http(s, input)).await?;
        Ok(m::CreateHttpNamespaceResponse { operation_id: Some(op) })
    }

    async fn create_private_dns_namespace(
        &self,
        cx: &RequestContext,
        input: m::CreatePrivateDnsNamespaceRequest,
    ) -> Result<m::CreatePrivateDnsNamespaceResponse, ApiError> {
        let op = self.write(cx, move |s| namespaces::create_private_dns(s, input)).await?;
        Ok(m::CreatePrivateDnsNamespaceResponse { operation_id: Some(op) })
    }

    async fn create_public_dns_namespace(
        &self,
        cx: &RequestContext,
        input: m::CreatePublicDnsNamespaceRequest,
    ) -> Result<m::CreatePublicDnsNamespaceResponse, ApiError> {
        let op = self.write(cx, move |s| namespaces::create_public_dns(s, input)).await?;
        Ok(m::CreatePublicDnsNamespaceResponse { operation_id: Some(op) })
    }

    async fn create_service(
        &self,
        cx: &RequestContext,
        input: m::CreateServiceRequest,
    ) -> Result<m::CreateServiceResponse, ApiError> {
        self.write(cx, move |s| services::create(s, input)).await
    }

    async fn delete_namespace(
        &self,
        cx: &RequestContext,
        input: m::DeleteNamespaceRequest,
    ) -> Result<m::DeleteNamespaceResponse, ApiError> {
        self.write(cx, move |s| namespaces::delete(s, input)).await
    }

    async fn delete_service(
        &self,
        cx: &RequestContext,
        input: m::DeleteServiceRequest,
    ) -> Result<m::DeleteServiceResponse, ApiError> {
        self.write(cx, move |s| services::delete(s, input)).await
    }

    async fn delete_service_attributes(
        &self,
        cx: &RequestContext,
        input: m::DeleteServiceAttributesRequest,
    ) -> Result<m::DeleteServiceAttributesResponse, ApiError> {
        self.write(cx, move |s| services::delete_attributes(s, input)).await
    }

    async fn deregister_instance(
        &self,
        cx: &RequestContext,
        input: m::DeregisterInstanceRequest,
    ) -> Result<m::DeregisterInstanceResponse, ApiError> {
        self.write(cx, move |s| instances::deregister(s, input)).await
    }

    async fn discover_instances(
        &self,
        cx: &RequestContext,
        input: m::DiscoverInstancesRequest,
    ) -> Result<m::DiscoverInstancesResponse, ApiError> {
        let found = self.read(cx, move |s| discover::discover(s, &input)).await?;
        let instances = found.picked.iter().map(|&i| found.set.summary(i)).collect();
        Ok(m::DiscoverInstancesResponse { instances: Some(instances), instances_revision: Some(found.revision) })
    }

    async fn discover_instances_encoded(
        &self,
        cx: &RequestContext,
        input: m::DiscoverInstancesRequest,
        protocol: Protocol,
    ) -> Result<Vec<u8>, ApiError> {
        let found = self.read(cx, move |s| discover::discover(s, &input)).await?;
        Ok(found.set.response(&found.picked, found.revision, protocol))
    }

    async fn discover_instances_revision(
        &self,
        cx: &RequestContext,
        input: m::DiscoverInstancesRevisionRequest,
    ) -> Result<m::DiscoverInstancesRevisionResponse, ApiError> {
        self.read(cx, move |s| discover::revision(s, input)).await
    }

    async fn get_instance(
        &self,
        cx: &RequestContext,
        input: m::GetInstanceRequest,
    ) -> Result<m::GetInstanceResponse, ApiError> {
        self.read(cx, move |s| instances::get(s, input)).await
    }

    async fn get_instances_health_status(
        &self,
        cx: &RequestContext,
        input: m::GetInstancesHealthStatusRequest,
    ) -> Result<m::GetInstancesHealthStatusResponse, ApiError> {
        self.read(cx, move |s| instances::health_status(s, input)).await
    }

    async fn get_namespace(
        &self,
        cx: &RequestContext,
        input: m::GetNamespaceRequest,
    ) -> Result<m::GetNamespaceResponse, ApiError> {
        self.read(cx, move |s| namespaces::get(s, input)).await
    }

    async fn get_operation(
        &self,
        cx: &RequestContext,
        input: m::GetOperationRequest,
    ) -> Result<m::GetOperationResponse, ApiError> {
        let op = self.read(cx, move |s| operations::get(s, &input)).await?;
        Ok(m::GetOperationResponse { operation: Some(op.value.rec.to_model(self.engine.now_ms())) })
    }

    async fn get_operation_encoded(
        &self,
        cx: &RequestContext,
        input: m::GetOperationRequest,
        protocol: Protocol,
    ) -> Result<Vec<u8>, ApiError> {
        let op = self.read(cx, move |s| operations::get(s, &input)).await?;
        Ok(op.value.answer(protocol, self.engine.now_ms()))
    }

    async fn get_service(
        &self,
        cx: &RequestContext,
        input: m::GetServiceRequest,
    ) -> Result<m::GetServiceResponse, ApiError> {
        self.read(cx, move |s| services::get(s, input)).await
    }

    async fn get_service_attributes(
        &self,
        cx: &RequestContext,
        input: m::GetServiceAttributesRequest,
    ) -> Result<m::GetServiceAttributesResponse, ApiError> {
        self.read(cx, move |s| services::get_attributes(s, input)).await
    }

    async fn list_instances(
        &self,
        cx: &RequestContext,
        input: m::ListInstancesRequest,
    ) -> Result<m::ListInstancesResponse, ApiError> {
        Ok(self.read(cx, move |s| instances::list(s, &input)).await?.response())
    }

    async fn list_instances_encoded(
        &self,
        cx: &RequestContext,
        input: m::ListInstancesRequest,
        protocol: Protocol,
    ) -> Result<Vec<u8>, ApiError> {
        self.read(cx, move |s| Ok(instances::list(s, &input)?.encoded(protocol))).await
    }

    async fn list_namespaces(
        &self,
        cx: &RequestContext,
        input: m::ListNamespacesRequest,
    ) -> Result<m::ListNamespacesResponse, ApiError> {
        self.read(cx, move |s| namespaces::list(s, input)).await
    }

    async fn list_operations(
        &self,
        cx: &RequestContext,
        input: m::ListOperationsRequest,
    ) -> Result<m::ListOperationsResponse, ApiError> {
        self.read(cx, move |s| operations::list(s, input)).await
    }

    async fn list_services(
        &self,
        cx: &RequestContext,
        input: m::ListServicesRequest,
    ) -> Result<m::ListServicesResponse, ApiError> {
        self.read(cx, move |s| services::list(s, input)).await
    }

    async fn list_tags_for_resource(
        &self,
        cx: &RequestContext,
        input: m::ListTagsForResourceRequest,
    ) -> Result<m::ListTagsForResourceResponse, ApiError> {
        self.read(cx, move |s| tags::list(s, input)).await
    }

    async fn register_instance(
        &self,
        cx: &RequestContext,
        input: m::RegisterInstanceRequest,
    ) -> Result<m::RegisterInstanceResponse, ApiError> {
        self.write(cx, move |s| instances::register(s, input)).await
    }

    async fn tag_resource(
        &self,
        cx: &RequestContext,
        input: m::TagResourceRequest,
    ) -> Result<m::TagResourceResponse, ApiError> {
        self.write(cx, move |s| tags::tag(s, input)).await
    }

    async fn untag_resource(
        &self,
        cx: &RequestContext,
        input: m::UntagResourceRequest,
    ) -> Result<m::UntagResourceResponse, ApiError> {
        self.write(cx, move |s| tags::untag(s, input)).await
    }

    async fn update_http_namespace(
        &self,
        cx: &RequestContext,
        input: m::UpdateHttpNamespaceRequest,
    ) -> Result<m::UpdateHttpNamespaceResponse, ApiError> {
        let op = self.write(cx, move |s| namespaces::update_http(s, input)).await?;
        Ok(m::UpdateHttpNamespaceResponse { operation_id: Some(op) })
    }

    async fn update_instance_custom_health_status(
        &self,
        cx: &RequestContext,
        input: m::UpdateInstanceCustomHealthStatusRequest,
    ) -> Result<(), ApiError> {
        self.write(cx, move |s| instances::update_custom_health(s, input)).await
    }

    async fn update_private_dns_namespace(
        &self,
        cx: &RequestContext,
        input: m::UpdatePrivateDnsNamespaceRequest,
    ) -> Result<m::UpdatePrivateDnsNamespaceResponse, ApiError> {
        let op = self.write(cx, move |s| namespaces::update_private_dns(s, input)).await?;
        Ok(m::UpdatePrivateDnsNamespaceResponse { operation_id: Some(op) })
    }

    async fn update_public_dns_namespace(
        &self,
        cx: &RequestContext,
        input: m::UpdatePublicDnsNamespaceRequest,
    ) -> Result<m::UpdatePublicDnsNamespaceResponse, ApiError> {
        let op = self.write(cx, move |s| namespaces::update_public_dns(s, input)).await?;
        Ok(m::UpdatePublicDnsNamespaceResponse { operation_id: Some(op) })
    }

    async fn update_service(
        &self,
        cx: &RequestContext,
        input: m::UpdateServiceRequest,
    ) -> Result<m::UpdateServiceResponse, ApiError> {
        self.write(cx, move |s| services::update(s, input)).await
    }

    async fn update_service_attributes(
        &self,
        cx: &RequestContext,
        input: m::UpdateServiceAttributesRequest,
    ) -> Result<m::UpdateServiceAttributesResponse, ApiError> {
        self.write(cx, move |s| services::update_attributes(s, input)).await
    }
}

/// Cloud Map as it registers with the service registry.
pub static REGISTRATION: crate::registry::Registration = crate::registry::Registration {
    service: SERVICE,
    key_prefix: records::KEY_PREFIX,
    check_fault_rule: crate::registry::any_fault_rule,
    check_document: records::check_document,
    shareable: &[records::SHAREABLE_NAMESPACE],
    start: |engine, _| {
        let backend = CloudMap::new(engine.clone(), Quotas::from_config(&engine.quotas()));
        let driver = driver::CloudMapDriver { cache: backend.cache.clone() };
        (Arc::new(backend), Arc::new(driver))
    },
};

impl crate::registry::ServiceBackend for CloudMap {
    fn dispatch<'a>(
        &'a self,
        cx: &'a RequestContext,
        operation: &'static crate::wire::shape::OperationInfo,
        input: &'a crate::wire::shape::Json,
    ) -> crate::registry::Answer<'a> {
        Box::pin(m::dispatch_route(self, cx, operation, input))
    }

    fn forget_cached(&self) {
        self.cache.clear();
    }

    fn console_resources(
        &self,
        tx: &mut dyn crate::store::Tx,
    ) -> Result<Vec<crate::resource_tree::ScopeResources>, crate::store::StoreError> {
        console::resources(tx)
    }
}
