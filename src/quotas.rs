//! The service quotas AWS raises on request, as the config file (`[quotas]`) and `--quota NAME=N`
//! set them and the engine hands them to the services at start.

/// The service quotas AWS raises on request, with AWS's defaults (`[quotas]` in the config file,
/// `--quota NAME=N` on the command line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quotas {
    /// Cloud Map namespaces per account and region (AWS: 50).
    pub namespaces_per_region: u64,
    /// Cloud Map instances per service (AWS: 1,000).
    pub instances_per_service: u64,
    /// Tags per Cloud Map namespace or service (AWS: 50).
    pub tags_per_resource: u64,
    /// Custom attributes (not starting with `AWS_`) per Cloud Map instance (AWS: 30).
    pub custom_attributes_per_instance: u64,
    /// Service attributes per Cloud Map service (AWS: 30).
    pub attributes_per_service: u64,
}

impl Default for Quotas {
    fn default() -> Self {
        Quotas {
            namespaces_per_region: 50,
            instances_per_service: 1000,
            tags_per_resource: 50,
            custom_attributes_per_instance: 30,
            attributes_per_service: 30,
        }
    }
}

impl Quotas {
    /// The names `[quotas]` and `--quota` accept.
    pub const NAMES: &'static [&'static str] = &[
        "namespaces_per_region",
        "instances_per_service",
        "tags_per_resource",
        "custom_attributes_per_instance",
        "attributes_per_service",
    ];

    /// Sets quota `name` to `value` (at least 1).
    pub fn set(&mut self, name: &str, value: u64) -> Result<(), String> {
        if value == 0 {
            return Err(format!("quota {name} must be at least 1"));
        }
        let slot = match name {
            "namespaces_per_region" => &mut self.namespaces_per_region,
            "instances_per_service" => &mut self.instances_per_service,
            "tags_per_resource" => &mut self.tags_per_resource,
            "custom_attributes_per_instance" => &mut self.custom_attributes_per_instance,
            "attributes_per_service" => &mut self.attributes_per_service,
            other => return Err(format!("unknown quota '{other}'; the quotas are {}", Self::NAMES.join(", "))),
        };
        *slot = value.min(i32::MAX as u64);
        Ok(())
    }

    /// Parses `NAME=N` (a `--quota` flag) and sets it.
    pub fn set_from_flag(&mut self, flag: &str) -> Result<(), String> {
        let (name, value) = flag
            .split_once('=')
            .ok_or_else(|| format!("--quota takes NAME=N (such as instances_per_service=5000), not '{flag}'"))?;
        let value: u64 =
            value.trim().parse().map_err(|_| format!("--quota {name}: '{value}' is not a whole number"))?;
        self.set(name.trim(), value)
    }
}
