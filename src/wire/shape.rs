//! The runtime the generated model code stands on: decoding a JSON value into a typed input while
//! checking the model's constraints, encoding typed outputs for any of the three protocols, and the
//! error type every operation returns.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// A decoded request document (JSON, or CBOR converted to the same tree).
pub type Json = serde_json::Value;

/// A point in time with millisecond precision, as the two services expose it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// Milliseconds since the Unix epoch.
    pub fn millis(self) -> i64 {
        self.0
    }

    /// RFC 3339 UTC with milliseconds, e.g. `2025-06-11T10:15:02.114Z`.
    pub fn to_iso8601(self) -> String {
        let secs = self.0.div_euclid(1000);
        let ms = self.0.rem_euclid(1000);
        match time::OffsetDateTime::from_unix_timestamp(secs) {
            Ok(t) => format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second(),
                ms
            ),
            Err(_) => "1970-01-01T00:00:00.000Z".to_string(),
        }
    }
}

/// Which of the three wire protocols a request arrived in; outputs and errors leave in the same one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `application/x-amz-json-1.1`, the operation named by `X-Amz-Target`.
    AwsJson11,
    /// Smithy RPC v2 CBOR, the operation named by the path.
    RpcV2Cbor,
    /// REST + JSON, the operation found by method and URI template.
    RestJson1,
}

/// How one AWS API is reached on the wire, generated from its model's metadata: the front end
/// routes, decodes and encodes errors from these tables and knows no service by name.
#[derive(Debug)]
pub struct WireService {
    /// The name clients sign with (the model's `endpointPrefix`), e.g. `servicediscovery`.
    pub name: &'static str,
    /// The model's `serviceFullName`.
    pub full_name: &'static str,
    /// The protocols the model declares that localplane serves.
    pub protocols: &'static [Protocol],
    /// The `X-Amz-Target` prefix and Smithy service shape name of the RPC protocols.
    pub target_prefix: Option<&'static str>,
    /// The Smithy namespace of the shapes (CBOR error `__type`).
    pub smithy_namespace: &'static str,
    /// Every operation with its HTTP binding.
    pub operations: &'static [OperationInfo],
    /// Every modelled error.
    pub errors: &'static [&'static ErrorShape],
    /// The modelled error that carries input validation failures.
    pub validation_error: &'static ErrorShape,
    /// The error of a body that is not a document of the protocol.
    pub malformed_error: &'static ErrorShape,
    /// The model's own name for an internal failure (500), where it has one.
    pub internal_error: Option<&'static ErrorShape>,
    /// The model's own name for "unavailable" (503), where it has one.
    pub unavailable_error: Option<&'static ErrorShape>,
}

impl WireService {
    /// The operation of that name.
    pub fn operation(&self, name: &str) -> Option<&'static OperationInfo> {
        self.operations.iter().find(|o| o.name == name)
    }

    /// Whether the service speaks `protocol`.
    pub fn speaks(&self, protocol: Protocol) -> bool {
        self.protocols.contains(&protocol)
    }
}

/// Who is calling and where: the scope every resource lives in.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// The caller's account id (12 digits).
    pub account: String,
    /// The region from the SigV4 credential scope.
    pub region: String,
    /// The id sent back in `x-amzn-RequestId`.
    pub request_id: String,
    /// The protocol of the request.
    pub protocol: Protocol,
}

/// An error shape of a model: its name, HTTP status and members.
#[derive(Debug, PartialEq, Eq)]
pub struct ErrorShape {
    /// The shape name, which is the error code clients see.
    pub name: &'static str,
    /// HTTP status.
    pub status: u16,
    /// Whether the server is at fault (5xx).
    pub server_fault: bool,
    /// The members of the shape (`Message`/`message` plus extras).
    pub members: &'static [&'static str],
}

/// Malformed request body: the framework error of the RPC protocols.
pub static SERIALIZATION_EXCEPTION: ErrorShape =
    ErrorShape { name: "SerializationException", status: 400, server_fault: false, members: &["Message"] };

/// A request for an operation the service does not have.
pub static UNKNOWN_OPERATION_EXCEPTION: ErrorShape =
    ErrorShape { name: "UnknownOperationException", status: 400, server_fault: false, members: &["Message"] };

