//! Security and limits: SigV4 verification with the real SDKs, the admin token, racing clients,
//! and the request limits.

mod exposure;

use crate::common::*;
use aws_sdk_servicediscovery as sd;
use std::time::{Duration, SystemTime};

const KEY: &str = "AKIALOCALPLANETEST01";
const SECRET: &str = "localplane/secret+key/for/tests";
const TOKEN: &str = "admin-token-for-tests";

async fn verifying_server() -> (Server, std::path::PathBuf) {
    let dir = temp_dir("auth");
    let cfg = dir.join("auth.toml");
    std::fs::write(
        &cfg,
        format!(
            "[auth]\nmode = \"verify\"\nadmin_token = \"{TOKEN}\"\n[[auth.credentials]]\naccess_key = \"{KEY}\"\nsecret_key = \"{SECRET}\"\naccount = \"111122223333\"\n"
        ),
    )
    .unwrap();
    let server = Server::ephemeral_with(&["--timing", "instant", "--config", cfg.to_str().unwrap()]).await;
    (server, dir)
}

fn client_with(server: &Server, wire: Wire, key: &str, secret: &str, clock: Option<SystemTime>) -> sd::Client {
    let mut b = sd::Config::builder()
        .behavior_version(sd::config::BehaviorVersion::latest())
        .region(sd::config::Region::new(REGION))
        .credentials_provider(sd::config::Credentials::new(key, secret, None, None, "test"))
        .endpoint_url(server.endpoint())
        .retry_config(sd::config::retry::RetryConfig::disabled())
        .interceptor(StripDataPrefix);
    if wire == Wire::Cbor {
        b = b.protocol(aws_smithy_cbor::protocol::RpcV2CborProtocol::new());
    }
    if let Some(t) = clock {
        b = b.time_source(aws_smithy_async::time::StaticTimeSource::new(t));
    }
    sd::Client::from_conf(b.build())
}

