//! What RAM keeps in the store: shares (with their resource and principal associations), the
//! invitations kept for their receivers, the asynchronous transitions, client tokens — their keys,
//! ARN formats and the statuses as clients read them at a given time.

use crate::model::ram as m;
use crate::tags::Tags;
use serde::{Deserialize, Serialize};

/// The store key prefix of every RAM key.
pub const KEY_PREFIX: &str = "ram/";

/// The engine's name for RAM operations.
pub const SERVICE: crate::model::Service = crate::model::Service::Ram;

/// How long an invitation waits for its receiver (C20).
pub const INVITATION_TTL_MS: i64 = 7 * 24 * 3600 * 1000;

/// How long a `DELETED` share stays listed to its owner (C18).
pub const DELETED_VISIBLE_MS: i64 = 3600 * 1000;

/// Checks a snapshot row under [`KEY_PREFIX`]: every document must decode as the record this
/// version reads.
pub fn check_document(key: &str, value: &[u8]) -> Result<(), String> {
    use crate::registry::decodes;
    // ram/{kind}/…
    match key.split('/').nth(1).unwrap_or("") {
        "share" => decodes::<ShareRec>(key, value, "resource share"),
        "inv" => decodes::<InvitationRec>(key, value, "invitation"),
        "op" => decodes::<TransitionRec>(key, value, "RAM operation"),
        "token" => decodes::<TokenRec>(key, value, "client token"),
        "grant" | "grant-share" => {
            serde_json::from_slice::<serde_json::Value>(value).map(|_| ()).map_err(|e| format!("{key}: {e}"))
        }
        _ => Err(format!("{key} is not a key RAM writes")),
    }
}

/// `ram/share/{region}/{owner}/{share id}`.
pub fn share_key(region: &str, owner: &str, id: &str) -> String {
    format!("{KEY_PREFIX}share/{region}/{owner}/{id}")
}

/// The prefix of every share of `owner` in `region`.
pub fn shares_prefix(region: &str, owner: &str) -> String {
    format!("{KEY_PREFIX}share/{region}/{owner}/")
}

/// The prefix of every share in `region`, whoever owns it.
pub fn region_shares_prefix(region: &str) -> String {
    format!("{KEY_PREFIX}share/{region}/")
}

/// `ram/inv/{region}/{receiver}/{invitation id}`: invitations live with their receiver.
pub fn invitation_key(region: &str, receiver: &str, id: &str) -> String {
    format!("{KEY_PREFIX}inv/{region}/{receiver}/{id}")
}

/// The prefix of every invitation `receiver` got in `region`.
pub fn invitations_prefix(region: &str, receiver: &str) -> String {
    format!("{KEY_PREFIX}inv/{region}/{receiver}/")
}

/// `ram/op/{region}/{owner}/{op id}`; the engine's reference of it is `{region}/{owner}/{op id}`.
pub fn transition_key(op_ref: &str) -> String {
    format!("{KEY_PREFIX}op/{op_ref}")
}

/// `ram/token/{region}/{account}/{operation}/{client token}`.
pub fn token_key(region: &str, account: &str, operation: &str, token: &str) -> String {
    format!("{KEY_PREFIX}token/{region}/{account}/{operation}/{token}")
}

/// `arn:aws:ram:{region}:{owner}:resource-share/{id}`.
pub fn share_arn(region: &str, owner: &str, id: &str) -> String {
    format!("arn:aws:ram:{region}:{owner}:resource-share/{id}")
}

/// `arn:aws:ram:{region}:{sender}:resource-share-invitation/{id}`.
pub fn invitation_arn(region: &str, sender: &str, id: &str) -> String {
    format!("arn:aws:ram:{region}:{sender}:resource-share-invitation/{id}")
}

/// A parsed RAM ARN of `kind` (`resource-share`, `resource-share-invitation`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RamArn {
    /// Its region.
    pub region: String,
    /// Its account (owner of a share, sender of an invitation).
    pub account: String,
    /// The id after the `/`.
    pub id: String,
}

/// Why an ARN was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArnProblem {
    /// Not an ARN at all.
    Malformed,
    /// An ARN, but of another kind of resource.
    OtherKind,
}

/// Parses `arn:aws:ram:{region}:{account}:{kind}/{id}`.
pub fn parse_ram_arn(arn: &str, kind: &str) -> Result<RamArn, ArnProblem> {
    let parsed = parse_arn(arn).ok_or(ArnProblem::Malformed)?;
    let id = parsed.resource.strip_prefix(kind).and_then(|r| r.strip_prefix('/'));
    match id {
        Some(id) if parsed.service == "ram" && !id.is_empty() && !id.contains('/') => {
            Ok(RamArn { region: parsed.region, account: parsed.account, id: id.to_string() })
        }
        _ => Err(ArnProblem::OtherKind),
    }
}

/// An ARN's parts: `arn:{partition}:{service}:{region}:{account}:{resource}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arn {
    /// The service (`servicediscovery`).
    pub service: String,
    /// The region (empty for global resources).
    pub region: String,
    /// The account (empty or `aws` for AWS-owned ones).
    pub account: String,
    /// The resource part (`namespace/ns-…`).
    pub resource: String,
}