/// The request body exceeds the size limit.
pub static REQUEST_ENTITY_TOO_LARGE: ErrorShape =
    ErrorShape { name: "RequestEntityTooLargeException", status: 413, server_fault: false, members: &["Message"] };

/// The request headers are too large.
pub static REQUEST_HEADERS_TOO_LARGE: ErrorShape =
    ErrorShape { name: "RequestHeaderFieldsTooLarge", status: 431, server_fault: false, members: &["Message"] };

/// The client did not send its request in time.
pub static REQUEST_TIMEOUT: ErrorShape =
    ErrorShape { name: "RequestTimeoutException", status: 408, server_fault: false, members: &["Message"] };

/// An unexpected failure inside localplane (a store error, say).
pub static INTERNAL_FAILURE: ErrorShape =
    ErrorShape { name: "InternalFailure", status: 500, server_fault: true, members: &["Message"] };

/// The store cannot be reached right now; clients retry.
pub static SERVICE_UNAVAILABLE: ErrorShape =
    ErrorShape { name: "ServiceUnavailable", status: 503, server_fault: true, members: &["Message"] };

/// What an operation returns when it fails: an AWS error shape, a message and extra members.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The error shape.
    pub shape: &'static ErrorShape,
    /// Human-readable message: what failed, on which resource.
    pub message: String,
    /// Extra members of the shape (e.g. `NamespaceId` of `NamespaceAlreadyExists`).
    pub fields: Vec<(&'static str, String)>,
}

impl ApiError {
    /// An error of `shape` with `message`.
    pub fn new(shape: &'static ErrorShape, message: impl Into<String>) -> Self {
        ApiError { shape, message: message.into(), fields: Vec::new() }
    }

    /// Adds an extra member of the error shape.
    pub fn with(mut self, member: &'static str, value: impl Into<String>) -> Self {
        self.fields.push((member, value.into()));
        self
    }

    /// The operation name is not part of the service.
    pub fn unknown_operation(name: &str) -> Self {
        let shown: String = name.chars().take(128).collect();
        ApiError::new(&UNKNOWN_OPERATION_EXCEPTION, format!("Operation {shown} is not supported by this service"))
    }

    /// An internal failure; the detail is logged, the client gets a short message.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal failure");
        ApiError::new(&INTERNAL_FAILURE, format!("Internal failure: {detail}"))
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.shape.name, self.message)
    }
}

impl std::error::Error for ApiError {}

/// Where a REST-bound input member travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// A `{label}` of the URI path.
    Label,
    /// A query-string parameter.
    Query,
    /// A header.
    Header,
}

/// The type a bound member's text must be converted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindingKind {
    /// Text as is.
    String,
    /// A decimal integer.
    Integer,
    /// `true` or `false`.
    Boolean,
    /// A repeated query parameter.
    StringList,
}

/// One REST binding of an input member.
#[derive(Debug)]
pub struct Binding {
    /// The member name in the input structure.
    pub member: &'static str,
    /// Where it travels.
    pub location: Location,
    /// The label, query or header name on the wire.
    pub wire_name: &'static str,
    /// How to convert its text.
    pub kind: BindingKind,
}

/// An operation of a model and its HTTP binding.
#[derive(Debug)]
pub struct OperationInfo {
    /// Operation name, e.g. `UpdateConnector`.
    pub name: &'static str,
    /// HTTP method of the REST binding.
    pub method: &'static str,
    /// Request URI template of the REST binding.
    pub uri: &'static str,
    /// Endpoint host prefix clients prepend (`data-`).
    pub host_prefix: Option<&'static str>,
    /// Members bound to the path, query or headers.
    pub bindings: &'static [Binding],
}

/// A compiled model `pattern` (the models use look-ahead, hence fancy-regex).
pub struct Pattern {
    source: &'static str,
    regex: Option<fancy_regex::Regex>,
}

