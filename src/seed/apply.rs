//! Applies a seed file through the services' own dispatch — the same decoding, validation and rules
//! as a request of an AWS client — looking each entry up by name first, so that a second run
//! creates nothing, and waiting for what it starts to finish before the entries that name it.

use super::file::{Entry, Kind, SeedError, SeedFile};
use crate::app::App;
use crate::engine::TimingProfile;
use crate::model::Service;
use crate::wire::shape::{ApiError, Json, Protocol, RequestContext};
use serde_json::json;
use std::time::Duration;

/// How long seeding waits for one asynchronous creation (a namespace, a plugin, a connector).
const WAIT_LIMIT: Duration = Duration::from_secs(15 * 60);

/// What seeding did to one entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Outcome {
    /// `namespace`, `service`, … (as [`Kind::noun`]).
    pub kind: &'static str,
    /// The entry's name (`web`, `web/i-1` for an instance).
    pub name: String,
    /// The account it lives in.
    pub account: String,
    /// The region it lives in.
    pub region: String,
    /// Its id or ARN.
    pub id: String,
    /// Whether this run created (or, for an instance, re-registered) it; false: it was there as seeded.
    pub created: bool,
}

/// Creates what `file` describes and is missing, in the order namespaces, services, instances,
/// custom plugins, worker configurations, connectors; stops at the first entry that fails.
pub async fn apply(app: &App, file: &SeedFile) -> Result<Vec<Outcome>, SeedError> {
    let mut outcomes = Vec::new();
    for kind in Kind::ALL {
        for entry in file.entries.iter().filter(|e| e.kind == kind) {
            let seeder = Seeder {
                app,
                entry,
                account: entry.account.clone().unwrap_or_else(|| app.default_account.clone()),
                region: entry.region.clone().unwrap_or_else(|| app.default_region.clone()),
            };
            let (name, id, created) = seeder.seed().await?;
            outcomes.push(Outcome {
                kind: kind.noun(),
                name,
                account: seeder.account,
                region: seeder.region,
                id,
                created,
            });
        }
    }
    Ok(outcomes)
}

/// One entry being seeded in its account and region.
struct Seeder<'a> {
    app: &'a App,
    entry: &'a Entry,
    account: String,
    region: String,
}

/// (name, id or ARN, created by this run)
type Seeded = (String, String, bool);

