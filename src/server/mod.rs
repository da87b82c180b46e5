//! The front end: one handler that takes every API request down the same named stages —
//! classify → limits → read body → identify → request fault → decode → dispatch → encode — from the
//! service registry's wire tables, knowing no service by name. Admin paths go to [`crate::admin`].

pub mod listener;

pub use listener::{serve_http, Limits};

use crate::app::App;
use crate::registry::{Registration, ServiceBackend};
use crate::wire::shape::{
    ApiError, ErrorShape, OperationInfo, Protocol, RequestContext, WireService, REQUEST_ENTITY_TOO_LARGE,
    REQUEST_HEADERS_TOO_LARGE, REQUEST_TIMEOUT, SERVICE_UNAVAILABLE, UNKNOWN_OPERATION_EXCEPTION,
};
use crate::wire::{self, Route};
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Response, StatusCode};
use std::sync::Arc;
use std::time::Instant;

/// The axum router of the whole server.
pub fn router(app: Arc<App>) -> axum::Router {
    axum::Router::new().fallback(handle).with_state(app)
}

/// The largest total size of request headers accepted.
pub(crate) const MAX_HEADER_BYTES: usize = 64 * 1024;

/// How long a client has to send its whole body.
const BODY_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// One API request on its way: where it goes and who sent it.
struct Call<'a> {
    registration: &'static Registration,
    backend: &'a dyn ServiceBackend,
    /// None: the request names no operation of the service.
    operation: Option<&'static OperationInfo>,
    /// What the request named, for the error of an unknown operation.
    named: String,
    labels: Vec<(&'static str, String)>,
    method: String,
    raw_path: String,
    query: Option<String>,
    cx: RequestContext,
}

impl Call<'_> {
    fn wire(&self) -> &'static WireService {
        self.registration.wire()
    }
}

/// A request from a web page of another origin, or addressed to a host name the server does not serve.
static FOREIGN_REQUEST: ErrorShape =
    ErrorShape { name: "AccessDeniedException", status: 403, server_fault: false, members: &["Message"] };

async fn handle(State(app): State<Arc<App>>, req: Request) -> Response<Body> {
    let started = Instant::now();
    let request_id = uuid::Uuid::new_v4().to_string();
    let raw_path = req.uri().path().to_string();
    if let Err(err) = admit(&app, req.headers()) {
        tracing::info!(request_id = %request_id, path = %raw_path, error = %err, "request refused");
        return framework_error(&err, &request_id);
    }
    if crate::admin::is_admin_path(&raw_path) {
        let method = req.method().as_str().to_string();
        return crate::admin::handle(&app, &method, &raw_path, req, &request_id).await;
    }
    let Some(mut call) = classify(&app, &req, &request_id) else {
        return not_an_api_request(&app, req.method().as_str(), &raw_path, &request_id);
    };
    let (parts, body) = req.into_parts();
    let result = answer(&app, &mut call, &parts.headers, body).await;
    let response = encode(&call, result);
    record(&call, response.status().as_u16(), started);
    response
}

/// Admit: every request (API and admin) comes from a client of this server's own origin, addressed
/// to a host it serves, with a head within the limits.
fn admit(app: &App, headers: &HeaderMap) -> Result<(), ApiError> {
    let header = |n: &str| headers.get(n).map(|v| v.to_str().unwrap_or("\u{fffd}"));
    app.auth.hosts.check(header("host"), header("origin")).map_err(|why| ApiError::new(&FOREIGN_REQUEST, why))?;
    head_limit(headers)
}

/// An error of the front end itself, before any service is known: the awsJson body, which every
/// SDK reads, with the REST error header too.
fn framework_error(err: &ApiError, request_id: &str) -> Response<Body> {
    let r = wire::encode_error(Protocol::AwsJson11, None, err);
    let headers = vec![("x-amzn-ErrorType", err.shape.name.to_string())];
    respond(r.status, Some("application/json"), headers, r.body, request_id)
}

