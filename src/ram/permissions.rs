//! The AWS managed permissions for Cloud Map namespaces (§3.3 of the reference; there are no
//! customer managed ones, C17): the catalogue, `ListPermissions`, `GetPermission`, the permission
//! of a share and swapping it.

use super::records::*;
use super::scope::*;
use super::Ram;
use crate::model::ram::{self as m, errors as e};
use crate::wire::shape::{ApiError, RequestContext, Timestamp};

/// One AWS managed permission.
pub struct ManagedPermission {
    /// Its name.
    pub name: &'static str,
    /// The resource type it applies to.
    pub resource_type: &'static str,
    /// Whether it is the type's default.
    pub is_default: bool,
    /// The actions it allows.
    pub actions: &'static [&'static str],
}

impl ManagedPermission {
    /// `arn:aws:ram::aws:permission/{name}`.
    pub fn arn(&self) -> String {
        format!("arn:aws:ram::aws:permission/{}", self.name)
    }

    /// The policy as RAM returns it: a compact JSON string.
    fn policy(&self) -> String {
        let actions: Vec<String> = self.actions.iter().map(|a| format!("servicediscovery:{a}")).collect();
        serde_json::json!({"Effect": "Allow", "Action": actions}).to_string()
    }

    fn summary(&self, status: &str) -> m::ResourceSharePermissionSummary {
        m::ResourceSharePermissionSummary {
            arn: Some(self.arn()),
            version: Some("1".into()),
            default_version: Some(true),
            name: Some(self.name.into()),
            resource_type: Some(self.resource_type.into()),
            status: Some(status.into()),
            creation_time: Some(Timestamp(CATALOGUE_TIME)),
            last_updated_time: Some(Timestamp(CATALOGUE_TIME)),
            is_resource_type_default: Some(self.is_default),
            permission_type: Some(m::PermissionType::AwsManaged),
            feature_set: Some(m::PermissionFeatureSet::Standard),
            permission_template_parameters: None,
            tags: None,
            resource_owner: None,
        }
    }
}

/// When the managed permissions appeared (the Cloud Map sharing launch, 2025-08-14).
const CATALOGUE_TIME: i64 = 1_755_129_600_000;

const CONSUMER_ACTIONS: &[&str] = &[
    "GetNamespace",
    "ListNamespaces",
    "CreateService",
    "GetService",
    "ListServices",
    "UpdateService",
    "DeleteService",
    "GetServiceAttributes",
    "UpdateServiceAttributes",
    "DeleteServiceAttributes",
    "RegisterInstance",
    "DeregisterInstance",
    "GetInstance",
    "ListInstances",
    "GetInstancesHealthStatus",
    "UpdateInstanceCustomHealthStatus",
    "DiscoverInstances",
    "DiscoverInstancesRevision",
    "GetOperation",
];

const ECS_ACTIONS: &[&str] = &[
    "GetNamespace",
    "ListNamespaces",
    "CreateService",
    "GetService",
    "ListServices",
    "UpdateService",
    "DeleteService",
    "GetServiceAttributes",
    "UpdateServiceAttributes",
    "DeleteServiceAttributes",
    "RegisterInstance",
    "DeregisterInstance",
    "GetInstance",
    "ListInstances",
    "GetInstancesHealthStatus",
    "UpdateInstanceCustomHealthStatus",
    "DiscoverInstances",
    "DiscoverInstancesRevision",
    "GetOperation",
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
];

/// Every managed permission, sorted by name.
pub static CATALOGUE: &[ManagedPermission] = &[
    ManagedPermission {
        name: "AWSRAMDefaultPermissionCloudMapNamespace",
        resource_type: "servicediscovery:Namespace",
        is_default: true,
        actions: CONSUMER_ACTIONS,
    },
    ManagedPermission {
        name: "AWSRAMPermissionCloudMapECSFullPermission",
        resource_type: "servicediscovery:Namespace",
        is_default: false,
        actions: ECS_ACTIONS,
    },
];

/// The managed permission `arn`: `MalformedArnException` when it is no permission ARN,
/// `UnknownResourceException` when there is none of that name.
pub fn find(arn: &str) -> Result<&'static ManagedPermission, ApiError> {
    let Some(parsed) = parse_arn(arn) else { return Err(malformed(arn)) };
    let Some(name) = parsed.resource.strip_prefix("permission/") else { return Err(malformed(arn)) };
    if parsed.service != "ram" {
        return Err(malformed(arn));
    }
    CATALOGUE
        .iter()
        .find(|p| p.name == name && parsed.account == "aws")
        .ok_or_else(|| ApiError::new(&e::UNKNOWN_RESOURCE_EXCEPTION, format!("Permission {arn} could not be found.")))
}

/// The permission a new share gets: the one named (at most one per resource type), or the default.
pub fn checked_for_share(arns: &Option<Vec<String>>) -> Result<String, ApiError> {
    let named: Vec<&ManagedPermission> = arns.iter().flatten().map(|a| find(a)).collect::<Result<_, _>>()?;
    match named.as_slice() {
        [] => Ok(default_permission().arn()),
        [one] => Ok(one.arn()),
        [first, rest @ ..] => {
            if rest.iter().all(|p| p.name == first.name) {
                Ok(first.arn())
            } else {
                Err(invalid(
                    "A resource share takes one permission per resource type; name one for servicediscovery:Namespace",
                ))
            }
        }
    }
}

