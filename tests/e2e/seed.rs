//! Declarative seeding through the real binary: `serve --seed examples/seed.yaml` creates the
//! example's namespace, service, instances, plugin, worker configuration and connector before it
//! announces its endpoint; `localplane seed` of the same file against the running server changes
//! nothing; a bad file is refused with its line and the reason.

use crate::cli::{cloudmap_at, kafkaconnect_at, Started, BIN};
use crate::common::*;
use aws_sdk_servicediscovery::types::{ServiceFilter, ServiceFilterName};
use std::process::Command;

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/seed.yaml");

/// What a client reads of the seeded state: every id, name and attribute seeding decides.
async fn read_back(endpoint: &str) -> Vec<String> {
    let sd = cloudmap_at(endpoint);
    let kc = kafkaconnect_at(endpoint);
    let mut seen = Vec::new();
    for ns in sd.list_namespaces().send().await.expect("ListNamespaces").namespaces() {
        seen.push(format!("namespace {} {} {:?}", ns.name().unwrap(), ns.id().unwrap(), ns.r#type()));
        let filter =
            ServiceFilter::builder().name(ServiceFilterName::NamespaceId).values(ns.id().unwrap()).build().unwrap();
        for svc in sd.list_services().filters(filter).send().await.expect("ListServices").services() {
            seen.push(format!("service {} {}", svc.name().unwrap(), svc.id().unwrap()));
            let instances = sd.list_instances().service_id(svc.id().unwrap()).send().await.expect("ListInstances");
            for i in instances.instances() {
                let mut attrs: Vec<_> = i.attributes().unwrap().iter().map(|(k, v)| format!("{k}={v}")).collect();
                attrs.sort();
                seen.push(format!("instance {} {}", i.id().unwrap(), attrs.join(",")));
            }
        }
    }
    let operations = sd.list_operations().send().await.expect("ListOperations");
    seen.push(format!("{} Cloud Map operations", operations.operations().len()));
    for p in kc.list_custom_plugins().send().await.expect("ListCustomPlugins").custom_plugins() {
        seen.push(format!(
            "plugin {} {} {:?}",
            p.name().unwrap(),
            p.custom_plugin_arn().unwrap(),
            p.custom_plugin_state()
        ));
    }
    let workers = kc.list_worker_configurations().send().await.expect("ListWorkerConfigurations");
    for w in workers.worker_configurations() {
        seen.push(format!("worker configuration {} {}", w.name().unwrap(), w.worker_configuration_arn().unwrap()));
    }
    for c in kc.list_connectors().send().await.expect("ListConnectors").connectors() {
        let plugin = c.plugins()[0].custom_plugin().unwrap();
        let worker = c.worker_configuration().unwrap();
        seen.push(format!(
            "connector {} {} {:?} plugin {} rev {} worker {} rev {}",
            c.connector_name().unwrap(),
            c.connector_arn().unwrap(),
            c.connector_state(),
            plugin.custom_plugin_arn().unwrap(),
            plugin.revision(),
            worker.worker_configuration_arn().unwrap(),
            worker.revision()
        ));
    }
    seen
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_seeds_the_example_and_a_second_seed_changes_nothing() {
    let dir = temp_dir("seed");
    // The example names no account: it lands in the server's default one, which the SDKs sign as.
    let args = [
        "--ephemeral",
        "--listen",
        "127.0.0.1:0",
        "--dns-listen",
        "off",
        "--timing",
        "fast",
        "--default-account",
        ACCOUNT,
    ];
    let server = Started::serve(&[&args[..], &["--seed", EXAMPLE]].concat(), &[], &dir);
    let endpoint = server.endpoint();

    // Everything is there, finished, as soon as the endpoint is announced.
    let seeded = read_back(&endpoint).await;
    let text = seeded.join("\n");
    assert!(seeded.iter().any(|l| l.starts_with("namespace demo ns-") && l.ends_with("Some(Http)")), "{text}");
    assert!(seeded.iter().any(|l| l.starts_with("service web srv-")), "{text}");
    assert!(seeded.contains(&"instance web-1 AWS_INSTANCE_IPV4=10.0.0.11,AWS_INSTANCE_PORT=8080,zone=a".to_string()));
    assert!(seeded.contains(&"instance web-2 AWS_INSTANCE_IPV4=10.0.0.12,AWS_INSTANCE_PORT=8080,zone=b".to_string()));
    assert!(seeded.contains(&"3 Cloud Map operations".to_string()), "{text}");
    let plugin = seeded.iter().find(|l| l.starts_with("plugin s3-sink ")).expect(&text);
    assert!(plugin.ends_with("Some(Active)"), "{plugin}");
    let plugin_arn = plugin.split(' ').nth(2).unwrap();
    let worker = seeded.iter().find(|l| l.starts_with("worker configuration string-converters ")).expect(&text);
    let worker_arn = worker.split(' ').nth(3).unwrap();
    let connector = seeded.iter().find(|l| l.starts_with("connector orders-to-s3 ")).expect(&text);
    assert!(connector.contains("Some(Running)"), "{connector}");
    assert!(connector.contains(&format!("plugin {plugin_arn} rev 1 worker {worker_arn} rev 1")), "{connector}");

    // The same file again, through the client command: every entry exists, nothing changes.
    let out = Command::new(BIN).args(["seed", EXAMPLE, "--endpoint", &endpoint]).output().expect("run seed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout.lines().count(), 7, "{stdout}");
    assert!(stdout.lines().all(|l| l.starts_with("exists ")), "{stdout}");
    assert_eq!(read_back(&endpoint).await, seeded);

    // An entry may say its own account and region; names resolve there.
    let other = dir.join("other.yaml");
    let text = "region: eu-west-1\nnamespaces:\n  - Name: demo\n    account: \"222222222222\"\nservices:\n  - Namespace: demo\n    Name: api\n    account: \"222222222222\"\n";
    std::fs::write(&other, text).unwrap();
    let out = Command::new(BIN).args(["seed", other.to_str().unwrap(), "--endpoint", &endpoint]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("created namespace demo ns-") && stdout.contains("(222222222222/eu-west-1)"), "{stdout}");
    assert_eq!(read_back(&endpoint).await, seeded, "the default account and region are untouched");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_seed_file_is_refused_with_its_line_and_reason() {
    let dir = temp_dir("seed-bad");
    // Not YAML: `serve` stops before it listens, naming the file and the line.
    let broken = dir.join("broken.yaml");
    std::fs::write(&broken, "namespaces:\n  - Name: demo\n    Description: [unclosed\n").unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--ephemeral", "--listen", "127.0.0.1:0", "--dns-listen", "off", "--seed"])
        .arg(&broken)
        .output()
        .expect("run serve");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty(), "no endpoint is announced");
    assert!(stderr.contains("broken.yaml: line 4: the file is not valid YAML or JSON"), "{stderr}");

    // A service of a namespace nobody created, and an AWS validation error: the line and the reason.
    let args = ["--ephemeral", "--listen", "127.0.0.1:0", "--dns-listen", "off", "--default-account", ACCOUNT];
    let server = Started::serve(&args, &[], &dir);
    let endpoint = server.endpoint();
    let orphan = dir.join("orphan.yaml");
    std::fs::write(&orphan, "# a comment\nservices:\n  - Namespace: nowhere\n    Name: web\n").unwrap();
    let out = Command::new(BIN).args(["seed", orphan.to_str().unwrap(), "--endpoint", &endpoint]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(
            "line 3: service entry: Namespace nowhere does not exist in account 123456789012 region us-east-1"
        ),
        "{stderr}"
    );
    let invalid = dir.join("invalid.json");
    std::fs::write(&invalid, "{\"namespaces\": [\n  {\"Name\": \"demo\", \"Description\": 7}\n]}\n").unwrap();
    let out = Command::new(BIN).args(["seed", invalid.to_str().unwrap(), "--endpoint", &endpoint]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("line 2: namespace entry: CreateHttpNamespace failed"), "{stderr}");
    assert!(stderr.contains("SerializationException"), "{stderr}");
    let namespaces = cloudmap_at(&endpoint).list_namespaces().send().await.unwrap();
    assert!(namespaces.namespaces().is_empty(), "a refused entry creates nothing");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn seeding_under_manual_timing_advances_what_it_starts() {
    let dir = temp_dir("seed-manual");
    let args = ["--ephemeral", "--listen", "127.0.0.1:0", "--dns-listen", "off", "--timing", "manual"];
    let server = Started::serve(&[&args[..], &["--default-account", ACCOUNT, "--seed", EXAMPLE]].concat(), &[], &dir);
    let endpoint = server.endpoint();
    let seeded = read_back(&endpoint).await;
    assert!(
        seeded.iter().any(|l| l.starts_with("connector orders-to-s3 ") && l.contains("Some(Running)")),
        "{seeded:?}"
    );
    assert!(seeded.iter().any(|l| l.starts_with("instance web-2 ")), "{seeded:?}");
    let _ = std::fs::remove_dir_all(dir);
}
