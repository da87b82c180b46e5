//! Turns a vendored botocore `service-2.json` into Rust: one type per structure and enum shape,
//! decoding with the model's validation (required, length, range, enum, pattern), encoding for the
//! three wire protocols, the operation table with its HTTP bindings, the error shapes, and one trait
//! method per operation. The output is checked in under `src/model/` and a test fails when it is stale.

use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// The services localplane generates code for: (module name, model path relative to the repo root).
pub const SERVICES: &[(&str, &str)] = &[
    ("servicediscovery", "models/servicediscovery/service-2.json"),
    ("kafkaconnect", "models/kafkaconnect/service-2.json"),
    ("ram", "models/ram/service-2.json"),
    ("sts", "models/sts/service-2.json"),
];

/// Path of the generated module for a service, relative to the repo root.
pub fn output_path(module: &str) -> String {
    format!("src/model/{module}.rs")
}

/// Path of the generated index of the models (`Service`), relative to the repo root.
pub const INDEX_PATH: &str = "src/model/mod.rs";

/// Generates the Rust module for one service model.
pub fn generate(module: &str, model_json: &str) -> Result<String, String> {
    let model: Value = serde_json::from_str(model_json).map_err(|e| e.to_string())?;
    Generator::new(module, &model)?.run()
}

/// A member of a structure: name, its definition, whether it is required.
type Member<'a> = (String, &'a Map<String, Value>, bool);

struct Generator<'a> {
    module: &'a str,
    shapes: &'a Map<String, Value>,
    operations: &'a Map<String, Value>,
    metadata: &'a Map<String, Value>,
    patterns: BTreeMap<String, usize>,
    /// The shapes that are operation outputs.
    outputs: BTreeSet<String>,
    out: String,
}

fn obj<'a>(v: &'a Value, what: &str) -> Result<&'a Map<String, Value>, String> {
    v.as_object().ok_or_else(|| format!("{what} is not an object"))
}

/// `CreateHttpNamespaceRequest` → `create_http_namespace_request`; `__mapOf__string` → `map_of_string`.
pub fn snake(name: &str) -> String {
    let chars: Vec<char> = name.trim_start_matches('_').chars().collect();
    let mut s = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c == '_' {
            if !s.ends_with('_') && !s.is_empty() {
                s.push('_');
            }
            continue;
        }
        if c.is_ascii_uppercase() {
            let prev = if i > 0 { chars[i - 1] } else { '_' };
            let next = chars.get(i + 1).copied().unwrap_or('_');
            let boundary = i > 0
                && prev != '_'
                && (prev.is_ascii_lowercase()
                    || prev.is_ascii_digit()
                    || (prev.is_ascii_uppercase() && next.is_ascii_lowercase()));
            if boundary && !s.ends_with('_') {
                s.push('_');
            }
            s.push(c.to_ascii_lowercase());
        } else {
            s.push(c);
        }
    }
    match s.as_str() {
        "type" | "match" | "ref" | "self" | "mod" | "use" | "fn" | "struct" | "enum" | "loop" | "move" => {
            format!("{s}_")
        }
        _ => s,
    }
}

/// Shape or enum value → a Rust type or variant name: `__mapOf__string` → `MapOfString`, `DNS_PRIVATE` → `DnsPrivate`.
pub fn pascal(name: &str) -> String {
    let mut s = String::new();
    let mut upper = true;
    let all_caps = !name.chars().any(|c| c.is_ascii_lowercase());
    for c in name.chars() {
        if !c.is_ascii_alphanumeric() {
            upper = true;
            continue;
        }
        if upper {
            s.push(c.to_ascii_uppercase());
            upper = false;
        } else if all_caps {
            s.push(c.to_ascii_lowercase());
        } else {
            s.push(c);
        }
    }
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, 'V');
    }
    // `Self` cannot name a variant (RAM's `ResourceOwner` has a `SELF` value).
    if s == "Self" {
        s.push_str("Value");
    }
    s
}

/// The Rust type of a shape: its pascal name, with `Shape` appended where that name is one the
/// generated module uses itself (Cloud Map has an `Operation` structure; `Operation` is the enum of operations).
pub fn type_name(shape: &str) -> String {
    let t = pascal(shape);
    match t.as_str() {
        "Operation" | "Api" => format!("{t}Shape"),
        _ => t,
    }
}

fn lit(s: &str) -> String {
    format!("{s:?}")
}

