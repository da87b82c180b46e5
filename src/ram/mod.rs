//! AWS Resource Access Manager (RAM): resource shares, their resource and principal associations,
//! invitations and managed permissions — the subset that shares Cloud Map namespaces. Each
//! operation reads and writes in one transaction; what it leaves moving (associations, deletion) is
//! a durable transition the engine settles ([`driver`]); [`grants`] is what other services read.
//! The operations live by concern: [`shares`], [`invitations`], [`lists`], [`permissions`].

mod console;
mod driver;
pub mod grants;
mod invitations;
mod lists;
mod permissions;
pub mod records;
mod scope;
mod shares;
#[cfg(test)]
mod tests;

use crate::engine::Engine;
use crate::model::ram::{self as m, errors as e};
use crate::registry::Registration;
use crate::wire::shape::{ApiError, Json, OperationInfo, RequestContext};
use scope::not_permitted;
use shares::Shareables;
use std::sync::Arc;

/// The RAM backend.
#[derive(Clone)]
pub struct Ram {
    engine: Engine,
    shareables: Shareables,
}

impl Ram {
    /// A backend over the engine's store that shares the kinds the registrations offer.
    pub fn new(engine: Engine, registrations: &[&'static Registration]) -> Self {
        let shareables = registrations.iter().flat_map(|r| r.shareable.iter()).collect();
        Ram { engine, shareables: Arc::new(shareables) }
    }
}

/// The answer of an operation localplane does not serve: customer managed permissions, resource
/// policies, source associations and promotions need IAM policies or organizations it lacks.
fn unsupported(operation: &str) -> ApiError {
    not_permitted(format!(
        "{operation} is not supported by localplane: it serves the AWS managed permissions, account principals and \
         resource shares (customer managed permissions, resource policies and service sources are not modelled)"
    ))
}

impl m::Api for Ram {
    async fn accept_resource_share_invitation(
        &self,
        cx: &RequestContext,
        input: m::AcceptResourceShareInvitationRequest,
    ) -> Result<m::AcceptResourceShareInvitationResponse, ApiError> {
        invitations::accept(self, cx, input).await
    }

    async fn associate_resource_share(
        &self,
        cx: &RequestContext,
        input: m::AssociateResourceShareRequest,
    ) -> Result<m::AssociateResourceShareResponse, ApiError> {
        shares::associate(self, cx, input).await
    }

    async fn associate_resource_share_permission(
        &self,
        cx: &RequestContext,
        input: m::AssociateResourceSharePermissionRequest,
    ) -> Result<m::AssociateResourceSharePermissionResponse, ApiError> {
        let token = input.client_token.clone().unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let replace = input.replace.unwrap_or(false);
        permissions::swap(self, cx, input.resource_share_arn, input.permission_arn, replace, true).await?;
        Ok(m::AssociateResourceSharePermissionResponse { return_value: Some(true), client_token: Some(token) })
    }

    async fn create_permission(
        &self,
        _cx: &RequestContext,
        _input: m::CreatePermissionRequest,
    ) -> Result<m::CreatePermissionResponse, ApiError> {
        Err(unsupported("CreatePermission"))
    }

    async fn create_permission_version(
        &self,
        _cx: &RequestContext,
        _input: m::CreatePermissionVersionRequest,
    ) -> Result<m::CreatePermissionVersionResponse, ApiError> {
        Err(unsupported("CreatePermissionVersion"))
    }

    async fn create_resource_share(
        &self,
        cx: &RequestContext,
        input: m::CreateResourceShareRequest,
    ) -> Result<m::CreateResourceShareResponse, ApiError> {
        shares::create(self, cx, input).await
    }

    async fn delete_permission(
        &self,
        _cx: &RequestContext,
        _input: m::DeletePermissionRequest,
    ) -> Result<m::DeletePermissionResponse, ApiError> {
        Err(unsupported("DeletePermission"))
    }

    async fn delete_permission_version(
        &self,
        _cx: &RequestContext,
        _input: m::DeletePermissionVersionRequest,
    ) -> Result<m::DeletePermissionVersionResponse, ApiError> {
        Err(unsupported("DeletePermissionVersion"))
    }

    async fn delete_resource_share(
        &self,
        cx: &RequestContext,
        input: m::DeleteResourceShareRequest,
    ) -> Result<m::DeleteResourceShareResponse, ApiError> {
        shares::delete(self, cx, input).await
    }

    async fn disassociate_resource_share(
        &self,
        cx: &RequestContext,
        input: m::DisassociateResourceShareRequest,
    ) -> Result<m::DisassociateResourceShareResponse, ApiError> {
        shares::disassociate(self, cx, input).await
    }

