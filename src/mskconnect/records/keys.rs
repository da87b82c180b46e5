//! Where MSK Connect keeps things and how it names them: the store keys of one account and region,
//! the tasks the engine drives, and the ARN, id and version formats AWS uses.

use rand::Rng;

/// The store key prefix of every MSK Connect key.
pub const KEY_PREFIX: &str = "kc/";

/// Checks a snapshot row under [`KEY_PREFIX`]: every document (connector, custom plugin, worker
/// configuration, connector operation, tags) must decode as the record this version reads; index
/// rows hold ids and markers.
pub fn check_document(key: &str, value: &[u8]) -> Result<(), String> {
    use super::{ConnectorOperationRec, ConnectorRec, PluginRec, WorkerConfigRec};
    use crate::registry::decodes;
    // kc/{account}/{region}/{kind}/…
    match key.split('/').nth(3).unwrap_or("") {
        "conn" => decodes::<ConnectorRec>(key, value, "connector"),
        "plugin" => decodes::<PluginRec>(key, value, "custom plugin"),
        "wc" => decodes::<WorkerConfigRec>(key, value, "worker configuration"),
        "op" => decodes::<ConnectorOperationRec>(key, value, "connector operation"),
        "tags" => decodes::<crate::tags::Tags>(key, value, "tags"),
        _ => Ok(()),
    }
}

/// The engine's name for MSK Connect tasks.
pub const SERVICE: crate::model::Service = crate::model::Service::KafkaConnect;

/// What follows the UUID in the last ARN segment of connectors, plugins and worker configurations.
/// Real ARNs end in `-1`…`-4` (meaning undocumented); localplane always uses one fixed digit.
pub const RESOURCE_ID_SUFFIX: &str = "-2";

/// The key space of one account and region.
#[derive(Debug, Clone)]
pub struct Keys {
    /// `kc/{account}/{region}/`, the prefix of every key below.
    pub scope: String,
}

impl Keys {
    /// The keys of `account` in `region`.
    pub fn new(account: &str, region: &str) -> Self {
        Keys { scope: format!("{KEY_PREFIX}{account}/{region}/") }
    }
    /// Connector documents.
    pub fn connectors(&self) -> String {
        format!("{}conn/", self.scope)
    }
    /// A connector document.
    pub fn connector(&self, id: &str) -> String {
        format!("{}conn/{id}", self.scope)
    }
    /// The creation-order index of connectors (value: the id).
    pub fn connectors_in_order(&self) -> String {
        format!("{}connorder/", self.scope)
    }
    /// A connector's entry in the creation-order index.
    pub fn connector_in_order(&self, created: i64, id: &str) -> String {
        format!("{}connorder/{:016x}/{id}", self.scope, created.max(0))
    }
    /// The reservation of a connector name (value: the id).
    pub fn connector_name(&self, name: &str) -> String {
        format!("{}connname/{name}", self.scope)
    }
    /// A custom plugin document.
    pub fn plugin(&self, id: &str) -> String {
        format!("{}plugin/{id}", self.scope)
    }
    /// The creation-order index of custom plugins (value: the id).
    pub fn plugins_in_order(&self) -> String {
        format!("{}pluginorder/", self.scope)
    }
    /// A plugin's entry in the creation-order index.
    pub fn plugin_in_order(&self, created: i64, id: &str) -> String {
        format!("{}pluginorder/{:016x}/{id}", self.scope, created.max(0))
    }
    /// The reservation of a custom plugin name (value: the id).
    pub fn plugin_name(&self, name: &str) -> String {
        format!("{}pluginname/{name}", self.scope)
    }
    /// A worker configuration document.
    pub fn worker_configuration(&self, id: &str) -> String {
        format!("{}wc/{id}", self.scope)
    }
    /// The creation-order index of worker configurations (value: the id).
    pub fn worker_configurations_in_order(&self) -> String {
        format!("{}wcorder/", self.scope)
    }
    /// A worker configuration's entry in the creation-order index.
    pub fn worker_configuration_in_order(&self, created: i64, id: &str) -> String {
        format!("{}wcorder/{:016x}/{id}", self.scope, created.max(0))
    }
    /// The reservation of a worker configuration name (value: the id).
    pub fn worker_configuration_name(&self, name: &str) -> String {
        format!("{}wcname/{name}", self.scope)
    }
    /// The operation documents of a connector.
    pub fn operations(&self, connector_id: &str) -> String {
        format!("{}op/{connector_id}/", self.scope)
    }
    /// An operation document.
    pub fn operation(&self, connector_id: &str, op_id: &str) -> String {
        // Not `format!`: this key is made for every operation a page lists, and formatting showed
        // in profiles of ListConnectorOperations.
        [self.scope.as_str(), "op/", connector_id, "/", op_id].concat()
    }
    /// The newest-first index of a connector's operations (value: the operation id).
    pub fn operations_newest_first(&self, connector_id: &str) -> String {
        format!("{}opnew/{connector_id}/", self.scope)
    }
    /// The `seq`-th operation's entry in the newest-first index.
    pub fn operation_newest_first(&self, connector_id: &str, seq: u64) -> String {
        format!("{}opnew/{connector_id}/{:016x}", self.scope, u64::MAX - seq)
    }
    /// The tags of a resource.
    pub fn tags(&self, arn: &str) -> String {
        format!("{}tags/{arn}", self.scope)
    }
}

