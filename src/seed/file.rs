//! The seed file: YAML or JSON (JSON is YAML) read into entries that each keep the line they start
//! on, so that whatever is wrong with one is reported at its line.

use saphyr::{LoadableYamlNode, MarkedYamlOwned, ScalarOwned, YamlDataOwned};
use serde_json::{Map, Value as Json};

/// A problem with a seed file: where (its 1-based line) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedError {
    /// The line of the entry or value at fault (0: the file as a whole).
    pub line: usize,
    /// What is wrong, in the user's words.
    pub message: String,
}

impl SeedError {
    /// An error at `line`.
    pub fn at(line: usize, message: impl Into<String>) -> SeedError {
        SeedError { line, message: message.into() }
    }
}

impl std::fmt::Display for SeedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            f.write_str(&self.message)
        } else {
            write!(f, "line {}: {}", self.line, self.message)
        }
    }
}

impl std::error::Error for SeedError {}

/// What an entry creates, in the order seeding creates them (a later kind may name an earlier one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// A Cloud Map namespace (CreateHttpNamespace, CreatePrivateDnsNamespace, CreatePublicDnsNamespace).
    Namespace,
    /// A Cloud Map service (CreateService).
    Service,
    /// A Cloud Map instance (RegisterInstance).
    Instance,
    /// An MSK Connect custom plugin (CreateCustomPlugin).
    CustomPlugin,
    /// An MSK Connect worker configuration (CreateWorkerConfiguration).
    WorkerConfiguration,
    /// An MSK Connect connector (CreateConnector).
    Connector,
}

impl Kind {
    /// Every kind, in creation order.
    pub const ALL: [Kind; 6] = [
        Kind::Namespace,
        Kind::Service,
        Kind::Instance,
        Kind::CustomPlugin,
        Kind::WorkerConfiguration,
        Kind::Connector,
    ];

    /// The top-level key of the file that lists entries of this kind.
    pub fn section(self) -> &'static str {
        match self {
            Kind::Namespace => "namespaces",
            Kind::Service => "services",
            Kind::Instance => "instances",
            Kind::CustomPlugin => "custom_plugins",
            Kind::WorkerConfiguration => "worker_configurations",
            Kind::Connector => "connectors",
        }
    }

    /// How a message names one of these.
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Namespace => "namespace",
            Kind::Service => "service",
            Kind::Instance => "instance",
            Kind::CustomPlugin => "custom plugin",
            Kind::WorkerConfiguration => "worker configuration",
            Kind::Connector => "connector",
        }
    }
}

/// One thing to create: the request document of its AWS operation (with names where the API takes
/// ids or ARNs of other entries), and where it comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// What it creates.
    pub kind: Kind,
    /// The line the entry starts on.
    pub line: usize,
    /// The account it is created in (the file's, else the server's default account).
    pub account: Option<String>,
    /// The region it is created in (the file's, else the server's default region).
    pub region: Option<String>,
    /// The request members, as the AWS API names them.
    pub request: Map<String, Json>,
}

/// A parsed seed file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SeedFile {
    /// The entries, in file order.
    pub entries: Vec<Entry>,
}

/// Reads the text of a seed file (YAML 1.2, or JSON).
pub fn parse(text: &str) -> Result<SeedFile, SeedError> {
    let docs = MarkedYamlOwned::load_from_str(text).map_err(|e| {
        let reason = e.info();
        SeedError::at(e.marker().line().max(1), format!("the file is not valid YAML or JSON: {reason}"))
    })?;
    let Some(root) = docs.first() else { return Ok(SeedFile::default()) };
    if docs.len() > 1 {
        return Err(SeedError::at(docs[1].span.start.line(), "a seed file holds one document; this is a second"));
    }
    let YamlDataOwned::Mapping(top) = &root.data else {
        if is_null(root) {
            return Ok(SeedFile::default());
        }
        return Err(SeedError::at(line(root), "a seed file is a mapping of sections (namespaces:, services:, …)"));
    };
    let (mut account, mut region) = (None, None);
    let mut sections = Vec::new();
    for (key, value) in top {
        let name = key_text(key)?;
        match name.as_str() {
            "account" => account = Some(account_of(value)?),
            "region" => region = Some(region_of(value)?),
            _ => match Kind::ALL.iter().find(|k| k.section() == name) {
                Some(kind) => sections.push((*kind, value)),
                None => {
                    let known: Vec<&str> = Kind::ALL.iter().map(|k| k.section()).collect();
                    return Err(SeedError::at(
                        line(key),
                        format!("unknown section '{name}': a seed file has account, region, {}", known.join(", ")),
                    ));
                }
            },
        }
    }
    let mut entries = Vec::new();
    for (kind, value) in sections {
        let items = match &value.data {
            YamlDataOwned::Sequence(items) => items.as_slice(),
            _ if is_null(value) => &[],
            _ => return Err(SeedError::at(line(value), format!("{} is a list of entries", kind.section()))),
        };
        for item in items {
            entries.push(entry(kind, item, account.as_ref(), region.as_ref())?);
        }
    }
    Ok(SeedFile { entries })
}

