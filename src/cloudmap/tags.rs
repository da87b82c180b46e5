//! Tags of namespaces and services: TagResource, UntagResource and ListTagsForResource, kept in the
//! order keys were first added.

use super::records::*;
use super::scope::*;
use crate::model::servicediscovery::{self as m, errors as e};
use crate::store::get_json;
use crate::wire::shape::ApiError;

/// ListTagsForResource.
pub fn list(s: &mut Scope, input: m::ListTagsForResourceRequest) -> Result<m::ListTagsForResourceResponse, ApiError> {
    check_exists(s, &input.resource_arn, "ListTagsForResource")?;
    let tags = s.tags(&input.resource_arn)?;
    Ok(m::ListTagsForResourceResponse {
        tags: Some(tags.iter().map(|(key, value)| m::Tag { key: key.to_string(), value: value.to_string() }).collect()),
    })
}

/// TagResource: sets the tags given, within the quota.
pub fn tag(s: &mut Scope, input: m::TagResourceRequest) -> Result<m::TagResourceResponse, ApiError> {
    check_exists(s, &input.resource_arn, "TagResource")?;
    let mut tags = s.tags(&input.resource_arn)?;
    tags.set_all(input.tags.into_iter().map(|t| (t.key, t.value)));
    s.check_tags(&input.resource_arn, &tags)?;
    s.put_tags(&input.resource_arn, &tags)?;
    Ok(m::TagResourceResponse {})
}

/// UntagResource.
pub fn untag(s: &mut Scope, input: m::UntagResourceRequest) -> Result<m::UntagResourceResponse, ApiError> {
    check_exists(s, &input.resource_arn, "UntagResource")?;
    let mut tags = s.tags(&input.resource_arn)?;
    tags.remove_all(&input.tag_keys);
    s.put_tags(&input.resource_arn, &tags)?;
    Ok(m::UntagResourceResponse {})
}

/// Tags exist only on namespaces and services addressed by ARN.
fn check_exists(s: &mut Scope, arn: &str, action: &str) -> Result<(), ApiError> {
    let not_found = || ApiError::new(&e::RESOURCE_NOT_FOUND_EXCEPTION, format!("Resource not found: {arn}"));
    let rest = arn
        .strip_prefix("arn:")
        .and_then(|r| r.split(':').nth(4))
        .ok_or_else(|| invalid(format!("{arn} is not a Cloud Map resource ARN")))?;
    let kind = rest.split('/').next().unwrap_or_default();
    if kind != "namespace" && kind != "service" {
        return Err(invalid(format!("{arn} is not a Cloud Map namespace or service ARN")));
    }
    let id = match address(s.cx, kind, arn)? {
        Addr::Own(id) => id,
        Addr::Elsewhere => return Err(not_found()),
        // Nobody tags another account's resources, shared or not.
        Addr::Other { .. } => return Err(s.denied(action, arn)),
    };
    let exists = if kind == "namespace" {
        matches!(get_json::<NamespaceRec>(s.tx, &s.keys.namespace(&id))?, Some(ns) if ns.state == NamespaceState::Active)
    } else {
        s.tx.get(&s.keys.service(&id))?.is_some()
    };
    if exists {
        Ok(())
    } else {
        Err(not_found())
    }
}