#[tokio::test(flavor = "multi_thread")]
async fn sigv4_verification_accepts_the_right_keys_and_rejects_the_rest() {
    let (server, dir) = verifying_server().await;
    for wire in [Wire::Json, Wire::Cbor] {
        let good = client_with(&server, wire, KEY, SECRET, None);
        let name = format!("signed-{wire:?}").to_lowercase();
        let op = good.create_http_namespace().name(&name).send().await.expect("a correctly signed request passes");
        let got = good.get_operation().operation_id(op.operation_id().unwrap()).send().await.unwrap();
        assert_eq!(got.operation.unwrap().owner_account(), Some("111122223333"), "the key's account from the config");
        let ns = good.list_namespaces().max_results(50).send().await.unwrap();
        assert!(!ns.namespaces().is_empty());
        // DiscoverInstances goes through the data- prefix path and is signed for the host it reaches.
        let err = good.discover_instances().namespace_name(&name).service_name("none").send().await.unwrap_err();
        assert_eq!(code(&err), "ServiceNotFound");

        let unknown = client_with(&server, wire, "AKIAUNKNOWNKEY000000", SECRET, None);
        let err = unknown.list_namespaces().send().await.unwrap_err();
        assert_eq!(code(&err), "UnrecognizedClientException");
        let wrong = client_with(&server, wire, KEY, "not-the-secret", None);
        let err = wrong.list_namespaces().send().await.unwrap_err();
        assert_eq!(code(&err), "InvalidSignatureException");
        assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(400));
        let skewed = client_with(&server, wire, KEY, SECRET, Some(SystemTime::now() - Duration::from_secs(20 * 60)));
        let err = skewed.list_namespaces().send().await.unwrap_err();
        assert_eq!(code(&err), "InvalidSignatureException");
        assert!(err.as_service_error().and_then(|e| e.meta().message()).unwrap_or_default().contains("expired"));
    }
    // MSK Connect (REST): query strings and percent-encoded ARNs in the path are signed as AWS does.
    let kc_client = |key: &str, secret: &str| {
        let conf = aws_sdk_kafkaconnect::Config::builder()
            .behavior_version(aws_sdk_kafkaconnect::config::BehaviorVersion::latest())
            .region(aws_sdk_kafkaconnect::config::Region::new(REGION))
            .credentials_provider(aws_sdk_kafkaconnect::config::Credentials::new(key, secret, None, None, "test"))
            .endpoint_url(server.endpoint())
            .retry_config(aws_sdk_kafkaconnect::config::retry::RetryConfig::disabled())
            .build();
        aws_sdk_kafkaconnect::Client::from_conf(conf)
    };
    let kc_good = kc_client(KEY, SECRET);
    kc_good.list_connectors().max_results(5).connector_name_prefix("a b").send().await.expect("signed ListConnectors");
    let arn = "arn:aws:kafkaconnect:us-east-1:111122223333:connector/missing/5b1c2f7e-9d3a-4c61-8f2e-3a7d9e0b4c12-2";
    let err = kc_good.describe_connector().connector_arn(arn).send().await.unwrap_err();
    assert_eq!(code(&err), "NotFoundException", "the signature over an encoded ARN path verifies");
    let err = kc_good.list_connector_operations().connector_arn(arn).max_results(1).send().await.unwrap_err();
    assert_eq!(code(&err), "NotFoundException");
    let err = kc_client(KEY, "wrong").list_connectors().send().await.unwrap_err();
    assert_eq!(code(&err), "InvalidSignatureException");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(403));
    let err = kc_client("AKIAUNKNOWNKEY000000", SECRET).list_connectors().send().await.unwrap_err();
    assert_eq!(code(&err), "UnrecognizedClientException");

    // No signature at all.
    let resp = reqwest::Client::new()
        .post(server.endpoint())
        .header("x-amz-target", "Route53AutoNaming_v20170314.ListNamespaces")
        .header("content-type", "application/x-amz-json-1.1")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["__type"], "MissingAuthenticationTokenException");

    // The admin API wants the token; health stays open for probes.
    let admin = format!("{}/_localplane/operations", server.endpoint());
    assert_eq!(reqwest::get(&admin).await.unwrap().status().as_u16(), 401);
    let ok = reqwest::Client::new().get(&admin).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    let wrong = reqwest::Client::new().get(&admin).bearer_auth("nope").send().await.unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    assert_eq!(reqwest::get(format!("{}/_localplane/health", server.endpoint())).await.unwrap().status().as_u16(), 200);
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn verification_or_wide_listen_without_admin_token_refuses_to_start() {
    let dir = temp_dir("noauth");
    let cfg = dir.join("verify.toml");
    std::fs::write(
        &cfg,
        format!("[auth]\nmode = \"verify\"\n[[auth.credentials]]\naccess_key = \"{KEY}\"\nsecret_key = \"s\"\naccount = \"111122223333\"\n"),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_localplane"))
        .args(["serve", "--ephemeral", "--dns-listen", "off", "--listen", "127.0.0.1:0", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--admin-token"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_localplane"))
        .args(["serve", "--ephemeral", "--dns-listen", "off", "--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--admin-token"));
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn racing_clients_get_one_winner() {
    let server = Server::ephemeral("fast").await;
    let c = cloudmap(&server, Wire::Json);
    // 64 clients create the same namespace: one operation, the rest NamespaceAlreadyExists.
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move { c.create_http_namespace().name("race").send().await }));
    }
    let mut ok = Vec::new();
    let mut codes = std::collections::BTreeMap::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(o) => ok.push(o.operation_id.unwrap()),
            Err(e) => *codes.entry(code(&e)).or_insert(0) += 1,
        }
    }
    assert_eq!(ok.len(), 1, "exactly one create wins: {codes:?}");
    assert_eq!(codes.get("NamespaceAlreadyExists"), Some(&63));
    let (op, _) = wait_cloudmap_operation(&c, &ok[0]).await;
    let ns_id = op.targets().unwrap().get(&sd::types::OperationTargetType::Namespace).unwrap().clone();

    // 64 clients create the same service.
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let c = c.clone();
        let ns = ns_id.clone();
        tasks.push(tokio::spawn(async move { c.create_service().name("svc").namespace_id(ns).send().await }));
    }
    let mut winners = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => winners += 1,
            Err(e) => assert_eq!(code(&e), "ServiceAlreadyExists"),
        }
    }
    assert_eq!(winners, 1);
    let svc_id = c.list_services().send().await.unwrap().services()[0].id().unwrap().to_string();

    // 64 clients register the same instance id: one operation in flight, the rest DuplicateRequest.
    let mut tasks = Vec::new();
    for i in 0..64 {
        let c = c.clone();
        let svc = svc_id.clone();
        tasks.push(tokio::spawn(async move {
            c.register_instance().service_id(svc).instance_id("same").attributes("n", i.to_string()).send().await
        }));
    }
    let mut ops = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(o) => ops.push(o.operation_id.unwrap()),
            Err(e) => assert_eq!(code(&e), "DuplicateRequest"),
        }
    }
    assert_eq!(ops.len(), 1, "one registration wins while it is in flight");
    wait_cloudmap_operation(&c, &ops[0]).await;
    let listed = c.list_instances().service_id(&svc_id).send().await.unwrap();
    assert_eq!(listed.instances().len(), 1, "one instance");
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_headers_and_bodies_are_refused_and_the_server_stays_up() {
    let server = Server::ephemeral("instant").await;
    let big = "x".repeat(100 * 1024);
    for path in ["/", "/_localplane/health"] {
        let resp = reqwest::Client::new()
            .post(format!("{}{path}", server.endpoint()))
            .header("x-amz-target", "Route53AutoNaming_v20170314.ListNamespaces")
            .header("x-padding", &big)
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 431, "request header fields too large on {path}");
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["__type"], "RequestHeaderFieldsTooLarge", "an AWS-shaped body on {path}");
    }
    // A body declared over the limit is refused at once, before it is sent.
    let mut raw = tokio::net::TcpStream::connect(("127.0.0.1", server.port)).await.unwrap();
    let head = format!(
        "POST / HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nX-Amz-Target: Route53AutoNaming_v20170314.ListNamespaces\r\nContent-Length: 2000000\r\n\r\n",
        server.port
    );
    tokio::io::AsyncWriteExt::write_all(&mut raw, head.as_bytes()).await.unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(5), read_some(&mut raw)).await;
    let answer = answer.expect("a declared oversized body is answered within seconds, not after the body timeout");
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("RequestEntityTooLargeException"), "{answer}");
    // A client that opens a connection and sends nothing does not hold up anyone else.
    let idle = tokio::net::TcpStream::connect(("127.0.0.1", server.port)).await.unwrap();
    let c = cloudmap(&server, Wire::Json);
    assert!(c.list_namespaces().send().await.is_ok());
    drop(idle);
}