    async fn disassociate_resource_share_permission(
        &self,
        cx: &RequestContext,
        input: m::DisassociateResourceSharePermissionRequest,
    ) -> Result<m::DisassociateResourceSharePermissionResponse, ApiError> {
        let token = input.client_token.clone().unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        permissions::swap(self, cx, input.resource_share_arn, input.permission_arn, false, false).await?;
        Ok(m::DisassociateResourceSharePermissionResponse { return_value: Some(true), client_token: Some(token) })
    }

    async fn enable_sharing_with_aws_organization(
        &self,
        cx: &RequestContext,
        _input: m::EnableSharingWithAwsOrganizationRequest,
    ) -> Result<m::EnableSharingWithAwsOrganizationResponse, ApiError> {
        Err(not_permitted(format!(
            "Account {} is not in an AWS Organization: localplane has no organizations, so every account principal is invited",
            cx.account
        )))
    }

    async fn get_permission(
        &self,
        _cx: &RequestContext,
        input: m::GetPermissionRequest,
    ) -> Result<m::GetPermissionResponse, ApiError> {
        permissions::get(input)
    }

    async fn get_resource_policies(
        &self,
        _cx: &RequestContext,
        _input: m::GetResourcePoliciesRequest,
    ) -> Result<m::GetResourcePoliciesResponse, ApiError> {
        Err(unsupported("GetResourcePolicies"))
    }

    async fn get_resource_share_associations(
        &self,
        cx: &RequestContext,
        input: m::GetResourceShareAssociationsRequest,
    ) -> Result<m::GetResourceShareAssociationsResponse, ApiError> {
        lists::associations(self, cx, input).await
    }

    async fn get_resource_share_invitations(
        &self,
        cx: &RequestContext,
        input: m::GetResourceShareInvitationsRequest,
    ) -> Result<m::GetResourceShareInvitationsResponse, ApiError> {
        invitations::list(self, cx, input).await
    }

    async fn get_resource_shares(
        &self,
        cx: &RequestContext,
        input: m::GetResourceSharesRequest,
    ) -> Result<m::GetResourceSharesResponse, ApiError> {
        lists::get_shares(self, cx, input).await
    }

    async fn list_pending_invitation_resources(
        &self,
        cx: &RequestContext,
        input: m::ListPendingInvitationResourcesRequest,
    ) -> Result<m::ListPendingInvitationResourcesResponse, ApiError> {
        invitations::pending_resources(self, cx, input).await
    }

    async fn list_permission_associations(
        &self,
        _cx: &RequestContext,
        _input: m::ListPermissionAssociationsRequest,
    ) -> Result<m::ListPermissionAssociationsResponse, ApiError> {
        Err(unsupported("ListPermissionAssociations"))
    }

    async fn list_permission_versions(
        &self,
        _cx: &RequestContext,
        _input: m::ListPermissionVersionsRequest,
    ) -> Result<m::ListPermissionVersionsResponse, ApiError> {
        Err(unsupported("ListPermissionVersions"))
    }

    async fn list_permissions(
        &self,
        _cx: &RequestContext,
        input: m::ListPermissionsRequest,
    ) -> Result<m::ListPermissionsResponse, ApiError> {
        permissions::list(input)
    }

    async fn list_principals(
        &self,
        cx: &RequestContext,
        input: m::ListPrincipalsRequest,
    ) -> Result<m::ListPrincipalsResponse, ApiError> {
        lists::principals(self, cx, input).await
    }

    async fn list_replace_permission_associations_work(
        &self,
        _cx: &RequestContext,
        _input: m::ListReplacePermissionAssociationsWorkRequest,
    ) -> Result<m::ListReplacePermissionAssociationsWorkResponse, ApiError> {
        Err(unsupported("ListReplacePermissionAssociationsWork"))
    }

    async fn list_resource_share_permissions(
        &self,
        cx: &RequestContext,
        input: m::ListResourceSharePermissionsRequest,
    ) -> Result<m::ListResourceSharePermissionsResponse, ApiError> {
        permissions::of_share(self, cx, input).await
    }

    async fn list_resource_types(
        &self,
        _cx: &RequestContext,
        input: m::ListResourceTypesRequest,
    ) -> Result<m::ListResourceTypesResponse, ApiError> {
        lists::resource_types(self, input).await
    }

    async fn list_resources(
        &self,
        cx: &RequestContext,
        input: m::ListResourcesRequest,
    ) -> Result<m::ListResourcesResponse, ApiError> {
        lists::resources(self, cx, input).await
    }

    async fn list_source_associations(
        &self,
        _cx: &RequestContext,
        _input: m::ListSourceAssociationsRequest,
    ) -> Result<m::ListSourceAssociationsResponse, ApiError> {
        Err(unsupported("ListSourceAssociations"))
    }

