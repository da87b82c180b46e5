//! Several localplane replicas sharing one PostgreSQL database, with no proxy in front: clients
//! alternate between them and must see one state — writes visible on the next read anywhere, one
//! winner per `currentVersion`, idempotency and unique names across replicas, settings changed
//! through one replica in force in all, operations finished by a survivor when a replica is killed,
//! and a database restart survived without restarting localplane.
//!
//! These tests need `LOCALPLANE_TEST_STORE=postgres://…` (the second pass of `scripts/test`); on
//! SQLite they print a note and pass.

use crate::common::*;
use crate::kafkaconnect::{active_plugin, kafkaconnect, running_connector, wait_operation};
use aws_sdk_kafkaconnect as kc;
use aws_sdk_servicediscovery as sd;
use rand::Rng;
use sd::types::{OperationStatus, OperationTargetType};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// A fresh database for the replicas of one test, or None (with a note) on SQLite.
async fn shared_database(test: &str) -> Option<TestDatabase> {
    let db = tokio::task::spawn_blocking(TestDatabase::fresh).await.expect("create a test database");
    if db.is_none() {
        eprintln!("note: replicas::{test} needs LOCALPLANE_TEST_STORE=postgres://…; nothing to test on SQLite");
    }
    db
}

async fn timing_of(server: &Server) -> Value {
    admin(server, reqwest::Method::GET, "/_localplane/timing", None).await.1["profile"].clone()
}

