//! Invitations, as their receivers see them: list, accept (access starts at once, C21), reject,
//! and the resources a pending one would share.

use super::records::*;
use super::scope::*;
use super::Ram;
use crate::model::ram::{self as m, errors as e};
use crate::store::{get_json, put_json, Tx};
use crate::wire::shape::{ApiError, RequestContext, Timestamp};

/// The caller's invitation `arn`, or `ResourceShareInvitationArnNotFoundException`.
fn received(tx: &mut dyn Tx, caller: &Caller, arn: &str) -> Result<InvitationRec, ApiError> {
    let parsed = parse_invitation_arn(arn)?;
    if parsed.region != caller.region {
        return Err(invitation_not_found(arn));
    }
    match get_json::<InvitationRec>(tx, &invitation_key(&caller.region, &caller.account, &parsed.id))? {
        Some(inv) if inv.arn == arn => Ok(inv),
        _ => Err(invitation_not_found(arn)),
    }
}

/// Refuses an invitation that is no longer pending at `now`.
fn still_pending(inv: &InvitationRec, now: i64) -> Result<(), ApiError> {
    use m::ResourceShareInvitationStatus as S;
    let arn = &inv.arn;
    match inv.status_at(now) {
        S::Pending => Ok(()),
        S::Accepted => Err(ApiError::new(
            &e::RESOURCE_SHARE_INVITATION_ALREADY_ACCEPTED_EXCEPTION,
            format!("ResourceShareInvitation {arn} has already been accepted"),
        )),
        S::Rejected => Err(ApiError::new(
            &e::RESOURCE_SHARE_INVITATION_ALREADY_REJECTED_EXCEPTION,
            format!("ResourceShareInvitation {arn} has already been rejected"),
        )),
        S::Expired => Err(ApiError::new(
            &e::RESOURCE_SHARE_INVITATION_EXPIRED_EXCEPTION,
            format!("ResourceShareInvitation {arn} has expired; ask the owner to add your account again"),
        )),
    }
}

/// `GetResourceShareInvitations`: the invitations the caller received.
pub async fn list(
    ram: &Ram,
    cx: &RequestContext,
    input: m::GetResourceShareInvitationsRequest,
) -> Result<m::GetResourceShareInvitationsResponse, ApiError> {
    let (engine, caller) = (ram.engine.clone(), Caller::of(cx));
    ram.engine
        .store()
        .read(move |tx| {
            let now = engine.now_ms();
            let wanted = input.resource_share_invitation_arns.clone().unwrap_or_default();
            for arn in &wanted {
                received(tx, &caller, arn)?;
            }
            let shares = input.resource_share_arns.clone().unwrap_or_default();
            for arn in &shares {
                parse_share_arn(arn)?;
            }
            let rows = tx.scan(&invitations_prefix(&caller.region, &caller.account), None, usize::MAX)?;
            let mut items = Vec::new();
            for (_, inv) in crate::store::decode_all::<InvitationRec>(rows)? {
                if (!wanted.is_empty() && !wanted.contains(&inv.arn))
                    || (!shares.is_empty() && !shares.contains(&inv.share_arn))
                {
                    continue;
                }
                items.push((format!("{:016x}/{}", inv.sent.max(0), inv.id), inv.to_model(now)));
            }
            let (page, next) = page_of("invitations", items, &input.next_token, page_size(input.max_results))?;
            Ok(m::GetResourceShareInvitationsResponse { resource_share_invitations: Some(page), next_token: next })
        })
        .await
}

/// `AcceptResourceShareInvitation` (`accept`) and `RejectResourceShareInvitation`.
async fn answer(
    ram: &Ram,
    cx: &RequestContext,
    operation: &'static str,
    arn: String,
    client_token: Option<String>,
    accept: bool,
) -> Result<(m::ResourceShareInvitation, String), ApiError> {
    let (engine, caller) = (ram.engine.clone(), Caller::of(cx));
    ram.engine
        .store()
        .write(move |tx| {
            let now = engine.now_ms();
            let print = arn.clone();
            let token = match check_token(tx, &caller, operation, &client_token, &print)? {
                Token::Replay(_) => {
                    let inv = received(tx, &caller, &arn)?;
                    return Ok((inv.to_model(now), client_token.clone().unwrap_or_default()));
                }
                Token::Fresh(t) => t,
            };
            let mut inv = received(tx, &caller, &arn)?;
            still_pending(&inv, now)?;
            inv.status = if accept {
                m::ResourceShareInvitationStatus::Accepted
            } else {
                m::ResourceShareInvitationStatus::Rejected
            };
            put_json(tx, &invitation_key(&caller.region, &caller.account, &inv.id), &inv)?;
            let key = share_key(&caller.region, &inv.sender, &inv.share_id);
            if let Some(mut share) = get_json::<ShareRec>(tx, &key)? {
                let now = now.max(share.updated);
                if let Some(a) = share.association_mut(EntityKind::Principal, &caller.account) {
                    if a.status == m::ResourceShareAssociationStatus::Associating {
                        a.invitation_expires = None;
                        a.updated = now;
                        if accept {
                            a.status = m::ResourceShareAssociationStatus::Associated;
                        } else {
                            a.status = m::ResourceShareAssociationStatus::Failed;
                            a.status_message = Some("The invitation to the resource share was rejected".into());
                        }
                    }
                }
                save_share(tx, &share)?;
            }
            remember_token(tx, &caller, operation, &client_token, &print, &inv.arn)?;
            Ok((inv.to_model(now), token))
        })
        .await
}