impl Pattern {
    /// Compiles a model pattern. A pattern the engine cannot compile matches everything (logged once).
    pub fn new(source: &'static str) -> Self {
        let regex = match fancy_regex::Regex::new(source) {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::warn!(pattern = source, error = %e, "model pattern not enforced");
                None
            }
        };
        Pattern { source, regex }
    }

    fn matches(&self, s: &str) -> bool {
        let Some(r) = &self.regex else { return true };
        // Clients send the same names again and again, and the look-ahead patterns run on a
        // backtracking engine: strings this thread saw match recently are not matched again.
        if s.len() > MEMO_MAX_LEN {
            return r.is_match(s).unwrap_or(false);
        }
        let seen = ACCEPTED.with(|m| m.borrow().1.iter().any(|(p, v)| std::ptr::eq(*p, self.source) && **v == *s));
        if seen {
            return true;
        }
        let ok = r.is_match(s).unwrap_or(false);
        if ok {
            ACCEPTED.with(|m| {
                let mut m = m.borrow_mut();
                let (next, held) = &mut *m;
                if held.len() < MEMO_ENTRIES {
                    held.push((self.source, s.into()));
                } else {
                    held[*next] = (self.source, s.into());
                    *next = (*next + 1) % MEMO_ENTRIES;
                }
            });
        }
        ok
    }
}

/// The next slot to replace, and (pattern source, matched string) pairs.
type Accepted = (usize, Vec<(&'static str, Box<str>)>);

/// How many matched strings each thread remembers, and the longest one it does.
const MEMO_ENTRIES: usize = 64;
const MEMO_MAX_LEN: usize = 256;

thread_local! {
    /// (the pattern's source, a string it matched), replaced round robin from the index held.
    static ACCEPTED: std::cell::RefCell<Accepted> = const { std::cell::RefCell::new((0, Vec::new())) };
}

/// A length constraint (`min`/`max` of strings, lists and maps).
#[derive(Debug, Clone, Copy)]
pub struct Len {
    /// Smallest allowed length.
    pub min: Option<u64>,
    /// Largest allowed length.
    pub max: Option<u64>,
}

/// Types the generated code decodes from a request document.
pub trait Decode: Sized {
    /// Decodes and validates `v`, recording every violation in `cx`.
    fn decode(v: &Json, cx: &mut DecodeContext) -> Option<Self>;
}

/// Collects what is wrong with a request document while it is decoded.
#[derive(Default)]
pub struct DecodeContext {
    path: Vec<String>,
    violations: Vec<String>,
    malformed: Option<String>,
}

/// The largest number of violations spelled out in one error message.
const MAX_REPORTED_VIOLATIONS: usize = 10;

fn json_kind(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "BOOLEAN_VALUE",
        Json::Number(_) => "NUMBER_VALUE",
        Json::String(_) => "STRING_VALUE",
        Json::Array(_) => "START_ARRAY",
        Json::Object(_) => "START_OBJECT",
    }
}

fn shown_value(v: &Json) -> String {
    let s = match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    };
    if s.chars().count() > 128 {
        format!("{}...", s.chars().take(128).collect::<String>())
    } else {
        s
    }
}

impl DecodeContext {
    fn at(&self) -> String {
        self.path.join(".")
    }

    fn violation(&mut self, v: Option<&Json>, constraint: String) {
        let value = match v {
            Some(v) => format!("'{}'", shown_value(v)),
            None => "null".to_string(),
        };
        let msg = format!("Value {value} at '{}' failed to satisfy constraint: {constraint}", self.at());
        self.violations.push(msg);
    }

    fn wrong_type(&mut self, v: &Json, expected: &str) {
        if self.malformed.is_none() {
            let at = self.at();
            let at = if at.is_empty() { "the request body".to_string() } else { format!("'{at}'") };
            self.malformed = Some(format!("{} can not be converted to {expected} at {at}", json_kind(v)));
        }
    }

    fn check_len(&mut self, v: &Json, n: usize, len: Len) {
        let n = n as u64;
        if let Some(min) = len.min {
            if n < min {
                self.violation(Some(v), format!("Member must have length greater than or equal to {min}"));
            }
        }
        if let Some(max) = len.max {
            if n > max {
                self.violation(Some(v), format!("Member must have length less than or equal to {max}"));
            }
        }
    }

