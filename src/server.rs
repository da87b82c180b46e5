//! The HTTP server: one handler that reads a request, lets the wire say which service, operation and
//! protocol it is, hands the typed input to that service, and writes the output or AWS error back.

use crate::cloudmap::CloudMap;
use crate::engine::Engine;
use crate::model::servicediscovery as sd;
use crate::mskconnect::MskConnect;
use crate::wire::shape::{ApiError, Protocol, RequestContext, REQUEST_ENTITY_TOO_LARGE};
use crate::wire::{self, Route};
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Response, StatusCode};
use std::sync::Arc;
use std::time::Instant;

/// Everything a request handler needs.
pub struct App {
    /// Cloud Map.
    pub cloudmap: CloudMap,
    /// MSK Connect.
    pub mskconnect: MskConnect,
    /// The operation engine.
    pub engine: Engine,
    /// Account used when the access key is not a 12-digit account id.
    pub default_account: String,
    /// Region used when a request is not signed.
    pub default_region: String,
    /// Fault rules of the config file, re-applied after a full reset.
    pub config_faults: Vec<crate::engine::FaultRule>,
    /// The Prometheus recorder's handle.
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
}

/// The axum router of the whole server.
pub fn router(app: Arc<App>) -> axum::Router {
    axum::Router::new().fallback(handle).with_state(app)
}