impl Seeder<'_> {
    async fn seed(&self) -> Result<Seeded, SeedError> {
        match self.entry.kind {
            Kind::Namespace => self.namespace().await,
            Kind::Service => self.service().await,
            Kind::Instance => self.instance().await,
            Kind::CustomPlugin => self.custom_plugin().await,
            Kind::WorkerConfiguration => self.worker_configuration().await,
            Kind::Connector => self.connector().await,
        }
    }

    fn fail(&self, message: impl std::fmt::Display) -> SeedError {
        SeedError::at(self.entry.line, format!("{} entry: {message}", self.entry.kind.noun()))
    }

    fn scope(&self) -> String {
        format!("account {} region {}", self.account, self.region)
    }

    /// Calls `operation` of `service` with `input` through the service's dispatch, as a request in
    /// the entry's account and region would; the decoded output (`{}` for none).
    async fn call(&self, service: Service, operation: &str, input: Json) -> Result<Json, ApiError> {
        let registry = &self.app.registry;
        let (wire, backend) = match (registry.registration(service), registry.backend(service)) {
            (Some(r), Some(b)) => (r.wire(), b),
            _ => return Err(ApiError::unknown_operation(operation)),
        };
        let info = wire.operation(operation).ok_or_else(|| ApiError::unknown_operation(operation))?;
        let protocol = if wire.speaks(Protocol::AwsJson11) { Protocol::AwsJson11 } else { Protocol::RestJson1 };
        let cx = RequestContext {
            account: self.account.clone(),
            region: self.region.clone(),
            request_id: format!("seed-{}", uuid::Uuid::new_v4()),
            protocol,
        };
        let out = backend.dispatch(&cx, info, &input).await?;
        Ok(match out {
            Some(bytes) if !bytes.is_empty() => serde_json::from_slice(&bytes).unwrap_or(Json::Null),
            _ => json!({}),
        })
    }

    /// [`Seeder::call`], with a failure reported at the entry's line.
    async fn request(&self, service: Service, operation: &str, input: Json) -> Result<Json, SeedError> {
        self.call(service, operation, input)
            .await
            .map_err(|e| self.fail(format!("{operation} failed in {}: {}: {}", self.scope(), e.shape.name, e.message)))
    }

    /// The request of the entry with `names` (localplane's reference members) taken out.
    fn request_members(&self, names: &[&str]) -> serde_json::Map<String, Json> {
        let mut request = self.entry.request.clone();
        for n in names {
            request.remove(*n);
        }
        request
    }

    fn text(&self, member: &str) -> Result<String, SeedError> {
        match self.entry.request.get(member) {
            Some(Json::String(s)) if !s.is_empty() => Ok(s.clone()),
            Some(_) => Err(self.fail(format!("{member} must be text"))),
            None => Err(self.fail(format!("{member} is required"))),
        }
    }

    /// Waits until `done` says the creation it watches has finished (Some(Ok), with what it
    /// answered) or failed (Some(Err)); under the manual timing profile it advances operations
    /// itself meanwhile.
    async fn wait<F, Fut>(&self, what: &str, mut done: F) -> Result<Json, SeedError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<Option<Result<Json, String>>, SeedError>>,
    {
        let started = std::time::Instant::now();
        loop {
            match done().await? {
                Some(Ok(answer)) => return Ok(answer),
                Some(Err(why)) => return Err(self.fail(format!("{what} failed: {why}"))),
                None => {}
            }
            if started.elapsed() > WAIT_LIMIT {
                return Err(self.fail(format!("{what} did not finish within {} s", WAIT_LIMIT.as_secs())));
            }
            if self.app.engine.timing().profile == TimingProfile::Manual {
                self.app.engine.advance_all().await.map_err(|e| self.fail(format!("advancing {what}: {e}")))?;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits for Cloud Map operation `id`; its targets.
    async fn wait_cloudmap_operation(&self, what: &str, id: &str) -> Result<Json, SeedError> {
        self.wait(what, || async {
            let out = self.request(Service::ServiceDiscovery, "GetOperation", json!({ "OperationId": id })).await?;
            let op = &out["Operation"];
            Ok(match op["Status"].as_str() {
                Some("SUCCESS") => Some(Ok(op["Targets"].clone())),
                Some("FAIL") => Some(Err(format!(
                    "operation {id} {}: {}",
                    op["ErrorCode"].as_str().unwrap_or(""),
                    op["ErrorMessage"].as_str().unwrap_or("")
                ))),
                _ => None,
            })
        })
        .await
    }

    /// The id of namespace `name` in the entry's scope, if it exists.
    async fn find_namespace(&self, name: &str) -> Result<Option<String>, SeedError> {
        let filter = json!({ "Filters": [{ "Name": "NAME", "Values": [name], "Condition": "EQ" }] });
        let found = self.list(Service::ServiceDiscovery, "ListNamespaces", filter, "NextToken", "Namespaces").await?;
        Ok(found.iter().find(|n| n["Name"] == name).and_then(|n| n["Id"].as_str()).map(str::to_string))
    }

    /// Every item of list operation `operation` (all pages).
    async fn list(
        &self,
        service: Service,
        operation: &str,
        input: Json,
        token: &str,
        items: &str,
    ) -> Result<Vec<Json>, SeedError> {
        let mut all = Vec::new();
        let mut input = input;
        loop {
            let out = self.request(service, operation, input.clone()).await?;
            if let Some(page) = out[items].as_array() {
                all.extend(page.iter().cloned());
            }
            match out[token].as_str() {
                Some(next) if !next.is_empty() => input[token] = json!(next),
                _ => return Ok(all),
            }
        }
    }

    async fn namespace(&self) -> Result<Seeded, SeedError> {
        let name = self.text("Name")?;
        let operation = match self.entry.request.get("Type").map(|t| t.as_str()) {
            None | Some(Some("HTTP")) => "CreateHttpNamespace",
            Some(Some("DNS_PRIVATE")) => "CreatePrivateDnsNamespace",
            Some(Some("DNS_PUBLIC")) => "CreatePublicDnsNamespace",
            Some(_) => return Err(self.fail("Type must be HTTP, DNS_PRIVATE or DNS_PUBLIC (the NamespaceType)")),
        };
        if let Some(id) = self.find_namespace(&name).await? {
            return Ok((name, id, false));
        }
        let request = self.request_members(&["Type"]);
        let out = self.request(Service::ServiceDiscovery, operation, Json::Object(request)).await?;
        let op_id = out["OperationId"].as_str().unwrap_or_default().to_string();
        let targets = self.wait_cloudmap_operation(&format!("creating namespace {name}"), &op_id).await?;
        let id = targets["NAMESPACE"].as_str().unwrap_or_default().to_string();
        tracing::info!(namespace = %name, id = %id, account = %self.account, region = %self.region, "seeded namespace");
        Ok((name, id, true))
    }

    /// The namespace an entry names in `Namespace`, which must exist by now.
    async fn named_namespace(&self) -> Result<(String, String), SeedError> {
        let name = self.text("Namespace")?;
        match self.find_namespace(&name).await? {
            Some(id) => Ok((name, id)),
            None => Err(self.fail(format!(
                "Namespace {name} does not exist in {} (add it under namespaces:, or give this entry the account and region it is in)",
                self.scope()
            ))),
        }
    }

    /// The id of service `name` of namespace `namespace_id`, if it exists.
    async fn find_service(&self, namespace_id: &str, name: &str) -> Result<Option<String>, SeedError> {
        let filter = json!({ "Filters": [{ "Name": "NAMESPACE_ID", "Values": [namespace_id], "Condition": "EQ" }] });
        let found = self.list(Service::ServiceDiscovery, "ListServices", filter, "NextToken", "Services").await?;
        Ok(found.iter().find(|s| s["Name"] == name).and_then(|s| s["Id"].as_str()).map(str::to_string))
    }

    async fn service(&self) -> Result<Seeded, SeedError> {
        let name = self.text("Name")?;
        let (_, namespace_id) = self.named_namespace().await?;
        if let Some(id) = self.find_service(&namespace_id, &name).await? {
            return Ok((name, id, false));
        }
        let mut request = self.request_members(&["Namespace"]);
        request.insert("NamespaceId".into(), json!(namespace_id));
        let out = self.request(Service::ServiceDiscovery, "CreateService", Json::Object(request)).await?;
        let id = out["Service"]["Id"].as_str().unwrap_or_default().to_string();
        tracing::info!(service = %name, id = %id, account = %self.account, region = %self.region, "seeded service");
        Ok((name, id, true))
    }

    async fn instance(&self) -> Result<Seeded, SeedError> {
        let instance_id = self.text("InstanceId")?;
        let service_name = self.text("Service")?;
        let (namespace, namespace_id) = self.named_namespace().await?;
        let Some(service_id) = self.find_service(&namespace_id, &service_name).await? else {
            return Err(self.fail(format!(
                "Service {service_name} does not exist in namespace {namespace} (add it under services:)"
            )));
        };
        let name = format!("{service_name}/{instance_id}");
        let wanted = self.entry.request.get("Attributes").cloned().unwrap_or_else(|| json!({}));
        let lookup = json!({ "ServiceId": service_id, "InstanceId": instance_id });
        if let Ok(out) = self.call(Service::ServiceDiscovery, "GetInstance", lookup).await {
            if out["Instance"]["Attributes"] == wanted {
                return Ok((name, instance_id, false));
            }
        }
        let mut request = self.request_members(&["Namespace", "Service"]);
        request.insert("ServiceId".into(), json!(service_id));
        let out = self.request(Service::ServiceDiscovery, "RegisterInstance", Json::Object(request)).await?;
        let op_id = out["OperationId"].as_str().unwrap_or_default().to_string();
        self.wait_cloudmap_operation(&format!("registering instance {name}"), &op_id).await?;
        tracing::info!(instance = %name, account = %self.account, region = %self.region, "seeded instance");
        Ok((name, instance_id, true))
    }

    /// The custom plugin named `name`: its ARN, state and latest revision.
    async fn find_custom_plugin(&self, name: &str) -> Result<Option<Json>, SeedError> {
        let input = json!({ "namePrefix": name });
        let found = self.list(Service::KafkaConnect, "ListCustomPlugins", input, "nextToken", "customPlugins").await?;
        Ok(found.into_iter().find(|p| p["name"] == name))
    }

    async fn custom_plugin(&self) -> Result<Seeded, SeedError> {
        let name = self.text("name")?;
        let (arn, created) = match self.find_custom_plugin(&name).await? {
            Some(p) => (p["customPluginArn"].as_str().unwrap_or_default().to_string(), false),
            None => {
                let request = Json::Object(self.entry.request.clone());
                let out = self.request(Service::KafkaConnect, "CreateCustomPlugin", request).await?;
                (out["customPluginArn"].as_str().unwrap_or_default().to_string(), true)
            }
        };
        self.wait(&format!("creating custom plugin {name}"), || async {
            let out =
                self.request(Service::KafkaConnect, "DescribeCustomPlugin", json!({ "customPluginArn": arn })).await?;
            Ok(match out["customPluginState"].as_str() {
                Some("ACTIVE") => Some(Ok(Json::Null)),
                Some("CREATE_FAILED") => Some(Err(format!("{arn} is CREATE_FAILED"))),
                Some("CREATING") | Some("UPDATING") => None,
                other => Some(Err(format!("{arn} is {}", other.unwrap_or("gone")))),
            })
        })
        .await?;
        if created {
            tracing::info!(custom_plugin = %name, arn = %arn, account = %self.account, region = %self.region, "seeded custom plugin");
        }
        Ok((name, arn, created))
    }

    /// The worker configuration named `name`.
    async fn find_worker_configuration(&self, name: &str) -> Result<Option<Json>, SeedError> {
        let input = json!({ "namePrefix": name });
        let found = self
            .list(Service::KafkaConnect, "ListWorkerConfigurations", input, "nextToken", "workerConfigurations")
            .await?;
        Ok(found.into_iter().find(|w| w["name"] == name))
    }

    async fn worker_configuration(&self) -> Result<Seeded, SeedError> {
        let name = self.text("name")?;
        if let Some(w) = self.find_worker_configuration(&name).await? {
            return Ok((name, w["workerConfigurationArn"].as_str().unwrap_or_default().to_string(), false));
        }
        let request = Json::Object(self.entry.request.clone());
        let out = self.request(Service::KafkaConnect, "CreateWorkerConfiguration", request).await?;
        let arn = out["workerConfigurationArn"].as_str().unwrap_or_default().to_string();
        tracing::info!(worker_configuration = %name, arn = %arn, account = %self.account, region = %self.region, "seeded worker configuration");
        Ok((name, arn, true))
    }

    async fn connector(&self) -> Result<Seeded, SeedError> {
        let name = self.text("connectorName")?;
        let input = json!({ "connectorNamePrefix": name });
        let found = self.list(Service::KafkaConnect, "ListConnectors", input, "nextToken", "connectors").await?;
        let (arn, created) = match found.iter().find(|c| c["connectorName"] == name) {
            Some(c) => (c["connectorArn"].as_str().unwrap_or_default().to_string(), false),
            None => {
                let request = self.connector_request().await?;
                let out = self.request(Service::KafkaConnect, "CreateConnector", request).await?;
                (out["connectorArn"].as_str().unwrap_or_default().to_string(), true)
            }
        };
        self.wait(&format!("creating connector {name}"), || async {
            let out = self.request(Service::KafkaConnect, "DescribeConnector", json!({ "connectorArn": arn })).await?;
            Ok(match out["connectorState"].as_str() {
                Some("RUNNING") => Some(Ok(Json::Null)),
                Some("CREATING") | Some("UPDATING") => None,
                Some("FAILED") => Some(Err(format!(
                    "{arn} is FAILED: {}",
                    out["stateDescription"]["message"].as_str().unwrap_or("no reason given")
                ))),
                other => Some(Err(format!("{arn} is {}", other.unwrap_or("gone")))),
            })
        })
        .await?;
        if created {
            tracing::info!(connector = %name, arn = %arn, account = %self.account, region = %self.region, "seeded connector");
        }
        Ok((name, arn, created))
    }

    /// The CreateConnector request of the entry, with the plugins and the worker configuration it
    /// names by `name` given by ARN (and, unless the entry says, their latest revision).
    async fn connector_request(&self) -> Result<Json, SeedError> {
        let mut request = Json::Object(self.entry.request.clone());
        if let Some(plugins) = request.get_mut("plugins").and_then(Json::as_array_mut) {
            for plugin in plugins {
                let Some(custom) = plugin.get_mut("customPlugin").and_then(Json::as_object_mut) else { continue };
                let Some(Json::String(name)) = custom.remove("name") else { continue };
                let Some(found) = self.find_custom_plugin(&name).await? else {
                    return Err(self.fail(format!(
                        "custom plugin {name} does not exist in {} (add it under custom_plugins:)",
                        self.scope()
                    )));
                };
                custom.insert("customPluginArn".into(), found["customPluginArn"].clone());
                if !custom.contains_key("revision") {
                    custom.insert("revision".into(), found["latestRevision"]["revision"].clone());
                }
            }
        }
        if let Some(worker) = request.get_mut("workerConfiguration").and_then(Json::as_object_mut) {
            if let Some(Json::String(name)) = worker.remove("name") {
                let Some(found) = self.find_worker_configuration(&name).await? else {
                    return Err(self.fail(format!(
                        "worker configuration {name} does not exist in {} (add it under worker_configurations:)",
                        self.scope()
                    )));
                };
                worker.insert("workerConfigurationArn".into(), found["workerConfigurationArn"].clone());
                if !worker.contains_key("revision") {
                    worker.insert("revision".into(), found["latestRevision"]["revision"].clone());
                }
            }
        }
        Ok(request)
    }
}