    /// The object of a structure.
    pub fn structure<'v>(&mut self, v: &'v Json) -> Option<&'v serde_json::Map<String, Json>> {
        match v {
            Json::Object(o) => Some(o),
            other => {
                self.wrong_type(other, "a structure");
                None
            }
        }
    }

    /// Decodes member `name` of `obj` (absent and null are the same); a required member must be there.
    pub fn member<T>(
        &mut self,
        obj: &serde_json::Map<String, Json>,
        name: &str,
        required: bool,
        f: impl FnOnce(&mut Self, &Json) -> Option<T>,
    ) -> Option<T> {
        let mut seg = name.to_string();
        if let Some(first) = seg.get(0..1) {
            let lower = first.to_ascii_lowercase();
            seg.replace_range(0..1, &lower);
        }
        self.path.push(seg);
        let out = match obj.get(name) {
            None | Some(Json::Null) => {
                if required {
                    self.violation(None, "Member must not be null".into());
                }
                None
            }
            Some(v) => f(self, v),
        };
        self.path.pop();
        out
    }

    /// A string with length and pattern constraints.
    pub fn string(&mut self, v: &Json, len: Len, pattern: Option<&Pattern>) -> Option<String> {
        let Json::String(s) = v else {
            self.wrong_type(v, "a String");
            return None;
        };
        self.check_len(v, s.chars().count(), len);
        if let Some(p) = pattern {
            if !p.matches(s) {
                self.violation(Some(v), format!("Member must satisfy regular expression pattern: {}", p.source));
            }
        }
        Some(s.clone())
    }

    /// A string that must be one of the enum's values.
    pub fn enumeration<T>(&mut self, v: &Json, parse: fn(&str) -> Option<T>, values: &[&str]) -> Option<T> {
        let Json::String(s) = v else {
            self.wrong_type(v, "a String");
            return None;
        };
        let parsed = parse(s);
        if parsed.is_none() {
            self.violation(Some(v), format!("Member must satisfy enum value set: [{}]", values.join(", ")));
        }
        parsed
    }

    /// An integer with a range constraint.
    pub fn integer<T: TryFrom<i64>>(&mut self, v: &Json, min: Option<i64>, max: Option<i64>) -> Option<T> {
        let n = match v {
            Json::Number(n) => {
                n.as_i64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15).map(|f| f as i64))
            }
            _ => None,
        };
        let Some(n) = n else {
            self.wrong_type(v, "an Integer");
            return None;
        };
        if let Some(min) = min {
            if n < min {
                self.violation(Some(v), format!("Member must have value greater than or equal to {min}"));
            }
        }
        if let Some(max) = max {
            if n > max {
                self.violation(Some(v), format!("Member must have value less than or equal to {max}"));
            }
        }
        match T::try_from(n) {
            Ok(t) => Some(t),
            Err(_) => {
                self.violation(Some(v), "Member must fit in its integer type".into());
                None
            }
        }
    }

    /// A boolean.
    pub fn boolean(&mut self, v: &Json) -> Option<bool> {
        match v {
            Json::Bool(b) => Some(*b),
            other => {
                self.wrong_type(other, "a Boolean");
                None
            }
        }
    }

    /// A timestamp: epoch seconds (number) or an RFC 3339 string.
    pub fn timestamp(&mut self, v: &Json) -> Option<Timestamp> {
        let parsed = match v {
            Json::Number(n) => n.as_f64().map(|f| Timestamp((f * 1000.0).round() as i64)),
            Json::String(s) => time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .ok()
                .map(|t| Timestamp((t.unix_timestamp_nanos() / 1_000_000) as i64)),
            _ => None,
        };
        if parsed.is_none() {
            self.wrong_type(v, "a Timestamp");
        }
        parsed
    }

    /// A list whose items are decoded by `item`.
    pub fn list<T>(
        &mut self,
        v: &Json,
        len: Len,
        mut item: impl FnMut(&mut Self, &Json) -> Option<T>,
    ) -> Option<Vec<T>> {
        let Json::Array(items) = v else {
            self.wrong_type(v, "a List");
            return None;
        };
        self.check_len(v, items.len(), len);
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, it) in items.iter().enumerate() {
            self.path.push(format!("{}.member", i + 1));
            match item(self, it) {
                Some(t) => out.push(t),
                None => ok = false,
            }
            self.path.pop();
            if self.malformed.is_some() {
                return None;
            }
        }
        ok.then_some(out)
    }

    /// A map whose keys and values are decoded by `key` and `value`.
    pub fn map<V>(
        &mut self,
        v: &Json,
        len: Len,
        mut key: impl FnMut(&mut Self, &Json) -> Option<String>,
        mut value: impl FnMut(&mut Self, &Json) -> Option<V>,
    ) -> Option<BTreeMap<String, V>> {
        let Json::Object(entries) = v else {
            self.wrong_type(v, "a Map");
            return None;
        };
        self.check_len(v, entries.len(), len);
        let mut out = BTreeMap::new();
        let mut ok = true;
        for (k, val) in entries {
            let kj = Json::String(k.clone());
            self.path.push(k.clone());
            let kk = key(self, &kj);
            let vv = if val.is_null() {
                self.violation(None, "Member must not be null".into());
                None
            } else {
                value(self, val)
            };
            self.path.pop();
            match (kk, vv) {
                (Some(k), Some(v)) => {
                    out.insert(k, v);
                }
                _ => ok = false,
            }
            if self.malformed.is_some() {
                return None;
            }
        }
        ok.then_some(out)
    }
}