/// A piece of asynchronous work the engine drives for MSK Connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Task {
    /// CREATING → RUNNING | FAILED of a connector.
    CreateConnector(String),
    /// DELETING → gone of a connector.
    DeleteConnector(String),
    /// CREATING → ACTIVE | CREATE_FAILED of a custom plugin.
    CreatePlugin(String),
    /// DELETING → gone of a custom plugin.
    DeletePlugin(String),
    /// DELETING → gone of a worker configuration.
    DeleteWorkerConfiguration(String),
    /// A connector operation.
    Operation {
        /// The connector's id.
        connector_id: String,
        /// The operation's id.
        operation_id: String,
    },
}

impl Task {
    /// The engine's reference of this task in `account`/`region`.
    pub fn to_ref(&self, account: &str, region: &str) -> String {
        let what = match self {
            Task::CreateConnector(id) => format!("create-connector/{id}"),
            Task::DeleteConnector(id) => format!("delete-connector/{id}"),
            Task::CreatePlugin(id) => format!("create-plugin/{id}"),
            Task::DeletePlugin(id) => format!("delete-plugin/{id}"),
            Task::DeleteWorkerConfiguration(id) => format!("delete-worker-configuration/{id}"),
            Task::Operation { connector_id, operation_id } => format!("operation/{connector_id}/{operation_id}"),
        };
        format!("{account}/{region}/{what}")
    }

    /// Parses an engine reference back into its scope and task.
    pub fn parse_ref(task_ref: &str) -> Option<(Keys, Task)> {
        let mut it = task_ref.splitn(4, '/');
        let (account, region, kind, rest) = (it.next()?, it.next()?, it.next()?, it.next()?);
        let task = match kind {
            "create-connector" => Task::CreateConnector(rest.to_string()),
            "delete-connector" => Task::DeleteConnector(rest.to_string()),
            "create-plugin" => Task::CreatePlugin(rest.to_string()),
            "delete-plugin" => Task::DeletePlugin(rest.to_string()),
            "delete-worker-configuration" => Task::DeleteWorkerConfiguration(rest.to_string()),
            "operation" => {
                let (c, o) = rest.split_once('/')?;
                Task::Operation { connector_id: c.to_string(), operation_id: o.to_string() }
            }
            _ => return None,
        };
        Some((Keys::new(account, region), task))
    }
}

/// The resource types an MSK Connect ARN can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArnKind {
    /// `connector/{name}/{id}`
    Connector,
    /// `custom-plugin/{name}/{id}`
    CustomPlugin,
    /// `worker-configuration/{name}/{id}`
    WorkerConfiguration,
    /// `connector-operation/{connectorName}/{connectorId}/{operationId}`
    ConnectorOperation,
}

impl ArnKind {
    /// The resource type segment of the ARN.
    pub fn resource_type(self) -> &'static str {
        match self {
            ArnKind::Connector => "connector",
            ArnKind::CustomPlugin => "custom-plugin",
            ArnKind::WorkerConfiguration => "worker-configuration",
            ArnKind::ConnectorOperation => "connector-operation",
        }
    }

    /// How error messages name the kind.
    pub fn noun(self) -> &'static str {
        match self {
            ArnKind::Connector => "connector",
            ArnKind::CustomPlugin => "custom plugin",
            ArnKind::WorkerConfiguration => "worker configuration",
            ArnKind::ConnectorOperation => "connector operation",
        }
    }
}

