//! Controlling the clock and the failures: timing profiles, manual advance, fault rules, reset,
//! snapshots, metrics, configuration and `localplane ops`, through the real SDKs and the admin API.

use crate::common::*;
use aws_sdk_servicediscovery as sd;
use sd::types::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

async fn status_of(c: &sd::Client, op: &str) -> String {
    let got = c.get_operation().operation_id(op).send().await.unwrap().operation.unwrap();
    got.status().unwrap().as_str().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn manual_timing_waits_for_advance_step_by_step() {
    let server = Server::ephemeral("manual").await;
    let c = cloudmap(&server, Wire::Json);
    let op = c.create_http_namespace().name("manual").send().await.unwrap().operation_id.unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(status_of(&c, &op).await, "SUBMITTED", "nothing moves on its own under manual");
    let (status, view) = admin(&server, reqwest::Method::GET, "/_localplane/operations", None).await;
    assert_eq!(status, 200);
    assert_eq!(view["operations"][0]["id"], json!(op));
    assert_eq!(view["operations"][0]["state"], json!("SUBMITTED"));

    let (status, moved) =
        admin(&server, reqwest::Method::POST, &format!("/_localplane/operations/{op}/advance?until=next"), None).await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!(moved["operation"]["state"], json!("PENDING"));
    assert_eq!(status_of(&c, &op).await, "PENDING");
    assert!(c.list_namespaces().send().await.unwrap().namespaces().is_empty(), "not visible while PENDING");
    let (_, all) = admin(&server, reqwest::Method::POST, "/_localplane/operations/advance", None).await;
    assert_eq!(all["advanced"], json!(1));
    assert_eq!(status_of(&c, &op).await, "SUCCESS");
    assert_eq!(c.list_namespaces().send().await.unwrap().namespaces().len(), 1, "the change applies on SUCCESS");

    // until=terminal runs a whole operation; then switch the clock at run time.
    let op2 = c.create_http_namespace().name("manual-2").send().await.unwrap().operation_id.unwrap();
    let (_, done) =
        admin(&server, reqwest::Method::POST, &format!("/_localplane/operations/{op2}/advance?until=terminal"), None)
            .await;
    assert_eq!(done["operation"]["state"], json!("SUCCESS"));
    let (status, _) = admin(&server, reqwest::Method::POST, "/_localplane/operations/nope/advance", None).await;
    assert_eq!(status, 404);

    let op3 = c.create_http_namespace().name("manual-3").send().await.unwrap().operation_id.unwrap();
    let (status, t) =
        admin(&server, reqwest::Method::PUT, "/_localplane/timing", Some(json!({"profile": "fast"}))).await;
    assert_eq!((status, t["profile"].clone()), (200, json!("fast")));
    let (op3, _) = wait_cloudmap_operation(&c, &op3).await;
    assert_eq!(op3.status(), Some(&OperationStatus::Success), "a waiting operation moves once the clock runs");
    let (status, _) =
        admin(&server, reqwest::Method::PUT, "/_localplane/timing", Some(json!({"profile": "slow"}))).await;
    assert_eq!(status, 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn realistic_timing_is_seen_in_flight() {
    let server = Server::ephemeral("realistic").await;
    let c = cloudmap(&server, Wire::Cbor);
    let op = c.create_http_namespace().name("slow").send().await.unwrap().operation_id.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(status_of(&c, &op).await, "SUBMITTED");
    let (_, done) =
        admin(&server, reqwest::Method::POST, &format!("/_localplane/operations/{op}/advance?until=terminal"), None)
            .await;
    assert_eq!(done["operation"]["state"], json!("SUCCESS"));
}

#[tokio::test(flavor = "multi_thread")]
async fn operation_fault_fails_cloud_map_namespace_creation() {
    let server = Server::ephemeral("fast").await;
    let c = cloudmap(&server, Wire::Json);
    let rule = json!({"service": "servicediscovery", "operationType": "CREATE_NAMESPACE",
        "errorCode": "CANNOT_CREATE_HOSTED_ZONE", "errorMessage": "zone conflict (injected)", "count": 1});
    let (status, created) = admin(&server, reqwest::Method::POST, "/_localplane/faults", Some(rule)).await;
    assert_eq!(status, 201, "{created}");
    assert!(created["id"].as_str().is_some_and(|s| !s.is_empty()));
    let (_, listed) = admin(&server, reqwest::Method::GET, "/_localplane/faults", None).await;
    assert_eq!(listed["faults"].as_array().unwrap().len(), 1);

    let op = c.create_http_namespace().name("doomed").send().await.unwrap().operation_id.unwrap();
    let (op, _) = wait_cloudmap_operation(&c, &op).await;
    assert_eq!(op.status(), Some(&OperationStatus::Fail));
    assert_eq!(op.error_code(), Some("CANNOT_CREATE_HOSTED_ZONE"));
    assert_eq!(op.error_message(), Some("zone conflict (injected)"));
    assert!(c.list_namespaces().send().await.unwrap().namespaces().is_empty(), "no namespace after FAIL");
    let (_, listed) = admin(&server, reqwest::Method::GET, "/_localplane/faults", None).await;
    assert!(listed["faults"].as_array().unwrap().is_empty(), "a used-up rule disappears");
    // The name is free again.
    let op = c.create_http_namespace().name("doomed").send().await.unwrap().operation_id.unwrap();
    assert_eq!(wait_cloudmap_operation(&c, &op).await.0.status(), Some(&OperationStatus::Success));

    // Bad rules are refused with a message naming the problem.
    let (status, err) = admin(
        &server,
        reqwest::Method::POST,
        "/_localplane/faults",
        Some(json!({"service": "servicediscovery", "api": "GetOperation", "httpStatus": 429, "errorCode": "Nope"})),
    )
    .await;
    assert_eq!(status, 400);
    assert!(err["message"].as_str().unwrap().contains("RequestLimitExceeded"), "{err}");
    let (status, _) = admin(&server, reqwest::Method::DELETE, "/_localplane/faults/unknown", None).await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn request_fault_is_retried_by_the_sdk_until_it_succeeds() {
    let server = Server::ephemeral("instant").await;
    let c = cloudmap(&server, Wire::Json);
    let op = c.create_http_namespace().name("retry").send().await.unwrap().operation_id.unwrap();
    let rule = json!({"service": "servicediscovery", "api": "GetOperation", "httpStatus": 429,
        "errorCode": "RequestLimitExceeded", "count": 2});
    assert_eq!(admin(&server, reqwest::Method::POST, "/_localplane/faults", Some(rule)).await.0, 201);
    // Two throttles, then success: the SDK's standard retry strategy absorbs them.
    let got = c.get_operation().operation_id(&op).send().await.unwrap();
    assert_eq!(got.operation.unwrap().status(), Some(&OperationStatus::Success));
    let (_, listed) = admin(&server, reqwest::Method::GET, "/_localplane/faults", None).await;
    assert!(listed["faults"].as_array().unwrap().is_empty());

    // Without retries the throttle is visible as the modelled error.
    let rule = json!({"service": "servicediscovery", "api": "GetOperation", "httpStatus": 503,
        "errorCode": "ServiceUnavailable", "count": 1});
    admin(&server, reqwest::Method::POST, "/_localplane/faults", Some(rule)).await;
    let conf = c.config().to_builder().retry_config(sd::config::retry::RetryConfig::disabled()).build();
    let no_retry = sd::Client::from_conf(conf);
    let err = no_retry.get_operation().operation_id(&op).send().await.unwrap_err();
    assert_eq!(code(&err), "ServiceUnavailable");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(503));
    assert!(no_retry.get_operation().operation_id(&op).send().await.is_ok());
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_dash_nine_under_manual_then_resume() {
    let dir = temp_dir("manual-crash");
    let mut server = Server::persistent(&dir, "manual").await;
    let c = cloudmap(&server, Wire::Json);
    let op = c.create_http_namespace().name("crash").send().await.unwrap().operation_id.unwrap();
    admin(&server, reqwest::Method::POST, "/_localplane/operations/advance", None).await;
    assert_eq!(status_of(&c, &op).await, "PENDING");
    server.kill();
    server.restart().await;
    let c = cloudmap(&server, Wire::Json);
    assert_eq!(status_of(&c, &op).await, "PENDING", "acknowledged state survives SIGKILL");
    admin(&server, reqwest::Method::POST, "/_localplane/operations/advance", None).await;
    assert_eq!(status_of(&c, &op).await, "SUCCESS");
    assert_eq!(c.list_namespaces().send().await.unwrap().namespaces().len(), 1);
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn snapshot_reset_import_round_trip() {
    let server = Server::ephemeral("instant").await;
    let c = cloudmap(&server, Wire::Json);
    let op = c.create_http_namespace().name("snap").send().await.unwrap().operation_id.unwrap();
    let ns_id = c.list_namespaces().send().await.unwrap().namespaces()[0].id().unwrap().to_string();
    let svc = c.create_service().name("s").namespace_id(&ns_id).send().await.unwrap().service.unwrap();
    c.register_instance().service_id(svc.id().unwrap()).instance_id("i").attributes("k", "v").send().await.unwrap();
    let before = c.get_service().id(svc.id().unwrap()).send().await.unwrap();

    let (status, snapshot) = admin(&server, reqwest::Method::GET, "/_localplane/snapshot", None).await;
    assert_eq!(status, 200);
    assert_eq!(snapshot["format"], json!("localplane-snapshot"));

    let (status, _) = admin(&server, reqwest::Method::POST, "/_localplane/reset", None).await;
    assert_eq!(status, 200);
    assert!(c.list_namespaces().send().await.unwrap().namespaces().is_empty());
    assert_eq!(code(&c.get_operation().operation_id(&op).send().await.unwrap_err()), "OperationNotFound");

    // A bad snapshot changes nothing.
    let (status, _) =
        admin(&server, reqwest::Method::PUT, "/_localplane/snapshot", Some(json!({"format": "x", "entries": {}})))
            .await;
    assert_eq!(status, 400);
    let mut bad = snapshot.clone();
    bad["entries"]["nonsense/key"] = json!("v");
    assert_eq!(admin(&server, reqwest::Method::PUT, "/_localplane/snapshot", Some(bad)).await.0, 400);
    // A document this version cannot read (JSON, but not a namespace) is refused too, before
    // anything is replaced.
    let mut unreadable = snapshot.clone();
    let ns_key = format!("sd/{ACCOUNT}/{REGION}/ns/{ns_id}");
    let mut ns: serde_json::Value = serde_json::from_str(snapshot["entries"][&ns_key].as_str().unwrap()).unwrap();
    ns["ns_type"] = json!("BOGUS");
    unreadable["entries"][&ns_key] = json!(ns.to_string());
    let (status, body) = admin(&server, reqwest::Method::PUT, "/_localplane/snapshot", Some(unreadable)).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains(&ns_key), "{body}");
    assert!(c.list_namespaces().send().await.unwrap().namespaces().is_empty());

    let (status, imported) = admin(&server, reqwest::Method::PUT, "/_localplane/snapshot", Some(snapshot)).await;
    assert_eq!(status, 200, "{imported}");
    let after = c.get_service().id(svc.id().unwrap()).send().await.unwrap();
    assert_eq!(format!("{:?}", before.service), format!("{:?}", after.service));
    assert_eq!(status_of(&c, &op).await, "SUCCESS");
    assert_eq!(c.list_instances().service_id(svc.id().unwrap()).send().await.unwrap().instances().len(), 1);

    // Per-service reset and the aliases of moto and LocalStack.
    let (status, _) = admin(&server, reqwest::Method::POST, "/_localplane/reset?service=servicediscovery", None).await;
    assert_eq!(status, 200);
    assert!(c.list_namespaces().send().await.unwrap().namespaces().is_empty());
    assert_eq!(admin(&server, reqwest::Method::POST, "/_localplane/reset?service=ec2", None).await.0, 400);
    assert_eq!(admin(&server, reqwest::Method::POST, "/moto-api/reset", None).await.0, 200);
    assert_eq!(admin(&server, reqwest::Method::POST, "/_localstack/state/reset", None).await.0, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn reset_cancels_scheduled_work() {
    let server = Server::ephemeral("fast").await;
    let c = cloudmap(&server, Wire::Json);
    let op = c.create_http_namespace().name("gone").send().await.unwrap().operation_id.unwrap();
    admin(&server, reqwest::Method::POST, "/_localplane/reset", None).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(code(&c.get_operation().operation_id(&op).send().await.unwrap_err()), "OperationNotFound");
    assert!(c.list_namespaces().send().await.unwrap().namespaces().is_empty(), "nothing of the old state leaks back");
    let (_, ops) = admin(&server, reqwest::Method::GET, "/_localplane/operations", None).await;
    assert!(ops["operations"].as_array().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn operations_listing_shows_the_in_flight_and_the_newest_finished_up_to_its_limit() {
    let server = Server::ephemeral("manual").await;
    let c = cloudmap(&server, Wire::Json);
    let mut ops = Vec::new();
    for i in 0..12 {
        ops.push(c.create_http_namespace().name(format!("listed-{i}")).send().await.unwrap().operation_id.unwrap());
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    // The first ten finish; the last two stay SUBMITTED.
    for op in &ops[..10] {
        let (status, _) = admin(
            &server,
            reqwest::Method::POST,
            &format!("/_localplane/operations/{op}/advance?until=terminal"),
            None,
        )
        .await;
        assert_eq!(status, 200);
    }
    let ids = |v: &Value| -> Vec<String> {
        v["operations"].as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap().to_string()).collect()
    };
    let (status, all) = admin(&server, reqwest::Method::GET, "/_localplane/operations", None).await;
    assert_eq!(status, 200);
    assert_eq!(ids(&all), ops, "under the default limit every operation shows, oldest first");
    let (status, some) = admin(&server, reqwest::Method::GET, "/_localplane/operations?limit=5", None).await;
    assert_eq!(status, 200, "{some}");
    assert_eq!(ids(&some), ops[7..].to_vec(), "the three newest finished and the two unfinished");
    let (status, one) = admin(&server, reqwest::Method::GET, "/_localplane/operations?limit=1", None).await;
    assert_eq!(status, 200);
    assert_eq!(ids(&one), ops[10..].to_vec(), "unfinished operations always show");
    for bad in ["0", "many", "-3"] {
        let (status, body) =
            admin(&server, reqwest::Method::GET, &format!("/_localplane/operations?limit={bad}"), None).await;
        assert_eq!(status, 400, "limit={bad}: {body}");
        assert!(body.to_string().contains("limit must be a whole number"), "{body}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_requests_and_operations() {
    let server = Server::ephemeral("instant").await;
    let c = cloudmap(&server, Wire::Json);
    c.create_http_namespace().name("m").send().await.unwrap();
    let _ = c.get_namespace().id("ns-aaaaaaaaaaaaaaaa").send().await;
    let text = reqwest::get(format!("{}/metrics", server.endpoint())).await.unwrap().text().await.unwrap();
    assert!(
        text.contains(
            r#"localplane_requests_total{service="servicediscovery",operation="CreateHttpNamespace",status="200"} 1"#
        ),
        "{text}"
    );
    assert!(text.contains(r#"operation="GetNamespace",status="404""#), "{text}");
    assert!(text.contains("localplane_request_duration_seconds_bucket"), "{text}");
    assert!(
        text.contains(
            r#"localplane_operations_finished_total{service="servicediscovery",type="CREATE_NAMESPACE",state="SUCCESS"} 1"#
        ),
        "{text}"
    );
    assert!(text.contains("localplane_store_bytes"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_show_unfinished_operations_by_state_and_count_the_finished() {
    let server = Server::ephemeral("manual").await;
    let c = cloudmap(&server, Wire::Json);
    let op = c.create_http_namespace().name("m").send().await.unwrap().operation_id.unwrap();
    let scrape =
        || async { reqwest::get(format!("{}/metrics", server.endpoint())).await.unwrap().text().await.unwrap() };
    let gauge = |state: &str| {
        format!(r#"localplane_operations{{service="servicediscovery",type="CREATE_NAMESPACE",state="{state}"}}"#)
    };
    let finished =
        r#"localplane_operations_finished_total{service="servicediscovery",type="CREATE_NAMESPACE",state="SUCCESS"}"#;
    let text = scrape().await;
    assert!(text.contains(&format!("{} 1\n", gauge("SUBMITTED"))), "{text}");
    assert!(!text.contains(finished), "nothing has finished yet: {text}");
    let path = format!("/_localplane/operations/{op}/advance?until=terminal");
    let (status, body) = admin(&server, reqwest::Method::POST, &path, None).await;
    assert_eq!(status, 200, "{body}");
    let text = scrape().await;
    assert!(text.contains(&format!("{} 0\n", gauge("SUBMITTED"))), "an ended operation leaves its state: {text}");
    assert!(text.contains(&format!("{finished} 1\n")), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn config_file_is_checked_and_applied() {
    let dir = temp_dir("config");
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "timing = \"fast\"\nlisten_addr = \"127.0.0.1:1\"\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_localplane"))
        .args(["serve", "--ephemeral", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("listen_addr"), "the message names the key: {stderr}");

    // The file's timing and faults apply; a flag overrides the file.
    let good = dir.join("good.toml");
    std::fs::write(
        &good,
        "timing = \"manual\"\n[[faults]]\nservice = \"servicediscovery\"\noperationType = \"CREATE_NAMESPACE\"\nerrorCode = \"THROTTLED_REQUEST\"\n",
    )
    .unwrap();
    let server = Server::ephemeral_with(&["--config", good.to_str().unwrap()]).await;
    let (_, t) = admin(&server, reqwest::Method::GET, "/_localplane/timing", None).await;
    assert_eq!(t["profile"], json!("manual"));
    let (_, f) = admin(&server, reqwest::Method::GET, "/_localplane/faults", None).await;
    assert_eq!(f["faults"].as_array().unwrap().len(), 1);
    let flagged = Server::ephemeral_with(&["--config", good.to_str().unwrap(), "--timing", "instant"]).await;
    let (_, t) = admin(&flagged, reqwest::Method::GET, "/_localplane/timing", None).await;
    assert_eq!(t["profile"], json!("instant"));
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn ops_list_and_watch_show_operations() {
    let server = Server::ephemeral("fast").await;
    let c = cloudmap(&server, Wire::Json);
    let bin = env!("CARGO_BIN_EXE_localplane");
    let op = c.create_http_namespace().name("watched").send().await.unwrap().operation_id.unwrap();

    let out = std::process::Command::new(bin)
        .args(["ops", "list", "--json", "--endpoint", &server.endpoint()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed["operations"][0]["id"], json!(op));

    // `ops watch` in a real pseudo-terminal (util-linux `script`): the operation appears in flight,
    // then the screen shows it finished.
    let mut child = std::process::Command::new("script")
        .args([
            "-q",
            "-e",
            "-c",
            &format!("{bin} ops watch --interval-ms 100 --endpoint {}", server.endpoint()),
            "/dev/null",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("script(1) from util-linux");
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        use std::io::Read;
        let mut seen = String::new();
        let mut buf = [0u8; 4096];
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            match stdout.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
            }
            if seen.contains("SUCCESS") {
                break;
            }
        }
        seen
    });
    let screen = tokio::task::spawn_blocking(move || reader.join().unwrap()).await.unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(screen.contains("CREATE_NAMESPACE"), "{screen}");
    assert!(screen.contains("\x1b[2J"), "the view redraws the terminal");
    let in_flight = screen.contains("SUBMITTED") || screen.contains("PENDING");
    assert!(in_flight, "the operation was seen in flight: {screen}");
    assert!(screen.contains("SUCCESS"), "then finished: {screen}");
}