/// Splits an ARN into its parts; `None` when it is not one.
pub fn parse_arn(arn: &str) -> Option<Arn> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if parts.len() != 6 || parts[0] != "arn" || !parts[1].starts_with("aws") || parts[2].is_empty() {
        return None;
    }
    if parts[5].is_empty() {
        return None;
    }
    Some(Arn {
        service: parts[2].to_string(),
        region: parts[3].to_string(),
        account: parts[4].to_string(),
        resource: parts[5].to_string(),
    })
}

/// Whether `s` is an account id (12 digits).
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Whether an association is of a resource or of a principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EntityKind {
    /// A shared resource (its ARN).
    Resource,
    /// A principal (an account id).
    Principal,
}

impl EntityKind {
    /// The wire's association type.
    pub fn association_type(self) -> m::ResourceShareAssociationType {
        match self {
            EntityKind::Resource => m::ResourceShareAssociationType::Resource,
            EntityKind::Principal => m::ResourceShareAssociationType::Principal,
        }
    }
}

/// One resource or principal association of a share.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AssociationRec {
    /// The resource ARN or the principal's account id.
    pub entity: String,
    /// Resource or principal.
    pub kind: EntityKind,
    /// The stored status (see [`AssociationRec::status_at`] for what clients read).
    pub status: m::ResourceShareAssociationStatus,
    /// Why it failed.
    pub status_message: Option<String>,
    /// When it was first associated (ms).
    pub created: i64,
    /// When it last changed (ms).
    pub updated: i64,
    /// A principal waiting for its invitation: when that invitation expires (ms).
    pub invitation_expires: Option<i64>,
    /// The transition moving it now (the engine's reference), if any.
    pub moving: Option<String>,
}

impl AssociationRec {
    /// The status and message at time `now`: a principal whose invitation expired unanswered has failed (C19).
    pub fn status_at(&self, now: i64) -> (m::ResourceShareAssociationStatus, Option<String>) {
        if self.status == m::ResourceShareAssociationStatus::Associating
            && self.invitation_expires.is_some_and(|t| now >= t)
        {
            return (
                m::ResourceShareAssociationStatus::Failed,
                Some("The invitation to the resource share expired before it was accepted".into()),
            );
        }
        (self.status, self.status_message.clone())
    }
}

/// A resource share.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShareRec {
    /// The id (a UUID), last part of its ARN.
    pub id: String,
    /// Its ARN.
    pub arn: String,
    /// Its name (not unique).
    pub name: String,
    /// The owning account.
    pub owner: String,
    /// The region.
    pub region: String,
    /// `allowExternalPrincipals` as given (no effect without organizations, C1).
    pub allow_external: bool,
    /// `ACTIVE`, `DELETING` or `DELETED`.
    pub status: m::ResourceShareStatus,
    /// When it was created (ms).
    pub created: i64,
    /// When it last changed (ms).
    pub updated: i64,
    /// Its tags.
    pub tags: Tags,
    /// The managed permission attached for namespaces.
    pub permission_arn: String,
    /// Resource and principal associations, in the order they were first added.
    pub associations: Vec<AssociationRec>,
}

impl ShareRec {
    /// The association of `entity` of `kind`.
    pub fn association(&self, kind: EntityKind, entity: &str) -> Option<&AssociationRec> {
        self.associations.iter().find(|a| a.kind == kind && a.entity == entity)
    }

    /// The association of `entity` of `kind`, to change.
    pub fn association_mut(&mut self, kind: EntityKind, entity: &str) -> Option<&mut AssociationRec> {
        self.associations.iter_mut().find(|a| a.kind == kind && a.entity == entity)
    }

    /// Whether the owner still sees it at `now` (a `DELETED` share for an hour, C18).
    pub fn listed_at(&self, now: i64) -> bool {
        self.status != m::ResourceShareStatus::Deleted || now < self.updated + DELETED_VISIBLE_MS
    }

    /// Whether it can still change (not being deleted or deleted).
    pub fn is_live(&self) -> bool {
        self.status == m::ResourceShareStatus::Active
    }

    /// The (consumer, resource ARN) pairs it grants now: every `ASSOCIATED` principal other than the
    /// owner with every `ASSOCIATED` resource, while the share is `ACTIVE`.
    pub fn grants(&self) -> std::collections::BTreeSet<(String, String)> {
        let mut out = std::collections::BTreeSet::new();
        if self.status != m::ResourceShareStatus::Active {
            return out;
        }
        let associated = |kind: EntityKind| {
            self.associations
                .iter()
                .filter(move |a| a.kind == kind && a.status == m::ResourceShareAssociationStatus::Associated)
        };
        for p in associated(EntityKind::Principal).filter(|p| p.entity != self.owner) {
            for r in associated(EntityKind::Resource) {
                out.insert((p.entity.clone(), r.entity.clone()));
            }
        }
        out
    }