    async fn promote_permission_created_from_policy(
        &self,
        _cx: &RequestContext,
        _input: m::PromotePermissionCreatedFromPolicyRequest,
    ) -> Result<m::PromotePermissionCreatedFromPolicyResponse, ApiError> {
        Err(unsupported("PromotePermissionCreatedFromPolicy"))
    }

    async fn promote_resource_share_created_from_policy(
        &self,
        _cx: &RequestContext,
        _input: m::PromoteResourceShareCreatedFromPolicyRequest,
    ) -> Result<m::PromoteResourceShareCreatedFromPolicyResponse, ApiError> {
        Err(unsupported("PromoteResourceShareCreatedFromPolicy"))
    }

    async fn reject_resource_share_invitation(
        &self,
        cx: &RequestContext,
        input: m::RejectResourceShareInvitationRequest,
    ) -> Result<m::RejectResourceShareInvitationResponse, ApiError> {
        invitations::reject(self, cx, input).await
    }

    async fn replace_permission_associations(
        &self,
        _cx: &RequestContext,
        _input: m::ReplacePermissionAssociationsRequest,
    ) -> Result<m::ReplacePermissionAssociationsResponse, ApiError> {
        Err(unsupported("ReplacePermissionAssociations"))
    }

    async fn set_default_permission_version(
        &self,
        _cx: &RequestContext,
        _input: m::SetDefaultPermissionVersionRequest,
    ) -> Result<m::SetDefaultPermissionVersionResponse, ApiError> {
        Err(unsupported("SetDefaultPermissionVersion"))
    }

    async fn tag_resource(
        &self,
        cx: &RequestContext,
        input: m::TagResourceRequest,
    ) -> Result<m::TagResourceResponse, ApiError> {
        shares::tag(self, cx, input).await
    }

    async fn untag_resource(
        &self,
        cx: &RequestContext,
        input: m::UntagResourceRequest,
    ) -> Result<m::UntagResourceResponse, ApiError> {
        shares::untag(self, cx, input).await
    }

    async fn update_permission(
        &self,
        _cx: &RequestContext,
        _input: m::UpdatePermissionRequest,
    ) -> Result<m::UpdatePermissionResponse, ApiError> {
        Err(unsupported("UpdatePermission"))
    }

    async fn update_resource_share(
        &self,
        cx: &RequestContext,
        input: m::UpdateResourceShareRequest,
    ) -> Result<m::UpdateResourceShareResponse, ApiError> {
        shares::update(self, cx, input).await
    }
}

/// RAM as it registers with the service registry.
pub static REGISTRATION: Registration = Registration {
    service: records::SERVICE,
    key_prefix: records::KEY_PREFIX,
    check_fault_rule,
    check_document: records::check_document,
    shareable: &[],
    start: |engine, registrations| (Arc::new(Ram::new(engine.clone(), registrations)), Arc::new(driver::RamDriver)),
};

/// A RAM fault rule fails association transitions: its operation type must be
/// `ASSOCIATE_RESOURCE_SHARE`, with no step.
fn check_fault_rule(rule: &crate::engine::FaultRule) -> Result<(), String> {
    if rule.api.is_some() {
        return Ok(());
    }
    let t = rule.operation_type.as_deref().unwrap_or("");
    if t != records::TransitionKind::Associate.operation_type() {
        return Err(format!(
            "operationType for ram must be {}, not '{t}'",
            records::TransitionKind::Associate.operation_type()
        ));
    }
    if let Some(step) = &rule.step {
        return Err(format!("ram transitions have one step; leave out step ('{step}')"));
    }
    Ok(())
}

impl crate::registry::ServiceBackend for Ram {
    fn dispatch<'a>(
        &'a self,
        cx: &'a RequestContext,
        operation: &'static OperationInfo,
        input: &'a Json,
    ) -> crate::registry::Answer<'a> {
        // The one operation declaring InvalidMaxResultsException answers it for an out-of-range
        // maxResults (C15); every other gets the model's InvalidParameterException.
        if operation.name == "GetResourceShareInvitations" {
            if let Some(n) = input.get("maxResults").and_then(Json::as_i64) {
                if !(1..=500).contains(&n) {
                    let err = ApiError::new(
                        &e::INVALID_MAX_RESULTS_EXCEPTION,
                        format!("maxResults must be between 1 and 500, not {n}"),
                    );
                    return Box::pin(async move { Err(err) });
                }
            }
        }
        Box::pin(m::dispatch_route(self, cx, operation, input))
    }

    fn forget_cached(&self) {}

    fn console_resources(
        &self,
        tx: &mut dyn crate::store::Tx,
    ) -> Result<Vec<crate::resource_tree::ScopeResources>, crate::store::StoreError> {
        console::resources(tx)
    }
}