/// What a raw connection has received so far (at least one read).
async fn read_some(stream: &mut tokio::net::TcpStream) -> String {
    let mut buf = vec![0u8; 8192];
    let n = tokio::io::AsyncReadExt::read(stream, &mut buf).await.unwrap_or(0);
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// How a raw test request is signed.
#[derive(Clone, Copy)]
struct Signing {
    /// The service named in the credential scope.
    service: &'static str,
    /// Whether the canonical request's payload hash is `UNSIGNED-PAYLOAD`.
    unsigned_payload: bool,
    /// Whether `X-Amz-Content-Sha256` is sent and signed.
    content_sha256_header: bool,
}

/// The headers of `body` signed as `signing` says (by aws-sigv4, not by the server's code).
fn signed_headers(url: &str, headers: &[(&str, &str)], body: &[u8], signing: Signing) -> Vec<(String, String)> {
    use aws_sigv4::http_request::{sign, PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings};
    let identity = sd::config::Credentials::new(KEY, SECRET, None, None, "test").into();
    let mut settings = SigningSettings::default();
    if signing.content_sha256_header {
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    }
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(REGION)
        .name(signing.service)
        .time(SystemTime::now())
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let payload = if signing.unsigned_payload { SignableBody::UnsignedPayload } else { SignableBody::Bytes(body) };
    let request = SignableRequest::new("POST", url, headers.iter().copied(), payload).unwrap();
    let (instructions, _) = sign(request, &params).unwrap().into_parts();
    let mut out: Vec<(String, String)> = headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    out.extend(instructions.headers().map(|(k, v)| (k.to_string(), v.to_string())));
    out
}

/// One tampering of a signed request: what it is, the headers and the body sent.
type Tampering<'a> = (&'static str, Vec<(String, String)>, &'a [u8]);

/// Sends a raw request; returns the status and the error code (`__type`, or the REST error header).
async fn send_raw(url: &str, headers: &[(String, String)], body: &[u8]) -> (u16, String) {
    let mut req = reqwest::Client::new().post(url).body(body.to_vec());
    for (k, v) in headers {
        req = req.header(k, v);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let header_code = resp.headers().get("x-amzn-errortype").and_then(|v| v.to_str().ok()).map(str::to_string);
    let body: serde_json::Value = resp.json().await.unwrap_or_default();
    let code = body["__type"].as_str().map(str::to_string).or(header_code).unwrap_or_default();
    (status, code.rsplit('#').next().unwrap_or_default().split(':').next().unwrap_or_default().to_string())
}

/// `headers` with `name` set to `value` (replaced, added, or removed when None).
fn with_header(headers: &[(String, String)], name: &str, value: Option<&str>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> =
        headers.iter().filter(|(k, _)| !k.eq_ignore_ascii_case(name)).cloned().collect();
    if let Some(v) = value {
        out.push((name.to_string(), v.to_string()));
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn signed_requests_cannot_be_replayed_with_another_body_or_to_another_service() {
    let (server, dir) = verifying_server().await;
    let url = format!("{}/", server.endpoint());
    let host = format!("127.0.0.1:{}", server.port);
    let target = "Route53AutoNaming_v20170314.CreateHttpNamespace";
    let base = [("host", host.as_str()), ("content-type", "application/x-amz-json-1.1"), ("x-amz-target", target)];
    let body = br#"{"Name":"replay-original"}"#.to_vec();
    let other = br#"{"Name":"replay-forged"}"#.to_vec();
    let sha = |b: &[u8]| {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(b))
    };
    let scoped = |service| Signing { service, unsigned_payload: false, content_sha256_header: false };
    let with_hash = Signing { content_sha256_header: true, ..scoped("servicediscovery") };
    let plain = signed_headers(&url, &base, &body, scoped("servicediscovery"));
    let hashed = signed_headers(&url, &base, &body, with_hash);
    let unsigned_not_signed = with_header(
        &signed_headers(&url, &base, &body, Signing { unsigned_payload: true, ..scoped("servicediscovery") }),
        "x-amz-content-sha256",
        Some("UNSIGNED-PAYLOAD"),
    );
    let other_service = signed_headers(&url, &base, &body, scoped("kafkaconnect"));
    let forged_target = with_header(&plain, "x-amz-target", Some("Route53AutoNaming_v20170314.DeleteNamespace"));

    // Each tampering: the headers and body sent; all must be refused with InvalidSignatureException.
    let tamperings: Vec<Tampering> = vec![
        (
            "unsigned header claims the original body's hash",
            with_header(&plain, "x-amz-content-sha256", Some(&sha(&body))),
            &other,
        ),
        (
            "unsigned header claims the new body's hash",
            with_header(&plain, "x-amz-content-sha256", Some(&sha(&other))),
            &other,
        ),
        (
            "unsigned header claims UNSIGNED-PAYLOAD",
            with_header(&plain, "x-amz-content-sha256", Some("UNSIGNED-PAYLOAD")),
            &other,
        ),
        ("another body, no hash header", plain.clone(), &other),
        ("another body under the signed hash header", hashed.clone(), &other),
        (
            "signed hash header rewritten to the new body's",
            with_header(&hashed, "x-amz-content-sha256", Some(&sha(&other))),
            &other,
        ),
        (
            "signed hash header rewritten to UNSIGNED-PAYLOAD",
            with_header(&hashed, "x-amz-content-sha256", Some("UNSIGNED-PAYLOAD")),
            &other,
        ),
        ("signed hash header removed", with_header(&hashed, "x-amz-content-sha256", None), &other),
        ("hash header garbage", with_header(&plain, "x-amz-content-sha256", Some("not-a-hash")), &body),
        ("UNSIGNED-PAYLOAD that is not a signed header", unsigned_not_signed, &body),
        ("a signed header changed (x-amz-target)", forged_target, &body),
        ("a kafkaconnect scope sent to Cloud Map", other_service, &body),
    ];
    let tried = tamperings.len();
    let mut refused = 0;
    for (what, headers, sent) in &tamperings {
        let (status, code) = send_raw(&url, headers, sent).await;
        assert_eq!((status, code.as_str()), (400, "InvalidSignatureException"), "{what} must be refused");
        refused += 1;
    }
    // REST: a Cloud Map scope sent to MSK Connect.
    let kc_url = format!("{}/v1/connectors", server.endpoint());
    let kc = signed_headers(&kc_url, &[("host", host.as_str())], b"", scoped("servicediscovery"));
    let mut req = reqwest::Client::new().get(&kc_url);
    for (k, v) in &kc {
        req = req.header(k, v);
    }
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 403, "a servicediscovery scope sent to MSK Connect is refused");
    let message = resp.text().await.unwrap();
    assert!(message.contains("Credential should be scoped to correct service: 'kafkaconnect'"), "{message}");
    refused += 1;
    eprintln!("SigV4 tampering: {} variants tried, {refused} refused", tried + 1);

    let listed = cloudmap_verified(&server).list_namespaces().send().await.unwrap();
    assert!(listed.namespaces().is_empty(), "no tampered request created anything");
    // What is signed correctly passes: the body's hash, and UNSIGNED-PAYLOAD as a signed header.
    assert_eq!(send_raw(&url, &hashed, &body).await.0, 200, "a signed body hash that matches passes");
    let body2 = br#"{"Name":"unsigned-payload"}"#;
    let unsigned2 = signed_headers(&url, &base, body2, Signing { unsigned_payload: true, ..with_hash });
    assert_eq!(send_raw(&url, &unsigned2, body2).await.0, 200, "UNSIGNED-PAYLOAD, signed, passes");
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

/// A Cloud Map client signing with the verifying server's key.
fn cloudmap_verified(server: &Server) -> sd::Client {
    client_with(server, Wire::Json, KEY, SECRET, None)
}
