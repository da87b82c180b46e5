//! `localplane env`: the POSIX shell exports that point the AWS CLI and SDKs at a localplane server,
//! for `eval "$(localplane env)"` in bash, zsh or sh.

use crate::model::Service;

/// Options of `localplane env`.
#[derive(clap::Args, Debug, Clone)]
pub struct EnvArgs {
    /// The server (what `serve` printed as LOCALPLANE_ENDPOINT).
    #[arg(long, env = "LOCALPLANE_ENDPOINT", default_value = super::DEFAULT_ENDPOINT)]
    pub endpoint: String,
    /// The account to act in: it becomes the access key, and a 12-digit access key is the account id.
    #[arg(long, default_value = "123456789012")]
    pub account: String,
    /// The region to sign for.
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    /// Only the per-service endpoints (and the host-prefix switch), for running beside LocalStack or
    /// moto: AWS_ENDPOINT_URL, the keys and the region stay the other tool's.
    #[arg(long)]
    pub services_only: bool,
}

/// The variable the AWS SDKs and CLI read for one service's endpoint. They build it from the model's
/// `serviceId` (spaces become underscores, upper case): `ServiceDiscovery` and `KafkaConnect` give
/// the same as the services' signing names in upper case.
pub fn endpoint_variable(service: Service) -> String {
    format!("AWS_ENDPOINT_URL_{}", service.name().replace([' ', '-'], "_").to_ascii_uppercase())
}

/// The variables `localplane env` sets, in the order it prints them.
pub fn variables(args: &EnvArgs) -> Result<Vec<(String, String)>, String> {
    let endpoint = args.endpoint.trim_end_matches('/');
    let scheme_ok = endpoint.starts_with("http://") || endpoint.starts_with("https://");
    if !scheme_ok || endpoint.contains(char::is_whitespace) || endpoint.split("://").nth(1).is_none_or(str::is_empty) {
        return Err(format!(
            "--endpoint (or LOCALPLANE_ENDPOINT) must be an http:// or https:// URL such as {}, not '{}'",
            super::DEFAULT_ENDPOINT,
            args.endpoint
        ));
    }
    if args.account.len() != 12 || !args.account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("--account must be a 12-digit account id such as 123456789012, not '{}'", args.account));
    }
    let region_ok = !args.region.is_empty()
        && args.region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !region_ok {
        return Err(format!("--region must be a region name such as us-east-1, not '{}'", args.region));
    }
    let mut vars = Vec::new();
    if !args.services_only {
        vars.push(("AWS_ENDPOINT_URL".to_string(), endpoint.to_string()));
    }
    for service in Service::ALL {
        vars.push((endpoint_variable(*service), endpoint.to_string()));
    }
    // DiscoverInstances' `data-` host prefix would send those calls to a host that does not resolve.
    vars.push(("AWS_DISABLE_HOST_PREFIX_INJECTION".to_string(), "true".to_string()));
    if !args.services_only {
        vars.push(("AWS_ACCESS_KEY_ID".to_string(), args.account.clone()));
        vars.push(("AWS_SECRET_ACCESS_KEY".to_string(), "localplane".to_string()));
        vars.push(("AWS_DEFAULT_REGION".to_string(), args.region.clone()));
        vars.push(("AWS_REGION".to_string(), args.region.clone()));
        vars.push(("LOCALPLANE_ENDPOINT".to_string(), endpoint.to_string()));
    }
    Ok(vars)
}

/// `export NAME='value'` lines for every variable, ready for `eval`.
pub fn exports(args: &EnvArgs) -> Result<String, String> {
    Ok(variables(args)?.iter().map(|(name, value)| format!("export {name}={}\n", shell_quote(value))).collect())
}

/// `value` as one POSIX shell word: single-quoted, with each `'` written as `'\''`.
pub fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(endpoint: &str) -> EnvArgs {
        EnvArgs {
            endpoint: endpoint.to_string(),
            account: "123456789012".into(),
            region: "us-east-1".into(),
            services_only: false,
        }
    }

    #[test]
    fn one_endpoint_variable_per_service() {
        assert_eq!(endpoint_variable(Service::ServiceDiscovery), "AWS_ENDPOINT_URL_SERVICEDISCOVERY");
        assert_eq!(endpoint_variable(Service::KafkaConnect), "AWS_ENDPOINT_URL_KAFKACONNECT");
        assert_eq!(endpoint_variable(Service::Ram), "AWS_ENDPOINT_URL_RAM");
        let text = exports(&args("http://127.0.0.1:4566/")).unwrap();
        assert!(text.starts_with("export AWS_ENDPOINT_URL='http://127.0.0.1:4566'\n"), "{text}");
        for line in [
            "export AWS_ENDPOINT_URL_SERVICEDISCOVERY='http://127.0.0.1:4566'",
            "export AWS_ENDPOINT_URL_KAFKACONNECT='http://127.0.0.1:4566'",
            "export AWS_ENDPOINT_URL_STS='http://127.0.0.1:4566'",
            "export AWS_DISABLE_HOST_PREFIX_INJECTION='true'",
            "export AWS_ACCESS_KEY_ID='123456789012'",
            "export AWS_DEFAULT_REGION='us-east-1'",
            "export AWS_REGION='us-east-1'",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing from\n{text}");
        }
    }

    #[test]
    fn services_only_leaves_the_global_endpoint_and_keys_alone() {
        let vars = variables(&EnvArgs { services_only: true, ..args("http://localhost:4566") }).unwrap();
        let names: Vec<&str> = vars.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "AWS_ENDPOINT_URL_SERVICEDISCOVERY",
                "AWS_ENDPOINT_URL_KAFKACONNECT",
                "AWS_ENDPOINT_URL_RAM",
                "AWS_ENDPOINT_URL_STS",
                "AWS_DISABLE_HOST_PREFIX_INJECTION"
            ]
        );
    }

    #[test]
    fn values_are_quoted_and_bad_arguments_named() {
        assert_eq!(shell_quote("a'b $c"), r"'a'\''b $c'");
        assert!(variables(&args("127.0.0.1:4566")).unwrap_err().contains("--endpoint"));
        assert!(variables(&args("http://")).unwrap_err().contains("--endpoint"));
        let e = variables(&EnvArgs { account: "12".into(), ..args("http://x") }).unwrap_err();
        assert!(e.contains("--account"), "{e}");
        let e = variables(&EnvArgs { region: "us east".into(), ..args("http://x") }).unwrap_err();
        assert!(e.contains("--region"), "{e}");
    }
}
