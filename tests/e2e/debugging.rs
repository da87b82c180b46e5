//! Debugging a client against the real binary: with `LOCALPLANE_LOG=debug` every request and
//! response body is logged with its operation, account, region and status; operation steps are
//! logged at info; a not-found error says which account and region were searched.

use crate::cli::{cloudmap_at, kafkaconnect_at, BIN};
use crate::common::*;
use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The lines of `log` that contain every one of `parts` (waits up to 5 s for one to appear).
fn lines_with(log: &std::path::Path, parts: &[&str]) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let found: Vec<String> =
            text.lines().filter(|l| parts.iter().all(|p| l.contains(p))).map(str::to_string).collect();
        if !found.is_empty() || Instant::now() > deadline {
            return found;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn debug_logs_show_bodies_and_not_found_errors_say_where_they_looked() {
    let dir = temp_dir("debug-log");
    let log = dir.join("server.log");
    let mut child = Command::new(BIN)
        .args(["serve", "--ephemeral", "--listen", "127.0.0.1:0", "--dns-listen", "off", "--timing", "fast"])
        .env("LOCALPLANE_LOG", "debug")
        .env("LOCALPLANE_LOG_FORMAT", "text")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("start localplane");
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    let endpoint = first.trim().strip_prefix("LOCALPLANE_ENDPOINT=").expect(&first).to_string();

    let sd = cloudmap_at(&endpoint);
    let created = sd.create_http_namespace().name("debugged").send().await.expect("CreateHttpNamespace");
    let op = created.operation_id().unwrap().to_string();

    let request = lines_with(&log, &["DEBUG", "request body", "operation=CreateHttpNamespace"]);
    assert_eq!(request.len(), 1, "{request:?}");
    for part in ["account=123456789012", "region=us-east-1", "\"Name\":\"debugged\""] {
        assert!(request[0].replace(' ', "").contains(&part.replace(' ', "")), "{part} not in {}", request[0]);
    }
    let response = lines_with(&log, &["DEBUG", "response body", "operation=CreateHttpNamespace", "status=200"]);
    assert!(response[0].contains(&format!("\"OperationId\":\"{op}\"")), "{response:?}");

    // The operation's steps, at info, until it finishes.
    let finished = lines_with(&log, &["INFO", "operation finished", &format!("operation={op}"), "state=SUCCESS"]);
    assert_eq!(
        finished.len(),
        1,
        "no info line of the finished operation in\n{}",
        std::fs::read_to_string(&log).unwrap()
    );
    assert!(finished[0].contains("operation_type=CREATE_NAMESPACE"), "{}", finished[0]);

    // A body beyond a few KB is cut in the log, saying how long it was.
    let mut many = sd.create_http_namespace().name("tagged");
    for i in 0..40 {
        let tag = aws_sdk_servicediscovery::types::Tag::builder().key(format!("k{i}")).value("v".repeat(200)).build();
        many = many.tags(tag.unwrap());
    }
    many.send().await.expect("CreateHttpNamespace with 40 tags");
    let cut = lines_with(&log, &["request body", "bytes in all)"]);
    assert!(!cut.is_empty(), "a long body is logged cut");
    assert!(cut[0].len() < 6000, "{} characters", cut[0].len());

    // Wrong region: the error keeps its code and says where it looked.
    let ns_id = {
        let listed = sd.list_namespaces().send().await.unwrap();
        listed.namespaces()[0].id().unwrap().to_string()
    };
    let elsewhere = aws_sdk_servicediscovery::Client::from_conf(
        sd.config().to_builder().region(aws_sdk_servicediscovery::config::Region::new("eu-west-1")).build(),
    );
    let err = elsewhere.get_namespace().id(&ns_id).send().await.unwrap_err().into_service_error();
    assert!(err.is_namespace_not_found(), "{err:?}");
    let message = aws_sdk_servicediscovery::error::ProvideErrorMetadata::message(&err).unwrap_or_default().to_string();
    assert_eq!(message, format!("Namespace not found: {ns_id} (searched account 123456789012 in region eu-west-1)"));

    // An ARN of another region: the message says whose it is.
    let kc = kafkaconnect_at(&endpoint);
    let arn = "arn:aws:kafkaconnect:eu-west-1:210987654321:connector/orders/abc-1";
    let err = kc.describe_connector().connector_arn(arn).send().await.unwrap_err().into_service_error();
    assert!(err.is_not_found_exception(), "{err:?}");
    let message = aws_sdk_kafkaconnect::error::ProvideErrorMetadata::message(&err).unwrap_or_default().to_string();
    assert!(
        message.ends_with(
            "(searched account 123456789012 in region us-east-1; the ARN is of account 210987654321 in region eu-west-1: call with that account's credentials, signed for that region)"
        ),
        "{message}"
    );
    let logged = lines_with(&log, &["response body", "operation=DescribeConnector", "status=404"]);
    assert!(logged[0].contains("searched account 123456789012"), "{logged:?}");

    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(dir);
}
