//! Custom plugins: CreateCustomPlugin, DescribeCustomPlugin, ListCustomPlugins and
//! DeleteCustomPlugin. A plugin's file is never read (localplane has no S3): its location is
//! checked for form, and its MD5 and size derive from the location.

use super::records::*;
use super::scope::{self, bad_request, check_name, check_tags, conflict, page_after, page_size};
use crate::engine::Engine;
use crate::model::kafkaconnect as m;
use crate::paging;
use crate::store::{get_json, put_json};
use crate::tags::Tags;
use crate::wire::shape::{ApiError, RequestContext};
use md5::Digest as _;

/// CreateCustomPlugin: writes the plugin CREATING and hands its creation to the engine; a location
/// that cannot hold a plugin makes the creation fail later, as AWS does.
pub async fn create(
    engine: &Engine,
    cx: &RequestContext,
    input: m::CreateCustomPluginRequest,
) -> Result<m::CreateCustomPluginResponse, ApiError> {
    check_name("custom plugin", &input.name)?;
    let tags = Tags::from_pairs(input.tags.clone().unwrap_or_default());
    check_tags(&format!("Custom plugin {}", input.name), &tags)?;
    let loc = input.location.s3_location;
    let planned_create_failure = location_problem(input.content_type, &loc);
    let (file_md5, file_size) = file_fingerprint(&loc);
    scope::write(engine, cx, move |s| {
        let name = input.name;
        let name_key = s.keys.plugin_name(&name);
        if s.tx.get(&name_key)?.is_some() {
            return Err(conflict(format!("A custom plugin named {name} already exists in {}", s.cx.region)));
        }
        // Plugins list in creation order, also when two are created in one millisecond.
        let now = s.engine.creation_ms();
        let id = new_resource_id();
        let arn = resource_arn(&s.cx.region, &s.cx.account, ArnKind::CustomPlugin, &name, &id);
        let planned_create_failure = match planned_create_failure {
            Some(p) => Some(p),
            None => s.creation_fault("CREATE_CUSTOM_PLUGIN", &[&arn, &id, &name])?,
        };
        let p = PluginRec {
            id: id.clone(),
            arn: arn.clone(),
            name: name.clone(),
            description: input.description,
            state: m::CustomPluginState::Creating,
            state_description: None,
            creation_time: now,
            content_type: input.content_type,
            bucket_arn: loc.bucket_arn,
            file_key: loc.file_key,
            object_version: loc.object_version,
            file_md5,
            file_size,
            latest_revision: None,
            planned_create_failure,
            deleting_since: None,
        };
        put_json(s.tx, &s.keys.plugin(&id), &p)?;
        s.tx.put(&s.keys.plugin_in_order(now, &id), id.as_bytes())?;
        s.tx.put(&name_key, id.as_bytes())?;
        if !tags.is_empty() {
            s.put_tags(&arn, &tags)?;
        }
        s.submit(&Task::CreatePlugin(id), None)?;
        Ok(m::CreateCustomPluginResponse {
            custom_plugin_arn: Some(arn),
            custom_plugin_state: Some(m::CustomPluginState::Creating),
            name: Some(name),
            revision: Some(1),
        })
    })
    .await
}

/// DeleteCustomPlugin: refused while a connector uses the plugin; deleting a DELETING plugin
/// answers the same again.
pub async fn delete(
    engine: &Engine,
    cx: &RequestContext,
    input: m::DeleteCustomPluginRequest,
) -> Result<m::DeleteCustomPluginResponse, ApiError> {
    scope::write(engine, cx, move |s| {
        let mut p = s.plugin(&input.custom_plugin_arn)?;
        let response = m::DeleteCustomPluginResponse {
            custom_plugin_arn: Some(p.arn.clone()),
            custom_plugin_state: Some(m::CustomPluginState::Deleting),
        };
        if p.state == m::CustomPluginState::Deleting {
            return Ok(response);
        }
        if let Some(user) = s.connector_using(&p.arn)? {
            return Err(bad_request(format!(
                "Custom plugin {} is used by connector {user}; delete or update the connector first",
                p.arn
            )));
        }
        if p.state == m::CustomPluginState::Creating {
            s.cancel(&Task::CreatePlugin(p.id.clone()))?;
        }
        p.state = m::CustomPluginState::Deleting;
        p.deleting_since = Some(s.engine.now_ms());
        put_json(s.tx, &s.keys.plugin(&p.id), &p)?;
        s.submit(&Task::DeletePlugin(p.id.clone()), None)?;
        Ok(response)
    })
    .await
}