/// Decodes and validates an operation input. Wrong JSON types → `malformed`; constraint violations →
/// `validation` with Coral's `N validation errors detected: …` message.
pub fn decode_input<T: Decode>(
    v: &Json,
    validation: &'static ErrorShape,
    malformed: &'static ErrorShape,
) -> Result<T, ApiError> {
    let mut cx = DecodeContext::default();
    let out = T::decode(v, &mut cx);
    if let Some(m) = cx.malformed {
        return Err(ApiError::new(malformed, m));
    }
    if !cx.violations.is_empty() {
        let n = cx.violations.len();
        let mut msg = format!("{n} validation error{} detected: ", if n == 1 { "" } else { "s" });
        msg.push_str(&cx.violations.iter().take(MAX_REPORTED_VIOLATIONS).cloned().collect::<Vec<_>>().join("; "));
        return Err(ApiError::new(validation, msg));
    }
    out.ok_or_else(|| ApiError::new(validation, "1 validation error detected: the request could not be decoded"))
}

/// A writer for one of the three protocols' document formats.
pub trait Encoder {
    /// Starts a map (structure) of `len` entries.
    fn begin_map(&mut self, len: usize);
    /// Writes a map key.
    fn key(&mut self, k: &str);
    /// Ends the current map.
    fn end_map(&mut self);
    /// Starts a list of `len` items.
    fn begin_list(&mut self, len: usize);
    /// Ends the current list.
    fn end_list(&mut self);
    /// Writes a string.
    fn str(&mut self, s: &str);
    /// Writes an integer.
    fn int(&mut self, i: i64);
    /// Writes a boolean.
    fn bool(&mut self, b: bool);
    /// Writes a timestamp in the protocol's format.
    fn timestamp(&mut self, t: Timestamp);
    /// Writes one value that is already encoded in this encoder's format (by this encoder's kind).
    fn raw(&mut self, encoded: &[u8]);
}

/// Types the generated code can encode.
pub trait Encode {
    /// Writes `self` to `e`.
    fn encode<E: Encoder>(&self, e: &mut E);
}

impl Encode for String {
    fn encode<E: Encoder>(&self, e: &mut E) {
        e.str(self);
    }
}

impl Encode for i32 {
    fn encode<E: Encoder>(&self, e: &mut E) {
        e.int(i64::from(*self));
    }
}

impl Encode for i64 {
    fn encode<E: Encoder>(&self, e: &mut E) {
        e.int(*self);
    }
}

impl Encode for bool {
    fn encode<E: Encoder>(&self, e: &mut E) {
        e.bool(*self);
    }
}

impl Encode for Timestamp {
    fn encode<E: Encoder>(&self, e: &mut E) {
        e.timestamp(*self);
    }
}

impl<T: Encode> Encode for Vec<T> {
    fn encode<E: Encoder>(&self, e: &mut E) {
        e.begin_list(self.len());
        for item in self {
            item.encode(e);
        }
        e.end_list();
    }
}

impl<T: Encode> Encode for BTreeMap<String, T> {
    fn encode<E: Encoder>(&self, e: &mut E) {
        e.begin_map(self.len());
        for (k, v) in self {
            e.key(k);
            v.encode(e);
        }
        e.end_map();
    }
}

