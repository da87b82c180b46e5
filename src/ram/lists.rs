//! The read side: shares (`GetResourceShares`), their associations, the resources and principals
//! shared by or with the caller, and the resource types localplane can share.

use super::invitations::{resource_model, resource_type_of};
use super::records::*;
use super::scope::*;
use super::shares::{shares_of, shares_with};
use super::Ram;
use crate::model::ram::{self as m, errors as e};
use crate::store::Tx;
use crate::wire::shape::{ApiError, RequestContext, Timestamp};

/// The shares a `resourceOwner` names: the caller's own (listed ones, C18) or those shared with it.
fn shares_for(tx: &mut dyn Tx, caller: &Caller, owner: m::ResourceOwner, now: i64) -> Result<Vec<ShareRec>, ApiError> {
    Ok(match owner {
        m::ResourceOwner::SelfValue => {
            shares_of(tx, &caller.region, &caller.account)?.into_iter().filter(|s| s.listed_at(now)).collect()
        }
        m::ResourceOwner::OtherAccounts => shares_with(tx, &caller.region, &caller.account)?,
    })
}

/// Checks a `resourceShareArns` filter: each must be an ARN of a share that exists (C23).
fn check_share_filter(tx: &mut dyn Tx, caller: &Caller, arns: &Option<Vec<String>>) -> Result<Vec<String>, ApiError> {
    let arns = arns.clone().unwrap_or_default();
    for arn in &arns {
        if find_share(tx, caller, arn)?.is_none() {
            return Err(unknown_share(arn));
        }
    }
    Ok(arns)
}

/// Checks a `resourceType` filter (case-insensitive): `InvalidResourceTypeException` when nothing
/// of that type can be shared here. Returns the type as RAM spells it.
fn check_type(ram: &Ram, resource_type: &Option<String>) -> Result<Option<String>, ApiError> {
    let Some(t) = resource_type else { return Ok(None) };
    match ram.shareables.iter().find(|s| s.resource_type.eq_ignore_ascii_case(t)) {
        Some(s) => Ok(Some(s.resource_type.to_string())),
        None => Err(ApiError::new(
            &e::INVALID_RESOURCE_TYPE_EXCEPTION,
            format!("The resource type {t} is not valid; see ListResourceTypes"),
        )),
    }
}

/// `GetResourceShares`.
pub async fn get_shares(
    ram: &Ram,
    cx: &RequestContext,
    input: m::GetResourceSharesRequest,
) -> Result<m::GetResourceSharesResponse, ApiError> {
    let (engine, caller) = (ram.engine.clone(), Caller::of(cx));
    ram.engine
        .store()
        .read(move |tx| {
            let now = engine.now_ms();
            let wanted = check_share_filter(tx, &caller, &input.resource_share_arns)?;
            if let Some(p) = &input.permission_arn {
                super::permissions::find(p)?;
            }
            let mut items = Vec::new();
            for share in shares_for(tx, &caller, input.resource_owner, now)? {
                let tag_ok = input.tag_filters.iter().flatten().all(|f| {
                    share.tags.iter().any(|(k, v)| {
                        f.tag_key.as_deref().is_none_or(|want| want == k)
                            && f.tag_values.as_ref().is_none_or(|vals| vals.is_empty() || vals.iter().any(|x| x == v))
                    })
                });
                let keep = (wanted.is_empty() || wanted.contains(&share.arn))
                    && input.resource_share_status.is_none_or(|s| s == share.status)
                    && input.name.as_deref().is_none_or(|n| n == share.name)
                    && input.permission_arn.as_deref().is_none_or(|p| p == share.permission_arn)
                    && tag_ok;
                if keep {
                    items.push((share_order(&share), share.to_model()));
                }
            }
            let (page, next) = page_of("shares", items, &input.next_token, page_size(input.max_results))?;
            Ok(m::GetResourceSharesResponse { resource_shares: Some(page), next_token: next })
        })
        .await
}

