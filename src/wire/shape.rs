//! The runtime the generated model code stands on: the request context, operation and error tables,
//! the error type every operation returns, and (re-exported from [`super::decode`] and
//! [`super::encode`]) typed decoding with the model's constraints and encoding in the three protocols.

pub use super::decode::*;
pub use super::encode::*;

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
    /// AWS query: a form-encoded body naming the operation in `Action`, answered in XML.
    AwsQuery,
}

/// How one AWS API is reached on the wire, generated from its model's metadata: the front end
/// routes, decodes and encodes errors from these tables and knows no service by name.
#[derive(Debug)]
pub struct WireService {
    /// The name clients sign with (the model's `endpointPrefix`).
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

/// A query-protocol request whose parameters break the model's constraints (the protocol's common error).
pub static VALIDATION_ERROR: ErrorShape =
    ErrorShape { name: "ValidationError", status: 400, server_fault: false, members: &["Message"] };

/// A query-protocol request naming no action, or one the service does not have or serve.
pub static INVALID_ACTION: ErrorShape =
    ErrorShape { name: "InvalidAction", status: 400, server_fault: false, members: &["Message"] };

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