/// One entry of a section: a mapping of request members plus `account` and `region`.
fn entry(
    kind: Kind,
    node: &MarkedYamlOwned,
    account: Option<&String>,
    region: Option<&String>,
) -> Result<Entry, SeedError> {
    let at = line(node);
    let Json::Object(mut request) = to_json(node)? else {
        return Err(SeedError::at(at, format!("a {} entry is a mapping of request members", kind.noun())));
    };
    let mut own =
        |key: &str, check: fn(&MarkedYamlOwned) -> Result<String, SeedError>| -> Result<Option<String>, SeedError> {
            if request.remove(key).is_none() {
                return Ok(None);
            }
            let YamlDataOwned::Mapping(m) = &node.data else { return Ok(None) };
            let value = m.iter().find(|(k, _)| key_text(k).is_ok_and(|k| k == key)).map(|(_, v)| v);
            value.map(check).transpose()
        };
    let entry_account = own("account", account_of)?;
    let entry_region = own("region", region_of)?;
    Ok(Entry {
        kind,
        line: at,
        account: entry_account.or_else(|| account.cloned()),
        region: entry_region.or_else(|| region.cloned()),
        request,
    })
}

fn line(node: &MarkedYamlOwned) -> usize {
    node.span.start.line().max(1)
}

fn is_null(node: &MarkedYamlOwned) -> bool {
    matches!(node.data, YamlDataOwned::Value(ScalarOwned::Null))
}

fn key_text(key: &MarkedYamlOwned) -> Result<String, SeedError> {
    match &key.data {
        YamlDataOwned::Value(ScalarOwned::String(s)) => Ok(s.clone()),
        YamlDataOwned::Value(ScalarOwned::Integer(i)) => Ok(i.to_string()),
        YamlDataOwned::Value(ScalarOwned::Boolean(b)) => Ok(b.to_string()),
        _ => Err(SeedError::at(line(key), "a key must be text")),
    }
}

fn account_of(node: &MarkedYamlOwned) -> Result<String, SeedError> {
    let text = match &node.data {
        YamlDataOwned::Value(ScalarOwned::String(s)) => s.clone(),
        // An unquoted account id of 12 digits reads as a number; leading zeros would be lost.
        YamlDataOwned::Value(ScalarOwned::Integer(i)) => i.to_string(),
        _ => String::new(),
    };
    if text.len() != 12 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SeedError::at(
            line(node),
            "account must be a 12-digit account id in quotes, such as \"000000000000\"",
        ));
    }
    Ok(text)
}

fn region_of(node: &MarkedYamlOwned) -> Result<String, SeedError> {
    match &node.data {
        YamlDataOwned::Value(ScalarOwned::String(s))
            if !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') =>
        {
            Ok(s.clone())
        }
        _ => Err(SeedError::at(line(node), "region must be a region name, such as us-east-1")),
    }
}

/// The JSON value of a YAML node (mapping keys are text; anchors and tags are refused).
fn to_json(node: &MarkedYamlOwned) -> Result<Json, SeedError> {
    Ok(match &node.data {
        YamlDataOwned::Value(ScalarOwned::Null) => Json::Null,
        YamlDataOwned::Value(ScalarOwned::Boolean(b)) => Json::Bool(*b),
        YamlDataOwned::Value(ScalarOwned::Integer(i)) => Json::from(*i),
        YamlDataOwned::Value(ScalarOwned::FloatingPoint(f)) => serde_json::Number::from_f64(f.into_inner())
            .map(Json::Number)
            .ok_or_else(|| SeedError::at(line(node), "a number must be finite"))?,
        YamlDataOwned::Value(ScalarOwned::String(s)) | YamlDataOwned::Representation(s, _, _) => {
            Json::String(s.clone())
        }
        YamlDataOwned::Sequence(items) => Json::Array(items.iter().map(to_json).collect::<Result<_, _>>()?),
        YamlDataOwned::Mapping(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                out.insert(key_text(k)?, to_json(v)?);
            }
            Json::Object(out)
        }
        YamlDataOwned::Tagged(tag, _) => {
            return Err(SeedError::at(line(node), format!("tags ({tag}) are not supported in a seed file")))
        }
        YamlDataOwned::Alias(_) => {
            return Err(SeedError::at(line(node), "aliases (*name) are not supported in a seed file"))
        }
        YamlDataOwned::BadValue => return Err(SeedError::at(line(node), "this value cannot be read")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_keep_their_lines_and_scope() {
        let text = "account: \"111111111111\"\nnamespaces:\n  - Type: HTTP\n    Name: demo\n  - Type: HTTP\n    Name: other\n    region: eu-west-1\n";
        let file = parse(text).unwrap();
        assert_eq!(file.entries.len(), 2);
        assert_eq!(file.entries[0].line, 3);
        assert_eq!(file.entries[0].account.as_deref(), Some("111111111111"));
        assert_eq!(file.entries[0].region, None);
        assert_eq!(file.entries[1].line, 5);
        assert_eq!(file.entries[1].region.as_deref(), Some("eu-west-1"));
        assert!(!file.entries[1].request.contains_key("region"));
        assert_eq!(file.entries[1].request["Name"], "other");
    }

    #[test]
    fn json_is_read_too() {
        let file = parse("{\"services\": [{\"Namespace\": \"demo\", \"Name\": \"web\"}]}").unwrap();
        assert_eq!(file.entries[0].kind, Kind::Service);
        assert_eq!(file.entries[0].request["Name"], "web");
    }

    #[test]
    fn bad_files_name_the_line_and_the_reason() {
        let e = parse("namespaces:\n  - Name: [demo\n").unwrap_err();
        assert!(e.line >= 2 && e.message.contains("not valid YAML"), "{e}");
        let e = parse("namespaces: []\nbuckets: []\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("unknown section 'buckets'"), "{e}");
        let e = parse("account: 12\n").unwrap_err();
        assert_eq!((e.line, e.message.contains("12-digit")), (1, true), "{e}");
        let e = parse("services:\n  - just a name\n").unwrap_err();
        assert_eq!(e.to_string(), "line 2: a service entry is a mapping of request members");
        let e = parse("services: web\n").unwrap_err();
        assert_eq!(e.to_string(), "line 1: services is a list of entries");
    }
}
