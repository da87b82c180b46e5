//! Worker configurations: CreateWorkerConfiguration, DescribeWorkerConfiguration,
//! ListWorkerConfigurations and DeleteWorkerConfiguration. A worker configuration is ACTIVE as soon
//! as it is created; only its deletion is a task of the engine.

use super::records::*;
use super::scope::{self, bad_request, check_name, check_tags, conflict, page_after, page_size};
use crate::engine::Engine;
use crate::model::kafkaconnect as m;
use crate::paging;
use crate::store::{get_json, put_json};
use crate::tags::Tags;
use crate::wire::shape::{ApiError, RequestContext, Timestamp};
use base64::Engine as _;

/// `propertiesFileContent` must be base64 (padded or not) of non-empty UTF-8 text. White space
/// inside it is skipped, as MIME decoders do: GNU `base64` wraps its output at 76 columns, so
/// `--properties-file-content "$(… | base64)"` sends line breaks.
fn check_properties_file_content(content: &str) -> Result<(), ApiError> {
    let content: String = content.split_ascii_whitespace().collect();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(&content)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(&content))
        .map_err(|err| {
            bad_request(format!(
                "propertiesFileContent must be the base64 encoding of a connect-distributed.properties file: {err}"
            ))
        })?;
    if content.is_empty() || String::from_utf8(decoded).is_err() {
        return Err(bad_request(
            "propertiesFileContent must encode non-empty UTF-8 text (a connect-distributed.properties file)",
        ));
    }
    Ok(())
}

/// CreateWorkerConfiguration: the configuration is ACTIVE at once.
pub async fn create(
    engine: &Engine,
    cx: &RequestContext,
    input: m::CreateWorkerConfigurationRequest,
) -> Result<m::CreateWorkerConfigurationResponse, ApiError> {
    check_name("worker configuration", &input.name)?;
    let tags = Tags::from_pairs(input.tags.clone().unwrap_or_default());
    check_tags(&format!("Worker configuration {}", input.name), &tags)?;
    check_properties_file_content(&input.properties_file_content)?;
    scope::write(engine, cx, move |s| {
        let name = input.name;
        let name_key = s.keys.worker_configuration_name(&name);
        if s.tx.get(&name_key)?.is_some() {
            return Err(conflict(format!("A worker configuration named {name} already exists in {}", s.cx.region)));
        }
        // Worker configurations list in creation order, as plugins and connectors do.
        let now = s.engine.creation_ms();
        let id = new_resource_id();
        let arn = resource_arn(&s.cx.region, &s.cx.account, ArnKind::WorkerConfiguration, &name, &id);
        let w = WorkerConfigRec {
            id: id.clone(),
            arn: arn.clone(),
            name: name.clone(),
            description: input.description,
            state: m::WorkerConfigurationState::Active,
            creation_time: now,
            properties_file_content: input.properties_file_content,
            deleting_since: None,
        };
        put_json(s.tx, &s.keys.worker_configuration(&id), &w)?;
        s.tx.put(&s.keys.worker_configuration_in_order(now, &id), id.as_bytes())?;
        s.tx.put(&name_key, id.as_bytes())?;
        if !tags.is_empty() {
            s.put_tags(&arn, &tags)?;
        }
        Ok(m::CreateWorkerConfigurationResponse {
            creation_time: Some(Timestamp(now)),
            latest_revision: Some(w.revision_summary()),
            name: Some(name),
            worker_configuration_arn: Some(arn),
            worker_configuration_state: Some(m::WorkerConfigurationState::Active),
        })
    })
    .await
}

/// DeleteWorkerConfiguration: refused while a connector uses the configuration; deleting a
/// DELETING one answers the same again.
pub async fn delete(
    engine: &Engine,
    cx: &RequestContext,
    input: m::DeleteWorkerConfigurationRequest,
) -> Result<m::DeleteWorkerConfigurationResponse, ApiError> {
    scope::write(engine, cx, move |s| {
        let mut w = s.worker_configuration(&input.worker_configuration_arn)?;
        let response = m::DeleteWorkerConfigurationResponse {
            worker_configuration_arn: Some(w.arn.clone()),
            worker_configuration_state: Some(m::WorkerConfigurationState::Deleting),
        };
        if w.state == m::WorkerConfigurationState::Deleting {
            return Ok(response);
        }
        if let Some(user) = s.connector_using(&w.arn)? {
            return Err(bad_request(format!(
                "Worker configuration {} is used by connector {user}; delete or update the connector first",
                w.arn
            )));
        }
        w.state = m::WorkerConfigurationState::Deleting;
        w.deleting_since = Some(s.engine.now_ms());
        put_json(s.tx, &s.keys.worker_configuration(&w.id), &w)?;
        s.submit(&Task::DeleteWorkerConfiguration(w.id.clone()), None)?;
        Ok(response)
    })
    .await
}

/// DescribeWorkerConfiguration.
pub async fn describe(
    engine: &Engine,
    cx: &RequestContext,
    input: m::DescribeWorkerConfigurationRequest,
) -> Result<m::DescribeWorkerConfigurationResponse, ApiError> {
    scope::read(engine, cx, move |s| Ok(s.worker_configuration(&input.worker_configuration_arn)?.describe())).await
}

/// ListWorkerConfigurations: in creation order, filtered by name prefix.
pub async fn list(
    engine: &Engine,
    cx: &RequestContext,
    input: m::ListWorkerConfigurationsRequest,
) -> Result<m::ListWorkerConfigurationsResponse, ApiError> {
    scope::read(engine, cx, move |s| {
        let name_prefix = input.name_prefix.unwrap_or_default();
        let prefix = s.keys.worker_configurations_in_order();
        let after = page_after(input.next_token.as_deref(), &prefix)?;
        let keys = &s.keys;
        let (configs, next_token) =
            paging::page(s.tx, &prefix, after, page_size(input.max_results), |tx, _, id| -> Result<_, ApiError> {
                let id = String::from_utf8_lossy(id);
                Ok(get_json::<WorkerConfigRec>(tx, &keys.worker_configuration(&id))?
                    .filter(|w| w.name.starts_with(&name_prefix))
                    .map(|w| w.summary()))
            })?;
        Ok(m::ListWorkerConfigurationsResponse { next_token, worker_configurations: Some(configs) })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::check_properties_file_content;

    #[test]
    fn base64_may_be_wrapped_as_gnu_base64_and_mime_write_it() {
        // `printf 'key.converter=…StringConverter\n' | base64`: 84 characters, wrapped at 76.
        let wrapped = "a2V5LmNvbnZlcnRlcj1vcmcuYXBhY2hlLmthZmthLmNvbm5lY3Quc3RvcmFnZS5TdHJpbmdDb252\nZXJ0ZXIK";
        assert!(check_properties_file_content(wrapped).is_ok());
        assert!(check_properties_file_content(&format!(" {}\r\n", wrapped.replace('\n', "\r\n"))).is_ok());
        assert!(check_properties_file_content("a2V5\n").is_ok());
        assert!(check_properties_file_content("not base64!").is_err());
        assert!(check_properties_file_content(" \n ").is_err());
        assert!(check_properties_file_content("/w==").is_err(), "not UTF-8");
    }
}
