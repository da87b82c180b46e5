//! Cloud Map's resources as the web console shows them: per account and region, the namespaces
//! (visible ones and those still being created), their services and the services' instances with
//! the health clients see.

use super::records::{health_as_reported, InstanceRec, Keys, NamespaceRec, NamespaceState, ServiceRec, KEY_PREFIX};
use crate::resource_tree::{scopes, ResourceNode, ScopeResources, MAX_CHILDREN, MAX_RESOURCES};
use crate::store::{decode_all, StoreError, Tx};

/// Every account's and region's namespaces → services → instances.
pub fn resources(tx: &mut dyn Tx) -> Result<Vec<ScopeResources>, StoreError> {
    let mut out = Vec::new();
    for (account, region) in scopes(tx, KEY_PREFIX)? {
        let keys = Keys::new(&account, &region);
        let namespaces = decode_all::<NamespaceRec>(tx.scan(&keys.namespaces(), None, MAX_RESOURCES)?)?;
        let services = decode_all::<ServiceRec>(tx.scan(&keys.services(), None, MAX_RESOURCES * MAX_CHILDREN)?)?;
        let mut nodes = Vec::new();
        for (_, ns) in &namespaces {
            let state = match ns.state {
                NamespaceState::Creating => "CREATING",
                NamespaceState::Active => "ACTIVE",
            };
            let mut node = ResourceNode::new("namespace", &ns.id, &ns.name)
                .state(state)
                .detail("type", ns.ns_type.as_str())
                .detail("services", ns.service_count.to_string());
            let mine: Vec<&ServiceRec> = services.iter().map(|(_, s)| s).filter(|s| s.namespace_id == ns.id).collect();
            if mine.len() > MAX_CHILDREN {
                node.total = Some(mine.len() as u64);
            }
            for srv in mine.into_iter().take(MAX_CHILDREN) {
                node.children.push(service(tx, &keys, srv)?);
            }
            nodes.push(node);
        }
        if !nodes.is_empty() {
            out.push(ScopeResources { account, region, resources: nodes });
        }
    }
    Ok(out)
}

fn service(tx: &mut dyn Tx, keys: &Keys, srv: &ServiceRec) -> Result<ResourceNode, StoreError> {
    let checked = srv.health_check.is_some() || srv.custom_health;
    let mut node = ResourceNode::new("service", &srv.id, &srv.name).detail("instances", srv.instance_count.to_string());
    if let Some(check) = &srv.health_check {
        node = node.detail("health check", check.check_type.as_str());
    } else if srv.custom_health {
        node = node.detail("health check", "custom");
    }
    let instances = decode_all::<InstanceRec>(tx.scan(&keys.instances(&srv.id), None, MAX_CHILDREN)?)?;
    if srv.instance_count.max(0) as usize > instances.len() {
        node.total = Some(srv.instance_count as u64);
    }
    for (_, inst) in instances {
        let mut child =
            ResourceNode::new("instance", &inst.id, &inst.id).state(health_as_reported(checked, inst.health).as_str());
        for attr in ["AWS_INSTANCE_IPV4", "AWS_INSTANCE_IPV6", "AWS_INSTANCE_PORT", "AWS_INSTANCE_CNAME"] {
            if let Some(v) = inst.attributes.get(attr) {
                child = child.detail(attr_label(attr), v);
            }
        }
        node.children.push(child);
    }
    Ok(node)
}

fn attr_label(attr: &str) -> &'static str {
    match attr {
        "AWS_INSTANCE_IPV4" => "ipv4",
        "AWS_INSTANCE_IPV6" => "ipv6",
        "AWS_INSTANCE_PORT" => "port",
        _ => "cname",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloudmap::{driver::CloudMapDriver, CloudMap, Quotas, SERVICE};
    use crate::engine::{Engine, StoppedClock, Timing, TimingProfile};
    use crate::model::servicediscovery::{self as m, Api as _};
    use crate::store::{memory::Memory, Store};
    use crate::wire::shape::{Protocol, RequestContext};
    use std::collections::BTreeMap;
    use std::sync::Arc;

    #[tokio::test]
    async fn the_tree_lists_at_most_its_bound_of_instances_with_the_count() {
        let engine = Engine::new(
            Store::new(Arc::new(Memory::new())),
            Arc::new(StoppedClock::at(1_750_000_000_000)),
            Timing::new(TimingProfile::Instant),
        );
        engine.register(SERVICE, Arc::new(CloudMapDriver::default()));
        let cm = CloudMap::new(engine.clone(), Quotas::default());
        let cx = RequestContext {
            account: "123456789012".into(),
            region: "eu-west-1".into(),
            request_id: "t".into(),
            protocol: Protocol::AwsJson11,
        };
        let ns = m::CreateHttpNamespaceRequest { name: "shop".into(), ..Default::default() };
        cm.create_http_namespace(&cx, ns).await.unwrap();
        let store = engine.store().clone();
        let tree = store.read(resources).await.unwrap();
        let ns_id = tree[0].resources[0].id.clone();
        let srv = m::CreateServiceRequest { name: "web".into(), namespace_id: Some(ns_id), ..Default::default() };
        let srv = cm.create_service(&cx, srv).await.unwrap().service.and_then(|s| s.id).unwrap();
        for i in 0..MAX_CHILDREN + 5 {
            let input = m::RegisterInstanceRequest {
                service_id: srv.clone(),
                instance_id: format!("i-{i:03}"),
                attributes: BTreeMap::from([("AWS_INSTANCE_IPV4".to_string(), "10.0.0.1".to_string())]),
                ..Default::default()
            };
            cm.register_instance(&cx, input).await.unwrap();
        }
        let tree = store.read(resources).await.unwrap();
        assert_eq!((tree[0].account.as_str(), tree[0].region.as_str()), ("123456789012", "eu-west-1"));
        let namespace = &tree[0].resources[0];
        assert_eq!(
            (namespace.kind, namespace.name.as_str(), namespace.state.as_deref()),
            ("namespace", "shop", Some("ACTIVE"))
        );
        let service = &namespace.children[0];
        assert_eq!(service.name, "web");
        assert_eq!(service.children.len(), MAX_CHILDREN);
        assert_eq!(service.total, Some((MAX_CHILDREN + 5) as u64));
        let instance = &service.children[0];
        assert_eq!(instance.state.as_deref(), Some("UNKNOWN"), "no health check: the health clients see");
        assert_eq!(instance.details, vec![("ipv4", "10.0.0.1".to_string())]);
    }
}
