//! No input may panic the server, hang it, or corrupt stored state: the committed fuzz corpus is
//! replayed through every decoder, and a property test drives arbitrary requests through the HTTP
//! layer in-process.

use axum::body::Body;
use localplane::app::App;
use localplane::server::router;
use proptest::prelude::*;
use std::path::Path;
use tower::ServiceExt;

#[test]
fn fuzz_corpus_and_regressions_replay_without_panics() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut replayed = 0;
    for (name, target) in localplane::fuzzing::TARGETS {
        for dir in ["corpus", "regressions"] {
            let Ok(entries) = std::fs::read_dir(root.join(dir).join(name)) else { continue };
            for entry in entries.flatten() {
                let data = std::fs::read(entry.path()).unwrap();
                target(&data);
                replayed += 1;
            }
        }
    }
    assert!(replayed >= 30, "the committed corpus is missing: replayed {replayed} inputs");
}

/// A request of one of the shapes clients send, with arbitrary parts.
fn arbitrary_request() -> impl Strategy<Value = (String, String, Vec<(String, String)>, Vec<u8>)> {
    let ops = prop::sample::select(
        localplane::model::servicediscovery::OPERATIONS.iter().map(|o| o.name.to_string()).collect::<Vec<_>>(),
    );
    let member = prop::sample::select(vec![
        "Name",
        "Id",
        "ServiceId",
        "InstanceId",
        "Attributes",
        "Filters",
        "MaxResults",
        "NextToken",
        "Tags",
        "DnsConfig",
        "OperationId",
        "OwnerAccount",
        "connectorName",
        "capacity",
        "plugins",
        "connectorConfiguration",
        "tags",
    ]);
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map(serde_json::Value::Number).unwrap_or_default()),
        ".{0,40}".prop_map(serde_json::Value::from),
    ];
    let json = leaf.prop_recursive(3, 24, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::vec((member.clone(), inner), 0..5)
                .prop_map(|kv| serde_json::Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
        ]
    });
    let body = prop_oneof![json.prop_map(|j| j.to_string().into_bytes()), prop::collection::vec(any::<u8>(), 0..64),];
    let arn = "arn%3Aaws%3Akafkaconnect%3Aus-east-1%3A000000000000%3Aconnector%2Fc%2Fx-2";
    let path = prop_oneof![
        Just("/".to_string()),
        Just("/v1/connectors".to_string()),
        Just(format!("/v1/connectors/{arn}")),
        Just(format!("/v1/connectors/{arn}/operations?maxResults=0")),
        Just("/v1/custom-plugins?maxResults=abc".to_string()),
        Just(format!("/v1/tags/{arn}?tagKeys=")),
        Just("/v1/connectorOperations/not-an-arn".to_string()),
        Just("/service/Route53AutoNaming_v20170314/operation/ListNamespaces".to_string()),
        "/v1/[a-z%0-9/]{0,30}".prop_map(|s| s),
    ];
    let method = prop::sample::select(vec!["GET", "POST", "PUT", "DELETE", "PATCH"]).prop_map(str::to_string);
    let headers = (ops, any::<bool>(), any::<bool>()).prop_map(|(op, target, cbor)| {
        let mut h = Vec::new();
        if target {
            h.push(("x-amz-target".to_string(), format!("Route53AutoNaming_v20170314.{op}")));
        }
        if cbor {
            h.push(("smithy-protocol".to_string(), "rpc-v2-cbor".to_string()));
        }
        h
    });
    (method, path, headers, body)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_requests_get_aws_shaped_answers((method, path, headers, body) in arbitrary_request()) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let app = App::in_memory(localplane::engine::Timing::new(localplane::engine::TimingProfile::Instant)).unwrap();
            let mut req = axum::http::Request::builder().method(method.as_str()).uri(path.as_str());
            for (k, v) in &headers {
                req = req.header(k, v);
            }
            let resp = router(app.clone()).oneshot(req.body(Body::from(body)).unwrap()).await.unwrap();
            let status = resp.status().as_u16();
            prop_assert!(status < 500, "{method} {path} {headers:?} answered {status}");
            prop_assert!(resp.headers().contains_key("x-amzn-requestid"));
            if status >= 400 {
                let typed_header = resp.headers().contains_key("x-amzn-errortype");
                let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
                let json_type = serde_json::from_slice::<serde_json::Value>(&bytes).ok()
                    .and_then(|v| v.get("__type").and_then(|t| t.as_str()).map(str::to_string));
                let cbor_type = ciborium::de::from_reader::<ciborium::Value, _>(&bytes[..]).ok().and_then(|v| {
                    v.as_map()?.iter().find(|(k, _)| k.as_text() == Some("__type")).and_then(|(_, t)| t.as_text().map(str::to_string))
                });
                let not_aws = path.starts_with("/v1/") || path.starts_with("/service/") || path == "/";
                prop_assert!(typed_header || json_type.is_some() || cbor_type.is_some() || !not_aws,
                    "{method} {path} {headers:?}: {status} without an AWS error type: {}", String::from_utf8_lossy(&bytes));
            }
            // The server still answers, and the store is readable.
            let probe = axum::http::Request::builder().method("POST").uri("/")
                .header("x-amz-target", "Route53AutoNaming_v20170314.ListNamespaces").body(Body::from("{}")).unwrap();
            let ok = router(app).oneshot(probe).await.unwrap();
            prop_assert_eq!(ok.status().as_u16(), 200);
            Ok(())
        })?;
    }
}
