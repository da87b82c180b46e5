//! The HTTP server: one handler that reads a request, lets the wire say which service, operation and
//! protocol it is, hands the typed input to that service, and writes the output or AWS error back.

pub use crate::app::App;
use crate::model::Service;
use crate::wire::shape::{ApiError, Protocol, RequestContext, REQUEST_ENTITY_TOO_LARGE};
use crate::wire::{self, Route};
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Response, StatusCode};
use std::sync::Arc;
use std::time::Instant;

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
    // Framework failures have service-specific names in MSK Connect's model.
    let remapped;
    let err = match (protocol, err.shape.name) {
        (Protocol::RestJson1, "InternalFailure") => {
            remapped =
                ApiError::new(&crate::model::kafkaconnect::errors::INTERNAL_SERVER_ERROR_EXCEPTION, &err.message);
            &remapped
        }
        (Protocol::RestJson1, "ServiceUnavailable") => {
            remapped = ApiError::new(&crate::model::kafkaconnect::errors::SERVICE_UNAVAILABLE_EXCEPTION, &err.message);
            &remapped
        }
        _ => err,
    };
    let r = wire::encode_error(protocol, err);
    respond(r.status, Some(r.content_type), r.headers, r.body, request_id)
}

/// The largest total size of request headers accepted.
const MAX_HEADER_BYTES: usize = 64 * 1024;

/// How long a client has to send its whole body.
const BODY_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

async fn read_body(body: Body) -> Result<Bytes, ApiError> {
    match tokio::time::timeout(BODY_READ_TIMEOUT, axum::body::to_bytes(body, wire::MAX_BODY_BYTES)).await {
        Ok(Ok(b)) => Ok(b),
        Ok(Err(_)) => Err(ApiError::new(
            &REQUEST_ENTITY_TOO_LARGE,
            format!("The request body exceeds the limit of {} bytes", wire::MAX_BODY_BYTES),
        )),
        Err(_) => Err(ApiError::new(
            &crate::wire::shape::REQUEST_TIMEOUT,
            format!("The request body did not arrive within {} s", BODY_READ_TIMEOUT.as_secs()),
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
    let route = wire::classify(&method, &raw_path, |n| header(&req, n));
    let (protocol, operation) = match &route {
        Route::CloudMap { operation, protocol } => (*protocol, operation.clone()),
        Route::KafkaConnect { operation, .. } => (Protocol::RestJson1, operation.name.to_string()),
        Route::KafkaConnectUnknown => (Protocol::RestJson1, String::new()),
        Route::Other => {
            // Not an AWS API request (no X-Amz-Target, no CBOR route, no /v1 path): answered as AWS
            // front ends answer unknown operations.
            let err = ApiError::new(
                &crate::wire::shape::UNKNOWN_OPERATION_EXCEPTION,
                format!("No AWS API at {method} {raw_path}; localplane serves Cloud Map and MSK Connect"),
            );
            let r = wire::encode_error(Protocol::AwsJson11, &err);
            let headers = vec![("x-amzn-ErrorType", err.shape.name.to_string())];
            return respond(404, Some("application/json"), headers, r.body, &request_id);
        }
    };
    let (parts, body) = req.into_parts();
    let headers = parts.headers;
    let header_bytes: usize = headers.iter().map(|(k, v)| k.as_str().len() + v.len() + 4).sum();
    if header_bytes > MAX_HEADER_BYTES {
        let err = ApiError::new(
            &crate::wire::shape::REQUEST_HEADERS_TOO_LARGE,
            format!("The request headers total {header_bytes} bytes; the limit is {MAX_HEADER_BYTES}"),
        );
        return error_response(protocol, &err, &request_id);
    }
    let service = if protocol == Protocol::RestJson1 { Service::KafkaConnect } else { Service::ServiceDiscovery };
    let op_info = service.wire().operation(&operation);
    let mut cx = RequestContext {
        account: app.default_account.clone(),
        region: app.default_region.clone(),
        request_id: request_id.clone(),
        protocol,
    };
    let body = match read_body(body).await {
        Ok(body) => match app.auth.identify(&method, &raw_path, query.as_deref(), &headers, &body, protocol) {
            Ok((account, region)) => {
                cx.account = account;
                cx.region = region.unwrap_or_else(|| app.default_region.clone());
                let fault = match op_info {
                    Some(info) => app.engine.take_request_fault(service, info.name).await,
                    None => Ok(None),
                };
                match fault {
                    Ok(Some(rule)) => {
                        let shape = crate::registry::request_fault_shape(
                            service.wire(),
                            &rule.error_code,
                            rule.http_status.unwrap_or(503),
                        )
                        .unwrap_or(&crate::wire::shape::SERVICE_UNAVAILABLE);
                        let message = rule
                            .error_message
                            .unwrap_or_else(|| format!("Injected fault {} ({})", rule.id, shape.name));
                        Err(ApiError::new(shape, message))
                    }
                    Ok(None) => Ok(body),
                    Err(e) => Err(ApiError::from(e)),
                }
            }
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    let result = match (route, body) {
        (_, Err(e)) => Err(e),
        (Route::CloudMap { operation, protocol }, Ok(body)) => match wire::decode_rpc_body(protocol, &body) {
            Ok(doc) => match (op_info, app.registry.at(0)) {
                (Some(info), Some((_, backend))) => backend.dispatch(&cx, info, &doc).await,
                _ => Err(ApiError::unknown_operation(&operation)),
            },
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
    crate::metrics::record_request(
        service.name(),
        &operation,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
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
    match app.registry.at(1) {
        Some((_, backend)) => backend.dispatch(cx, operation, &doc).await,
        None => Err(ApiError::unknown_operation(operation.name)),
    }
}

/// Connection and request limits of the HTTP listener.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Connections served at once; further connections wait in the accept queue.
    pub max_connections: usize,
    /// Time a client has to send its request headers.
    pub header_read_timeout: std::time::Duration,
    /// The largest request head (request line + headers) accepted.
    pub max_header_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 1024,
            header_read_timeout: std::time::Duration::from_secs(10),
            max_header_bytes: 64 * 1024,
        }
    }
}

/// Serves HTTP/1.1 on `listener` until `shutdown` resolves, then lets in-flight requests finish.
pub async fn serve_http(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let permits = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes.max(8192))
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = &mut shutdown => break,
        };
        let (stream, _peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Running out of file descriptors and the like: back off, keep serving.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = hyper_util::service::TowerToHyperService::new(router.clone());
        let conn = builder.serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    // In-flight requests get a bounded time to finish.
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(std::time::Duration::from_secs(30)) => {
            tracing::warn!("some connections were still open 30 s after shutdown began");
        }
    }
    Ok(())
}
