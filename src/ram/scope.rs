//! What every RAM operation shares: its errors, loading a share for its owner or a receiver, the
//! client-token check, paging over an assembled list, and keeping the grant index in step.

use super::grants;
use super::records::*;
use crate::model::ram::{self as m, errors as e};
use crate::paging::BadToken;
use crate::store::{get_json, put_json, StoreError, Tx};
use crate::wire::shape::{ApiError, RequestContext};

/// The caller of one request: account and region.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The signer's account.
    pub account: String,
    /// The region of the credential scope.
    pub region: String,
}

impl Caller {
    /// The caller of a request.
    pub fn of(cx: &RequestContext) -> Caller {
        Caller { account: cx.account.clone(), region: cx.region.clone() }
    }
}

/// `InvalidParameterException`.
pub fn invalid(msg: impl Into<String>) -> ApiError {
    ApiError::new(&e::INVALID_PARAMETER_EXCEPTION, msg)
}

/// `MalformedArnException` for `arn`.
pub fn malformed(arn: &str) -> ApiError {
    ApiError::new(
        &e::MALFORMED_ARN_EXCEPTION,
        format!("The specified ARN {arn} is not valid. Verify the ARN and try again."),
    )
}

/// `UnknownResourceException` for share `arn`.
pub fn unknown_share(arn: &str) -> ApiError {
    ApiError::new(&e::UNKNOWN_RESOURCE_EXCEPTION, format!("ResourceShare {arn} could not be found."))
}

/// `OperationNotPermittedException`.
pub fn not_permitted(msg: impl Into<String>) -> ApiError {
    ApiError::new(&e::OPERATION_NOT_PERMITTED_EXCEPTION, msg)
}

/// `ResourceShareInvitationArnNotFoundException` for invitation `arn`.
pub fn invitation_not_found(arn: &str) -> ApiError {
    ApiError::new(
        &e::RESOURCE_SHARE_INVITATION_ARN_NOT_FOUND_EXCEPTION,
        format!("ResourceShareInvitation {arn} could not be found."),
    )
}

/// Parses a share ARN: `MalformedArnException` when it is not one.
pub fn parse_share_arn(arn: &str) -> Result<RamArn, ApiError> {
    parse_ram_arn(arn, "resource-share").map_err(|_| malformed(arn))
}

/// Parses an invitation ARN: `MalformedArnException` when it is not one.
pub fn parse_invitation_arn(arn: &str) -> Result<RamArn, ApiError> {
    parse_ram_arn(arn, "resource-share-invitation").map_err(|_| malformed(arn))
}

/// The share `arn` as stored, in the caller's region (whoever owns it), or `None`.
pub fn find_share(tx: &mut dyn Tx, caller: &Caller, arn: &str) -> Result<Option<ShareRec>, ApiError> {
    let parsed = parse_share_arn(arn)?;
    if parsed.region != caller.region {
        return Ok(None);
    }
    Ok(get_json::<ShareRec>(tx, &share_key(&parsed.region, &parsed.account, &parsed.id))?)
}

/// The caller's own share `arn` that may still change: `UnknownResourceException` when it is
/// unknown, another account's (C27) or deleted; `InvalidStateTransitionException` while it is
/// being deleted.
pub fn owned_live_share(tx: &mut dyn Tx, caller: &Caller, arn: &str) -> Result<ShareRec, ApiError> {
    let share = owned_share(tx, caller, arn)?;
    match share.status {
        m::ResourceShareStatus::Deleted => Err(unknown_share(arn)),
        m::ResourceShareStatus::Deleting => Err(ApiError::new(
            &e::INVALID_STATE_TRANSITION_EXCEPTION,
            format!("ResourceShare {arn} is being deleted and cannot change"),
        )),
        _ => Ok(share),
    }
}

/// The caller's own share `arn` in any status, or `UnknownResourceException`.
pub fn owned_share(tx: &mut dyn Tx, caller: &Caller, arn: &str) -> Result<ShareRec, ApiError> {
    match find_share(tx, caller, arn)? {
        Some(share) if share.owner == caller.account => Ok(share),
        _ => Err(unknown_share(arn)),
    }
}