fn default_permission() -> &'static ManagedPermission {
    &CATALOGUE[0]
}

/// `ListPermissions`.
pub fn list(input: m::ListPermissionsRequest) -> Result<m::ListPermissionsResponse, ApiError> {
    let resource_type = match &input.resource_type {
        Some(t) => match CATALOGUE.iter().find(|p| p.resource_type.eq_ignore_ascii_case(t)) {
            Some(p) => Some(p.resource_type),
            None => return Err(invalid(format!("The resource type {t} is not valid; see ListResourceTypes"))),
        },
        None => None,
    };
    let customer_only = input.permission_type == Some(m::PermissionTypeFilter::CustomerManaged);
    let status_ok = input.permission_status.is_none_or(|s| s == m::PermissionStatus::Attachable);
    let items = CATALOGUE
        .iter()
        .filter(|p| !customer_only && status_ok && resource_type.is_none_or(|t| t == p.resource_type))
        .map(|p| (p.name.to_string(), p.summary("ATTACHABLE")))
        .collect();
    let (page, next) = page_of("permissions", items, &input.next_token, page_size(input.max_results))?;
    Ok(m::ListPermissionsResponse { permissions: Some(page), next_token: next })
}

/// `GetPermission`.
pub fn get(input: m::GetPermissionRequest) -> Result<m::GetPermissionResponse, ApiError> {
    let p = find(&input.permission_arn)?;
    if let Some(v) = input.permission_version {
        if v != 1 {
            return Err(ApiError::new(
                &e::UNKNOWN_RESOURCE_EXCEPTION,
                format!("Version {v} of permission {} could not be found; it has version 1 only", input.permission_arn),
            ));
        }
    }
    let s = p.summary("ATTACHABLE");
    Ok(m::GetPermissionResponse {
        permission: Some(m::ResourceSharePermissionDetail {
            arn: s.arn,
            version: s.version,
            default_version: s.default_version,
            name: s.name,
            resource_type: s.resource_type,
            permission: Some(p.policy()),
            permission_template_parameters: None,
            creation_time: s.creation_time,
            last_updated_time: s.last_updated_time,
            is_resource_type_default: s.is_resource_type_default,
            permission_type: s.permission_type,
            feature_set: s.feature_set,
            status: Some(m::PermissionStatus::Attachable),
            tags: None,
            resource_owner: None,
        }),
    })
}

/// `ListResourceSharePermissions`: the permission of a share the caller owns or receives.
pub async fn of_share(
    ram: &Ram,
    cx: &RequestContext,
    input: m::ListResourceSharePermissionsRequest,
) -> Result<m::ListResourceSharePermissionsResponse, ApiError> {
    let caller = Caller::of(cx);
    ram.engine
        .store()
        .read(move |tx| {
            let arn = &input.resource_share_arn;
            let share = find_share(tx, &caller, arn)?.ok_or_else(|| unknown_share(arn))?;
            let receives = share
                .association(EntityKind::Principal, &caller.account)
                .is_some_and(|a| a.status == m::ResourceShareAssociationStatus::Associated);
            if share.owner != caller.account && !(receives && share.is_live()) {
                return Err(unknown_share(arn));
            }
            let p = find(&share.permission_arn)?;
            let items = vec![(p.name.to_string(), p.summary("ASSOCIATED"))];
            let (page, next) = page_of("share-permissions", items, &input.next_token, page_size(input.max_results))?;
            Ok(m::ListResourceSharePermissionsResponse { permissions: Some(page), next_token: next })
        })
        .await
}

/// `AssociateResourceSharePermission` (`attach`) and `DisassociateResourceSharePermission`.
pub async fn swap(
    ram: &Ram,
    cx: &RequestContext,
    share_arn: String,
    permission_arn: String,
    replace: bool,
    attach: bool,
) -> Result<(), ApiError> {
    let (engine, caller) = (ram.engine.clone(), Caller::of(cx));
    ram.engine
        .store()
        .write(move |tx| {
            let wanted = find(&permission_arn)?;
            let mut share = owned_live_share(tx, &caller, &share_arn)?;
            let attached = share.permission_arn == wanted.arn();
            if attach {
                if attached {
                    return Ok(());
                }
                if !replace {
                    return Err(invalid(format!(
                        "ResourceShare {share_arn} already has a permission for {}; pass replace=true to swap it",
                        wanted.resource_type
                    )));
                }
                share.permission_arn = wanted.arn();
            } else {
                if !attached {
                    return Err(invalid(format!("Permission {permission_arn} is not attached to ResourceShare {share_arn}")));
                }
                if wanted.is_default {
                    return Err(invalid(format!(
                        "Permission {permission_arn} is the default of {} and stays attached while the share may hold such resources",
                        wanted.resource_type
                    )));
                }
                share.permission_arn = default_permission().arn();
            }
            share.updated = engine.now_ms().max(share.updated);
            save_share(tx, &share)?;
            Ok(())
        })
        .await
}
