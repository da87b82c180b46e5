//! The service registry: every AWS API localplane serves registers once — its generated wire
//! tables (operations, protocols, errors), its dispatcher, its store key prefix, its operation
//! driver and its cache hooks. The front end routes, meters and injects request faults from it; the
//! admin API resets, snapshots and checks fault rules from it. Nothing outside a service's folder and
//! its registration line in `services` names the service.

use crate::engine::{Engine, FaultRule, OperationDriver};
use crate::model::Service;
use crate::resource_tree::ScopeResources;
use crate::store::{StoreError, Tx};
use crate::wire::shape::{ApiError, ErrorShape, Json, OperationInfo, RequestContext, WireService};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// What a dispatched request answers: the encoded output (`None` for an operation without output).
pub type Answer<'a> = Pin<Box<dyn Future<Output = Result<Option<Vec<u8>>, ApiError>> + Send + 'a>>;

/// A running service: the business rules behind one AWS API.
pub trait ServiceBackend: Send + Sync {
    /// Decodes `input` as operation `operation`'s input, runs it and encodes its output in
    /// `cx.protocol`.
    fn dispatch<'a>(&'a self, cx: &'a RequestContext, operation: &'static OperationInfo, input: &'a Json)
        -> Answer<'a>;

    /// Forgets what the service keeps decoded in memory (the store was replaced under it).
    fn forget_cached(&self);

    /// Its resources in every account and region, as the web console shows them (bounded: see
    /// [`crate::resource_tree`]). A service without a listing shows nothing.
    fn console_resources(&self, _tx: &mut dyn Tx) -> Result<Vec<ScopeResources>, StoreError> {
        Ok(Vec::new())
    }
}

/// A started service: its backend and the driver of its operations.
pub type Started = (Arc<dyn ServiceBackend>, Arc<dyn OperationDriver>);

/// A service as it registers: static facts and how to start it.
pub struct Registration {
    /// Which service.
    pub service: Service,
    /// The store key prefix under which all of the service's documents and indexes live.
    pub key_prefix: &'static str,
    /// Checks what a fault rule names that only the service knows (steps, say); the operation and
    /// error tables of the model are checked for every service alike.
    pub check_fault_rule: fn(&FaultRule) -> Result<(), String>,
    /// Checks one row of a snapshot under `key_prefix` before an import replaces anything.
    pub check_document: fn(key: &str, value: &[u8]) -> Result<(), String>,
    /// The kinds of its resources an owner may share with other accounts (through AWS RAM).
    pub shareable: &'static [Shareable],
    /// Starts the service over the engine, given every registration of the binary (a service that
    /// works with others' resources, RAM say, finds their [`Shareable`] kinds there): its backend and
    /// its operation driver.
    pub start: fn(&Engine, &[&'static Registration]) -> Started,
}

/// A kind of resource its owner may share with other accounts through AWS RAM, as the owning service
/// describes it: how its ARN reads and whether one exists.
pub struct Shareable {
    /// RAM's name of the type, `service:Type` (`servicediscovery:Namespace`).
    pub resource_type: &'static str,
    /// The service part of the ARN (`servicediscovery`).
    pub arn_service: &'static str,
    /// The resource part of the ARN before the `/` (`namespace`).
    pub arn_kind: &'static str,
    /// Whether resource `id` of `account` in `region` exists (and can be shared) now.
    pub exists: fn(tx: &mut dyn Tx, account: &str, region: &str, id: &str) -> Result<bool, StoreError>,
}

impl Registration {
    /// How the service is reached on the wire.
    pub fn wire(&self) -> &'static WireService {
        self.service.wire()
    }
}

/// The started services of one server.
pub struct Registry {
    entries: Vec<(&'static Registration, Arc<dyn ServiceBackend>)>,
    wires: Vec<&'static WireService>,
}

impl Registry {
    /// Starts every registered service over `engine`, registering its operation driver.
    pub fn start(registrations: &[&'static Registration], engine: &Engine) -> Registry {
        let mut entries = Vec::with_capacity(registrations.len());
        for r in registrations {
            let (backend, driver) = (r.start)(engine, registrations);
            engine.register(r.service, driver);
            entries.push((*r, backend));
        }
        let wires = entries.iter().map(|(r, _)| r.wire()).collect();
        Registry { entries, wires }
    }

    /// The wire tables of every service, in registration order (what `wire::classify` routes on).
    pub fn wires(&self) -> &[&'static WireService] {
        &self.wires
    }

    /// The registration and backend at `index` of [`Registry::wires`].
    pub fn at(&self, index: usize) -> Option<(&'static Registration, &dyn ServiceBackend)> {
        self.entries.get(index).map(|(r, b)| (*r, b.as_ref()))
    }

    /// The registration of `service`.
    pub fn registration(&self, service: Service) -> Option<&'static Registration> {
        self.entries.iter().find(|(r, _)| r.service == service).map(|(r, _)| *r)
    }

