//! Resource shares: create, read, update, delete, add and remove resources and principals, tags.
//! Every change is one transaction that also keeps the grant index in step and hands the
//! `ASSOCIATING`/`DISASSOCIATING`/`DELETING` transitions to the engine.

use super::permissions;
use super::records::*;
use super::scope::*;
use super::Ram;
use crate::engine::Engine;
use crate::model::ram::{self as m, errors as e};
use crate::registry::Shareable;
use crate::store::{get_json, put_json, Tx};
use crate::tags::{TagProblem, Tags};
use crate::wire::shape::{ApiError, RequestContext};
use std::sync::Arc;

/// Tags per resource share.
const TAG_LIMIT: usize = 50;

/// Associations named by (kind, entity).
type Entities = Vec<(EntityKind, String)>;

/// The shareable kinds of the binary.
pub type Shareables = Arc<Vec<&'static Shareable>>;

/// Checks a resource ARN the caller wants to share (C16): `MalformedArnException` when it is no
/// ARN, `InvalidParameterException` for a type nobody shares, `OperationNotPermittedException` for
/// another account's resource, `UnknownResourceException` when it does not exist.
pub fn check_resource(
    tx: &mut dyn Tx,
    shareables: &[&'static Shareable],
    caller: &Caller,
    arn: &str,
) -> Result<&'static Shareable, ApiError> {
    let Some(parsed) = parse_arn(arn) else { return Err(malformed(arn)) };
    let (kind, id) = parsed.resource.split_once('/').unwrap_or((parsed.resource.as_str(), ""));
    let Some(shareable) = shareables.iter().find(|s| s.arn_service == parsed.service && s.arn_kind == kind) else {
        return Err(invalid(format!(
            "You cannot share the selected resource type: {arn} (shareable here: {})",
            shareables.iter().map(|s| s.resource_type).collect::<Vec<_>>().join(", ")
        )));
    };
    if id.is_empty() || id.contains('/') {
        return Err(malformed(arn));
    }
    if parsed.account != caller.account {
        return Err(not_permitted(format!(
            "Account {} cannot share {arn}: only the account that owns a resource may share it",
            caller.account
        )));
    }
    let unknown = || ApiError::new(&e::UNKNOWN_RESOURCE_EXCEPTION, format!("The resource {arn} could not be found."));
    if parsed.region != caller.region {
        return Err(unknown());
    }
    if !(shareable.exists)(tx, &caller.account, &caller.region, id)? {
        return Err(unknown());
    }
    Ok(shareable)
}

/// Checks a principal: an account id (C1). Organizations and OUs are unknown here; other ARNs and
/// malformed ids are invalid.
pub fn check_principal(p: &str) -> Result<(), ApiError> {
    if is_account_id(p) {
        return Ok(());
    }
    if let Some(arn) = parse_arn(p) {
        if arn.service == "organizations" {
            return Err(ApiError::new(
                &e::UNKNOWN_RESOURCE_EXCEPTION,
                format!("Organization principal {p} could not be found: localplane has no AWS Organizations"),
            ));
        }
        return Err(invalid(format!(
            "Principal {p} is not supported: localplane shares with account ids (12 digits) only"
        )));
    }
    if p.starts_with("arn:") {
        return Err(malformed(p));
    }
    Err(invalid(format!("Principal ID {p} is malformed. Verify the ID and try again.")))
}

/// What a Create or Associate request adds, checked.
struct Additions {
    resources: Vec<String>,
    principals: Vec<String>,
}