/// `AcceptResourceShareInvitation`.
pub async fn accept(
    ram: &Ram,
    cx: &RequestContext,
    input: m::AcceptResourceShareInvitationRequest,
) -> Result<m::AcceptResourceShareInvitationResponse, ApiError> {
    let op = "AcceptResourceShareInvitation";
    let (inv, token) = answer(ram, cx, op, input.resource_share_invitation_arn, input.client_token, true).await?;
    Ok(m::AcceptResourceShareInvitationResponse { resource_share_invitation: Some(inv), client_token: Some(token) })
}

/// `RejectResourceShareInvitation`.
pub async fn reject(
    ram: &Ram,
    cx: &RequestContext,
    input: m::RejectResourceShareInvitationRequest,
) -> Result<m::RejectResourceShareInvitationResponse, ApiError> {
    let op = "RejectResourceShareInvitation";
    let (inv, token) = answer(ram, cx, op, input.resource_share_invitation_arn, input.client_token, false).await?;
    Ok(m::RejectResourceShareInvitationResponse { resource_share_invitation: Some(inv), client_token: Some(token) })
}

/// `ListPendingInvitationResources`: what the share of a pending invitation holds.
pub async fn pending_resources(
    ram: &Ram,
    cx: &RequestContext,
    input: m::ListPendingInvitationResourcesRequest,
) -> Result<m::ListPendingInvitationResourcesResponse, ApiError> {
    let (engine, shareables, caller) = (ram.engine.clone(), ram.shareables.clone(), Caller::of(cx));
    ram.engine
        .store()
        .read(move |tx| {
            let now = engine.now_ms();
            let inv = received(tx, &caller, &input.resource_share_invitation_arn)?;
            if inv.status_at(now) != m::ResourceShareInvitationStatus::Accepted {
                still_pending(&inv, now)?;
            }
            let global = input.resource_region_scope == Some(m::ResourceRegionScopeFilter::Global);
            let mut items = Vec::new();
            if let (Some(share), false) =
                (get_json::<ShareRec>(tx, &share_key(&caller.region, &inv.sender, &inv.share_id))?, global)
            {
                for a in share.associations.iter().filter(|a| a.kind == EntityKind::Resource) {
                    if !matches!(
                        a.status,
                        m::ResourceShareAssociationStatus::Associated | m::ResourceShareAssociationStatus::Associating
                    ) {
                        continue;
                    }
                    items.push((a.entity.clone(), resource_model(&shareables, &share, a)));
                }
            }
            let (page, next) = page_of("pending", items, &input.next_token, page_size(input.max_results))?;
            Ok(m::ListPendingInvitationResourcesResponse { resources: Some(page), next_token: next })
        })
        .await
}

/// A shared resource as `ListResources` and `ListPendingInvitationResources` show it.
pub fn resource_model(
    shareables: &[&'static crate::registry::Shareable],
    share: &ShareRec,
    a: &AssociationRec,
) -> m::Resource {
    m::Resource {
        arn: Some(a.entity.clone()),
        type_: Some(resource_type_of(shareables, &a.entity)),
        resource_share_arn: Some(share.arn.clone()),
        resource_group_arn: None,
        status: Some(m::ResourceStatus::Available),
        status_message: None,
        creation_time: Some(Timestamp(a.created)),
        last_updated_time: Some(Timestamp(a.updated)),
        resource_region_scope: Some(m::ResourceRegionScope::Regional),
    }
}

/// RAM's type name of resource `arn` (`servicediscovery:Namespace`).
pub fn resource_type_of(shareables: &[&'static crate::registry::Shareable], arn: &str) -> String {
    let parsed = parse_arn(arn);
    shareables
        .iter()
        .find(|s| {
            parsed
                .as_ref()
                .is_some_and(|p| p.service == s.arn_service && p.resource.split('/').next() == Some(s.arn_kind))
        })
        .map(|s| s.resource_type.to_string())
        .unwrap_or_default()
}