/// How JSON carries timestamps: awsJson1_1 as epoch seconds, restJson1 as ISO-8601 strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonTimestamps {
    /// `1587055860.121`
    EpochSeconds,
    /// `"2025-06-11T10:15:02.114Z"`
    Iso8601,
}

/// Writes JSON directly into a buffer.
pub struct JsonEncoder {
    buf: Vec<u8>,
    timestamps: JsonTimestamps,
    /// Per open container: whether the next item needs a comma before it.
    comma: Vec<bool>,
    after_key: bool,
}

impl JsonEncoder {
    /// A new encoder.
    pub fn new(timestamps: JsonTimestamps) -> Self {
        Self::with_capacity(timestamps, 256)
    }

    /// A new encoder whose buffer starts with room for `bytes`.
    pub fn with_capacity(timestamps: JsonTimestamps, bytes: usize) -> Self {
        JsonEncoder { buf: Vec::with_capacity(bytes), timestamps, comma: Vec::new(), after_key: false }
    }

    /// The encoded bytes.
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }

    fn value_start(&mut self) {
        if self.after_key {
            self.after_key = false;
            return;
        }
        if let Some(c) = self.comma.last_mut() {
            if *c {
                self.buf.push(b',');
            }
            *c = true;
        }
    }

    fn write_str(&mut self, s: &str) {
        // serde_json escapes exactly as JSON requires; writing to a Vec cannot fail.
        let _ = serde_json::to_writer(&mut self.buf, s);
    }
}

impl Encoder for JsonEncoder {
    fn begin_map(&mut self, _len: usize) {
        self.value_start();
        self.buf.push(b'{');
        self.comma.push(false);
    }
    fn key(&mut self, k: &str) {
        if let Some(c) = self.comma.last_mut() {
            if *c {
                self.buf.push(b',');
            }
            *c = true;
        }
        self.write_str(k);
        self.buf.push(b':');
        self.after_key = true;
    }
    fn end_map(&mut self) {
        self.comma.pop();
        self.buf.push(b'}');
    }
    fn begin_list(&mut self, _len: usize) {
        self.value_start();
        self.buf.push(b'[');
        self.comma.push(false);
    }
    fn end_list(&mut self) {
        self.comma.pop();
        self.buf.push(b']');
    }
    fn str(&mut self, s: &str) {
        self.value_start();
        self.write_str(s);
    }
    fn int(&mut self, i: i64) {
        self.value_start();
        let _ = write!(Utf8Sink(&mut self.buf), "{i}");
    }
    fn bool(&mut self, b: bool) {
        self.value_start();
        self.buf.extend_from_slice(if b { b"true" } else { b"false" });
    }
    fn timestamp(&mut self, t: Timestamp) {
        self.value_start();
        match self.timestamps {
            JsonTimestamps::EpochSeconds => {
                let (s, ms) = (t.0.div_euclid(1000), t.0.rem_euclid(1000));
                if ms == 0 {
                    let _ = write!(Utf8Sink(&mut self.buf), "{s}");
                } else {
                    let frac = format!("{ms:03}");
                    let _ = write!(Utf8Sink(&mut self.buf), "{s}.{}", frac.trim_end_matches('0'));
                }
            }
            JsonTimestamps::Iso8601 => {
                let iso = t.to_iso8601();
                self.write_str(&iso);
            }
        }
    }
    fn raw(&mut self, encoded: &[u8]) {
        self.value_start();
        self.buf.extend_from_slice(encoded);
    }
}

struct Utf8Sink<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Utf8Sink<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// Writes CBOR (definite lengths, smallest integer widths, tag 1 + float64 timestamps).
#[derive(Default)]
pub struct CborEncoder {
    buf: Vec<u8>,
}

impl CborEncoder {
    /// A new encoder.
    pub fn new() -> Self {
        Self::with_capacity(256)
    }

    /// A new encoder whose buffer starts with room for `bytes`.
    pub fn with_capacity(bytes: usize) -> Self {
        CborEncoder { buf: Vec::with_capacity(bytes) }
    }