/// The model's HTML documentation as one plain line for a doc comment: tags dropped, entities and
/// white space folded, cut after the first sentence (or 300 characters).
pub fn doc_line(html: &str) -> Option<String> {
    let mut text = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                text.push(' ');
            }
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    let text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&amp;", "&");
    let folded = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let folded = folded.replace(" .", ".").replace(" ,", ",");
    if folded.is_empty() {
        return None;
    }
    let end = folded.find(". ").map(|i| i + 1).unwrap_or(folded.len());
    let mut line: String = folded[..end].chars().take(300).collect();
    if line.len() < folded[..end].len() {
        line.push('…');
    }
    // Brackets would be read as intra-doc links, backticks as code spans left open.
    Some(line.replace('[', "(").replace(']', ")").replace('`', "'"))
}

/// The doc comment of a shape, member or operation: the model's words when it has some, else `fallback`.
fn doc_of(def: &Map<String, Value>, fallback: &str) -> String {
    def.get("documentation").and_then(Value::as_str).and_then(doc_line).unwrap_or_else(|| fallback.to_string())
}

/// Smithy's protocol names in botocore metadata → the wire's `Protocol` variants localplane serves.
fn protocol_variant(name: &str) -> Option<&'static str> {
    match name {
        "smithy-rpc-v2-cbor" => Some("RpcV2Cbor"),
        "json" => Some("AwsJson11"),
        "rest-json" => Some("RestJson1"),
        "query" => Some("AwsQuery"),
        _ => None,
    }
}

/// `src/model/mod.rs`: the generated modules and the `Service` enum over them, from each model's
/// metadata (`serviceId`, `endpointPrefix`).
pub fn generate_index(models: &[(&str, &str)]) -> Result<String, String> {
    let mut mods = String::new();
    let mut variants = String::new();
    let mut names = String::new();
    let mut from = String::new();
    let mut wires = String::new();
    let mut all = Vec::new();
    for (module, json) in models {
        let model: Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
        let meta = obj(&model["metadata"], "metadata")?;
        let id = meta.get("serviceId").and_then(Value::as_str).ok_or("metadata without serviceId")?;
        let full = meta.get("serviceFullName").and_then(Value::as_str).unwrap_or(id);
        let v = pascal(id);
        writeln!(mods, "#[rustfmt::skip]\n#[allow(clippy::all, missing_docs)]\npub mod {module};\n").ok();
        writeln!(variants, "    /// {full} (`{module}`).\n    {v},").ok();
        writeln!(names, "            Service::{v} => {},", lit(module)).ok();
        writeln!(from, "            {} => Some(Service::{v}),", lit(module)).ok();
        writeln!(wires, "            Service::{v} => &{module}::WIRE,").ok();
        all.push(format!("Service::{v}"));
    }
    let mut o = String::new();
    o.push_str("//! Types generated from the vendored AWS service models (see `crates/codegen`), and the `Service`\n");
    o.push_str("//! enum that names them. Generated by `cargo run -p localplane-codegen`. Do not edit.\n\n");
    o.push_str(&mods);
    o.push_str("use crate::wire::shape::WireService;\n\n");
    o.push_str("/// An AWS API localplane serves: one per vendored model.\n");
    o.push_str("#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]\npub enum Service {\n");
    o.push_str(&variants);
    o.push_str("}\n\nimpl Service {\n");
    writeln!(
        o,
        "    /// Every service, in the order of the models.\n    pub const ALL: &'static [Service] = &[{}];\n",
        all.join(", ")
    )
    .ok();
    o.push_str("    /// The name clients sign with and the admin API spells (the model's `endpointPrefix`).\n");
    o.push_str("    pub fn name(self) -> &'static str {\n        match self {\n");
    o.push_str(&names);
    o.push_str("        }\n    }\n\n    /// The service of that name.\n    pub fn from_name(name: &str) -> Option<Service> {\n        match name {\n");
    o.push_str(&from);
    o.push_str("            _ => None,\n        }\n    }\n\n");
    o.push_str("    /// How the service is reached on the wire: protocols, operations, errors.\n");
    o.push_str("    pub fn wire(self) -> &'static WireService {\n        match self {\n");
    o.push_str(&wires);
    o.push_str("        }\n    }\n}\n\n");
    o.push_str("impl std::fmt::Display for Service {\n    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {\n        f.write_str(self.name())\n    }\n}\n\n");
    o.push_str("impl serde::Serialize for Service {\n    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {\n        s.serialize_str(self.name())\n    }\n}\n\n");
    o.push_str("impl<'de> serde::Deserialize<'de> for Service {\n    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {\n        let name = <std::borrow::Cow<'de, str>>::deserialize(d)?;\n        Service::from_name(&name).ok_or_else(|| {\n            let names: Vec<&str> = Service::ALL.iter().map(|s| s.name()).collect();\n            serde::de::Error::custom(format!(\"service must be one of {}, not '{name}'\", names.join(\", \")))\n        })\n    }\n}\n");
    Ok(o)
}