/// `GetResourceShareAssociations`: the associations of the caller's shares.
pub async fn associations(
    ram: &Ram,
    cx: &RequestContext,
    input: m::GetResourceShareAssociationsRequest,
) -> Result<m::GetResourceShareAssociationsResponse, ApiError> {
    let (engine, caller) = (ram.engine.clone(), Caller::of(cx));
    ram.engine
        .store()
        .read(move |tx| {
            let now = engine.now_ms();
            let kind = match input.association_type {
                m::ResourceShareAssociationType::Resource => EntityKind::Resource,
                m::ResourceShareAssociationType::Principal => EntityKind::Principal,
                m::ResourceShareAssociationType::Source => {
                    return Err(invalid("SOURCE associations are not supported: there are no service principals here"))
                }
            };
            if input.resource_arn.is_some() && kind != EntityKind::Resource {
                return Err(invalid("resourceArn can be given only with associationType RESOURCE"));
            }
            if input.principal.is_some() && kind != EntityKind::Principal {
                return Err(invalid("principal can be given only with associationType PRINCIPAL"));
            }
            if let Some(arn) = &input.resource_arn {
                if parse_arn(arn).is_none() {
                    return Err(malformed(arn));
                }
            }
            let wanted = input.resource_share_arns.clone().unwrap_or_default();
            for arn in &wanted {
                owned_share(tx, &caller, arn)?;
            }
            let mut items = Vec::new();
            for share in shares_of(tx, &caller.region, &caller.account)?.into_iter().filter(|s| s.listed_at(now)) {
                if !wanted.is_empty() && !wanted.contains(&share.arn) {
                    continue;
                }
                for (i, a) in share.associations.iter().enumerate().filter(|(_, a)| a.kind == kind) {
                    let row = share.association_model(a, now);
                    let keep = input.resource_arn.as_deref().is_none_or(|r| r == a.entity)
                        && input.principal.as_deref().is_none_or(|p| p == a.entity)
                        && input.association_status.is_none_or(|s| Some(s) == row.status);
                    if keep {
                        items.push((format!("{}/{i:04}", share_order(&share)), row));
                    }
                }
            }
            let (page, next) = page_of("associations", items, &input.next_token, page_size(input.max_results))?;
            Ok(m::GetResourceShareAssociationsResponse { resource_share_associations: Some(page), next_token: next })
        })
        .await
}

/// `ListResources`.
pub async fn resources(
    ram: &Ram,
    cx: &RequestContext,
    input: m::ListResourcesRequest,
) -> Result<m::ListResourcesResponse, ApiError> {
    let resource_type = check_type(ram, &input.resource_type)?;
    let (engine, shareables, caller) = (ram.engine.clone(), ram.shareables.clone(), Caller::of(cx));
    ram.engine
        .store()
        .read(move |tx| {
            let now = engine.now_ms();
            if let Some(p) = &input.principal {
                super::shares::check_principal(p)?;
            }
            let arns = input.resource_arns.clone().unwrap_or_default();
            for arn in &arns {
                if parse_arn(arn).is_none() {
                    return Err(malformed(arn));
                }
            }
            let wanted = check_share_filter(tx, &caller, &input.resource_share_arns)?;
            let global = input.resource_region_scope == Some(m::ResourceRegionScopeFilter::Global);
            let mut items = Vec::new();
            for share in shares_for(tx, &caller, input.resource_owner, now)? {
                if global || !share.is_live() || (!wanted.is_empty() && !wanted.contains(&share.arn)) {
                    continue;
                }
                let principal_ok = input.principal.as_deref().is_none_or(|p| match input.resource_owner {
                    m::ResourceOwner::SelfValue => share
                        .association(EntityKind::Principal, p)
                        .is_some_and(|a| matches!(a.status, m::ResourceShareAssociationStatus::Associated)),
                    m::ResourceOwner::OtherAccounts => p == share.owner,
                });
                if !principal_ok {
                    continue;
                }
                for a in share.associations.iter().filter(|a| {
                    a.kind == EntityKind::Resource && a.status == m::ResourceShareAssociationStatus::Associated
                }) {
                    let row = resource_model(&shareables, &share, a);
                    let keep = (arns.is_empty() || arns.contains(&a.entity))
                        && resource_type.as_deref().is_none_or(|t| row.type_.as_deref() == Some(t));
                    if keep {
                        items.push((format!("{}/{}", share_order(&share), a.entity), row));
                    }
                }
            }
            let (page, next) = page_of("resources", items, &input.next_token, page_size(input.max_results))?;
            Ok(m::ListResourcesResponse { resources: Some(page), next_token: next })
        })
        .await
}