    /// The share as the wire shows it.
    pub fn to_model(&self) -> m::ResourceShare {
        use crate::wire::shape::Timestamp;
        m::ResourceShare {
            resource_share_arn: Some(self.arn.clone()),
            name: Some(self.name.clone()),
            owning_account_id: Some(self.owner.clone()),
            allow_external_principals: Some(self.allow_external),
            status: Some(self.status),
            status_message: None,
            tags: Some(self.tags.iter().map(|(k, v)| m::Tag { key: Some(k.into()), value: Some(v.into()) }).collect()),
            creation_time: Some(Timestamp(self.created)),
            last_updated_time: Some(Timestamp(self.updated)),
            feature_set: Some(m::ResourceShareFeatureSet::Standard),
            resource_share_configuration: None,
        }
    }

    /// One association row as the wire shows it, at time `now`.
    pub fn association_model(&self, a: &AssociationRec, now: i64) -> m::ResourceShareAssociation {
        use crate::wire::shape::Timestamp;
        let (status, message) = a.status_at(now);
        m::ResourceShareAssociation {
            resource_share_arn: Some(self.arn.clone()),
            resource_share_name: Some(self.name.clone()),
            associated_entity: Some(a.entity.clone()),
            association_type: Some(a.kind.association_type()),
            status: Some(status),
            status_message: message,
            creation_time: Some(Timestamp(a.created)),
            last_updated_time: Some(Timestamp(a.updated)),
            external: Some(a.kind == EntityKind::Principal && a.entity != self.owner),
        }
    }
}

/// An invitation, kept under its receiver.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InvitationRec {
    /// The id, last part of its ARN.
    pub id: String,
    /// Its ARN.
    pub arn: String,
    /// The share it invites to.
    pub share_id: String,
    /// The share's ARN.
    pub share_arn: String,
    /// The share's name when invited.
    pub share_name: String,
    /// The share's owner.
    pub sender: String,
    /// The invited account.
    pub receiver: String,
    /// `PENDING`, `ACCEPTED` or `REJECTED` as stored (see [`InvitationRec::status_at`]).
    pub status: m::ResourceShareInvitationStatus,
    /// When it was sent (ms).
    pub sent: i64,
}

impl InvitationRec {
    /// The status at time `now`: a pending invitation older than 7 days has expired (C20).
    pub fn status_at(&self, now: i64) -> m::ResourceShareInvitationStatus {
        if self.status == m::ResourceShareInvitationStatus::Pending && now >= self.sent + INVITATION_TTL_MS {
            return m::ResourceShareInvitationStatus::Expired;
        }
        self.status
    }

    /// The invitation as the wire shows it at `now`.
    pub fn to_model(&self, now: i64) -> m::ResourceShareInvitation {
        m::ResourceShareInvitation {
            resource_share_invitation_arn: Some(self.arn.clone()),
            resource_share_name: Some(self.share_name.clone()),
            resource_share_arn: Some(self.share_arn.clone()),
            sender_account_id: Some(self.sender.clone()),
            receiver_account_id: Some(self.receiver.clone()),
            invitation_timestamp: Some(crate::wire::shape::Timestamp(self.sent)),
            status: Some(self.status_at(now)),
            resource_share_associations: None,
            receiver_arn: None,
        }
    }
}

/// What an asynchronous RAM transition does when its step comes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TransitionKind {
    /// `ASSOCIATING` → `ASSOCIATED` (resources, and the owner's own account).
    Associate,
    /// `DISASSOCIATING` → `DISASSOCIATED`.
    Disassociate,
    /// The share `DELETING` → `DELETED`, its associations `DISASSOCIATED`.
    DeleteShare,
}

impl TransitionKind {
    /// The operation type the admin API, timing overrides and fault rules name.
    pub fn operation_type(&self) -> &'static str {
        match self {
            TransitionKind::Associate => "ASSOCIATE_RESOURCE_SHARE",
            TransitionKind::Disassociate => "DISASSOCIATE_RESOURCE_SHARE",
            TransitionKind::DeleteShare => "DELETE_RESOURCE_SHARE",
        }
    }
}

/// A durable transition of one share's associations (or of the share itself).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TransitionRec {
    /// The id, last part of the engine's reference.
    pub id: String,
    /// The share's region.
    pub region: String,
    /// The share's owner.
    pub owner: String,
    /// The share's id.
    pub share_id: String,
    /// The share's ARN.
    pub share_arn: String,
    /// What it does.
    pub kind: TransitionKind,
    /// The associations it moves (kind, entity); empty for a deletion.
    pub entities: Vec<(EntityKind, String)>,
    /// `IN_PROGRESS`, `SUCCEEDED` or `FAILED`.
    pub state: String,
    /// A fault rule's (code, message) that fails it.
    pub fault: Option<(String, String)>,
    /// When it was accepted (ms).
    pub created: i64,
    /// When it ended (ms).
    pub ended: Option<i64>,
}

/// A client token already used: the input it came with and what it created.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenRec {
    /// The request's input, as a fingerprint.
    pub fingerprint: String,
    /// What the first request made or changed (a share ARN, an invitation ARN).
    pub subject: String,
}