    /// Every service with its backend (owned, for work that outlives the borrow: a store read).
    pub fn backends(&self) -> Vec<(Service, Arc<dyn ServiceBackend>)> {
        self.entries.iter().map(|(r, b)| (r.service, b.clone())).collect()
    }

    /// The backend of `service`.
    pub fn backend(&self, service: Service) -> Option<&dyn ServiceBackend> {
        self.entries.iter().find(|(r, _)| r.service == service).map(|(_, b)| b.as_ref())
    }

    /// Every registration.
    pub fn registrations(&self) -> impl Iterator<Item = &'static Registration> + '_ {
        self.entries.iter().map(|(r, _)| *r)
    }

    /// Forgets what every service keeps decoded (after a reset or an import).
    pub fn forget_cached(&self) {
        for (_, b) in &self.entries {
            b.forget_cached();
        }
    }
}

/// Checks a fault rule: its shape, that a request fault names an operation and a modelled error of
/// its service, and what the service itself checks.
pub fn validate_rule(registrations: &[&'static Registration], rule: &FaultRule) -> Result<(), String> {
    rule.validate()?;
    let Some(registration) = registrations.iter().find(|r| r.service == rule.service) else {
        return Err(format!("service {} is not served here", rule.service));
    };
    if let (Some(api), Some(status)) = (&rule.api, rule.http_status) {
        if registration.wire().operation(api).is_none() {
            return Err(format!("api {api} is not an operation of {}", rule.service));
        }
        request_fault_shape(registration.wire(), &rule.error_code, status)?;
    }
    (registration.check_fault_rule)(rule)
}

/// The error shape a request fault returns: a modelled error of the service with that status, or
/// the framework error AWS uses for it when the service models none (500, 503).
pub fn request_fault_shape(wire: &WireService, code: &str, status: u16) -> Result<&'static ErrorShape, String> {
    use crate::wire::shape::{INTERNAL_FAILURE, SERVICE_UNAVAILABLE};
    if let Some(shape) = wire.errors.iter().find(|e| e.name == code) {
        if shape.status != status {
            return Err(format!("{code} is a {} error, not {status}", shape.status));
        }
        return Ok(shape);
    }
    match (code, status) {
        ("InternalFailure", 500) => Ok(&INTERNAL_FAILURE),
        ("ServiceUnavailable", 503) => Ok(&SERVICE_UNAVAILABLE),
        _ => {
            let mut allowed: Vec<&str> = wire.errors.iter().filter(|e| e.status == status).map(|e| e.name).collect();
            if status == 500 {
                allowed.push("InternalFailure");
            }
            if status == 503 {
                allowed.push("ServiceUnavailable");
            }
            Err(format!("errorCode for {} with httpStatus {status} must be one of: {}", wire.name, allowed.join(", ")))
        }
    }
}

/// A snapshot row check: the value at `key` must decode as a `T` (a `what` document).
pub fn decodes<T: serde::de::DeserializeOwned>(key: &str, value: &[u8], what: &str) -> Result<(), String> {
    serde_json::from_slice::<T>(value).map(|_| ()).map_err(|e| format!("{key} is not a {what} document: {e}"))
}

/// A check that accepts every fault rule the shared checks accept.
pub fn any_fault_rule(_rule: &FaultRule) -> Result<(), String> {
    Ok(())
}