fn header(req: &Request, name: &str) -> Option<String> {
    req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

fn respond(
    status: u16,
    content_type: Option<&str>,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    request_id: &str,
) -> Response<Body> {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = resp.headers_mut();
    if let Some(ct) = content_type {
        h.insert("content-type", HeaderValue::from_static(static_content_type(ct)));
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

fn static_content_type(ct: &str) -> &'static str {
    match ct {
        "application/x-amz-json-1.1" => "application/x-amz-json-1.1",
        "application/cbor" => "application/cbor",
        _ => "application/json",
    }
}

fn error_response(protocol: Protocol, err: &ApiError, request_id: &str) -> Response<Body> {
    let r = wire::encode_error(protocol, err);
    respond(r.status, Some(r.content_type), r.headers, r.body, request_id)
}

async fn read_body(req: Request) -> Result<Bytes, ApiError> {
    match axum::body::to_bytes(req.into_body(), wire::MAX_BODY_BYTES).await {
        Ok(b) => Ok(b),
        Err(_) => Err(ApiError::new(
            &REQUEST_ENTITY_TOO_LARGE,
            format!("The request body exceeds the limit of {} bytes", wire::MAX_BODY_BYTES),
        )),
    }
}

async fn handle(State(app): State<Arc<App>>, req: Request) -> Response<Body> {
    let started = Instant::now();
    let request_id = uuid::Uuid::new_v4().to_string();
    let method = req.method().as_str().to_string();
    let raw_path = req.uri().path().to_string();
    let query = req.uri().query().map(str::to_string);
    if crate::admin::is_admin_path(&raw_path) {
        return crate::admin::handle(&app, &method, &raw_path, req, &request_id).await;
    }
    let (account, region) = match header(&req, "authorization").as_deref().and_then(wire::sigv4::parse_authorization) {
        Some(c) => (wire::sigv4::account_for(&c.access_key, &app.default_account), c.region),
        None => (app.default_account.clone(), app.default_region.clone()),
    };
    let route = wire::classify(&method, &raw_path, |n| header(&req, n));
    let (protocol, operation) = match &route {
        Route::CloudMap { operation, protocol } => (*protocol, operation.clone()),
        Route::KafkaConnect { operation, .. } => (Protocol::RestJson1, operation.name.to_string()),
        Route::KafkaConnectUnknown => (Protocol::RestJson1, String::new()),
        Route::Other => {
            let body = format!(
                "{{\"message\":\"No AWS API at {method} {raw_path}; localplane serves Cloud Map and MSK Connect\"}}"
            );
            return respond(404, Some("application/json"), vec![], body.into_bytes(), &request_id);
        }
    };
    let cx = RequestContext { account, region, request_id: request_id.clone(), protocol };
    let service = if protocol == Protocol::RestJson1 { "kafkaconnect" } else { "servicediscovery" };
    let body = match app.engine.take_request_fault(service, &operation).await {
        Ok(Some(rule)) => {
            let shape = crate::admin::request_fault_shape(service, &rule.error_code, rule.http_status.unwrap_or(503))
                .unwrap_or(&crate::wire::shape::SERVICE_UNAVAILABLE);
            let message = rule.error_message.unwrap_or_else(|| format!("Injected fault {} ({})", rule.id, shape.name));
            Err(ApiError::new(shape, message))
        }
        Ok(None) => read_body(req).await,
        Err(e) => Err(ApiError::from(e)),
    };
    let result = match (route, body) {
        (_, Err(e)) => Err(e),
        (Route::CloudMap { operation, protocol }, Ok(body)) => match wire::decode_rpc_body(protocol, &body) {
            Ok(doc) => sd::dispatch(&app.cloudmap, &cx, &operation, &doc, protocol).await,
            Err(e) => Err(e),
        },
        (Route::KafkaConnect { operation, labels }, Ok(body)) => {
            kafka_connect(&app, &cx, operation, labels, query.as_deref(), &body).await
        }
        (_, Ok(_)) => Err(ApiError::new(
            &crate::wire::shape::UNKNOWN_OPERATION_EXCEPTION,
            format!("No MSK Connect operation matches {method} {raw_path}"),
        )),
    };
    let response = match result {
        Ok(Some(bytes)) => {
            let ct = match protocol {
                Protocol::AwsJson11 => "application/x-amz-json-1.1",
                Protocol::RpcV2Cbor => "application/cbor",
                Protocol::RestJson1 => "application/json",
            };
            let extra = if protocol == Protocol::RpcV2Cbor {
                vec![("smithy-protocol", "rpc-v2-cbor".to_string())]
            } else {
                vec![]
            };
            respond(200, Some(ct), extra, bytes, &request_id)
        }
        Ok(None) => {
            let extra = if protocol == Protocol::RpcV2Cbor {
                vec![("smithy-protocol", "rpc-v2-cbor".to_string())]
            } else {
                vec![]
            };
            respond(200, None, extra, Vec::new(), &request_id)
        }
        Err(err) => {
            tracing::info!(request_id = %cx.request_id, error = %err, "request failed");
            error_response(protocol, &err, &request_id)
        }
    };
    crate::metrics::record_request(service, &operation, response.status().as_u16(), started.elapsed().as_secs_f64());
    tracing::info!(
        request_id = %cx.request_id,
        account = %cx.account,
        region = %cx.region,
        operation = %operation,
        status = response.status().as_u16(),
        micros = started.elapsed().as_micros() as u64,
        "request"
    );
    response
}

/// Binds a restJson1 request (labels, query, body) to its input document and dispatches it.
async fn kafka_connect(
    app: &App,
    cx: &RequestContext,
    operation: &'static crate::wire::shape::OperationInfo,
    labels: Vec<(&'static str, String)>,
    query: Option<&str>,
    body: &[u8],
) -> Result<Option<Vec<u8>>, ApiError> {
    use crate::model::kafkaconnect::errors::BAD_REQUEST_EXCEPTION;
    let doc = if body.iter().all(u8::is_ascii_whitespace) {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(body)
            .map_err(|e| ApiError::new(&BAD_REQUEST_EXCEPTION, format!("The request body is not valid JSON: {e}")))?
    };
    let doc =
        wire::rest::input_document(operation, labels, &wire::rest::parse_query(query), doc, &BAD_REQUEST_EXCEPTION)?;
    crate::model::kafkaconnect::dispatch(&app.mskconnect, cx, operation.name, &doc, Protocol::RestJson1).await
}