impl<'a> Generator<'a> {
    fn new(module: &'a str, model: &'a Value) -> Result<Self, String> {
        let model = obj(model, "model")?;
        Ok(Generator {
            module,
            shapes: obj(&model["shapes"], "shapes")?,
            operations: obj(&model["operations"], "operations")?,
            metadata: obj(&model["metadata"], "metadata")?,
            patterns: BTreeMap::new(),
            outputs: obj(&model["operations"], "operations")?
                .values()
                .filter_map(|op| op.get("output").and_then(|o| o.get("shape")).and_then(Value::as_str))
                .map(str::to_string)
                .collect(),
            out: String::new(),
        })
    }

    fn shape(&self, name: &str) -> Result<&'a Map<String, Value>, String> {
        obj(self.shapes.get(name).ok_or_else(|| format!("unknown shape {name}"))?, name)
    }

    fn kind(&self, name: &str) -> Result<&'a str, String> {
        self.shape(name)?["type"].as_str().ok_or_else(|| format!("shape {name} has no type"))
    }

    fn is_enum(&self, name: &str) -> Result<bool, String> {
        Ok(self.kind(name)? == "string" && self.shape(name)?.contains_key("enum"))
    }

    /// The Rust type used for a member targeting `shape`.
    fn rust_type(&self, shape: &str) -> Result<String, String> {
        let s = self.shape(shape)?;
        Ok(match self.kind(shape)? {
            "string" if s.contains_key("enum") => type_name(shape),
            "string" => "String".into(),
            "integer" => "i32".into(),
            "long" => "i64".into(),
            "boolean" => "bool".into(),
            "timestamp" => "Timestamp".into(),
            "structure" => type_name(shape),
            "list" => format!("Vec<{}>", self.rust_type(member_shape(&s["member"])?)?),
            "map" => format!("BTreeMap<String, {}>", self.rust_type(member_shape(&s["value"])?)?),
            k => return Err(format!("unsupported shape type {k} ({shape})")),
        })
    }

    fn pattern_index(&mut self, p: &str) -> usize {
        let n = self.patterns.len();
        *self.patterns.entry(p.to_string()).or_insert(n)
    }

    /// An expression that decodes `v` (a `&Json`) as a value of `shape`, inside a closure over `cx`.
    fn decode_expr(&mut self, shape: &str, v: &str) -> Result<String, String> {
        let s = self.shape(shape)?;
        let num = |k: &str| s.get(k).and_then(Value::as_f64).map(|f| f as i64);
        let len_rule = |min: Option<i64>, max: Option<i64>| {
            format!("Len {{ min: {:?}, max: {:?} }}", min.map(|m| m as u64), max.map(|m| m as u64))
        };
        Ok(match self.kind(shape)? {
            "string" if s.contains_key("enum") => {
                format!("cx.enumeration({v}, {}::from_wire, {}::VALUES)", type_name(shape), type_name(shape))
            }
            "string" => {
                let pat = match s.get("pattern").and_then(Value::as_str) {
                    Some(p) => format!("Some(&PATTERN_{})", self.pattern_index(p)),
                    None => "None".into(),
                };
                format!("cx.string({v}, {}, {pat})", len_rule(num("min"), num("max")))
            }
            "integer" | "long" => {
                let t = if self.kind(shape)? == "integer" { "i32" } else { "i64" };
                format!("cx.integer::<{t}>({v}, {:?}, {:?})", num("min"), num("max"))
            }
            "boolean" => format!("cx.boolean({v})"),
            "timestamp" => format!("cx.timestamp({v})"),
            "structure" => format!("{}::decode({v}, cx)", type_name(shape)),
            "list" => {
                let item = self.decode_expr(member_shape(&s["member"])?, "item")?;
                format!("cx.list({v}, {}, |cx, item| {item})", len_rule(num("min"), num("max")))
            }
            "map" => {
                let key_shape = member_shape(&s["key"])?;
                let mut key = self.decode_expr(key_shape, "key")?;
                if self.is_enum(key_shape)? {
                    // Maps keep string keys; an enum key shape only restricts their values.
                    key = format!("{key}.map(|k| k.as_str().to_string())");
                }
                let value = self.decode_expr(member_shape(&s["value"])?, "value")?;
                format!("cx.map({v}, {}, |cx, key| {key}, |cx, value| {value})", len_rule(num("min"), num("max")))
            }
            k => return Err(format!("unsupported shape type {k}")),
        })
    }

    fn run(mut self) -> Result<String, String> {
        let mut body = String::new();
        let names: Vec<&String> = self.shapes.keys().collect();
        for name in names {
            let s = self.shape(name)?;
            match self.kind(name)? {
                "string" if s.contains_key("enum") => body.push_str(&self.gen_enum(name)?),
                "structure" if !s.contains_key("exception") => body.push_str(&self.gen_struct(name)?),
                _ => {}
            }
        }
        body.push_str(&self.gen_errors()?);
        body.push_str(&self.gen_operations()?);

        let mut out = String::new();
        let src = SERVICES.iter().find(|(m, _)| *m == self.module).map(|(_, p)| *p).unwrap_or("?");
        writeln!(
            out,
            "//! Wire types, validation, errors and operation table of `{}` (API {}),",
            self.module,
            self.metadata.get("apiVersion").and_then(Value::as_str).unwrap_or("?")
        )
        .ok();
        writeln!(out, "//! generated by `cargo run -p localplane-codegen` from `{src}`. Do not edit.").ok();
        out.push_str("use crate::wire::shape::*;\n");
        if body.contains("BTreeMap") {
            out.push_str("use std::collections::BTreeMap;\n");
        }
        if !self.patterns.is_empty() {
            out.push_str("use std::sync::LazyLock;\n");
        }
        out.push('\n');
        for (p, i) in &self.patterns {
            writeln!(out, "static PATTERN_{i}: LazyLock<Pattern> = LazyLock::new(|| Pattern::new({}));", lit(p)).ok();
        }
        out.push('\n');
        out.push_str(&body);
        self.out = out;
        Ok(self.out)
    }

    fn gen_enum(&self, name: &str) -> Result<String, String> {
        let s = self.shape(name)?;
        let values: Vec<&str> = s["enum"].as_array().ok_or("enum")?.iter().filter_map(Value::as_str).collect();
        let t = type_name(name);
        let mut o = String::new();
        writeln!(o, "/// {}", doc_of(s, &format!("The `{name}` enum of the model."))).ok();
        writeln!(o, "#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]\npub enum {t} {{")
            .ok();
        for (i, v) in values.iter().enumerate() {
            let default = if i == 0 { "    #[default]\n" } else { "" };
            writeln!(o, "    /// `{v}`\n{default}    {},", pascal(v)).ok();
        }
        writeln!(o, "}}\n\nimpl {t} {{").ok();
        writeln!(o, "    /// Every value, as sent on the wire.").ok();
        writeln!(
            o,
            "    pub const VALUES: &'static [&'static str] = &[{}];",
            values.iter().map(|v| lit(v)).collect::<Vec<_>>().join(", ")
        )
        .ok();
        writeln!(o, "    /// The wire spelling.\n    pub fn as_str(&self) -> &'static str {{\n        match self {{")
            .ok();
        for v in &values {
            writeln!(o, "            Self::{} => {},", pascal(v), lit(v)).ok();
        }
        writeln!(o, "        }}\n    }}\n    /// Parses the wire spelling.\n    pub fn from_wire(s: &str) -> Option<Self> {{\n        match s {{").ok();
        for v in &values {
            writeln!(o, "            {} => Some(Self::{}),", lit(v), pascal(v)).ok();
        }
        writeln!(o, "            _ => None,\n        }}\n    }}\n}}\n").ok();
        writeln!(o, "impl Encode for {t} {{\n    fn encode<E: Encoder>(&self, e: &mut E) {{\n        e.str(self.as_str());\n    }}\n}}\n").ok();
        // Stored documents spell enums as the wire does.
        writeln!(o, "impl serde::Serialize for {t} {{\n    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {{\n        s.serialize_str(self.as_str())\n    }}\n}}\n").ok();
        writeln!(o, "impl<'de> serde::Deserialize<'de> for {t} {{\n    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {{\n        let s = String::deserialize(d)?;\n        Self::from_wire(&s).ok_or_else(|| serde::de::Error::custom(format!(\"unknown {t} value {{s}}\")))\n    }}\n}}\n").ok();
        Ok(o)
    }

    fn members(&self, name: &str) -> Result<Vec<Member<'a>>, String> {
        let s = self.shape(name)?;
        let required: BTreeSet<&str> = s
            .get("required")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut v = Vec::new();
        if let Some(m) = s.get("members").and_then(Value::as_object) {
            for (k, mv) in m {
                v.push((k.clone(), obj(mv, k)?, required.contains(k.as_str())));
            }
        }
        Ok(v)
    }

    fn gen_struct(&mut self, name: &str) -> Result<String, String> {
        let t = type_name(name);
        let members = self.members(name)?;
        let mut o = String::new();
        let def = self.shape(name)?;
        writeln!(o, "/// {}", doc_of(def, &format!("The `{name}` structure of the model."))).ok();
        writeln!(o, "#[derive(Debug, Clone, Default, PartialEq)]\npub struct {t} {{").ok();
        for (m, mv, req) in &members {
            let ty = self.rust_type(member_shape_of(mv)?)?;
            let ty = if *req { ty } else { format!("Option<{ty}>") };
            let words = doc_of(mv, "");
            let words = if words.is_empty() { String::new() } else { format!(": {words}") };
            writeln!(o, "    /// `{m}`{}{words}\n    pub {}: {ty},", if *req { " (required)" } else { "" }, snake(m))
                .ok();
        }
        writeln!(o, "}}\n").ok();
        // Decoding, with the model's validation.
        writeln!(o, "impl Decode for {t} {{\n    #[allow(unused_variables)]\n    fn decode(v: &Json, cx: &mut DecodeContext) -> Option<Self> {{").ok();
        writeln!(o, "        let obj = cx.structure(v)?;").ok();
        for (m, mv, req) in &members {
            let expr = self.decode_expr(member_shape_of(mv)?, "v")?;
            writeln!(o, "        let {} = cx.member(obj, {}, {req}, |cx, v| {expr});", snake(m), lit(m)).ok();
        }
        writeln!(o, "        Some(Self {{").ok();
        for (m, _, req) in &members {
            if *req {
                writeln!(o, "            {}: {}?,", snake(m), snake(m)).ok();
            } else {
                writeln!(o, "            {},", snake(m)).ok();
            }
        }
        writeln!(o, "        }})\n    }}\n}}\n").ok();
        let iso = self.iso8601_members(&members)?;
        writeln!(o, "impl Encode for {t} {{\n{}}}\n", encode_body(&members, &iso)).ok();
        if self.outputs.contains(name) {
            o.push_str(&self.gen_parts(name, &members)?);
        }
        Ok(o)
    }

    /// For an operation output with lists of structures: `{Output}Parts`, the same output with
    /// those lists holding items already encoded, which a backend that keeps its summaries encoded
    /// assembles; it encodes to the same bytes as the output would.
    fn gen_parts(&self, name: &str, members: &[Member<'a>]) -> Result<String, String> {
        let mut lists = Vec::new();
        for (m, mv, _) in members {
            let s = self.shape(member_shape_of(mv)?)?;
            if self.kind(member_shape_of(mv)?)? == "list" && self.kind(member_shape(&s["member"])?)? == "structure" {
                lists.push(m.clone());
            }
        }
        if lists.is_empty() {
            return Ok(String::new());
        }
        let t = type_name(name);
        let mut o = String::new();
        writeln!(o, "/// `{t}` with its lists of structures already encoded ({}).", lists.join(", ")).ok();
        writeln!(o, "#[derive(Debug, Clone, Default)]\npub struct {t}Parts<'a> {{").ok();
        for (m, mv, req) in members {
            let ty = if lists.contains(m) {
                "Vec<PreEncoded<'a>>".to_string()
            } else {
                self.rust_type(member_shape_of(mv)?)?
            };
            let ty = if *req { ty } else { format!("Option<{ty}>") };
            writeln!(o, "    /// `{m}`\n    pub {}: {ty},", snake(m)).ok();
        }
        let iso = self.iso8601_members(members)?;
        writeln!(o, "}}\n\nimpl Encode for {t}Parts<'_> {{\n{}}}\n", encode_body(members, &iso)).ok();
        Ok(o)
    }

    /// The members whose timestamps the model writes as ISO-8601 strings (`timestampFormat` on the
    /// member or its shape); every other timestamp is the protocol's default (epoch seconds in JSON).
    fn iso8601_members(&self, members: &[Member<'a>]) -> Result<BTreeSet<String>, String> {
        let mut iso = BTreeSet::new();
        for (m, mv, _) in members {
            let shape = member_shape_of(mv)?;
            let format = mv.get("timestampFormat").or_else(|| self.shape(shape).ok()?.get("timestampFormat"));
            if self.kind(shape)? == "timestamp" && format.and_then(Value::as_str) == Some("iso8601") {
                iso.insert(m.clone());
            }
        }
        Ok(iso)
    }

    fn gen_errors(&self) -> Result<String, String> {
        let mut o = String::new();
        writeln!(o, "/// The error shapes of the model: name, HTTP status and whether the server is at fault.").ok();
        writeln!(o, "pub mod errors {{\n    use crate::wire::shape::ErrorShape;\n").ok();
        for (name, s) in self.shapes {
            let s = obj(s, name)?;
            if !s.contains_key("exception") {
                continue;
            }
            let status = s.get("error").and_then(|e| e.get("httpStatusCode")).and_then(Value::as_u64).unwrap_or(400);
            let server = s.get("fault").and_then(Value::as_bool).unwrap_or(false);
            let fields: Vec<String> = self.members(name)?.iter().map(|(m, _, _)| lit(m)).collect();
            writeln!(
                o,
                "    /// `{name}` ({status}).\n    pub const {}: ErrorShape = ErrorShape {{ name: {}, status: {status}, server_fault: {server}, members: &[{}] }};",
                snake(name).to_ascii_uppercase(),
                lit(name),
                fields.join(", ")
            )
            .ok();
        }
        let all: Vec<String> = self
            .shapes
            .iter()
            .filter(|(_, s)| s.get("exception").is_some())
            .map(|(n, _)| snake(n).to_ascii_uppercase())
            .collect();
        writeln!(
            o,
            "\n    /// Every error shape of the model.\n    pub static ALL: &[&ErrorShape] = &[{}];",
            all.iter().map(|n| format!("&{n}")).collect::<Vec<_>>().join(", ")
        )
        .ok();
        writeln!(o, "}}\n").ok();
        Ok(o)
    }

    /// The modelled error that carries input validation failures (`InvalidInput`,
    /// `InvalidParameterException` or `BadRequestException`),
    /// and the one for malformed bodies (the framework's `SerializationException` for the RPC protocols).
    fn validation_errors(&self) -> (String, String) {
        if self.shapes.contains_key("InvalidInput") {
            ("errors::INVALID_INPUT".into(), "SERIALIZATION_EXCEPTION".into())
        } else if self.shapes.contains_key("InvalidParameterException") {
            ("errors::INVALID_PARAMETER_EXCEPTION".into(), "errors::INVALID_PARAMETER_EXCEPTION".into())
        } else if !self.shapes.contains_key("BadRequestException") {
            // A query-protocol model (STS) has neither: the protocol's common `ValidationError`.
            ("VALIDATION_ERROR".into(), "VALIDATION_ERROR".into())
        } else {
            ("errors::BAD_REQUEST_EXCEPTION".into(), "errors::BAD_REQUEST_EXCEPTION".into())
        }
    }

    fn gen_operations(&self) -> Result<String, String> {
        let mut o = String::new();
        let mut trait_methods = String::new();
        let mut dispatch = String::new();
        let mut validate = String::new();
        let mut table = String::new();
        let mut variants = String::new();
        let mut from_name = String::new();
        let mut all = Vec::new();
        for (name, op) in self.operations {
            let op = obj(op, name)?;
            let http = obj(&op["http"], "http")?;
            let method = http.get("method").and_then(Value::as_str).unwrap_or("POST");
            let uri = http.get("requestUri").and_then(Value::as_str).unwrap_or("/");
            let input = op.get("input").and_then(|i| i.get("shape")).and_then(Value::as_str);
            let output = op.get("output").and_then(|i| i.get("shape")).and_then(Value::as_str);
            let host_prefix = op.get("endpoint").and_then(|e| e.get("hostPrefix")).and_then(Value::as_str);
            let mut bindings = Vec::new();
            if let Some(input) = input {
                for (m, mv, _) in self.members(input)? {
                    if let Some(loc) = mv.get("location").and_then(Value::as_str) {
                        let wire = mv.get("locationName").and_then(Value::as_str).unwrap_or(&m);
                        let shape = member_shape_of(mv)?;
                        let kind = match self.kind(shape)? {
                            "integer" | "long" => "Integer",
                            "boolean" => "Boolean",
                            "list" => "StringList",
                            _ => "String",
                        };
                        let location = match loc {
                            "uri" => "Label",
                            "querystring" => "Query",
                            "header" => "Header",
                            other => return Err(format!("unsupported location {other}")),
                        };
                        bindings.push(format!(
                            "Binding {{ member: {}, location: Location::{location}, wire_name: {}, kind: BindingKind::{kind} }}",
                            lit(&m),
                            lit(wire)
                        ));
                    }
                }
            }
            writeln!(
                table,
                "    OperationInfo {{ name: {}, method: {}, uri: {}, host_prefix: {:?}, bindings: &[{}] }},",
                lit(name),
                lit(method),
                lit(uri),
                host_prefix,
                bindings.join(", ")
            )
            .ok();
            let variant = pascal(name);
            let words = doc_of(op, &format!("`{name}`"));
            writeln!(variants, "    /// {words}\n    {variant},").ok();
            writeln!(from_name, "            {} => Some(Self::{variant}),", lit(name)).ok();
            all.push(format!("Self::{variant}"));
            let fname = snake(name);
            let in_ty = input.map(type_name).unwrap_or_else(|| "()".into());
            let out_ty = output.map(type_name).unwrap_or_else(|| "()".into());
            writeln!(
                trait_methods,
                "    /// `{name}`: {words}\n    fn {fname}(&self, cx: &RequestContext, input: {in_ty}) -> impl std::future::Future<Output = Result<{out_ty}, ApiError>> + Send;"
            )
            .ok();
            let (validation, malformed) = self.validation_errors();
            let decode = if input.is_some() {
                format!("let input = decode_input::<{in_ty}>(input, &{validation}, &{malformed})?;")
            } else {
                "let input = ();".to_string()
            };
            if output.is_some() {
                writeln!(
                    trait_methods,
                    "    /// `{name}` as bytes in the request's protocol: the typed output, encoded, unless the backend\n    /// writes the bytes itself (from parts it keeps encoded).\n    fn {fname}_encoded(&self, cx: &RequestContext, input: {in_ty}, protocol: Protocol) -> impl std::future::Future<Output = Result<Vec<u8>, ApiError>> + Send {{\n        async move {{ Ok(encode_output(&self.{fname}(cx, input).await?, protocol)) }}\n    }}"
                )
                .ok();
            }
            let call = if output.is_some() {
                format!("Ok(Some(api.{fname}_encoded(cx, input, protocol).await?))")
            } else {
                format!("let () = api.{fname}(cx, input).await?;\n            Ok(None)")
            };
            if input.is_some() {
                writeln!(
                    validate,
                    "        Operation::{variant} => decode_input::<{in_ty}>(input, &{validation}, &{malformed}).map(|_| ()),"
                )
                .ok();
            } else {
                writeln!(validate, "        Operation::{variant} => Ok(()),").ok();
            }
            writeln!(
                dispatch,
                "        Operation::{variant} => {{\n            {decode}\n            {call}\n        }}"
            )
            .ok();
        }
        writeln!(o, "/// Every operation of the service with its HTTP binding (sorted by name, like `Operation`).")
            .ok();
        writeln!(o, "pub static OPERATIONS: &[OperationInfo] = &[\n{table}];\n").ok();
        writeln!(o, "/// The operations of the service.").ok();
        writeln!(o, "#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]\npub enum Operation {{\n{variants}}}\n").ok();
        writeln!(o, "impl Operation {{").ok();
        writeln!(o, "    /// Every operation, in the order of `OPERATIONS`.\n    pub const ALL: &'static [Operation] = &[{}];\n", all.join(", ")).ok();
        writeln!(o, "    /// The operation's name as the model spells it.\n    pub fn name(self) -> &'static str {{\n        self.info().name\n    }}\n").ok();
        writeln!(o, "    /// The operation's HTTP binding.\n    pub fn info(self) -> &'static OperationInfo {{\n        &OPERATIONS[self as usize]\n    }}\n").ok();
        writeln!(o, "    /// The operation of that name.\n    pub fn from_name(name: &str) -> Option<Operation> {{\n        match name {{\n{from_name}            _ => None,\n        }}\n    }}\n}}\n").ok();
        writeln!(o, "{}", self.gen_wire()?).ok();
        writeln!(o, "/// One method per operation: what a backend of this service implements.").ok();
        writeln!(o, "pub trait Api: Sync {{\n{trait_methods}}}\n").ok();
        writeln!(
            o,
            "/// Decodes and validates the input of operation `op` without running it (fuzzing, property tests)."
        )
        .ok();
        writeln!(o, "pub fn validate_input(op: Operation, input: &Json) -> Result<(), ApiError> {{\n    match op {{\n{validate}    }}\n}}\n").ok();
        writeln!(o, "/// Decodes the input of operation `op`, calls the backend, and encodes its output.\n/// `Ok(None)` is an operation whose output is Unit (no body).").ok();
        writeln!(o, "pub async fn dispatch<A: Api>(api: &A, cx: &RequestContext, op: Operation, input: &Json, protocol: Protocol) -> Result<Option<Vec<u8>>, ApiError> {{\n    match op {{\n{dispatch}    }}\n}}").ok();
        writeln!(o, "\n/// Dispatches the operation of a route (its table entry) in the request's protocol: what the\n/// service registry's front end calls.").ok();
        writeln!(o, "pub async fn dispatch_route<A: Api>(api: &A, cx: &RequestContext, operation: &'static OperationInfo, input: &Json) -> Result<Option<Vec<u8>>, ApiError> {{\n    let op = Operation::from_name(operation.name).ok_or_else(|| ApiError::unknown_operation(operation.name))?;\n    dispatch(api, cx, op, input, cx.protocol).await\n}}").ok();
        Ok(o)
    }

    /// `WIRE`: how the service is reached, from the model's metadata.
    fn gen_wire(&self) -> Result<String, String> {
        let meta = |k: &str| self.metadata.get(k).and_then(Value::as_str);
        let name = meta("endpointPrefix").ok_or("metadata without endpointPrefix")?;
        let full = meta("serviceFullName").unwrap_or(name);
        let mut protocols: Vec<&str> = match self.metadata.get("protocols").and_then(Value::as_array) {
            Some(list) => list.iter().filter_map(Value::as_str).filter_map(protocol_variant).collect(),
            None => meta("protocol").and_then(protocol_variant).into_iter().collect(),
        };
        protocols.dedup();
        if protocols.is_empty() {
            return Err(format!("{name}: no protocol localplane serves"));
        }
        let (validation, malformed) = self.validation_errors();
        // The model's own names for the framework's 500 and 503, where it has them.
        let fault = |status: u64| -> Option<String> {
            self.shapes.iter().find_map(|(n, s)| {
                let s = s.as_object()?;
                let st = s.get("error").and_then(|e| e.get("httpStatusCode")).and_then(Value::as_u64);
                (s.contains_key("exception")
                    && s.get("fault").and_then(Value::as_bool) == Some(true)
                    && st == Some(status))
                .then(|| format!("Some(&errors::{})", snake(n).to_ascii_uppercase()))
            })
        };
        let mut o = String::new();
        writeln!(o, "/// How `{name}` is reached on the wire.").ok();
        writeln!(o, "pub static WIRE: WireService = WireService {{").ok();
        writeln!(o, "    name: {},\n    full_name: {},", lit(name), lit(full)).ok();
        writeln!(
            o,
            "    protocols: &[{}],",
            protocols.iter().map(|p| format!("Protocol::{p}")).collect::<Vec<_>>().join(", ")
        )
        .ok();
        writeln!(o, "    target_prefix: {:?},", meta("targetPrefix")).ok();
        writeln!(o, "    smithy_namespace: {},", lit(&format!("com.amazonaws.{name}"))).ok();
        writeln!(o, "    operations: OPERATIONS,\n    errors: errors::ALL,").ok();
        writeln!(o, "    validation_error: &{validation},\n    malformed_error: &{malformed},").ok();
        writeln!(o, "    internal_error: {},", fault(500).unwrap_or_else(|| "None".into())).ok();
        writeln!(o, "    unavailable_error: {},", fault(503).unwrap_or_else(|| "None".into())).ok();
        writeln!(o, "}};").ok();
        Ok(o)
    }
}

/// The body of a structure's `Encode` impl: members in model order, absent optional ones left out;
/// the timestamps of `iso8601` members written as ISO-8601 strings.
fn encode_body(members: &[Member<'_>], iso8601: &BTreeSet<String>) -> String {
    let mut o = String::from("    fn encode<E: Encoder>(&self, e: &mut E) {\n");
    let mut count = vec!["0usize".to_string()];
    for (m, _, req) in members {
        count.push(if *req { "1".into() } else { format!("self.{}.is_some() as usize", snake(m)) });
    }
    writeln!(o, "        e.begin_map({});", count.join(" + ")).ok();
    for (m, _, req) in members {
        let write = |v: &str| {
            if iso8601.contains(m) {
                format!("e.timestamp_iso8601(*{v})")
            } else {
                format!("{v}.encode(e)")
            }
        };
        if *req {
            writeln!(o, "        e.key({});\n        {};", lit(m), write(&format!("self.{}", snake(m)))).ok();
        } else {
            writeln!(
                o,
                "        if let Some(v) = &self.{} {{\n            e.key({});\n            {};\n        }}",
                snake(m),
                lit(m),
                write("v")
            )
            .ok();
        }
    }
    o.push_str("        e.end_map();\n    }\n");
    o
}

fn member_shape(v: &Value) -> Result<&str, String> {
    v.get("shape").and_then(Value::as_str).ok_or_else(|| "member without shape".to_string())
}

fn member_shape_of(m: &Map<String, Value>) -> Result<&str, String> {
    m.get("shape").and_then(Value::as_str).ok_or_else(|| "member without shape".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(snake("CreateHttpNamespaceRequest"), "create_http_namespace_request");
        assert_eq!(snake("ResourceARN"), "resource_arn");
        assert_eq!(snake("Type"), "type_");
        assert_eq!(snake("connectorArn"), "connector_arn");
        assert_eq!(snake("SOA"), "soa");
        assert_eq!(snake("TTL"), "ttl");
        assert_eq!(pascal("__mapOf__string"), "MapOfString");
        assert_eq!(pascal("DNS_PRIVATE"), "DnsPrivate");
        assert_eq!(pascal("DnsRecord"), "DnsRecord");
        assert_eq!(pascal("SELF"), "SelfValue");
    }
}