/// Polls `check` every 50 ms until it holds; fails after `limit`.
async fn eventually<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !check().await {
        assert!(Instant::now() < deadline, "{what} did not happen within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn namespace_target(op: &sd::types::Operation) -> String {
    op.targets().and_then(|t| t.get(&OperationTargetType::Namespace)).expect("NAMESPACE target").clone()
}

/// The same Cloud Map client without the SDK's retries, so that a 503 reaches the test.
fn no_retry(c: &sd::Client) -> sd::Client {
    sd::Client::from_conf(c.config().to_builder().retry_config(sd::config::retry::RetryConfig::disabled()).build())
}

/// The same MSK Connect client without the SDK's retries.
fn kc_no_retry(c: &kc::Client) -> kc::Client {
    kc::Client::from_conf(c.config().to_builder().retry_config(kc::config::retry::RetryConfig::disabled()).build())
}

#[tokio::test(flavor = "multi_thread")]
async fn two_replicas_serve_one_state() {
    let Some(db) = shared_database("two_replicas_serve_one_state").await else { return };
    let a = Server::replica(&db.url, &["--timing", "instant"]).await;
    let b = Server::replica(&db.url, &["--timing", "instant"]).await;
    let clients = [cloudmap(&a, Wire::Json), cloudmap(&b, Wire::Cbor)];

    let op = clients[0].create_http_namespace().name("shared").send().await.unwrap().operation_id.unwrap();
    let op = clients[1].get_operation().operation_id(&op).send().await.expect("B knows A's operation");
    let op = op.operation.unwrap();
    assert_eq!(op.status(), Some(&OperationStatus::Success));
    let ns = namespace_target(&op);

    // Every write through one replica is there on the very next read through the other.
    for i in 0..12 {
        let (write, read) = (&clients[i % 2], &clients[(i + 1) % 2]);
        let name = format!("svc-{i}");
        let svc = write.create_service().name(&name).namespace_id(&ns).send().await.unwrap().service.unwrap();
        let id = svc.id().unwrap();
        read.get_service().id(id).send().await.expect("the other replica sees the new service at once");
        write
            .register_instance()
            .service_id(id)
            .instance_id("i-1")
            .attributes("n", i.to_string())
            .send()
            .await
            .unwrap();
        let found = read.discover_instances().namespace_name("shared").service_name(&name).send().await.unwrap();
        assert_eq!(found.instances().len(), 1, "the instance registered through the other replica");
        assert_eq!(read.list_services().send().await.unwrap().services().len(), i + 1);
    }

    // One CreatorRequestId sent to both at once: one operation, one namespace.
    let (x, y) = tokio::join!(
        clients[0].create_http_namespace().name("idem").creator_request_id("req-1").send(),
        clients[1].create_http_namespace().name("idem").creator_request_id("req-1").send(),
    );
    assert_eq!(x.unwrap().operation_id, y.unwrap().operation_id, "both replicas answer with the same operation");

    // One service name sent to both at once: one is created, the other is told it exists.
    for round in 0..5 {
        let name = format!("dup-{round}");
        let (x, y) = tokio::join!(
            clients[0].create_service().name(&name).namespace_id(&ns).send(),
            clients[1].create_service().name(&name).namespace_id(&ns).send(),
        );
        let outcomes = [x.map(|_| ()).map_err(|e| code(&e)), y.map(|_| ()).map_err(|e| code(&e))];
        assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1, "round {round}: {outcomes:?}");
        assert!(outcomes.contains(&Err("ServiceAlreadyExists".to_string())), "round {round}: {outcomes:?}");
    }
    for c in &clients {
        assert_eq!(c.list_namespaces().send().await.unwrap().namespaces().len(), 2);
        assert_eq!(c.list_services().send().await.unwrap().services().len(), 12 + 5);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn settings_changed_through_one_replica_apply_to_all() {
    let Some(db) = shared_database("settings_changed_through_one_replica_apply_to_all").await else { return };
    let a = Server::replica(&db.url, &["--timing", "fast"]).await;
    let b = Server::replica(&db.url, &["--timing", "fast"]).await;
    let (ca, cb) = (cloudmap(&a, Wire::Json), cloudmap(&b, Wire::Json));
    let second = Duration::from_millis(1500);

    // The timing profile: manual through A, and B stops moving operations on its own too.
    let (status, _) = admin(&a, reqwest::Method::PUT, "/_localplane/timing", Some(json!({"profile": "manual"}))).await;
    assert_eq!(status, 200);
    eventually("B taking up the manual profile", second, || async { timing_of(&b).await == json!("manual") }).await;
    let op = cb.create_http_namespace().name("waits").send().await.unwrap().operation_id.unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    let status = ca.get_operation().operation_id(&op).send().await.unwrap().operation.unwrap();
    assert_eq!(status.status(), Some(&OperationStatus::Submitted), "no replica moves it under manual");
    let path = format!("/_localplane/operations/{op}/advance?until=terminal");
    let (_, moved) = admin(&a, reqwest::Method::POST, &path, None).await;
    assert_eq!(moved["operation"]["state"], json!("SUCCESS"), "A advances the operation B started: {moved}");

    // Back to fast through B: a waiting operation moves, whichever replica runs it.
    let op = ca.create_http_namespace().name("then-moves").send().await.unwrap().operation_id.unwrap();
    let (status, _) = admin(&b, reqwest::Method::PUT, "/_localplane/timing", Some(json!({"profile": "fast"}))).await;
    assert_eq!(status, 200);
    eventually("A taking up the fast profile", second, || async { timing_of(&a).await == json!("fast") }).await;
    assert_eq!(wait_cloudmap_operation(&ca, &op).await.0.status(), Some(&OperationStatus::Success));

    // A request fault added through A fails the next matching request on B.
    let rule = json!({"service": "servicediscovery", "api": "ListNamespaces", "httpStatus": 503,
        "errorCode": "ServiceUnavailable", "count": 1});
    assert_eq!(admin(&a, reqwest::Method::POST, "/_localplane/faults", Some(rule)).await.0, 201);
    tokio::time::sleep(second).await;
    let err = no_retry(&cb).list_namespaces().send().await.unwrap_err();
    assert_eq!(code(&err), "ServiceUnavailable");
    assert!(no_retry(&ca).list_namespaces().send().await.is_ok(), "the rule was used up on B");

    // An operation fault added through B fails an operation started through A.
    let rule = json!({"service": "servicediscovery", "operationType": "CREATE_NAMESPACE",
        "errorCode": "CANNOT_CREATE_HOSTED_ZONE", "count": 1});
    assert_eq!(admin(&b, reqwest::Method::POST, "/_localplane/faults", Some(rule)).await.0, 201);
    let op = ca.create_http_namespace().name("doomed").send().await.unwrap().operation_id.unwrap();
    let (op, _) = wait_cloudmap_operation(&cb, &op).await;
    assert_eq!(op.error_code(), Some("CANNOT_CREATE_HOSTED_ZONE"));

    // A reset through B empties A too, and keeps the timing.
    assert_eq!(admin(&b, reqwest::Method::POST, "/_localplane/reset", None).await.0, 200);
    assert!(ca.list_namespaces().send().await.unwrap().namespaces().is_empty());
    tokio::time::sleep(second).await;
    assert_eq!(timing_of(&a).await, json!("fast"), "a reset leaves the timing alone");
}

#[tokio::test(flavor = "multi_thread")]
async fn one_current_version_sent_to_two_replicas_has_one_winner() {
    let Some(db) = shared_database("one_current_version_sent_to_two_replicas_has_one_winner").await else { return };
    let a = Server::replica(&db.url, &["--timing", "fast"]).await;
    let b = Server::replica(&db.url, &["--timing", "fast"]).await;
    let clients = [kafkaconnect(&a), kafkaconnect(&b)];
    let plugin = active_plugin(&clients[0], "replicated-plugin").await;
    let created = running_connector(&clients[1], "replicated", &plugin).await;
    let arn = created.connector_arn().unwrap().to_string();

    for round in 0..3 {
        let described = clients[round % 2].describe_connector().connector_arn(&arn).send().await.unwrap();
        let version = described.current_version().unwrap().to_string();
        let update = |c: &kc::Client, tasks: usize| {
            c.update_connector()
                .connector_arn(&arn)
                .current_version(&version)
                .connector_configuration("connector.class", "io.confluent.connect.s3.S3SinkConnector")
                .connector_configuration("tasks.max", tasks.to_string())
                .send()
        };
        let (x, y) = tokio::join!(update(&clients[0], 2 + round), update(&clients[1], 10 + round));
        let (winner, loser) = match (x, y) {
            (Ok(w), Err(l)) | (Err(l), Ok(w)) => (w, l),
            (x, y) => panic!("round {round}: want exactly one winner, got {x:?} and {y:?}"),
        };
        assert_eq!(code(&loser), "BadRequestException", "{loser:?}");
        let op = winner.connector_operation_arn().unwrap();
        let (done, _) = wait_operation(&clients[(round + 1) % 2], op).await;
        assert_eq!(done.connector_operation_state().map(|s| s.as_str()), Some("UPDATE_COMPLETE"));
    }
    let ops = clients[0].list_connector_operations().connector_arn(&arn).send().await.unwrap();
    assert_eq!(ops.connector_operations().len(), 3, "one operation per round");
}

#[tokio::test(flavor = "multi_thread")]
async fn three_replicas_alternate_and_agree() {
    let Some(db) = shared_database("three_replicas_alternate_and_agree").await else { return };
    let mut servers = Vec::new();
    for _ in 0..3 {
        servers.push(Server::replica(&db.url, &["--timing", "fast"]).await);
    }
    let clients: Vec<sd::Client> = servers.iter().map(|s| cloudmap(s, Wire::Json)).collect();
    let mut ops = Vec::new();
    for i in 0..6 {
        let out = clients[i % 3].create_http_namespace().name(format!("ns-{i}")).send().await.unwrap();
        ops.push(out.operation_id.unwrap());
    }
    for (i, op) in ops.iter().enumerate() {
        let (done, _) = wait_cloudmap_operation(&clients[(i + 1) % 3], op).await;
        assert_eq!(done.status(), Some(&OperationStatus::Success));
    }
    let mut views = Vec::new();
    for (c, s) in clients.iter().zip(&servers) {
        assert_eq!(c.list_namespaces().send().await.unwrap().namespaces().len(), 6);
        let (_, listed) = admin(s, reqwest::Method::GET, "/_localplane/operations", None).await;
        views.push(listed["operations"].clone());
    }
    assert_eq!(views[0].as_array().map(Vec::len), Some(6));
    assert!(views.iter().all(|v| *v == views[0]), "every replica lists the same operations: {views:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_of_a_replica_leaves_its_operations_to_another() {
    let Some(db) = shared_database("sigkill_of_a_replica_leaves_its_operations_to_another").await else { return };
    let mut a = Server::replica(&db.url, &["--timing", "fast"]).await;
    let b = Server::replica(&db.url, &["--timing", "fast"]).await;
    let cb = cloudmap(&b, Wire::Json);
    let kb = kafkaconnect(&b);
    let plugin = active_plugin(&kb, "survivor-plugin").await;
    let connector = running_connector(&kb, "survivor", &plugin).await;
    let arn = connector.connector_arn().unwrap().to_string();

    for round in 0..3 {
        let (ca, ka) = (cloudmap(&a, Wire::Json), kafkaconnect(&a));
        let mut ops = Vec::new();
        for j in 0..4 {
            let out = ca.create_http_namespace().name(format!("r{round}-{j}")).send().await.unwrap();
            ops.push(out.operation_id.unwrap());
        }
        let version = ka.describe_connector().connector_arn(&arn).send().await.unwrap().current_version.unwrap();
        let update = ka
            .update_connector()
            .connector_arn(&arn)
            .current_version(version)
            .connector_configuration("connector.class", "io.confluent.connect.s3.S3SinkConnector")
            .connector_configuration("tasks.max", (round + 2).to_string())
            .send()
            .await
            .unwrap();
        // Kill A at some point of the steps it may be running.
        let pause = rand::thread_rng().gen_range(0..400);
        tokio::time::sleep(Duration::from_millis(pause)).await;
        a.kill();

        for op in &ops {
            let (done, _) = wait_cloudmap_operation(&cb, op).await;
            assert_eq!(done.status(), Some(&OperationStatus::Success), "round {round}, killed after {pause} ms");
        }
        let (done, _) = wait_operation(&kb, update.connector_operation_arn().unwrap()).await;
        assert_eq!(done.connector_operation_state().map(|s| s.as_str()), Some("UPDATE_COMPLETE"));
        let steps: Vec<(String, String)> = done
            .operation_steps()
            .iter()
            .map(|s| {
                let kind = s.step_type().map(|t| t.as_str().to_string()).unwrap_or_default();
                (kind, s.step_state().map(|t| t.as_str().to_string()).unwrap_or_default())
            })
            .collect();
        assert!(steps.iter().all(|(_, state)| state == "COMPLETED"), "{steps:?}");
        let mut kinds: Vec<&String> = steps.iter().map(|(kind, _)| kind).collect();
        kinds.dedup();
        assert_eq!(kinds.len(), steps.len(), "each step ran once: {steps:?}");
        a.restart().await;
    }
    let ca = cloudmap(&a, Wire::Json);
    assert_eq!(cb.list_namespaces().send().await.unwrap().namespaces().len(), 12);
    assert_eq!(ca.list_namespaces().send().await.unwrap().namespaces().len(), 12);
}

/// Runs `LOCALPLANE_TEST_PG_CTL ACTION` (stop, start or restart the test cluster).
fn pg_ctl(command: &str, action: &str) {
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{command} {action}"))
        .stdout(std::process::Stdio::null())
        .status()
        .expect("run LOCALPLANE_TEST_PG_CTL");
    assert!(status.success(), "`{command} {action}` failed: {status}");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "stops the shared test PostgreSQL, so it runs alone: scripts/test runs it after the second pass"]
async fn database_restart_fails_requests_with_503_then_recovers() {
    let Some(db) = shared_database("database_restart_fails_requests_with_503_then_recovers").await else { return };
    let Ok(ctl) = std::env::var("LOCALPLANE_TEST_PG_CTL") else {
        eprintln!("note: set LOCALPLANE_TEST_PG_CTL to a command taking stop|start|restart (scripts/test does)");
        return;
    };
    let a = Server::replica(&db.url, &["--timing", "fast"]).await;
    let b = Server::replica(&db.url, &["--timing", "fast"]).await;
    let (ca, cb) = (cloudmap(&a, Wire::Json), cloudmap(&b, Wire::Json));
    let kb = kafkaconnect(&b);
    let op = ca.create_http_namespace().name("before").send().await.unwrap().operation_id.unwrap();
    assert_eq!(wait_cloudmap_operation(&cb, &op).await.0.status(), Some(&OperationStatus::Success));
    // An operation whose steps span the outage.
    let slow = json!({"profile": "fast", "overrides": {"CREATE_NAMESPACE": 1500}});
    assert_eq!(admin(&a, reqwest::Method::PUT, "/_localplane/timing", Some(slow)).await.0, 200);
    let during = cb.create_http_namespace().name("during").send().await.unwrap().operation_id.unwrap();

    pg_ctl(&ctl, "stop");
    let err = no_retry(&ca).list_namespaces().send().await.unwrap_err();
    assert_eq!(code(&err), "ServiceUnavailable", "{err:?}");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(503));
    let err = kc_no_retry(&kb).list_connectors().send().await.unwrap_err();
    assert_eq!(code(&err), "ServiceUnavailableException", "{err:?}");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(503));
    let health = reqwest::get(format!("{}/_localplane/health", b.endpoint())).await.unwrap();
    assert_eq!(health.status().as_u16(), 200, "the process itself stays up");
    pg_ctl(&ctl, "start");

    // Back without restarting localplane: the next requests reconnect.
    let (ca_once, kb_once) = (no_retry(&ca), kc_no_retry(&kb));
    eventually("both replicas answering again", Duration::from_secs(10), || {
        let (ca_once, kb_once) = (ca_once.clone(), kb_once.clone());
        async move { ca_once.list_namespaces().send().await.is_ok() && kb_once.list_connectors().send().await.is_ok() }
    })
    .await;
    assert_eq!(wait_cloudmap_operation(&ca, &during).await.0.status(), Some(&OperationStatus::Success));
    let op = cb.create_http_namespace().name("after").send().await.unwrap().operation_id.unwrap();
    assert_eq!(wait_cloudmap_operation(&ca, &op).await.0.status(), Some(&OperationStatus::Success));
    assert_eq!(ca.list_namespaces().send().await.unwrap().namespaces().len(), 3);
}