/// A well-formed MSK Connect ARN, taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedArn {
    /// What it names.
    pub kind: ArnKind,
    /// Its region.
    pub region: String,
    /// Its account.
    pub account: String,
    /// The resource name (the connector's name for an operation).
    pub name: String,
    /// The resource id (the connector's id for an operation).
    pub id: String,
    /// The operation id (operations only).
    pub operation_id: Option<String>,
}

/// Parses `arn:{partition}:kafkaconnect:{region}:{account}:{type}/{name}/{id}[/{operationId}]`;
/// `None` when the string is not an MSK Connect ARN of a known resource type.
pub fn parse_arn(arn: &str) -> Option<ParsedArn> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts.as_slice() else {
        return None;
    };
    if *prefix != "arn"
        || !partition.starts_with("aws")
        || *service != "kafkaconnect"
        || region.is_empty()
        || account.len() != 12
        || !account.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let segs: Vec<&str> = resource.split('/').collect();
    if segs.iter().any(|s| s.is_empty()) {
        return None;
    }
    let kind = match segs.first().copied() {
        Some("connector") => ArnKind::Connector,
        Some("custom-plugin") => ArnKind::CustomPlugin,
        Some("worker-configuration") => ArnKind::WorkerConfiguration,
        Some("connector-operation") => ArnKind::ConnectorOperation,
        _ => return None,
    };
    let expected = if kind == ArnKind::ConnectorOperation { 4 } else { 3 };
    if segs.len() != expected {
        return None;
    }
    Some(ParsedArn {
        kind,
        region: region.to_string(),
        account: account.to_string(),
        name: segs[1].to_string(),
        id: segs[2].to_string(),
        operation_id: segs.get(3).map(|s| s.to_string()),
    })
}

/// The ARN of a connector, custom plugin or worker configuration.
pub fn resource_arn(region: &str, account: &str, kind: ArnKind, name: &str, id: &str) -> String {
    format!("arn:aws:kafkaconnect:{region}:{account}:{}/{name}/{id}", kind.resource_type())
}

/// The ARN of an operation of the connector whose ARN is `connector_arn`.
pub fn operation_arn(connector_arn: &str, op_id: &str) -> String {
    let rest = connector_arn.strip_prefix("arn:").and_then(|r| r.split_once(":connector/"));
    match rest {
        Some((head, tail)) => format!("arn:{head}:connector-operation/{tail}/{op_id}"),
        None => format!("{connector_arn}/{op_id}"),
    }
}

/// A new resource id: a UUID v4 and the fixed suffix.
pub fn new_resource_id() -> String {
    format!("{}{RESOURCE_ID_SUFFIX}", uuid::Uuid::new_v4())
}

/// A new operation id: a UUID v4.
pub fn new_operation_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A new `currentVersion`: 14 characters of `[A-Z0-9]`, like the sibling MSK API's versions.
pub fn new_current_version() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::thread_rng();
    (0..14).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_round_trip() {
        let id = new_resource_id();
        let arn = resource_arn("us-east-1", "123456789012", ArnKind::Connector, "orders", &id);
        let p = parse_arn(&arn).expect("parses");
        assert_eq!(p.kind, ArnKind::Connector);
        assert_eq!((p.name.as_str(), p.id.as_str()), ("orders", id.as_str()));
        let op = operation_arn(&arn, "0f6e2d1c-7a8b-4e5f-9c0d-1b2a3c4d5e6f");
        assert_eq!(
            op,
            format!("arn:aws:kafkaconnect:us-east-1:123456789012:connector-operation/orders/{id}/0f6e2d1c-7a8b-4e5f-9c0d-1b2a3c4d5e6f")
        );
        let p = parse_arn(&op).expect("parses");
        assert_eq!(p.kind, ArnKind::ConnectorOperation);
        assert_eq!(p.id, id);
        assert!(parse_arn("arn:aws:kafkaconnect:us-east-1:123456789012:connector/orders").is_none());
        assert!(parse_arn("arn:aws:kafka:us-east-1:123456789012:connector/a/b").is_none());
        assert!(parse_arn("not-an-arn").is_none());
    }

    #[test]
    fn task_refs_round_trip() {
        let t = Task::Operation { connector_id: "c-2".into(), operation_id: "o".into() };
        let r = t.to_ref("123456789012", "us-east-1");
        let (keys, back) = Task::parse_ref(&r).expect("parses");
        assert_eq!(back, t);
        assert_eq!(keys.scope, "kc/123456789012/us-east-1/");
    }

    #[test]
    fn versions_are_fourteen_uppercase_alphanumerics() {
        let v = new_current_version();
        assert_eq!(v.len(), 14);
        assert!(v.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()));
    }
}