/// DescribeCustomPlugin.
pub async fn describe(
    engine: &Engine,
    cx: &RequestContext,
    input: m::DescribeCustomPluginRequest,
) -> Result<m::DescribeCustomPluginResponse, ApiError> {
    scope::read(engine, cx, move |s| Ok(s.plugin(&input.custom_plugin_arn)?.describe())).await
}

/// ListCustomPlugins: in creation order, filtered by name prefix.
pub async fn list(
    engine: &Engine,
    cx: &RequestContext,
    input: m::ListCustomPluginsRequest,
) -> Result<m::ListCustomPluginsResponse, ApiError> {
    scope::read(engine, cx, move |s| {
        let name_prefix = input.name_prefix.unwrap_or_default();
        let prefix = s.keys.plugins_in_order();
        let after = page_after(input.next_token.as_deref(), &prefix)?;
        let keys = &s.keys;
        let (plugins, next_token) =
            paging::page(s.tx, &prefix, after, page_size(input.max_results), |tx, _, id| -> Result<_, ApiError> {
                let id = String::from_utf8_lossy(id);
                Ok(get_json::<PluginRec>(tx, &keys.plugin(&id))?
                    .filter(|p| p.name.starts_with(&name_prefix))
                    .map(|p| p.summary()))
            })?;
        Ok(m::ListCustomPluginsResponse { custom_plugins: Some(plugins), next_token })
    })
    .await
}

/// Why a plugin location cannot hold a usable plugin, if it cannot. localplane does not read S3, so
/// it only checks the form: a bucket ARN and a key whose extension matches the content type.
fn location_problem(content_type: m::CustomPluginContentType, loc: &m::S3Location) -> Option<Problem> {
    const CODE: &str = "InvalidPluginLocation";
    let bucket_ok =
        loc.bucket_arn.strip_prefix("arn:").and_then(|r| r.split_once(":s3:::")).is_some_and(|(partition, bucket)| {
            partition.starts_with("aws")
                && (3..=63).contains(&bucket.len())
                && bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
                && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
                && bucket.ends_with(|c: char| c.is_ascii_alphanumeric())
        });
    if !bucket_ok {
        return Some(Problem::new(
            CODE,
            format!("bucketArn {} is not an S3 bucket ARN (arn:aws:s3:::BUCKET)", loc.bucket_arn),
        ));
    }
    let ext = match content_type {
        m::CustomPluginContentType::Jar => ".jar",
        m::CustomPluginContentType::Zip => ".zip",
    };
    if !loc.file_key.to_ascii_lowercase().ends_with(ext) || loc.file_key.len() <= ext.len() {
        return Some(Problem::new(
            CODE,
            format!(
                "fileKey {} does not name a {} file (expected a key ending in {ext})",
                loc.file_key,
                content_type.as_str()
            ),
        ));
    }
    None
}

/// The MD5 and size a plugin file reports: derived from its location, so the same location always
/// describes the same file.
fn file_fingerprint(loc: &m::S3Location) -> (String, i64) {
    let mut h = md5::Md5::new();
    h.update(loc.bucket_arn.as_bytes());
    h.update(b"/");
    h.update(loc.file_key.as_bytes());
    h.update(b"#");
    h.update(loc.object_version.as_deref().unwrap_or("").as_bytes());
    let digest = h.finalize();
    let n = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
    (hex::encode(digest), 4_096 + i64::from(n % (64 * 1024 * 1024)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_locations() {
        let loc = |bucket: &str, key: &str| m::S3Location {
            bucket_arn: bucket.into(),
            file_key: key.into(),
            object_version: None,
        };
        let jar = m::CustomPluginContentType::Jar;
        let zip = m::CustomPluginContentType::Zip;
        assert!(location_problem(zip, &loc("arn:aws:s3:::my-bucket", "p/debezium.zip")).is_none());
        assert!(location_problem(jar, &loc("arn:aws:s3:::my-bucket", "p/debezium.zip")).is_some());
        assert!(location_problem(zip, &loc("my-bucket", "p.zip")).is_some());
        let a = file_fingerprint(&loc("arn:aws:s3:::b-1", "k.zip"));
        assert_eq!(a, file_fingerprint(&loc("arn:aws:s3:::b-1", "k.zip")));
        assert_eq!(a.0.len(), 32);
    }
}
