//! Cloud Map through `aws-sdk-servicediscovery`, each story once over awsJson1_1 and once over rpcv2Cbor.
#![allow(deprecated)] // DnsConfig.NamespaceId and HealthCheckCustomConfig.FailureThreshold are deprecated but still on the wire.

use crate::common::*;
use aws_sdk_servicediscovery as sd;
use sd::types::*;
use std::collections::HashMap;

async fn create_http_namespace(c: &sd::Client, name: &str) -> String {
    let op = c.create_http_namespace().name(name).send().await.expect("CreateHttpNamespace");
    let (op, _) = wait_cloudmap_operation(c, op.operation_id().expect("OperationId")).await;
    assert_eq!(op.status(), Some(&OperationStatus::Success));
    op.targets().and_then(|t| t.get(&OperationTargetType::Namespace)).expect("NAMESPACE target").clone()
}

async fn register(c: &sd::Client, service: &str, id: &str, attrs: &[(&str, &str)]) -> String {
    let mut req = c.register_instance().service_id(service).instance_id(id);
    for (k, v) in attrs {
        req = req.attributes(*k, *v);
    }
    let op = req.send().await.expect("RegisterInstance");
    op.operation_id().expect("OperationId").to_string()
}

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(v).build().expect("tag")
}

/// The user story: namespace → service → instances → discovery → health → cleanup.
async fn story(wire: Wire) {
    let server = Server::ephemeral("fast").await;
    let c = cloudmap(&server, wire);

    // Create a namespace and watch its operation move; the namespace appears when it succeeds.
    let created = c.create_http_namespace().name("shop").description("the shop").send().await.unwrap();
    let op_id = created.operation_id().unwrap().to_string();
    let (op, seen) = wait_cloudmap_operation(&c, &op_id).await;
    assert_eq!(op.r#type(), Some(&OperationType::CreateNamespace));
    assert_eq!(op.owner_account(), Some(ACCOUNT));
    assert!(seen.len() >= 2, "a polling client sees the operation in flight under `fast`: {seen:?}");
    assert!(seen[0] == "SUBMITTED" || seen[0] == "PENDING");
    assert_eq!(seen.last().map(String::as_str), Some("SUCCESS"));
    let suffix = op_id.rsplit('-').next().unwrap();
    let created_ms = op.create_date().unwrap().to_millis().unwrap() as u64;
    // CBOR carries seconds as a float64 and smithy-rs truncates to milliseconds, so allow 1 ms.
    let encoded_ms = u64::from_str_radix(suffix, 36).unwrap();
    assert!(
        encoded_ms.abs_diff(created_ms) <= 1,
        "operation id ends in base36 of CreateDate: {encoded_ms} vs {created_ms}"
    );
    let ns_id = op.targets().unwrap().get(&OperationTargetType::Namespace).unwrap().clone();
    assert!(ns_id.starts_with("ns-") && ns_id.len() == 19, "{ns_id}");

    let ns = c.get_namespace().id(&ns_id).send().await.unwrap().namespace.unwrap();
    assert_eq!(ns.name(), Some("shop"));
    assert_eq!(ns.r#type(), Some(&NamespaceType::Http));
    assert_eq!(ns.properties().unwrap().http_properties().unwrap().http_name(), Some("shop"));
    assert_eq!(ns.arn().unwrap(), format!("arn:aws:servicediscovery:{REGION}:{ACCOUNT}:namespace/{ns_id}"));
    // An ARN works wherever an id does.
    let by_arn = c.get_namespace().id(ns.arn().unwrap()).send().await.unwrap();
    assert_eq!(by_arn.namespace.unwrap().id(), Some(ns_id.as_str()));

    let svc = c
        .create_service()
        .name("cart")
        .namespace_id(&ns_id)
        .health_check_custom_config(HealthCheckCustomConfig::builder().build())
        .tags(tag("team", "payments"))
        .send()
        .await
        .unwrap()
        .service
        .unwrap();
    let svc_id = svc.id().unwrap().to_string();
    assert_eq!(svc.r#type(), Some(&ServiceType::Http));
    assert_eq!(svc.instance_count(), Some(0));
    assert_eq!(svc.health_check_custom_config().unwrap().failure_threshold(), Some(1));

    let mut ops = Vec::new();
    for (id, ip, stage) in [("i-1", "10.0.0.1", "blue"), ("i-2", "10.0.0.2", "green"), ("i-3", "10.0.0.3", "green")] {
        ops.push(
            register(&c, &svc_id, id, &[("AWS_INSTANCE_IPV4", ip), ("AWS_INSTANCE_PORT", "8080"), ("stage", stage)])
                .await,
        );
    }
    for op in &ops {
        let (op, _) = wait_cloudmap_operation(&c, op).await;
        assert_eq!(op.status(), Some(&OperationStatus::Success));
        let t = op.targets().unwrap();
        assert_eq!(t.get(&OperationTargetType::Service), Some(&svc_id));
        assert!(t.contains_key(&OperationTargetType::Instance));
    }
    assert_eq!(c.get_service().id(&svc_id).send().await.unwrap().service.unwrap().instance_count(), Some(3));

    // Discovery: query parameters, optional parameters with fallback, health.
    let found = c
        .discover_instances()
        .namespace_name("shop")
        .service_name("cart")
        .query_parameters("stage", "green")
        .send()
        .await
        .unwrap();
    assert_eq!(found.instances().len(), 2);
    let rev = found.instances_revision().unwrap();
    assert!(found.instances().iter().all(|i| i.namespace_name() == Some("shop") && i.service_name() == Some("cart")));
    let narrowed = c
        .discover_instances()
        .namespace_name("shop")
        .service_name("cart")
        .query_parameters("stage", "green")
        .optional_parameters("AWS_INSTANCE_IPV4", "10.0.0.3")
        .send()
        .await
        .unwrap();
    assert_eq!(narrowed.instances().len(), 1);
    assert_eq!(narrowed.instances()[0].instance_id(), Some("i-3"));
    let fallback = c
        .discover_instances()
        .namespace_name("shop")
        .service_name("cart")
        .optional_parameters("stage", "purple")
        .send()
        .await
        .unwrap();
    assert_eq!(fallback.instances().len(), 3, "no instance matches OptionalParameters: they are ignored");
    let capped =
        c.discover_instances().namespace_name("shop").service_name("cart").max_results(2).send().await.unwrap();
    assert_eq!(capped.instances().len(), 2);

    c.update_instance_custom_health_status()
        .service_id(&svc_id)
        .instance_id("i-1")
        .status(CustomHealthStatus::Unhealthy)
        .send()
        .await
        .unwrap();
    let healthy = c.discover_instances().namespace_name("shop").service_name("cart").send().await.unwrap();
    let ids: Vec<&str> = healthy.instances().iter().filter_map(|i| i.instance_id()).collect();
    assert_eq!(healthy.instances().len(), 2, "HEALTHY is the default filter: {ids:?}");
    assert!(!ids.contains(&"i-1"));
    let unhealthy = c
        .discover_instances()
        .namespace_name("shop")
        .service_name("cart")
        .health_status(HealthStatusFilter::Unhealthy)
        .send()
        .await
        .unwrap();
    assert_eq!(unhealthy.instances().len(), 1);
    assert_eq!(unhealthy.instances()[0].health_status(), Some(&HealthStatus::Unhealthy));
    let status = c.get_instances_health_status().service_id(&svc_id).send().await.unwrap();
    assert_eq!(status.status().unwrap().get("i-1"), Some(&HealthStatus::Unhealthy));
    assert_eq!(status.status().unwrap().get("i-2"), Some(&HealthStatus::Healthy));
    let rev2 = c.discover_instances_revision().namespace_name("shop").service_name("cart").send().await.unwrap();
    assert_eq!(rev2.instances_revision(), Some(rev), "health changes do not change the revision");

    // Paging through instances one at a time.
    let pages: Vec<_> =
        c.list_instances().service_id(&svc_id).max_results(1).into_paginator().send().collect::<Vec<_>>().await;
    assert_eq!(pages.len(), 3);
    let listed: Vec<String> =
        pages.into_iter().flat_map(|p| p.unwrap().instances.unwrap_or_default()).filter_map(|i| i.id).collect();
    assert_eq!(listed, vec!["i-1", "i-2", "i-3"]);

    // ListOperations with filters.
    let regs = c
        .list_operations()
        .filters(
            OperationFilter::builder()
                .name(OperationFilterName::Type)
                .condition(FilterCondition::In)
                .values("REGISTER_INSTANCE")
                .values("DEREGISTER_INSTANCE")
                .build()
                .unwrap(),
        )
        .filters(OperationFilter::builder().name(OperationFilterName::Status).values("SUCCESS").build().unwrap())
        .filters(OperationFilter::builder().name(OperationFilterName::ServiceId).values(&svc_id).build().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(regs.operations().len(), 3);
    let in_ns = c
        .list_operations()
        .filters(OperationFilter::builder().name(OperationFilterName::NamespaceId).values(&ns_id).build().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(in_ns.operations().len(), 4, "the create plus three registrations");
    let pages: Vec<_> = c.list_operations().max_results(1).into_paginator().send().collect::<Vec<_>>().await;
    let all: Vec<String> =
        pages.into_iter().flat_map(|p| p.unwrap().operations.unwrap_or_default()).filter_map(|o| o.id).collect();
    assert_eq!(all.len(), 4);
    assert_eq!(all[3], op_id, "newest first");

    // Tags and service attributes.
    let arn = svc.arn().unwrap();
    c.tag_resource().resource_arn(arn).tags(tag("env", "test")).tags(tag("team", "checkout")).send().await.unwrap();
    let tags = c.list_tags_for_resource().resource_arn(arn).send().await.unwrap();
    let tags: HashMap<&str, &str> = tags.tags().iter().map(|t| (t.key(), t.value())).collect();
    assert_eq!(tags, HashMap::from([("team", "checkout"), ("env", "test")]));
    c.untag_resource().resource_arn(arn).tag_keys("env").tag_keys("absent").send().await.unwrap();
    assert_eq!(c.list_tags_for_resource().resource_arn(arn).send().await.unwrap().tags().len(), 1);
    c.update_service_attributes()
        .service_id(&svc_id)
        .attributes("tier", "gold")
        .attributes("owner", "me")
        .send()
        .await
        .unwrap();
    c.delete_service_attributes().service_id(&svc_id).attributes("owner").send().await.unwrap();
    let attrs = c.get_service_attributes().service_id(&svc_id).send().await.unwrap().service_attributes.unwrap();
    assert_eq!(attrs.attributes().unwrap().len(), 1);
    assert_eq!(attrs.service_arn(), Some(arn));

    // Cleanup: a namespace with services cannot go; deregister, delete service, delete namespace.
    let busy = c.delete_namespace().id(&ns_id).send().await.unwrap_err();
    assert_eq!(code(&busy), "ResourceInUse");
    for id in ["i-1", "i-2", "i-3"] {
        let op = c.deregister_instance().service_id(&svc_id).instance_id(id).send().await.unwrap();
        let (op, _) = wait_cloudmap_operation(&c, op.operation_id().unwrap()).await;
        assert_eq!(op.r#type(), Some(&OperationType::DeregisterInstance));
        assert_eq!(op.status(), Some(&OperationStatus::Success));
    }
    assert_eq!(c.get_service().id(&svc_id).send().await.unwrap().service.unwrap().instance_count(), Some(0));
    c.delete_service().id(&svc_id).send().await.unwrap();
    assert_eq!(code(&c.get_service().id(&svc_id).send().await.unwrap_err()), "ServiceNotFound");
    let del = c.delete_namespace().id(&ns_id).send().await.unwrap();
    let (op, _) = wait_cloudmap_operation(&c, del.operation_id().unwrap()).await;
    assert_eq!(op.status(), Some(&OperationStatus::Success));
    assert_eq!(code(&c.get_namespace().id(&ns_id).send().await.unwrap_err()), "NamespaceNotFound");
    // Operations outlive their targets.
    assert!(c.get_operation().operation_id(&op_id).send().await.is_ok());
}

#[tokio::test(flavor = "multi_thread")]
async fn story_over_json() {
    story(Wire::Json).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn story_over_cbor() {
    story(Wire::Cbor).await;
}

/// Every modelled error class, with its extra members.
async fn errors(wire: Wire) {
    let server = Server::ephemeral("fast").await;
    let c = cloudmap(&server, wire);
    let ns_id = create_http_namespace(&c, "errors").await;

    assert_eq!(code(&c.get_namespace().id("ns-aaaaaaaaaaaaaaaa").send().await.unwrap_err()), "NamespaceNotFound");
    assert_eq!(code(&c.get_service().id("srv-aaaaaaaaaaaaaaaa").send().await.unwrap_err()), "ServiceNotFound");
    let err = c.get_operation().operation_id("nope").send().await.unwrap_err();
    assert_eq!(code(&err), "OperationNotFound");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(404));
    let err = c.create_http_namespace().name("arn:bad").send().await.unwrap_err();
    assert_eq!(code(&err), "InvalidInput");
    assert!(err.as_service_error().and_then(|e| e.meta().message()).unwrap_or_default().contains("'name'"));
    match c.create_http_namespace().name("errors").send().await.unwrap_err().into_service_error() {
        sd::operation::create_http_namespace::CreateHttpNamespaceError::NamespaceAlreadyExists(e) => {
            assert_eq!(e.namespace_id(), Some(ns_id.as_str()));
            assert!(e.creator_request_id().is_some());
        }
        other => panic!("expected NamespaceAlreadyExists, got {other:?}"),
    }
    let svc = c.create_service().name("api").namespace_id(&ns_id).send().await.unwrap().service.unwrap();
    let svc_id = svc.id().unwrap();
    match c.create_service().name("api").namespace_id(&ns_id).send().await.unwrap_err().into_service_error() {
        sd::operation::create_service::CreateServiceError::ServiceAlreadyExists(e) => {
            assert_eq!(e.service_id(), Some(svc_id));
            assert_eq!(e.service_arn(), svc.arn());
        }
        other => panic!("expected ServiceAlreadyExists, got {other:?}"),
    }
    let err = c.get_instance().service_id(svc_id).instance_id("missing").send().await.unwrap_err();
    assert_eq!(code(&err), "InstanceNotFound");
    let reg = register(&c, svc_id, "i-1", &[("AWS_INSTANCE_IPV4", "10.1.1.1")]).await;
    match c.register_instance().service_id(svc_id).instance_id("i-1").attributes("a", "b").send().await {
        Err(e) => match e.into_service_error() {
            sd::operation::register_instance::RegisterInstanceError::DuplicateRequest(d) => {
                assert_eq!(d.duplicate_operation_id(), Some(reg.as_str()));
            }
            other => panic!("expected DuplicateRequest, got {other:?}"),
        },
        Ok(_) => {
            // The first registration finished before the second arrived: nothing to assert.
        }
    }
    wait_cloudmap_operation(&c, &reg).await;
    let err = c
        .update_instance_custom_health_status()
        .service_id(svc_id)
        .instance_id("i-1")
        .status(CustomHealthStatus::Healthy)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "CustomHealthNotFound");
    assert_eq!(code(&c.delete_service().id(svc_id).send().await.unwrap_err()), "ResourceInUse");
    let mut too_many = c.tag_resource().resource_arn(svc.arn().unwrap());
    for i in 0..51 {
        too_many = too_many.tags(tag(&format!("k{i}"), "v"));
    }
    match too_many.send().await.unwrap_err().into_service_error() {
        sd::operation::tag_resource::TagResourceError::TooManyTagsException(e) => {
            assert_eq!(e.resource_name(), svc.arn())
        }
        other => panic!("expected TooManyTagsException, got {other:?}"),
    }
    let missing_arn = format!("arn:aws:servicediscovery:{REGION}:{ACCOUNT}:service/srv-aaaaaaaaaaaaaaaa");
    assert_eq!(
        code(&c.list_tags_for_resource().resource_arn(missing_arn).send().await.unwrap_err()),
        "ResourceNotFoundException"
    );
    let mut attrs = c.update_service_attributes().service_id(svc_id);
    for i in 0..30 {
        attrs = attrs.attributes(format!("k{i}"), "v");
    }
    attrs.send().await.unwrap();
    let err = c.update_service_attributes().service_id(svc_id).attributes("one-more", "v").send().await.unwrap_err();
    assert_eq!(code(&err), "ServiceAttributesLimitExceededException");
    let err = c
        .update_service()
        .id(svc_id)
        .service(ServiceChange::builder().description("x").build())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidInput", "UpdateService is refused in HTTP namespaces");
    let err = c.get_operation().operation_id(&reg).owner_account("210987654321").send().await.unwrap_err();
    assert_eq!(code(&err), "OperationNotFound", "another account's operation is not visible");
    let err = c.list_namespaces().next_token("garbage!").send().await.unwrap_err();
    assert_eq!(code(&err), "InvalidInput");
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_over_json() {
    errors(Wire::Json).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_over_cbor() {
    errors(Wire::Cbor).await;
}

/// DNS namespaces: hosted zones, record rules, the Route 53 conflict as a failed operation.
async fn dns(wire: Wire) {
    let server = Server::ephemeral("fast").await;
    let c = cloudmap(&server, wire);
    let soa = |ttl| {
        PrivateDnsNamespaceProperties::builder()
            .dns_properties(
                PrivateDnsPropertiesMutable::builder().soa(Soa::builder().ttl(ttl).build().unwrap()).build(),
            )
            .build()
    };
    let op = c.create_private_dns_namespace().name("corp.local").vpc("vpc-1").properties(soa(60)).send().await.unwrap();
    let (op, _) = wait_cloudmap_operation(&c, op.operation_id().unwrap()).await;
    assert_eq!(op.status(), Some(&OperationStatus::Success));
    let ns_id = op.targets().unwrap().get(&OperationTargetType::Namespace).unwrap().clone();
    let ns = c.get_namespace().id(&ns_id).send().await.unwrap().namespace.unwrap();
    let dns = ns.properties().unwrap().dns_properties().unwrap();
    assert!(dns.hosted_zone_id().unwrap().starts_with('Z'));
    assert_eq!(dns.soa().unwrap().ttl(), 60);

    // Same name, same VPC: Route 53 refuses the zone, so the operation fails and nothing is created.
    let dup = c.create_private_dns_namespace().name("corp.local").vpc("vpc-1").send().await.unwrap();
    let (failed, _) = wait_cloudmap_operation(&c, dup.operation_id().unwrap()).await;
    assert_eq!(failed.status(), Some(&OperationStatus::Fail));
    assert_eq!(failed.error_code(), Some("CANNOT_CREATE_HOSTED_ZONE"));
    assert!(failed.error_message().is_some());
    let dead = failed.targets().unwrap().get(&OperationTargetType::Namespace).unwrap();
    assert_eq!(code(&c.get_namespace().id(dead).send().await.unwrap_err()), "NamespaceNotFound");
    // Same name in another VPC works; its HttpName gets a suffix.
    let other = c.create_private_dns_namespace().name("corp.local").vpc("vpc-2").send().await.unwrap();
    let (other, _) = wait_cloudmap_operation(&c, other.operation_id().unwrap()).await;
    assert_eq!(other.status(), Some(&OperationStatus::Success));
    let other_id = other.targets().unwrap().get(&OperationTargetType::Namespace).unwrap();
    let other_ns = c.get_namespace().id(other_id).send().await.unwrap().namespace.unwrap();
    let http_name = other_ns.properties().unwrap().http_properties().unwrap().http_name().unwrap();
    assert!(http_name.starts_with("corp.local-") && http_name != "corp.local", "{http_name}");

    let record = |t, ttl| DnsRecord::builder().r#type(t).ttl(ttl).build().unwrap();
    let svc = c
        .create_service()
        .name("db")
        .dns_config(DnsConfig::builder().namespace_id(&ns_id).dns_records(record(RecordType::A, 30)).build().unwrap())
        .send()
        .await
        .unwrap()
        .service
        .unwrap();
    let svc_id = svc.id().unwrap().to_string();
    assert_eq!(svc.r#type(), Some(&ServiceType::DnsHttp));
    let got = c.get_service().id(&svc_id).send().await.unwrap().service.unwrap();
    let cfg = got.dns_config().unwrap();
    let echoed = cfg.namespace_id();
    assert_eq!(echoed, Some(ns_id.as_str()), "GetService echoes DnsConfig.NamespaceId (Terraform relies on it)");
    assert_eq!(got.namespace_id(), Some(ns_id.as_str()));
    assert_eq!(cfg.routing_policy(), Some(&RoutingPolicy::Multivalue));

    let err = c
        .register_instance()
        .service_id(&svc_id)
        .instance_id("db-1")
        .attributes("AWS_INSTANCE_PORT", "5432")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidInput", "an A record needs AWS_INSTANCE_IPV4");
    let err = c
        .create_service()
        .name("web")
        .namespace_id(&ns_id)
        .dns_config(DnsConfig::builder().dns_records(record(RecordType::Cname, 30)).build().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidInput", "CNAME needs WEIGHTED routing");
    let err = c
        .create_service()
        .name("web")
        .namespace_id(&ns_id)
        .dns_config(
            DnsConfig::builder()
                .dns_records(record(RecordType::Cname, 30))
                .dns_records(record(RecordType::Srv, 30))
                .routing_policy(RoutingPolicy::Weighted)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidInput", "CNAME and SRV cannot be combined");
    // A and SRV together are what ECS and Terraform users configure.
    let both = c
        .create_service()
        .name("grpc")
        .namespace_id(&ns_id)
        .dns_config(
            DnsConfig::builder()
                .dns_records(record(RecordType::A, 30))
                .dns_records(record(RecordType::Srv, 30))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    c.delete_service().id(both.service.unwrap().id().unwrap()).send().await.unwrap();
    let err = c
        .create_service()
        .name("web")
        .namespace_id(&ns_id)
        .health_check_config(HealthCheckConfig::builder().r#type(HealthCheckType::Http).build().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidInput", "no Route 53 health checks in private namespaces");
    // Service names in DNS namespaces are DNS names: case-insensitive.
    assert_eq!(
        code(&c.create_service().name("DB").namespace_id(&ns_id).send().await.unwrap_err()),
        "ServiceAlreadyExists"
    );

    let reg = register(&c, &svc_id, "db-1", &[("AWS_INSTANCE_IPV4", "10.2.0.1")]).await;
    let (reg, _) = wait_cloudmap_operation(&c, &reg).await;
    assert!(reg.targets().unwrap().contains_key(&OperationTargetType::from("ROUTE_53_CHANGE_ID")));
    let found = c.discover_instances().namespace_name("corp.local").service_name("DB").send().await.unwrap();
    assert_eq!(found.instances().len(), 1);
    assert_eq!(found.instances()[0].health_status().map(|h| h.as_str()), Some("UNKNOWN"), "no health check: UNKNOWN");

    // UpdateService: TTLs can change, record types cannot.
    let upd = c
        .update_service()
        .id(&svc_id)
        .service(
            ServiceChange::builder()
                .description("primary")
                .dns_config(DnsConfigChange::builder().dns_records(record(RecordType::A, 120)).build().unwrap())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let (upd, _) = wait_cloudmap_operation(&c, upd.operation_id().unwrap()).await;
    assert_eq!(upd.r#type(), Some(&OperationType::UpdateService));
    let got = c.get_service().id(&svc_id).send().await.unwrap().service.unwrap();
    assert_eq!(got.description(), Some("primary"));
    assert_eq!(got.dns_config().unwrap().dns_records()[0].ttl(), 120);
    let err = c
        .update_service()
        .id(&svc_id)
        .service(
            ServiceChange::builder()
                .dns_config(DnsConfigChange::builder().dns_records(record(RecordType::Aaaa, 1)).build().unwrap())
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidInput");

    let change = PrivateDnsNamespaceChange::builder()
        .description("updated")
        .properties(
            PrivateDnsNamespacePropertiesChange::builder()
                .dns_properties(
                    PrivateDnsPropertiesMutableChange::builder()
                        .soa(SoaChange::builder().ttl(300).build().unwrap())
                        .build(),
                )
                .build(),
        )
        .build();
    let upd = c.update_private_dns_namespace().id(&ns_id).namespace(change).send().await.unwrap();
    let (upd, _) = wait_cloudmap_operation(&c, upd.operation_id().unwrap()).await;
    assert_eq!(upd.r#type(), Some(&OperationType::UpdateNamespace));
    let ns = c.get_namespace().id(&ns_id).send().await.unwrap().namespace.unwrap();
    assert_eq!(ns.description(), Some("updated"));
    assert_eq!(ns.properties().unwrap().dns_properties().unwrap().soa().unwrap().ttl(), 300);

    let public = c
        .create_public_dns_namespace()
        .name("example.com")
        .properties(
            PublicDnsNamespaceProperties::builder()
                .dns_properties(
                    PublicDnsPropertiesMutable::builder().soa(Soa::builder().ttl(100).build().unwrap()).build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let (public, _) = wait_cloudmap_operation(&c, public.operation_id().unwrap()).await;
    assert_eq!(public.status(), Some(&OperationStatus::Success));
    let listed = c
        .list_namespaces()
        .filters(NamespaceFilter::builder().name(NamespaceFilterName::Type).values("DNS_PRIVATE").build().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(listed.namespaces().len(), 2);
    let prefixed = c
        .list_namespaces()
        .filters(
            NamespaceFilter::builder()
                .name(NamespaceFilterName::Name)
                .condition(FilterCondition::BeginsWith)
                .values("exam")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(prefixed.namespaces().len(), 1);
    let services = c
        .list_services()
        .filters(ServiceFilter::builder().name(ServiceFilterName::NamespaceId).values(&ns_id).build().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(services.services().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn dns_namespaces_over_json() {
    dns(Wire::Json).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn dns_namespaces_over_cbor() {
    dns(Wire::Cbor).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn creator_request_id_makes_retries_idempotent() {
    let server = Server::ephemeral("fast").await;
    let c = cloudmap(&server, Wire::Json);
    let first = c.create_http_namespace().name("idem").creator_request_id("req-1").send().await.unwrap();
    let again = c.create_http_namespace().name("idem").creator_request_id("req-1").send().await.unwrap();
    assert_eq!(first.operation_id(), again.operation_id());
    let err = c.create_http_namespace().name("other").creator_request_id("req-1").send().await.unwrap_err();
    assert_eq!(code(&err), "InvalidInput");
    let (op, _) = wait_cloudmap_operation(&c, first.operation_id().unwrap()).await;
    let ns_id = op.targets().unwrap().get(&OperationTargetType::Namespace).unwrap().clone();
    let svc = c.create_service().name("s").namespace_id(&ns_id).creator_request_id("svc-1").send().await.unwrap();
    let svc_again = c.create_service().name("s").namespace_id(&ns_id).creator_request_id("svc-1").send().await.unwrap();
    assert_eq!(svc.service.unwrap().id(), svc_again.service.unwrap().id());
    let svc_id = c.list_services().send().await.unwrap().services()[0].id().unwrap().to_string();
    let a = c
        .register_instance()
        .service_id(&svc_id)
        .instance_id("x")
        .creator_request_id("r")
        .attributes("k", "v")
        .send()
        .await
        .unwrap();
    let b = c
        .register_instance()
        .service_id(&svc_id)
        .instance_id("x")
        .creator_request_id("r")
        .attributes("k", "v")
        .send()
        .await
        .unwrap();
    assert_eq!(a.operation_id(), b.operation_id());
    assert_eq!(c.list_namespaces().send().await.unwrap().namespaces().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn instant_timing_completes_before_the_response() {
    let server = Server::ephemeral("instant").await;
    let c = cloudmap(&server, Wire::Cbor);
    let op = c.create_http_namespace().name("now").send().await.unwrap();
    let got = c.get_operation().operation_id(op.operation_id().unwrap()).send().await.unwrap().operation.unwrap();
    assert_eq!(got.status(), Some(&OperationStatus::Success));
    assert_eq!(c.list_namespaces().send().await.unwrap().namespaces().len(), 1);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let window = c
        .list_operations()
        .filters(
            OperationFilter::builder()
                .name(OperationFilterName::UpdateDate)
                .condition(FilterCondition::Between)
                .values((now - 60).to_string())
                .values((now + 60).to_string())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(window.operations().len(), 1);
    let past = c
        .list_operations()
        .filters(
            OperationFilter::builder()
                .name(OperationFilterName::UpdateDate)
                .condition(FilterCondition::Between)
                .values("1000")
                .values("2000")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert!(past.operations().is_empty());
}

/// What a list answers follows every change at once, however often the same page was read before
/// (pages are assembled from records kept decoded and encoded between calls).
async fn lists_follow_changes(wire: Wire) {
    let server = Server::ephemeral("instant").await;
    let c = cloudmap(&server, wire);
    let ns_id = create_http_namespace(&c, "lists").await;
    let svc = c.create_service().name("web").namespace_id(&ns_id).send().await.unwrap().service.unwrap();
    let svc_id = svc.id().unwrap().to_string();
    for i in 0..5 {
        register(&c, &svc_id, &format!("i-{i}"), &[("AWS_INSTANCE_IPV4", "10.0.0.1"), ("v", "1")]).await;
    }
    let list = |max: i32| c.list_instances().service_id(&svc_id).max_results(max).send();
    let attrs = |r: &sd::operation::list_instances::ListInstancesOutput| -> Vec<(String, String)> {
        r.instances()
            .iter()
            .map(|i| (i.id().unwrap().to_string(), i.attributes().unwrap().get("v").cloned().unwrap_or_default()))
            .collect()
    };
    for _ in 0..3 {
        let first = list(2).await.unwrap();
        assert_eq!(attrs(&first), [("i-0".into(), "1".into()), ("i-1".into(), "1".into())]);
        assert_eq!(first.resource_owner(), Some(ACCOUNT));
    }
    let token = list(2).await.unwrap().next_token().unwrap().to_string();

    // Re-registering changes the attributes, deregistering removes; the next read shows both, and
    // a token taken before the change still pages on from where it was.
    register(&c, &svc_id, "i-3", &[("AWS_INSTANCE_IPV4", "10.0.0.1"), ("v", "2")]).await;
    c.deregister_instance().service_id(&svc_id).instance_id("i-2").send().await.unwrap();
    // Operations are listed by creation time in milliseconds: the last one a moment later.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    register(&c, &svc_id, "i-1a", &[("AWS_INSTANCE_IPV4", "10.0.0.1"), ("v", "3")]).await;
    let rest = c.list_instances().service_id(&svc_id).next_token(&token).send().await.unwrap();
    assert_eq!(attrs(&rest), [("i-1a".into(), "3".into()), ("i-3".into(), "2".into()), ("i-4".into(), "1".into())]);
    assert_eq!(rest.next_token(), None);
    let all = list(100).await.unwrap();
    assert_eq!(all.instances().len(), 5);
    assert_eq!(all.next_token(), None);
    let other = c.create_service().name("db").namespace_id(&ns_id).send().await.unwrap().service.unwrap();
    let err = c.list_instances().service_id(other.id().unwrap()).next_token(&token).send().await.unwrap_err();
    assert_eq!(err.into_service_error().meta().code(), Some("InvalidInput"), "a token of another service");

    // ListOperations: the newest first, each with the status it has now.
    let ops = c.list_operations().max_results(3).send().await.unwrap();
    assert_eq!(ops.operations().len(), 3);
    assert!(ops.next_token().is_some());
    for o in ops.operations() {
        let got = c.get_operation().operation_id(o.id().unwrap()).send().await.unwrap().operation.unwrap();
        assert_eq!(got.status(), o.status());
    }
    let newest = ops.operations()[0].id().unwrap().to_string();
    let got = c.get_operation().operation_id(&newest).send().await.unwrap().operation.unwrap();
    assert_eq!(got.r#type(), Some(&OperationType::RegisterInstance), "the newest: i-1a's registration");
    let all_ops: Vec<String> = c
        .list_operations()
        .max_results(2)
        .into_paginator()
        .send()
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .flat_map(|p| p.unwrap().operations.unwrap_or_default())
        .map(|o| o.id.unwrap())
        .collect();
    assert_eq!(all_ops.len(), 9, "namespace, 5 + 1 registrations, 1 re-registration, 1 deregistration");
    assert_eq!(all_ops[0], newest);
}

#[tokio::test(flavor = "multi_thread")]
async fn lists_follow_changes_over_json() {
    lists_follow_changes(Wire::Json).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn lists_follow_changes_over_cbor() {
    lists_follow_changes(Wire::Cbor).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn state_survives_restart_and_operations_resume() {
    let dir = temp_dir("restart");
    let mut server = Server::persistent(&dir, "fast").await;
    let c = cloudmap(&server, Wire::Json);
    let ns_id = create_http_namespace(&c, "durable").await;
    let svc = c.create_service().name("svc").namespace_id(&ns_id).send().await.unwrap().service.unwrap();
    let svc_id = svc.id().unwrap().to_string();
    // Acknowledged but not finished: killed without warning, the operation must finish after restart.
    let op = register(&c, &svc_id, "i-1", &[("AWS_INSTANCE_IPV4", "10.9.9.9")]).await;
    server.kill();
    server.restart().await;
    let c = cloudmap(&server, Wire::Json);
    let (done, _) = wait_cloudmap_operation(&c, &op).await;
    assert_eq!(done.status(), Some(&OperationStatus::Success));
    let inst = c.get_instance().service_id(&svc_id).instance_id("i-1").send().await.unwrap();
    assert_eq!(
        inst.instance().unwrap().attributes().unwrap().get("AWS_INSTANCE_IPV4").map(String::as_str),
        Some("10.9.9.9")
    );
    // A clean stop (SIGTERM) exits 0 and keeps everything.
    assert_eq!(server.terminate(), Some(0));
    server.restart().await;
    let c = cloudmap(&server, Wire::Cbor);
    assert_eq!(c.get_namespace().id(&ns_id).send().await.unwrap().namespace.unwrap().name(), Some("durable"));
    assert_eq!(c.get_service().id(&svc_id).send().await.unwrap().service.unwrap().instance_count(), Some(1));
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

async fn raw(server: &Server, headers: &[(&str, &str)], body: Vec<u8>) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let mut req = reqwest::Client::new().post(format!("{}/", server.endpoint()));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.body(body).send().await.expect("request");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.bytes().await.unwrap().to_vec())
}

fn json_type(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["__type"].as_str().map(str::to_string))
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_gets_aws_errors_and_changes_nothing() {
    let server = Server::ephemeral("instant").await;
    let c = cloudmap(&server, Wire::Json);
    create_http_namespace(&c, "keep").await;
    let target = |op: &str| format!("Route53AutoNaming_v20170314.{op}");
    let json = "application/x-amz-json-1.1";

    let t = target("CreateHttpNamespace");
    let (status, headers, body) =
        raw(&server, &[("x-amz-target", &t), ("content-type", json)], b"{\"Name\": ".to_vec()).await;
    assert_eq!((status, json_type(&body).as_str()), (400, "SerializationException"));
    assert!(headers.contains_key("x-amzn-requestid"));
    let (status, _, body) =
        raw(&server, &[("x-amz-target", &t), ("content-type", json)], b"{\"Name\": [1]}".to_vec()).await;
    assert_eq!((status, json_type(&body).as_str()), (400, "SerializationException"));
    let (status, _, body) = raw(&server, &[("x-amz-target", &t), ("content-type", json)], b"{}".to_vec()).await;
    assert_eq!((status, json_type(&body).as_str()), (400, "InvalidInput"));
    assert!(String::from_utf8_lossy(&body).contains("Member must not be null"));
    let (status, _, body) = raw(
        &server,
        &[("x-amz-target", "Route53AutoNaming_v20170314.Explode"), ("content-type", json)],
        b"{}".to_vec(),
    )
    .await;
    assert_eq!((status, json_type(&body).as_str()), (400, "UnknownOperationException"));
    let big = format!("{{\"Name\":\"{}\"}}", "x".repeat(2 * 1024 * 1024));
    let (status, _, body) = raw(&server, &[("x-amz-target", &t), ("content-type", json)], big.into_bytes()).await;
    assert_eq!(status, 413);
    assert!(String::from_utf8_lossy(&body).contains("exceeds the limit"));

    // CBOR: garbage, and a well-formed map with the wrong member type.
    let cbor_req = |op: &str| {
        let url = format!("{}/service/Route53AutoNaming_v20170314/operation/{op}", server.endpoint());
        reqwest::Client::new()
            .post(url)
            .header("smithy-protocol", "rpc-v2-cbor")
            .header("content-type", "application/cbor")
    };
    let resp = cbor_req("CreateHttpNamespace").body(vec![0xff, 0x00, 0x13]).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    assert_eq!(resp.headers().get("smithy-protocol").unwrap(), "rpc-v2-cbor");
    // {"Name": 7}
    let resp =
        cbor_req("CreateHttpNamespace").body(vec![0xa1, 0x64, b'N', b'a', b'm', b'e', 0x07]).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let body: ciborium::Value = ciborium::de::from_reader(&resp.bytes().await.unwrap()[..]).unwrap();
    let ty = body
        .as_map()
        .unwrap()
        .iter()
        .find(|(k, _)| k.as_text() == Some("__type"))
        .unwrap()
        .1
        .as_text()
        .unwrap()
        .to_string();
    assert_eq!(ty, "com.amazonaws.servicediscovery#SerializationException");
    // Indefinite-length empty map is a valid empty input.
    let resp = cbor_req("ListNamespaces").body(vec![0xbf, 0xff]).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);

    // Nothing changed, and the server is still up.
    let ns = c.list_namespaces().send().await.unwrap();
    assert_eq!(ns.namespaces().len(), 1);
    assert_eq!(ns.namespaces()[0].name(), Some("keep"));
}
