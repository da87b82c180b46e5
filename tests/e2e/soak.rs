//! Soak: 64 concurrent clients mix reads and writes of both services for a bounded time (60 s by
//! default, `LOCALPLANE_SOAK_SECS` to change). Zero errors other than modelled ones, memory stays
//! under a stated bound, and every operation ends.

use crate::common::*;
use crate::kafkaconnect::{active_plugin, kafkaconnect, running_connector};
use aws_sdk_kafkaconnect as kc;
use aws_sdk_servicediscovery as sd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The resident memory the server may use during the soak.
const RSS_BOUND_KIB: u64 = 200 * 1024;

/// Errors a client may legitimately get while others race it.
const MODELLED: &[&str] = &["DuplicateRequest", "InstanceNotFound", "BadRequestException", "ConflictException"];

#[tokio::test(flavor = "multi_thread")]
async fn sixty_four_clients_for_a_minute() {
    let secs: u64 = std::env::var("LOCALPLANE_SOAK_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(60);
    let server = Server::ephemeral("fast").await;
    let cm = cloudmap(&server, Wire::Json);
    let kcc = kafkaconnect(&server);
    let op = cm.create_http_namespace().name("soak").send().await.unwrap().operation_id.unwrap();
    let (op, _) = wait_cloudmap_operation(&cm, &op).await;
    let ns = op.targets().unwrap().get(&sd::types::OperationTargetType::Namespace).unwrap().clone();
    let mut services = Vec::new();
    for i in 0..8 {
        let svc = cm
            .create_service()
            .name(format!("s{i}"))
            .namespace_id(&ns)
            .health_check_custom_config(sd::types::HealthCheckCustomConfig::builder().build())
            .send()
            .await
            .unwrap();
        services.push(svc.service.unwrap().id.unwrap());
    }
    let plugin = active_plugin(&kcc, "soak").await;
    let mut connectors = Vec::new();
    for i in 0..4 {
        connectors.push(running_connector(&kcc, &format!("soak-{i}"), &plugin).await.connector_arn.unwrap());
    }

    let requests = Arc::new(AtomicU64::new(0));
    let modelled = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for client in 0..64usize {
        let (cm, kcc, services, connectors) = (cm.clone(), kcc.clone(), services.clone(), connectors.clone());
        let (requests, modelled) = (requests.clone(), modelled.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = 0usize;
            let mut unexpected = Vec::new();
            while Instant::now() < deadline && i < 100_000 {
                i += 1;
                let svc = &services[(client + i) % services.len()];
                let conn = &connectors[client % connectors.len()];
                let id = format!("c{client}-{}", i % 20);
                let outcome: Result<(), String> = match (client + i) % 8 {
                    0 => cm
                        .register_instance()
                        .service_id(svc)
                        .instance_id(&id)
                        .attributes("k", "v")
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|e| code(&e)),
                    1 => cm
                        .deregister_instance()
                        .service_id(svc)
                        .instance_id(&id)
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|e| code(&e)),
                    2 => cm
                        .discover_instances()
                        .namespace_name("soak")
                        .service_name(format!("s{}", (client + i) % 8))
                        .health_status(sd::types::HealthStatusFilter::All)
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|e| code(&e)),
                    3 => cm.list_operations().max_results(10).send().await.map(|_| ()).map_err(|e| code(&e)),
                    4 => cm.list_instances().service_id(svc).send().await.map(|_| ()).map_err(|e| code(&e)),
                    5 => kcc
                        .list_connector_operations()
                        .connector_arn(conn)
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|e| code(&e)),
                    6 => match kcc.describe_connector().connector_arn(conn).send().await {
                        Ok(d) if d.connector_state() == Some(&kc::types::ConnectorState::Running) && i % 16 == 6 => kcc
                            .update_connector()
                            .connector_arn(conn)
                            .current_version(d.current_version().unwrap_or_default())
                            .connector_configuration("connector.class", "io.confluent.connect.s3.S3SinkConnector")
                            .connector_configuration("tasks.max", ((i % 4) + 1).to_string())
                            .send()
                            .await
                            .map(|_| ())
                            .map_err(|e| code(&e)),
                        Ok(_) => Ok(()),
                        Err(e) => Err(code(&e)),
                    },
                    _ => kcc.list_connectors().send().await.map(|_| ()).map_err(|e| code(&e)),
                };
                requests.fetch_add(1, Ordering::Relaxed);
                match outcome {
                    Ok(()) => {}
                    Err(c) if MODELLED.contains(&c.as_str()) => {
                        modelled.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(c) => unexpected.push(c),
                }
            }
            unexpected
        }));
    }
    let mut peak_rss = 0;
    while Instant::now() < deadline {
        peak_rss = peak_rss.max(server.rss_kib().unwrap_or(0));
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let mut unexpected = Vec::new();
    for t in tasks {
        unexpected.extend(t.await.unwrap());
    }
    peak_rss = peak_rss.max(server.rss_kib().unwrap_or(0));
    let total = requests.load(Ordering::Relaxed);
    eprintln!(
        "soak: {total} requests in {secs} s by 64 clients, {} modelled errors, {} unexpected, peak RSS {} MiB",
        modelled.load(Ordering::Relaxed),
        unexpected.len(),
        peak_rss / 1024
    );
    assert!(unexpected.is_empty(), "errors other than modelled ones: {:?}", &unexpected[..unexpected.len().min(10)]);
    assert!(peak_rss < RSS_BOUND_KIB, "peak RSS {peak_rss} KiB over the bound of {RSS_BOUND_KIB} KiB");
    assert!(total > 1000, "the soak ran only {total} requests");

    // Every operation ends.
    let admin = format!("{}/_localplane/operations", server.endpoint());
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        let ops: serde_json::Value = reqwest::get(&admin).await.unwrap().json().await.unwrap();
        let open = ops["operations"].as_array().unwrap().iter().filter(|o| o["terminal"] != true).count();
        if open == 0 {
            break;
        }
        assert!(Instant::now() < end, "{open} operations never ended");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