fn check_additions(
    tx: &mut dyn Tx,
    shareables: &[&'static Shareable],
    caller: &Caller,
    resources: &Option<Vec<String>>,
    principals: &Option<Vec<String>>,
    sources: &Option<Vec<String>>,
) -> Result<Additions, ApiError> {
    if sources.as_ref().is_some_and(|s| !s.is_empty()) {
        return Err(invalid("sources are not supported: localplane shares with account principals only"));
    }
    let mut out = Additions { resources: Vec::new(), principals: Vec::new() };
    for arn in resources.iter().flatten() {
        check_resource(tx, shareables, caller, arn)?;
        if !out.resources.contains(arn) {
            out.resources.push(arn.clone());
        }
    }
    for p in principals.iter().flatten() {
        check_principal(p)?;
        if !out.principals.contains(p) {
            out.principals.push(p.clone());
        }
    }
    Ok(out)
}

/// The tags of a request, checked: at most 50, no `aws:` keys.
fn checked_tags(tags: &Option<Vec<m::Tag>>, base: Tags) -> Result<Tags, ApiError> {
    let mut out = base;
    out.set_all(
        tags.iter().flatten().map(|t| (t.key.clone().unwrap_or_default(), t.value.clone().unwrap_or_default())),
    );
    match out.check(TAG_LIMIT) {
        Ok(()) => Ok(out),
        Err(TagProblem::Reserved(k)) => Err(invalid(format!("Tag keys starting with aws: are reserved: {k}"))),
        Err(TagProblem::TooMany { count, limit }) => Err(ApiError::new(
            &e::TAG_LIMIT_EXCEEDED_EXCEPTION,
            format!("A resource share may carry {limit} tags; this request would leave it with {count}"),
        )),
    }
}

/// Adds `additions` to `share` at `now`: new or ended associations become `ASSOCIATING`, new
/// account principals other than the owner get a `PENDING` invitation. Returns the associations to
/// hand to an `ASSOCIATE` transition and the rows the answer shows.
fn add_to_share(
    tx: &mut dyn Tx,
    share: &mut ShareRec,
    additions: &Additions,
    now: i64,
) -> Result<(Entities, Entities), ApiError> {
    use m::ResourceShareAssociationStatus as S;
    let mut moving = Vec::new();
    let mut shown = Vec::new();
    let wanted = additions
        .resources
        .iter()
        .map(|r| (EntityKind::Resource, r))
        .chain(additions.principals.iter().map(|p| (EntityKind::Principal, p)));
    for (kind, entity) in wanted {
        shown.push((kind, entity.clone()));
        let current = share.association(kind, entity).map(|a| a.status_at(now).0);
        if matches!(current, Some(S::Associating | S::Associated)) {
            continue;
        }
        let invited = kind == EntityKind::Principal && *entity != share.owner;
        let rec = AssociationRec {
            entity: entity.clone(),
            kind,
            status: S::Associating,
            status_message: None,
            created: now,
            updated: now,
            invitation_expires: invited.then_some(now + INVITATION_TTL_MS),
            moving: None,
        };
        match share.association_mut(kind, entity) {
            Some(a) => {
                let created = a.created;
                *a = AssociationRec { created, ..rec };
            }
            None => share.associations.push(rec),
        }
        if invited {
            invite(tx, share, entity, now)?;
        } else {
            moving.push((kind, entity.clone()));
        }
    }
    Ok((moving, shown))
}

/// Sends `receiver` a `PENDING` invitation to `share` (kept under the receiver).
fn invite(tx: &mut dyn Tx, share: &ShareRec, receiver: &str, now: i64) -> Result<(), ApiError> {
    let id = uuid::Uuid::new_v4().to_string();
    let rec = InvitationRec {
        arn: invitation_arn(&share.region, &share.owner, &id),
        id: id.clone(),
        share_id: share.id.clone(),
        share_arn: share.arn.clone(),
        share_name: share.name.clone(),
        sender: share.owner.clone(),
        receiver: receiver.to_string(),
        status: m::ResourceShareInvitationStatus::Pending,
        sent: now,
    };
    put_json(tx, &invitation_key(&share.region, receiver, &id), &rec)?;
    Ok(())
}

/// Withdraws the pending invitations of `receiver` (every receiver when `None`) to `share` (C24).
fn withdraw_invitations(tx: &mut dyn Tx, share: &ShareRec, receiver: Option<&str>) -> Result<(), ApiError> {
    let receivers: Vec<String> = match receiver {
        Some(r) => vec![r.to_string()],
        None => share
            .associations
            .iter()
            .filter(|a| a.kind == EntityKind::Principal && a.entity != share.owner)
            .map(|a| a.entity.clone())
            .collect(),
    };
    for r in receivers {
        let prefix = invitations_prefix(&share.region, &r);
        for (key, value) in tx.scan(&prefix, None, usize::MAX)? {
            let inv: InvitationRec = crate::store::decode_one(&key, &value)?;
            if inv.share_id == share.id && inv.status == m::ResourceShareInvitationStatus::Pending {
                tx.delete(&key)?;
            }
        }
    }
    Ok(())
}

/// Hands the associations in `entities` (marked with its reference) to a new transition of
/// `kind`, or the share itself for a deletion.
fn start_transition(
    engine: &Engine,
    tx: &mut dyn Tx,
    share: &mut ShareRec,
    kind: TransitionKind,
    entities: Vec<(EntityKind, String)>,
) -> Result<(), ApiError> {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let op_ref = format!("{}/{}/{id}", share.region, share.owner);
    for (k, entity) in &entities {
        if let Some(a) = share.association_mut(*k, entity) {
            a.moving = Some(op_ref.clone());
        }
    }
    let mut targets: Vec<&str> = vec![share.arn.as_str()];
    targets.extend(entities.iter().map(|(_, e)| e.as_str()));
    // Fault rules fail associations only: a removal or a deletion has nothing to fail on.
    let fault = match kind {
        TransitionKind::Associate => engine
            .take_operation_fault(tx, SERVICE, kind.operation_type(), &targets)?
            .map(|r| (r.error_code.clone(), r.error_message.clone().unwrap_or(r.error_code))),
        _ => None,
    };
    let rec = TransitionRec {
        id,
        region: share.region.clone(),
        owner: share.owner.clone(),
        share_id: share.id.clone(),
        share_arn: share.arn.clone(),
        kind: kind.clone(),
        entities,
        state: "IN_PROGRESS".into(),
        fault,
        created: engine.now_ms(),
        ended: None,
    };
    put_json(tx, &transition_key(&op_ref), &rec)?;
    // The share's document goes first: under `instant` the transition runs to its end right here.
    save_share(tx, share)?;
    let first = super::driver::step_ms(&engine.timing(), &kind);
    engine.submit(tx, SERVICE, &op_ref, first)?;
    Ok(())
}

/// The rows of `shown` as the answer shows them.
fn rows(share: &ShareRec, shown: &[(EntityKind, String)], now: i64) -> Vec<m::ResourceShareAssociation> {
    shown.iter().filter_map(|(k, e)| share.association(*k, e)).map(|a| share.association_model(a, now)).collect()
}

/// `CreateResourceShare`.
pub async fn create(
    ram: &Ram,
    cx: &RequestContext,
    input: m::CreateResourceShareRequest,
) -> Result<m::CreateResourceShareResponse, ApiError> {
    let (engine, shareables, caller) = (ram.engine.clone(), ram.shareables.clone(), Caller::of(cx));
    let now = engine.creation_ms();
    ram.engine
        .store()
        .write(move |tx| {
            let print = fingerprint(&m::CreateResourceShareRequest { client_token: None, ..input.clone() });
            let token = match check_token(tx, &caller, "CreateResourceShare", &input.client_token, &print)? {
                Token::Replay(arn) => {
                    let share = owned_share(tx, &caller, &arn)?;
                    return Ok(m::CreateResourceShareResponse {
                        resource_share: Some(share.to_model()),
                        client_token: input.client_token.clone(),
                    });
                }
                Token::Fresh(t) => t,
            };
            let additions =
                check_additions(tx, &shareables, &caller, &input.resource_arns, &input.principals, &input.sources)?;
            let permission_arn = permissions::checked_for_share(&input.permission_arns)?;
            if input.permission_template_parameters.as_ref().is_some_and(|p| !p.is_empty()) {
                return Err(invalid(
                    "permissionTemplateParameters are not supported: there are no customer managed permissions",
                ));
            }
            let tags = checked_tags(&input.tags, Tags::default())?;
            let id = uuid::Uuid::new_v4().to_string();
            let mut share = ShareRec {
                arn: share_arn(&caller.region, &caller.account, &id),
                id,
                name: input.name.clone(),
                owner: caller.account.clone(),
                region: caller.region.clone(),
                allow_external: input.allow_external_principals.unwrap_or(true),
                status: m::ResourceShareStatus::Active,
                created: now,
                updated: now,
                tags,
                permission_arn,
                associations: Vec::new(),
            };
            let (moving, _) = add_to_share(tx, &mut share, &additions, now)?;
            let answer = share.to_model();
            if moving.is_empty() {
                save_share(tx, &share)?;
            } else {
                start_transition(&engine, tx, &mut share, TransitionKind::Associate, moving)?;
            }
            remember_token(tx, &caller, "CreateResourceShare", &input.client_token, &print, &share.arn)?;
            Ok(m::CreateResourceShareResponse { resource_share: Some(answer), client_token: Some(token) })
        })
        .await
}

/// `UpdateResourceShare`.
pub async fn update(
    ram: &Ram,
    cx: &RequestContext,
    input: m::UpdateResourceShareRequest,
) -> Result<m::UpdateResourceShareResponse, ApiError> {
    let (engine, caller) = (ram.engine.clone(), Caller::of(cx));
    ram.engine
        .store()
        .write(move |tx| {
            let print = fingerprint(&m::UpdateResourceShareRequest { client_token: None, ..input.clone() });
            let token = match check_token(tx, &caller, "UpdateResourceShare", &input.client_token, &print)? {
                Token::Replay(arn) => {
                    let share = owned_share(tx, &caller, &arn)?;
                    return Ok(m::UpdateResourceShareResponse {
                        resource_share: Some(share.to_model()),
                        client_token: input.client_token.clone(),
                    });
                }
                Token::Fresh(t) => t,
            };
            let mut share = owned_live_share(tx, &caller, &input.resource_share_arn)?;
            if let Some(name) = &input.name {
                share.name = name.clone();
            }
            if let Some(allow) = input.allow_external_principals {
                share.allow_external = allow;
            }
            share.updated = engine.now_ms().max(share.updated);
            save_share(tx, &share)?;
            remember_token(tx, &caller, "UpdateResourceShare", &input.client_token, &print, &share.arn)?;
            Ok(m::UpdateResourceShareResponse { resource_share: Some(share.to_model()), client_token: Some(token) })
        })
        .await
}

/// `DeleteResourceShare`: the share becomes `DELETING` (then `DELETED`), its associations
/// `DISASSOCIATING`, its pending invitations are withdrawn and every grant ends now. The shared
/// resources stay as they are.
pub async fn delete(
    ram: &Ram,
    cx: &RequestContext,
    input: m::DeleteResourceShareRequest,
) -> Result<m::DeleteResourceShareResponse, ApiError> {
    let (engine, caller) = (ram.engine.clone(), Caller::of(cx));
    ram.engine
        .store()
        .write(move |tx| {
            let print = fingerprint(&m::DeleteResourceShareRequest { client_token: None, ..input.clone() });
            let token = match check_token(tx, &caller, "DeleteResourceShare", &input.client_token, &print)? {
                Token::Replay(_) => {
                    return Ok(m::DeleteResourceShareResponse {
                        return_value: Some(true),
                        client_token: input.client_token.clone(),
                    })
                }
                Token::Fresh(t) => t,
            };
            let mut share = owned_live_share(tx, &caller, &input.resource_share_arn)?;
            let now = engine.now_ms().max(share.updated);
            withdraw_invitations(tx, &share, None)?;
            share.status = m::ResourceShareStatus::Deleting;
            share.updated = now;
            for a in share.associations.iter_mut() {
                if matches!(
                    a.status,
                    m::ResourceShareAssociationStatus::Associating | m::ResourceShareAssociationStatus::Associated
                ) {
                    a.status = m::ResourceShareAssociationStatus::Disassociating;
                    a.invitation_expires = None;
                    a.updated = now;
                }
                a.moving = None;
            }
            start_transition(&engine, tx, &mut share, TransitionKind::DeleteShare, Vec::new())?;
            remember_token(tx, &caller, "DeleteResourceShare", &input.client_token, &print, &share.arn)?;
            Ok(m::DeleteResourceShareResponse { return_value: Some(true), client_token: Some(token) })
        })
        .await
}

/// `AssociateResourceShare`.
pub async fn associate(
    ram: &Ram,
    cx: &RequestContext,
    input: m::AssociateResourceShareRequest,
) -> Result<m::AssociateResourceShareResponse, ApiError> {
    let (engine, shareables, caller) = (ram.engine.clone(), ram.shareables.clone(), Caller::of(cx));
    ram.engine
        .store()
        .write(move |tx| {
            let print = fingerprint(&m::AssociateResourceShareRequest { client_token: None, ..input.clone() });
            let requested = requested(&input.resource_arns, &input.principals);
            let token = match check_token(tx, &caller, "AssociateResourceShare", &input.client_token, &print)? {
                Token::Replay(arn) => {
                    let share = owned_share(tx, &caller, &arn)?;
                    return Ok(m::AssociateResourceShareResponse {
                        resource_share_associations: Some(rows(&share, &requested, engine.now_ms())),
                        client_token: input.client_token.clone(),
                    });
                }
                Token::Fresh(t) => t,
            };
            let mut share = owned_live_share(tx, &caller, &input.resource_share_arn)?;
            let additions =
                check_additions(tx, &shareables, &caller, &input.resource_arns, &input.principals, &input.sources)?;
            let now = engine.now_ms().max(share.updated);
            let (moving, shown) = add_to_share(tx, &mut share, &additions, now)?;
            let answer = rows(&share, &shown, now);
            if moving.is_empty() {
                save_share(tx, &share)?;
            } else {
                start_transition(&engine, tx, &mut share, TransitionKind::Associate, moving)?;
            }
            remember_token(tx, &caller, "AssociateResourceShare", &input.client_token, &print, &share.arn)?;
            Ok(m::AssociateResourceShareResponse {
                resource_share_associations: Some(answer),
                client_token: Some(token),
            })
        })
        .await
}

/// The (kind, entity) pairs a request names.
fn requested(resources: &Option<Vec<String>>, principals: &Option<Vec<String>>) -> Vec<(EntityKind, String)> {
    let r = resources.iter().flatten().map(|r| (EntityKind::Resource, r.clone()));
    r.chain(principals.iter().flatten().map(|p| (EntityKind::Principal, p.clone()))).collect()
}

/// `DisassociateResourceShare`: the owner removes resources or principals; a receiver may remove
/// its own account to leave the share (C25). Access ends now; the rows settle `DISASSOCIATED`.
pub async fn disassociate(
    ram: &Ram,
    cx: &RequestContext,
    input: m::DisassociateResourceShareRequest,
) -> Result<m::DisassociateResourceShareResponse, ApiError> {
    let (engine, caller) = (ram.engine.clone(), Caller::of(cx));
    ram.engine
        .store()
        .write(move |tx| {
            use m::ResourceShareAssociationStatus as S;
            let print = fingerprint(&m::DisassociateResourceShareRequest { client_token: None, ..input.clone() });
            let requested = requested(&input.resource_arns, &input.principals);
            let arn = &input.resource_share_arn;
            let token = match check_token(tx, &caller, "DisassociateResourceShare", &input.client_token, &print)? {
                Token::Replay(_) => {
                    let share = find_share(tx, &caller, arn)?.ok_or_else(|| unknown_share(arn))?;
                    return Ok(m::DisassociateResourceShareResponse {
                        resource_share_associations: Some(rows(&share, &requested, engine.now_ms())),
                        client_token: input.client_token.clone(),
                    });
                }
                Token::Fresh(t) => t,
            };
            if input.sources.as_ref().is_some_and(|s| !s.is_empty()) {
                return Err(invalid("sources are not supported: localplane shares with account principals only"));
            }
            let mut share = match find_share(tx, &caller, arn)? {
                Some(s) if s.owner == caller.account => owned_live_share(tx, &caller, arn)?,
                // A receiver leaving: only its own account, of a share it is in.
                Some(s)
                    if s.is_live()
                        && requested == [(EntityKind::Principal, caller.account.clone())]
                        && s.association(EntityKind::Principal, &caller.account).is_some() =>
                {
                    s
                }
                _ => return Err(unknown_share(arn)),
            };
            if requested.is_empty() {
                return Err(invalid("Name the resourceArns or principals to remove from the resource share"));
            }
            let now = engine.now_ms().max(share.updated);
            let mut moving = Vec::new();
            for (kind, entity) in &requested {
                if *kind == EntityKind::Resource && parse_arn(entity).is_none() {
                    return Err(malformed(entity));
                }
                let Some(a) = share.association(*kind, entity) else {
                    return Err(ApiError::new(
                        &e::UNKNOWN_RESOURCE_EXCEPTION,
                        format!("{entity} is not associated with ResourceShare {arn}"),
                    ));
                };
                if matches!(a.status_at(now).0, S::Associating | S::Associated) {
                    moving.push((*kind, entity.clone()));
                }
            }
            for (kind, entity) in &moving {
                if *kind == EntityKind::Principal {
                    withdraw_invitations(tx, &share, Some(entity))?;
                }
                if let Some(a) = share.association_mut(*kind, entity) {
                    a.status = S::Disassociating;
                    a.status_message = None;
                    a.invitation_expires = None;
                    a.updated = now;
                }
            }
            let answer = rows(&share, &requested, now);
            if moving.is_empty() {
                save_share(tx, &share)?;
            } else {
                start_transition(&engine, tx, &mut share, TransitionKind::Disassociate, moving)?;
            }
            remember_token(tx, &caller, "DisassociateResourceShare", &input.client_token, &print, &share.arn)?;
            Ok(m::DisassociateResourceShareResponse {
                resource_share_associations: Some(answer),
                client_token: Some(token),
            })
        })
        .await
}

/// The share a tag request names (`resourceShareArn`, or `resourceArn` holding a share ARN).
fn tagged_share_arn(share_arn: &Option<String>, resource_arn: &Option<String>) -> Result<String, ApiError> {
    share_arn
        .clone()
        .or_else(|| resource_arn.clone())
        .ok_or_else(|| invalid("Name the resource share to tag in resourceShareArn"))
}

/// `TagResource`.
pub async fn tag(
    ram: &Ram,
    cx: &RequestContext,
    input: m::TagResourceRequest,
) -> Result<m::TagResourceResponse, ApiError> {
    let (engine, caller) = (ram.engine.clone(), Caller::of(cx));
    ram.engine
        .store()
        .write(move |tx| {
            let arn = tagged_share_arn(&input.resource_share_arn, &input.resource_arn)?;
            let mut share = owned_live_share(tx, &caller, &arn)?;
            share.tags = checked_tags(&Some(input.tags.clone()), share.tags.clone())?;
            share.updated = engine.now_ms().max(share.updated);
            save_share(tx, &share)?;
            Ok(m::TagResourceResponse {})
        })
        .await
}

/// `UntagResource`.
pub async fn untag(
    ram: &Ram,
    cx: &RequestContext,
    input: m::UntagResourceRequest,
) -> Result<m::UntagResourceResponse, ApiError> {
    let (engine, caller) = (ram.engine.clone(), Caller::of(cx));
    ram.engine
        .store()
        .write(move |tx| {
            let arn = tagged_share_arn(&input.resource_share_arn, &input.resource_arn)?;
            let mut share = owned_live_share(tx, &caller, &arn)?;
            share.tags.remove_all(&input.tag_keys);
            share.updated = engine.now_ms().max(share.updated);
            save_share(tx, &share)?;
            Ok(m::UntagResourceResponse {})
        })
        .await
}

/// Loads every share of `owner` in `region`.
pub fn shares_of(tx: &mut dyn Tx, region: &str, owner: &str) -> Result<Vec<ShareRec>, ApiError> {
    let rows = tx.scan(&shares_prefix(region, owner), None, usize::MAX)?;
    Ok(crate::store::decode_all::<ShareRec>(rows)?.into_iter().map(|(_, s)| s).collect())
}

/// The shares other accounts share with `consumer` in `region` now: `ACTIVE`, with the consumer
/// an `ASSOCIATED` principal (found through the invitations it accepted).
pub fn shares_with(tx: &mut dyn Tx, region: &str, consumer: &str) -> Result<Vec<ShareRec>, ApiError> {
    let rows = tx.scan(&invitations_prefix(region, consumer), None, usize::MAX)?;
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for (_, inv) in crate::store::decode_all::<InvitationRec>(rows)? {
        if inv.status != m::ResourceShareInvitationStatus::Accepted
            || !seen.insert((inv.sender.clone(), inv.share_id.clone()))
        {
            continue;
        }
        let Some(share) = get_json::<ShareRec>(tx, &share_key(region, &inv.sender, &inv.share_id))? else { continue };
        let associated = share
            .association(EntityKind::Principal, consumer)
            .is_some_and(|a| a.status == m::ResourceShareAssociationStatus::Associated);
        if share.is_live() && associated {
            out.push(share);
        }
    }
    Ok(out)
}
