//! Tags of connectors, custom plugins and worker configurations: ListTagsForResource, TagResource
//! and UntagResource.

use super::records::*;
use super::scope::{self, check_tags, not_found, resolve, Scope};
use crate::engine::Engine;
use crate::model::kafkaconnect as m;
use crate::store::get_json;
use crate::wire::shape::{ApiError, RequestContext};

/// The connector, custom plugin or worker configuration `arn` names, which tags can be read and
/// written on; returns its ARN as issued.
fn tagged_resource(s: &mut Scope, arn: &str) -> Result<String, ApiError> {
    let kinds = [ArnKind::Connector, ArnKind::CustomPlugin, ArnKind::WorkerConfiguration];
    let missing = || not_found(format!("Resource {arn} not found"));
    let p = resolve(s.cx, arn, &kinds)?.ok_or_else(missing)?;
    let stored_arn = match p.kind {
        ArnKind::Connector => get_json::<ConnectorRec>(s.tx, &s.keys.connector(&p.id))?.map(|r| r.arn),
        ArnKind::CustomPlugin => get_json::<PluginRec>(s.tx, &s.keys.plugin(&p.id))?.map(|r| r.arn),
        ArnKind::WorkerConfiguration => {
            get_json::<WorkerConfigRec>(s.tx, &s.keys.worker_configuration(&p.id))?.map(|r| r.arn)
        }
        ArnKind::ConnectorOperation => None,
    };
    match stored_arn {
        Some(a) if a == arn => Ok(a),
        _ => Err(missing()),
    }
}

/// ListTagsForResource.
pub async fn list(
    engine: &Engine,
    cx: &RequestContext,
    input: m::ListTagsForResourceRequest,
) -> Result<m::ListTagsForResourceResponse, ApiError> {
    scope::read(engine, cx, move |s| {
        let arn = tagged_resource(s, &input.resource_arn)?;
        Ok(m::ListTagsForResourceResponse { tags: Some(s.tags(&arn)?.to_map()) })
    })
    .await
}

/// TagResource: adds the tags or changes their values, within the limits.
pub async fn tag(
    engine: &Engine,
    cx: &RequestContext,
    input: m::TagResourceRequest,
) -> Result<m::TagResourceResponse, ApiError> {
    scope::write(engine, cx, move |s| {
        let arn = tagged_resource(s, &input.resource_arn)?;
        let mut tags = s.tags(&arn)?;
        tags.set_all(input.tags);
        check_tags(&format!("Resource {arn}"), &tags)?;
        s.put_tags(&arn, &tags)?;
        Ok(m::TagResourceResponse {})
    })
    .await
}

/// UntagResource: removes the keys named (keys it does not carry are no error).
pub async fn untag(
    engine: &Engine,
    cx: &RequestContext,
    input: m::UntagResourceRequest,
) -> Result<m::UntagResourceResponse, ApiError> {
    scope::write(engine, cx, move |s| {
        let arn = tagged_resource(s, &input.resource_arn)?;
        let mut tags = s.tags(&arn)?;
        tags.remove_all(&input.tag_keys);
        s.put_tags(&arn, &tags)?;
        Ok(m::UntagResourceResponse {})
    })
    .await
}