/// Writes `share` and records what it grants now, in the same transaction.
pub fn save_share(tx: &mut dyn Tx, share: &ShareRec) -> Result<(), StoreError> {
    put_json(tx, &share_key(&share.region, &share.owner, &share.id), share)?;
    grants::sync_share(tx, &share.region, &share.owner, &share.id, share.grants())
}

/// The outcome of a client-token check.
pub enum Token {
    /// No token, or a new one: go ahead (and [`remember_token`] afterwards).
    Fresh(String),
    /// The same request was made with this token: what it made or changed.
    Replay(String),
}

/// Checks `token` of `operation`: a token used before with another input is
/// `IdempotentParameterMismatchException`; with the same input, the request is a replay. Without a
/// token, RAM makes one up.
pub fn check_token(
    tx: &mut dyn Tx,
    caller: &Caller,
    operation: &str,
    token: &Option<String>,
    fingerprint: &str,
) -> Result<Token, ApiError> {
    let Some(token) = token else {
        return Ok(Token::Fresh(uuid::Uuid::new_v4().to_string()));
    };
    let key = token_key(&caller.region, &caller.account, operation, token);
    match get_json::<TokenRec>(tx, &key)? {
        Some(rec) if rec.fingerprint == fingerprint => Ok(Token::Replay(rec.subject)),
        Some(_) => Err(ApiError::new(
            &e::IDEMPOTENT_PARAMETER_MISMATCH_EXCEPTION,
            format!("The client token {token} was already used with other parameters for {operation}"),
        )),
        None => Ok(Token::Fresh(token.clone())),
    }
}

/// Records that `token` of `operation` made or changed `subject`.
pub fn remember_token(
    tx: &mut dyn Tx,
    caller: &Caller,
    operation: &str,
    token: &Option<String>,
    fingerprint: &str,
    subject: &str,
) -> Result<(), StoreError> {
    let Some(token) = token else { return Ok(()) };
    let rec = TokenRec { fingerprint: fingerprint.to_string(), subject: subject.to_string() };
    put_json(tx, &token_key(&caller.region, &caller.account, operation, token), &rec)
}

/// The page size a request asks for: 1–500 (the model's bounds), 500 when absent (C15).
pub fn page_size(max: Option<i32>) -> usize {
    crate::paging::page_size(max, 500, 500)
}

/// One page of `items` (sorted by their keys, unique within the list `list`): the items after the
/// token's key, at most `max`, and the next token when more follow.
pub fn page_of<T>(
    list: &str,
    mut items: Vec<(String, T)>,
    token: &Option<String>,
    max: usize,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let prefix = format!("{list}/");
    items.sort_by(|a, b| a.0.cmp(&b.0));
    let after = match token {
        None => None,
        Some(t) => Some(crate::paging::key_of(t, &prefix).map_err(|bad| {
            let why = match bad {
                BadToken::Unreadable => "is not a token this server issued",
                BadToken::OtherList => "belongs to another request",
            };
            ApiError::new(
                &e::INVALID_NEXT_TOKEN_EXCEPTION,
                format!("The nextToken {why}; pass the value from the previous response"),
            )
        })?),
    };
    let mut rest = items
        .into_iter()
        .map(|(k, v)| (format!("{prefix}{k}"), v))
        .filter(|(k, _)| after.as_ref().is_none_or(|a| k > a));
    let mut out = Vec::new();
    let mut last = None;
    for (k, v) in rest.by_ref() {
        out.push(v);
        last = Some(k);
        if out.len() == max {
            break;
        }
    }
    let next = if rest.next().is_some() { last.map(|k| crate::paging::token_after(&k)) } else { None };
    Ok((out, next))
}

/// The sort key of a share in lists: creation time, then id.
pub fn share_order(share: &ShareRec) -> String {
    format!("{:016x}/{}", share.created.max(0), share.id)
}

/// A fingerprint of a request's input without its client token (what idempotency compares).
pub fn fingerprint(input: &impl std::fmt::Debug) -> String {
    format!("{input:?}")
}