/// Classify: which service, operation and protocol, from the registry's wire tables.
fn classify<'a>(app: &'a App, req: &Request, request_id: &str) -> Option<Call<'a>> {
    let method = req.method().as_str();
    let raw_path = req.uri().path();
    let header = |n: &str| req.headers().get(n).and_then(|v| v.to_str().ok()).map(str::to_string);
    let (index, operation, protocol, labels, named) =
        match wire::classify(app.registry.wires(), method, raw_path, header) {
            Route::Operation { service, operation, protocol, labels } => {
                (service, Some(operation), protocol, labels, operation.name.to_string())
            }
            Route::UnknownOperation { service, protocol, name } => (service, None, protocol, Vec::new(), name),
            Route::QueryAction { service } => (service, None, Protocol::AwsQuery, Vec::new(), String::new()),
            Route::Other => return None,
        };
    let (registration, backend) = app.registry.at(index)?;
    let cx = RequestContext {
        account: app.default_account.clone(),
        region: app.default_region.clone(),
        request_id: request_id.to_string(),
        protocol,
    };
    Some(Call {
        registration,
        backend,
        operation,
        named,
        labels,
        method: method.to_string(),
        raw_path: raw_path.to_string(),
        query: req.uri().query().map(str::to_string),
        cx,
    })
}

/// Limits → read body → identify → request fault → decode → dispatch.
async fn answer(app: &App, call: &mut Call<'_>, headers: &HeaderMap, body: Body) -> Result<Option<Vec<u8>>, ApiError> {
    if let Err(refused) = limits(headers) {
        drain(body).await;
        return Err(refused);
    }
    let body = read_body(body).await?;
    if call.cx.protocol == Protocol::AwsQuery {
        // The query protocol names its operation in the body.
        let (action, _) = wire::query::decode_form(&body)?;
        call.operation = call.wire().operation(&action);
        call.named = action;
    }
    identify(app, call, headers, &body)?;
    if tracing::enabled!(tracing::Level::DEBUG) {
        debug_exchange(call, "request body", None, &body);
    }
    request_fault(app, call).await?;
    let input = decode(call, &body)?;
    dispatch(call, &input).await
}

/// The request head is bounded (hyper closes the connection of a head beyond twice the limit).
fn head_limit(headers: &HeaderMap) -> Result<(), ApiError> {
    let header_bytes: usize = headers.iter().map(|(k, v)| k.as_str().len() + v.len() + 4).sum();
    if header_bytes > MAX_HEADER_BYTES {
        return Err(ApiError::new(
            &REQUEST_HEADERS_TOO_LARGE,
            format!("The request headers total {header_bytes} bytes; the limit is {MAX_HEADER_BYTES}"),
        ));
    }
    Ok(())
}

/// Limits: a body declared larger than the limit is refused before it is read (and any body is
/// bounded while it is read).
fn limits(headers: &HeaderMap) -> Result<(), ApiError> {
    match declared_length(headers) {
        Some(n) if n > wire::MAX_BODY_BYTES as u64 => Err(ApiError::new(
            &REQUEST_ENTITY_TOO_LARGE,
            format!("The request body of {n} bytes exceeds the limit of {} bytes", wire::MAX_BODY_BYTES),
        )),
        _ => Ok(()),
    }
}

/// How much of a refused body is read and dropped, and for how long at most.
const DRAIN_BYTES: usize = 8 * 1024 * 1024;
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(1);

/// Reads and drops what a client still sends of a refused body (bounded in bytes and time), so that
/// it reads the error instead of a broken pipe while it writes.
async fn drain(mut body: Body) {
    use http_body_util::BodyExt;
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        let mut seen = 0usize;
        while let Some(Ok(frame)) = body.frame().await {
            seen += frame.data_ref().map_or(0, |d| d.len());
            if seen > DRAIN_BYTES {
                break;
            }
        }
    })
    .await;
}

/// The `Content-Length` of a request, when it declares one.
pub fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers.get("content-length")?.to_str().ok()?.trim().parse().ok()
}

/// Read body: the whole body, within the size limit and the time limit.
async fn read_body(body: Body) -> Result<Bytes, ApiError> {
    match tokio::time::timeout(BODY_READ_TIMEOUT, axum::body::to_bytes(body, wire::MAX_BODY_BYTES)).await {
        Ok(Ok(b)) => Ok(b),
        Ok(Err(_)) => Err(ApiError::new(
            &REQUEST_ENTITY_TOO_LARGE,
            format!("The request body exceeds the limit of {} bytes", wire::MAX_BODY_BYTES),
        )),
        Err(_) => Err(ApiError::new(
            &REQUEST_TIMEOUT,
            format!("The request body did not arrive within {} s", BODY_READ_TIMEOUT.as_secs()),
        )),
    }
}