/// `ListPrincipals`: the principals of the caller's shares (`SELF`), or the owners sharing with it
/// (`OTHER-ACCOUNTS`).
pub async fn principals(
    ram: &Ram,
    cx: &RequestContext,
    input: m::ListPrincipalsRequest,
) -> Result<m::ListPrincipalsResponse, ApiError> {
    let resource_type = check_type(ram, &input.resource_type)?;
    let (engine, shareables, caller) = (ram.engine.clone(), ram.shareables.clone(), Caller::of(cx));
    ram.engine
        .store()
        .read(move |tx| {
            use m::ResourceShareAssociationStatus as S;
            let now = engine.now_ms();
            if let Some(arn) = &input.resource_arn {
                if parse_arn(arn).is_none() {
                    return Err(malformed(arn));
                }
            }
            let named = input.principals.clone().unwrap_or_default();
            let wanted = check_share_filter(tx, &caller, &input.resource_share_arns)?;
            let mut items = Vec::new();
            for share in shares_for(tx, &caller, input.resource_owner, now)? {
                if !share.is_live() || (!wanted.is_empty() && !wanted.contains(&share.arn)) {
                    continue;
                }
                let holds = |pred: &dyn Fn(&AssociationRec) -> bool| {
                    share
                        .associations
                        .iter()
                        .any(|a| a.kind == EntityKind::Resource && a.status == S::Associated && pred(a))
                };
                if let Some(r) = &input.resource_arn {
                    if !holds(&|a| a.entity == *r) {
                        continue;
                    }
                }
                if let Some(t) = &resource_type {
                    if !holds(&|a| resource_type_of(&shareables, &a.entity) == *t) {
                        continue;
                    }
                }
                let principal = |id: &str, created: i64, updated: i64| m::Principal {
                    id: Some(id.to_string()),
                    resource_share_arn: Some(share.arn.clone()),
                    creation_time: Some(Timestamp(created)),
                    last_updated_time: Some(Timestamp(updated)),
                    external: Some(id != caller.account || input.resource_owner == m::ResourceOwner::OtherAccounts),
                };
                match input.resource_owner {
                    m::ResourceOwner::SelfValue => {
                        for a in share.associations.iter().filter(|a| {
                            a.kind == EntityKind::Principal
                                && matches!(a.status_at(now).0, S::Associating | S::Associated)
                        }) {
                            if named.is_empty() || named.contains(&a.entity) {
                                items.push((
                                    format!("{}/{}", share_order(&share), a.entity),
                                    principal(&a.entity, a.created, a.updated),
                                ));
                            }
                        }
                    }
                    m::ResourceOwner::OtherAccounts => {
                        if named.is_empty() || named.contains(&share.owner) {
                            items.push((share_order(&share), principal(&share.owner, share.created, share.updated)));
                        }
                    }
                }
            }
            let (page, next) = page_of("principals", items, &input.next_token, page_size(input.max_results))?;
            Ok(m::ListPrincipalsResponse { principals: Some(page), next_token: next })
        })
        .await
}

/// `ListResourceTypes`: the kinds the binary's services let owners share (C26), all regional.
pub async fn resource_types(
    ram: &Ram,
    input: m::ListResourceTypesRequest,
) -> Result<m::ListResourceTypesResponse, ApiError> {
    let global = input.resource_region_scope == Some(m::ResourceRegionScopeFilter::Global);
    let items = ram
        .shareables
        .iter()
        .filter(|_| !global)
        .map(|s| {
            let row = m::ServiceNameAndResourceType {
                resource_type: Some(s.resource_type.to_string()),
                service_name: Some(s.arn_service.to_string()),
                resource_region_scope: Some(m::ResourceRegionScope::Regional),
            };
            (s.resource_type.to_ascii_lowercase(), row)
        })
        .collect();
    let (page, next) = page_of("types", items, &input.next_token, page_size(input.max_results))?;
    Ok(m::ListResourceTypesResponse { resource_types: Some(page), next_token: next })
}
