//! The floor: what this machine can do for one awsJson1_1 request with axum and tokio, and nothing
//! else — no routing by X-Amz-Target, no parsing, no state, no logging. Answers every `POST /` with
//! a fixed GetOperation body of the same shape and size localplane sends.
//!
//! Usage: localplane-bench-floor 127.0.0.1:PORT

use axum::body::Bytes;
use axum::http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use axum::routing::post;
use axum::Router;

const BODY: &str = concat!(
    r#"{"Operation":{"CreateDate":1.7637720000E9,"Id":"x2uyud7pn6msji6jb6zxf5bg7kn5md4m-mwr5rgo0","#,
    r#""Status":"SUCCESS","Targets":{"INSTANCE":"i-0","SERVICE":"srv-xxxxxxxxxxxxxxxx"},"#,
    r#""Type":"REGISTER_INSTANCE","UpdateDate":1.7637720000E9}}"#
);

async fn answer(_body: Bytes) -> ([(HeaderName, HeaderValue); 2], &'static str) {
    (
        [
            (CONTENT_TYPE, HeaderValue::from_static("application/x-amz-json-1.1")),
            (
                HeaderName::from_static("x-amzn-requestid"),
                HeaderValue::from_static("00000000-0000-4000-8000-000000000000"),
            ),
        ],
        BODY,
    )
}

#[tokio::main]
async fn main() {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:4599".to_string());
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
    let app = Router::new().route("/", post(answer));
    axum::serve(listener, app).await.expect("serve");
}