/// Identify: the caller's account and region, from the signature (verified when configured).
fn identify(app: &App, call: &mut Call<'_>, headers: &HeaderMap, body: &[u8]) -> Result<(), ApiError> {
    let presented = crate::auth::Presented {
        method: &call.method,
        raw_path: &call.raw_path,
        raw_query: call.query.as_deref(),
        headers,
        body,
        protocol: call.cx.protocol,
        service: call.registration.service.name(),
    };
    let (account, region) = app.auth.identify(&presented)?;
    call.cx.account = account;
    call.cx.region = region.unwrap_or_else(|| app.default_region.clone());
    Ok(())
}

/// Request fault: a fault rule for this operation answers in its place.
async fn request_fault(app: &App, call: &Call<'_>) -> Result<(), ApiError> {
    let Some(operation) = call.operation else { return Ok(()) };
    let Some(rule) = app.engine.take_request_fault(call.registration.service, operation.name).await? else {
        return Ok(());
    };
    let status = rule.http_status.unwrap_or(503);
    let shape =
        crate::registry::request_fault_shape(call.wire(), &rule.error_code, status).unwrap_or(&SERVICE_UNAVAILABLE);
    let message = rule.error_message.unwrap_or_else(|| format!("Injected fault {} ({})", rule.id, shape.name));
    Err(ApiError::new(shape, message))
}

/// Decode: the input document in the request's protocol (an RPC body is decoded even when its
/// operation is unknown: a malformed body is reported first, as AWS does).
fn decode(call: &mut Call<'_>, body: &[u8]) -> Result<crate::wire::shape::Json, ApiError> {
    let protocol = call.cx.protocol;
    let Some(operation) = call.operation else {
        if protocol == Protocol::AwsQuery {
            let shown: String = call.named.chars().take(128).collect();
            return Err(ApiError::new(
                &crate::wire::shape::INVALID_ACTION,
                format!("{shown} is not an action of {}", call.wire().full_name),
            ));
        }
        if protocol != Protocol::RestJson1 {
            wire::decode_rpc_body(protocol, body)?;
            return Err(ApiError::unknown_operation(&call.named));
        }
        return Err(ApiError::new(
            &UNKNOWN_OPERATION_EXCEPTION,
            format!("No {} operation matches {}", call.wire().full_name, call.named),
        ));
    };
    let labels = std::mem::take(&mut call.labels);
    wire::input_document(call.wire(), protocol, operation, labels, call.query.as_deref(), body)
}

/// Dispatch: the service runs the operation and encodes its output.
async fn dispatch(call: &Call<'_>, input: &crate::wire::shape::Json) -> Result<Option<Vec<u8>>, ApiError> {
    match call.operation {
        Some(operation) => {
            call.backend.dispatch(&call.cx, operation, input).await.map_err(|e| scoped(e, &call.cx, input))
        }
        None => Err(ApiError::unknown_operation(&call.named)),
    }
}

/// A not-found error of a service says where it looked: resources live per account and region,
/// and a client signed for another region (or as another account) is the usual cause. Only the
/// message text changes; the code and the shape stay AWS's.
fn scoped(mut err: ApiError, cx: &RequestContext, input: &crate::wire::shape::Json) -> ApiError {
    if err.shape.status != 404 {
        return err;
    }
    err.message.push_str(&format!(" (searched account {} in region {}", cx.account, cx.region));
    if let Some((account, region)) = first_arn(input).filter(|(a, r)| *a != cx.account || *r != cx.region) {
        err.message.push_str(&format!(
            "; the ARN is of account {account} in region {region}: call with that account's credentials, signed for that region"
        ));
    }
    err.message.push(')');
    err
}

/// The account and region of the first ARN among the top-level members of `input`.
fn first_arn(input: &crate::wire::shape::Json) -> Option<(&str, &str)> {
    input.as_object()?.values().filter_map(|v| v.as_str()).find_map(|s| {
        let mut parts = s.splitn(6, ':');
        let (arn, _partition, _service, region, account) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        (arn == "arn" && parts.next().is_some()).then_some((account, region))
    })
}

/// How much of a body a debug line shows.
const DEBUG_BODY_BYTES: usize = 4096;