    /// The encoded bytes.
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }

    fn head(&mut self, major: u8, n: u64) {
        let m = major << 5;
        if n < 24 {
            self.buf.push(m | n as u8);
        } else if n <= u64::from(u8::MAX) {
            self.buf.extend_from_slice(&[m | 24, n as u8]);
        } else if n <= u64::from(u16::MAX) {
            self.buf.push(m | 25);
            self.buf.extend_from_slice(&(n as u16).to_be_bytes());
        } else if n <= u64::from(u32::MAX) {
            self.buf.push(m | 26);
            self.buf.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            self.buf.push(m | 27);
            self.buf.extend_from_slice(&n.to_be_bytes());
        }
    }
}

impl Encoder for CborEncoder {
    fn begin_map(&mut self, len: usize) {
        self.head(5, len as u64);
    }
    fn key(&mut self, k: &str) {
        self.str(k);
    }
    fn end_map(&mut self) {}
    fn begin_list(&mut self, len: usize) {
        self.head(4, len as u64);
    }
    fn end_list(&mut self) {}
    fn str(&mut self, s: &str) {
        self.head(3, s.len() as u64);
        self.buf.extend_from_slice(s.as_bytes());
    }
    fn int(&mut self, i: i64) {
        if i >= 0 {
            self.head(0, i as u64);
        } else {
            self.head(1, (-1 - i) as u64);
        }
    }
    fn bool(&mut self, b: bool) {
        self.buf.push(if b { 0xf5 } else { 0xf4 });
    }
    fn timestamp(&mut self, t: Timestamp) {
        self.buf.push(0xc1);
        self.buf.push(0xfb);
        let secs = t.0 as f64 / 1000.0;
        self.buf.extend_from_slice(&secs.to_bits().to_be_bytes());
    }
    fn raw(&mut self, encoded: &[u8]) {
        self.buf.extend_from_slice(encoded);
    }
}

/// Encodes an operation output in the request's protocol.
pub fn encode_output<T: Encode>(out: &T, protocol: Protocol) -> Vec<u8> {
    match protocol {
        Protocol::AwsJson11 => {
            let mut e = JsonEncoder::new(JsonTimestamps::EpochSeconds);
            out.encode(&mut e);
            e.finish()
        }
        Protocol::RestJson1 => {
            let mut e = JsonEncoder::new(JsonTimestamps::Iso8601);
            out.encode(&mut e);
            e.finish()
        }
        Protocol::RpcV2Cbor => {
            let mut e = CborEncoder::new();
            out.encode(&mut e);
            e.finish()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembered_matches_stay_per_pattern() {
        let a = Pattern::new("^(?=.{1,8}$)a+$");
        let b = Pattern::new("^(?=.{1,8}$)b+$");
        assert!(a.matches("aaa"));
        assert!(!b.matches("aaa"), "a match of one pattern is not one of another");
        assert!(a.matches("aaa"));
        assert!(!a.matches("aaaaaaaaaaaa"));
        for n in 1..=8 {
            let s = "b".repeat(n);
            assert!(b.matches(&s));
            assert!(!a.matches(&s));
        }
        for i in 0..200 {
            assert!(!a.matches(&format!("x{i}")));
        }
        assert!(a.matches("a") && b.matches("bb"));
    }

    #[test]
    fn timestamps_in_each_format() {
        let t = Timestamp(1_519_777_852_502);
        let mut c = CborEncoder::new();
        c.timestamp(t);
        assert_eq!(hex::encode(c.finish()), "c1fb41d6a57e0f2020c5");
        assert_eq!(Timestamp(1_749_636_902_114).to_iso8601(), "2025-06-11T10:15:02.114Z");
        let mut j = JsonEncoder::new(JsonTimestamps::EpochSeconds);
        j.timestamp(Timestamp(1_587_055_860_120));
        assert_eq!(String::from_utf8(j.finish()).unwrap(), "1587055860.12");
    }

    #[test]
    fn json_commas() {
        let mut j = JsonEncoder::new(JsonTimestamps::EpochSeconds);
        j.begin_map(2);
        j.key("a");
        j.begin_list(2);
        j.int(1);
        j.str("x");
        j.end_list();
        j.key("b");
        j.begin_map(0);
        j.end_map();
        j.end_map();
        assert_eq!(String::from_utf8(j.finish()).unwrap(), r#"{"a":[1,"x"],"b":{}}"#);
    }
}
