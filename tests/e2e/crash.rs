//! Crash safety: clients send acknowledged changes to both services while the server is killed
//! with SIGKILL at a random moment; after a restart on the same data dir every acknowledged change
//! is there, nothing unacknowledged is half-applied, and every operation reaches a terminal state.

use crate::common::*;
use crate::kafkaconnect::{kafkaconnect, running_connector, wait_operation};
use aws_sdk_kafkaconnect as kc;
use aws_sdk_servicediscovery as sd;
use rand::Rng;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the clients were told succeeded, and what they sent without an answer.
#[derive(Default)]
struct Ledger {
    registered: Vec<(String, String, String)>, // (service id, instance id, operation id)
    services: Vec<(String, String)>,           // (name, service id)
    updates: Vec<(String, String)>,            // (connector ARN, connector operation ARN)
    unacknowledged_instances: BTreeSet<(String, String)>,
    unacknowledged_services: BTreeSet<String>,
}

/// One kill point on a fresh data dir; returns what was acknowledged and what went unanswered.
async fn chaos_round(round: usize) -> Ledger {
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let dir = temp_dir(&format!("crash-{round}"));
    // Set-up under `instant` so it is quick; the chaos runs under `fast`, so operations are in flight.
    let mut server = Server::persistent(&dir, "instant").await;
    let cm = cloudmap(&server, Wire::Json);
    let ns_op = cm.create_http_namespace().name(format!("crash-{round}")).send().await.unwrap();
    let op = cm.get_operation().operation_id(ns_op.operation_id().unwrap()).send().await.unwrap().operation.unwrap();
    let ns_id = op.targets().unwrap().get(&sd::types::OperationTargetType::Namespace).unwrap().clone();
    let mut service_ids = Vec::new();
    for s in 0..4 {
        let svc = cm.create_service().name(format!("base-{s}")).namespace_id(&ns_id).send().await.unwrap();
        service_ids.push(svc.service.unwrap().id.unwrap());
    }
    let kcc = kafkaconnect(&server);
    let plugin = kcc
        .create_custom_plugin()
        .name(format!("crash-plugin-{round}"))
        .content_type(kc::types::CustomPluginContentType::Zip)
        .location(
            kc::types::CustomPluginLocation::builder()
                .s3_location(
                    kc::types::S3Location::builder()
                        .bucket_arn("arn:aws:s3:::crash")
                        .file_key("p.zip")
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap()
        .custom_plugin_arn
        .unwrap();
    let mut connectors = Vec::new();
    for c in 0..4 {
        let d = running_connector(&kcc, &format!("crash-{round}-{c}"), &plugin).await;
        connectors.push((d.connector_arn.unwrap(), d.current_version.unwrap()));
    }
    drop(server);
    server = Server::persistent(&dir, "fast").await;
    let cm = cloudmap(&server, Wire::Json);
    let kcc = kafkaconnect(&server);

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut tasks = Vec::new();
    for worker in 0..12usize {
        let (cm, ledger, stop, service_ids, ns_id) =
            (cm.clone(), ledger.clone(), stop.clone(), service_ids.clone(), ns_id.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = 0usize;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                i += 1;
                if worker % 4 == 3 {
                    let name = format!("w{worker}-{i}");
                    match cm.create_service().name(&name).namespace_id(&ns_id).send().await {
                        Ok(o) => ledger.lock().unwrap().services.push((name, o.service.unwrap().id.unwrap())),
                        Err(_) => {
                            ledger.lock().unwrap().unacknowledged_services.insert(name);
                        }
                    }
                } else {
                    let svc = service_ids[i % service_ids.len()].clone();
                    let id = format!("w{worker}-i{i}");
                    let sent =
                        cm.register_instance().service_id(&svc).instance_id(&id).attributes("round", "x").send().await;
                    match sent {
                        Ok(o) => ledger.lock().unwrap().registered.push((svc, id, o.operation_id.unwrap())),
                        Err(_) => {
                            ledger.lock().unwrap().unacknowledged_instances.insert((svc, id));
                        }
                    }
                }
            }
        }));
    }
    for (arn, version) in connectors.clone() {
        let (kcc, ledger) = (kcc.clone(), ledger.clone());
        tasks.push(tokio::spawn(async move {
            let sent = kcc
                .update_connector()
                .connector_arn(&arn)
                .current_version(&version)
                .connector_configuration("connector.class", "io.confluent.connect.s3.S3SinkConnector")
                .connector_configuration("tasks.max", "3")
                .send()
                .await;
            if let Ok(o) = sent {
                ledger.lock().unwrap().updates.push((arn, o.connector_operation_arn.unwrap()));
            }
        }));
    }
    let delay = rand::thread_rng().gen_range(300..1200);
    tokio::time::sleep(Duration::from_millis(delay)).await;
    server.kill();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }

    // Restart on the same data dir; everything acknowledged must be there and finish.
    server.restart().await;
    let cm = cloudmap(&server, Wire::Json);
    let kcc = kafkaconnect(&server);
    let (registered, services, updates, lost_instances, lost_services) = {
        let l = ledger.lock().unwrap();
        (
            l.registered.clone(),
            l.services.clone(),
            l.updates.clone(),
            l.unacknowledged_instances.clone(),
            l.unacknowledged_services.clone(),
        )
    };
    for (svc, id, op) in &registered {
        let (op, _) = wait_cloudmap_operation(&cm, op).await;
        assert_eq!(op.status(), Some(&sd::types::OperationStatus::Success), "acknowledged registration of {id}");
        cm.get_instance().service_id(svc).instance_id(id).send().await.expect("acknowledged instance exists");
    }
    for (name, id) in &services {
        let got = cm.get_service().id(id).send().await.expect("acknowledged service exists");
        assert_eq!(got.service.unwrap().name(), Some(name.as_str()));
    }
    for (arn, op) in &updates {
        let (done, _) = wait_operation(&kcc, op).await;
        assert!(done.end_time().is_some(), "update of {arn} reached a terminal state");
    }
    // Unacknowledged changes are either wholly there (with their operation) or absent.
    let pages = cm.list_services().max_results(100).into_paginator().send().collect::<Vec<_>>().await;
    let listed: Vec<sd::types::ServiceSummary> =
        pages.into_iter().flat_map(|p| p.expect("ListServices").services.unwrap_or_default()).collect();
    for s in listed.iter().filter(|s| s.name().is_some_and(|n| lost_services.contains(n))) {
        cm.get_service().id(s.id().unwrap()).send().await.expect("a service that exists is complete");
    }
    let pages = cm.list_operations().into_paginator().send().collect::<Vec<_>>().await;
    let ops: Vec<sd::types::OperationSummary> =
        pages.into_iter().flat_map(|p| p.expect("ListOperations").operations.unwrap_or_default()).collect();
    for op in ops {
        let (done, _) = wait_cloudmap_operation(&cm, op.id().unwrap()).await;
        let targets = done.targets().unwrap();
        if let (Some(svc), Some(inst)) = (
            targets.get(&sd::types::OperationTargetType::Service),
            targets.get(&sd::types::OperationTargetType::Instance),
        ) {
            if lost_instances.contains(&(svc.clone(), inst.clone())) {
                // Written but unanswered: it must behave like any other operation.
                cm.get_instance().service_id(svc).instance_id(inst).send().await.expect("its instance exists");
            }
        }
    }
    let all: serde_json::Value =
        reqwest::get(format!("{}/_localplane/operations", server.endpoint())).await.unwrap().json().await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut pending = all["operations"].as_array().unwrap().iter().filter(|o| o["terminal"] != true).count();
    while pending > 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now: serde_json::Value =
            reqwest::get(format!("{}/_localplane/operations", server.endpoint())).await.unwrap().json().await.unwrap();
        pending = now["operations"].as_array().unwrap().iter().filter(|o| o["terminal"] != true).count();
    }
    assert_eq!(pending, 0, "every operation reaches a terminal state after the restart");
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
    let l = std::mem::take(&mut *ledger.lock().unwrap());
    l
}

#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_changes_survive_sigkill_at_random_moments() {
    let (mut round, mut registrations, mut services, mut updates, mut unanswered) = (0, 0, 0, 0, 0);
    // Several kill points, until at least 500 changes were acknowledged across them.
    while round < 3 || (registrations + services + updates < 500 && round < 12) {
        let l = chaos_round(round).await;
        registrations += l.registered.len();
        services += l.services.len();
        updates += l.updates.len();
        unanswered += l.unacknowledged_instances.len() + l.unacknowledged_services.len();
        round += 1;
    }
    let acknowledged = registrations + services + updates;
    eprintln!(
        "crash safety: {round} kill points, {acknowledged} acknowledged changes ({registrations} registrations, {services} services, {updates} connector updates), {unanswered} unanswered"
    );
    assert!(acknowledged >= 500, "only {acknowledged} acknowledged changes");
}
