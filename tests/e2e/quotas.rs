//! Configurable quotas and operation retention through the binary: `--quota`, `[quotas]` and
//! `--operation-retention`, seen by `aws-sdk-servicediscovery`.

use crate::common::*;
use aws_sdk_servicediscovery as sd;
use sd::types::*;
use std::time::{Duration, Instant};

async fn namespace(c: &sd::Client, name: &str) -> String {
    let op = c.create_http_namespace().name(name).send().await.expect("CreateHttpNamespace");
    let (op, _) = wait_cloudmap_operation(c, op.operation_id().expect("OperationId")).await;
    op.targets().and_then(|t| t.get(&OperationTargetType::Namespace)).expect("NAMESPACE target").clone()
}

async fn service(c: &sd::Client, ns: &str, name: &str) -> String {
    let out = c.create_service().name(name).namespace_id(ns).r#type(ServiceTypeOption::Http).send().await;
    out.expect("CreateService").service.and_then(|s| s.id).expect("service id")
}

/// `--quota instances_per_service=1200`: a service takes 1,100 instances (AWS's default stops at 1,000),
/// and the 1,201st is refused as AWS refuses one past the quota.
#[tokio::test(flavor = "multi_thread")]
async fn a_raised_quota_takes_more_than_a_thousand_instances() {
    let server = Server::ephemeral_with(&["--timing", "instant", "--quota", "instances_per_service=1200"]).await;
    let c = cloudmap(&server, Wire::Json);
    let ns = namespace(&c, "raised").await;
    let srv = service(&c, &ns, "many").await;
    let register = |i: usize| {
        let c = c.clone();
        let srv = srv.clone();
        async move {
            c.register_instance()
                .service_id(srv)
                .instance_id(format!("i-{i:05}"))
                .attributes("AWS_INSTANCE_IPV4", "10.0.0.1")
                .send()
                .await
        }
    };
    for chunk in (0..1200).collect::<Vec<_>>().chunks(50) {
        let mut set = tokio::task::JoinSet::new();
        for i in chunk {
            set.spawn(register(*i));
        }
        while let Some(r) = set.join_next().await {
            r.expect("task").expect("RegisterInstance under the raised quota");
        }
    }
    let srv_now = c.get_service().id(&srv).send().await.expect("GetService").service.expect("service");
    assert_eq!(srv_now.instance_count(), Some(1200));
    let err = register(1200).await.expect_err("past the raised quota");
    assert_eq!(code(&err.into_service_error()), "ResourceLimitExceeded");
}

/// `[quotas]` in the config file lowers quotas: the second namespace and the third instance get
/// AWS's `ResourceLimitExceeded`; `--quota` beats the file.
#[tokio::test(flavor = "multi_thread")]
async fn a_lowered_quota_gets_the_aws_error() {
    let dir = temp_dir("quotas");
    std::fs::create_dir_all(&dir).expect("dir");
    let cfg = dir.join("localplane.toml");
    std::fs::write(&cfg, "[quotas]\nnamespaces_per_region = 1\ninstances_per_service = 7\n").expect("config");
    let server = Server::ephemeral_with(&[
        "--timing",
        "instant",
        "--config",
        cfg.to_str().expect("path"),
        "--quota",
        "instances_per_service=2",
    ])
    .await;
    let c = cloudmap(&server, Wire::Json);
    let ns = namespace(&c, "only").await;
    let err = c.create_http_namespace().name("second").send().await.expect_err("over the namespace quota");
    assert_eq!(code(&err.into_service_error()), "ResourceLimitExceeded");
    let srv = service(&c, &ns, "two").await;
    for id in ["a", "b"] {
        let r = c.register_instance().service_id(&srv).instance_id(id).attributes("AWS_INSTANCE_IPV4", "10.0.0.2");
        r.send().await.expect("under the quota");
    }
    let r = c.register_instance().service_id(&srv).instance_id("c").attributes("AWS_INSTANCE_IPV4", "10.0.0.3");
    let err = r.send().await.expect_err("over the quota");
    assert_eq!(code(&err.into_service_error()), "ResourceLimitExceeded");
    // Re-registering an existing instance is no new instance.
    let r = c.register_instance().service_id(&srv).instance_id("a").attributes("AWS_INSTANCE_IPV4", "10.0.0.4");
    r.send().await.expect("re-registration");
}

/// A bad quota stops the start with a message naming it.
#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_quota_stops_the_start() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_localplane"))
        .args(["serve", "--ephemeral", "--listen", "127.0.0.1:0", "--dns-listen", "off", "--quota", "instances=5"])
        .output()
        .expect("run localplane");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown quota 'instances'") && err.contains("instances_per_service"), "{err}");
}

/// `--operation-retention 2s`: a finished operation is gone from GetOperation and ListOperations
/// after the retention (OperationNotFound, as for an id AWS no longer knows); a young one stays.
#[tokio::test(flavor = "multi_thread")]
async fn finished_operations_are_dropped_after_the_retention() {
    let server = Server::ephemeral_with(&["--timing", "instant", "--operation-retention", "2s"]).await;
    let c = cloudmap(&server, Wire::Json);
    let op = c.create_http_namespace().name("kept").send().await.expect("CreateHttpNamespace");
    let old = op.operation_id().expect("id").to_string();
    c.get_operation().operation_id(&old).send().await.expect("GetOperation while young");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match c.get_operation().operation_id(&old).send().await {
            Ok(_) => assert!(Instant::now() < deadline, "the operation outlived its retention"),
            Err(e) => {
                assert_eq!(code(&e.into_service_error()), "OperationNotFound");
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let young = c.create_http_namespace().name("young").send().await.expect("CreateHttpNamespace");
    let young = young.operation_id().expect("id").to_string();
    let listed = c.list_operations().send().await.expect("ListOperations");
    let ids: Vec<&str> = listed.operations().iter().filter_map(|o| o.id()).collect();
    assert_eq!(ids, vec![young.as_str()], "only the young operation is listed");
    // The namespace itself stays: retention drops operation history, not resources.
    assert_eq!(c.list_namespaces().send().await.expect("ListNamespaces").namespaces().len(), 2);
}