/// The debug line of a request's or a response's body: the operation, who called and where, the
/// status of a response, and the body (CBOR shown as JSON), cut at [`DEBUG_BODY_BYTES`].
fn debug_exchange(call: &Call<'_>, what: &str, status: Option<u16>, body: &[u8]) {
    let text = match call.cx.protocol {
        Protocol::RpcV2Cbor if !body.is_empty() => match wire::decode_rpc_body(Protocol::RpcV2Cbor, body) {
            Ok(doc) => doc.to_string(),
            Err(_) => format!("<{} bytes of CBOR>", body.len()),
        },
        _ => String::from_utf8_lossy(body).into_owned(),
    };
    let shown = if text.len() > DEBUG_BODY_BYTES {
        let mut cut = DEBUG_BODY_BYTES;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{}… ({} bytes in all)", &text[..cut], text.len())
    } else {
        text
    };
    let (request_id, service) = (&call.cx.request_id, call.registration.service.name());
    let (operation, account, region) = (&call.named, &call.cx.account, &call.cx.region);
    match status {
        Some(status) => tracing::debug!(
            request_id = %request_id, service, operation = %operation, account = %account, region = %region,
            status, body = %shown, "{what}"
        ),
        None => tracing::debug!(
            request_id = %request_id, service, operation = %operation, account = %account, region = %region,
            body = %shown, "{what}"
        ),
    }
}

/// Encode: the output, or the AWS error, in the request's protocol.
fn encode(call: &Call<'_>, result: Result<Option<Vec<u8>>, ApiError>) -> Response<Body> {
    let protocol = call.cx.protocol;
    let request_id = &call.cx.request_id;
    let cbor_header = || {
        if protocol == Protocol::RpcV2Cbor {
            vec![("smithy-protocol", "rpc-v2-cbor".to_string())]
        } else {
            vec![]
        }
    };
    let debug = tracing::enabled!(tracing::Level::DEBUG);
    match result {
        Ok(Some(bytes)) => {
            let bytes = match protocol {
                Protocol::AwsQuery => wire::query::response(&call.named, &bytes, request_id),
                _ => bytes,
            };
            if debug {
                debug_exchange(call, "response body", Some(200), &bytes);
            }
            respond(200, Some(content_type(protocol)), cbor_header(), bytes, request_id)
        }
        Ok(None) if protocol == Protocol::AwsQuery => {
            let bytes = wire::query::response(&call.named, &[], request_id);
            if debug {
                debug_exchange(call, "response body", Some(200), &bytes);
            }
            respond(200, Some(content_type(protocol)), vec![], bytes, request_id)
        }
        Ok(None) => {
            if debug {
                debug_exchange(call, "response body", Some(200), &[]);
            }
            respond(200, None, cbor_header(), Vec::new(), request_id)
        }
        Err(err) => {
            tracing::info!(request_id = %request_id, error = %err, "request failed");
            let mut r = wire::encode_error(protocol, Some(call.wire()), &err);
            if protocol == Protocol::AwsQuery {
                r.body = wire::query::with_request_id(r.body, request_id);
            }
            if debug {
                debug_exchange(call, "response body", Some(r.status), &r.body);
            }
            respond(r.status, Some(r.content_type), r.headers, r.body, request_id)
        }
    }
}

/// The request's line in the log and its metrics.
fn record(call: &Call<'_>, status: u16, started: Instant) {
    let service = call.registration.service;
    crate::metrics::record_request(service, call.operation, status, started.elapsed().as_secs_f64());
    tracing::info!(
        request_id = %call.cx.request_id,
        account = %call.cx.account,
        region = %call.cx.region,
        operation = %call.named,
        status = status,
        micros = started.elapsed().as_micros() as u64,
        "request"
    );
}

/// Not an AWS API request (no X-Amz-Target, no CBOR route, no REST path of any service): answered
/// as AWS front ends answer unknown operations.
fn not_an_api_request(app: &App, method: &str, raw_path: &str, request_id: &str) -> Response<Body> {
    let served: Vec<&str> = app.registry.wires().iter().map(|w| w.full_name).collect();
    let err = ApiError::new(
        &UNKNOWN_OPERATION_EXCEPTION,
        format!("No AWS API at {method} {raw_path}; localplane serves {}", served.join(", ")),
    );
    let r = wire::encode_error(Protocol::AwsJson11, None, &err);
    let headers = vec![("x-amzn-ErrorType", err.shape.name.to_string())];
    respond(404, Some("application/json"), headers, r.body, request_id)
}

fn content_type(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::AwsJson11 => "application/x-amz-json-1.1",
        Protocol::RpcV2Cbor => "application/cbor",
        Protocol::RestJson1 => "application/json",
        Protocol::AwsQuery => wire::query::CONTENT_TYPE,
    }
}

fn respond(
    status: u16,
    content_type: Option<&'static str>,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    request_id: &str,
) -> Response<Body> {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = resp.headers_mut();
    if let Some(ct) = content_type {
        h.insert("content-type", HeaderValue::from_static(ct));
    }
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amzn-requestid", v);
    }
    for (k, v) in headers {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(k, v);
        }
    }
    resp
}
