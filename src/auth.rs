//! Who may call. By default any credentials are accepted (the account comes from the access key);
//! with `--auth verify` every request must carry a valid SigV4 signature by a key of the config
//! file, and the admin API asks for a bearer token.

use crate::wire::shape::{ApiError, ErrorShape, Protocol};
use crate::wire::sigv4::{self, verify::Rejection};
use axum::http::HeaderMap;
use serde::Deserialize;
use std::collections::HashMap;

/// How requests are authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// Any signature, or none, is accepted.
    #[default]
    Accept,
    /// Signatures are verified against the configured keys.
    Verify,
}

impl std::str::FromStr for AuthMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "accept" => Ok(AuthMode::Accept),
            "verify" => Ok(AuthMode::Verify),
            other => Err(format!("auth mode must be accept or verify, not '{other}'")),
        }
    }
}

/// A key of the config file: `[[auth.credentials]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    /// Access key id.
    pub access_key: String,
    /// Secret access key.
    pub secret_key: String,
    /// The account the key belongs to (12 digits).
    pub account: String,
}

/// The authentication policy of a running server.
#[derive(Debug, Clone, Default)]
pub struct Auth {
    /// Accept or verify.
    pub mode: AuthMode,
    /// Access key → (secret, account), for `verify`.
    pub keys: HashMap<String, (String, String)>,
    /// Bearer token the admin API asks for (None: the admin API is open).
    pub admin_token: Option<String>,
    /// Account of unsigned requests and of keys that are not 12-digit account ids (`accept` mode).
    pub default_account: String,
    /// Which `Host` and `Origin` headers are answered.
    pub hosts: HostPolicy,
}

/// Which `Host` and `Origin` headers the server answers. A web page in the user's browser can send
/// "simple" cross-site requests (no preflight) and, through DNS rebinding, read answers under its
/// own host name; AWS SDKs, the CLI and the reset helpers of moto and LocalStack send no `Origin`
/// and address the server by a loopback address, `localhost` or a configured name.
#[derive(Debug, Clone, Default)]
pub struct HostPolicy {
    /// Names of `--allowed-hosts` (lowercase, without port); `*` allows any host.
    pub allowed: Vec<String>,
    /// The IP the server listens on (an unspecified one allows every IP literal: a rebinding page
    /// always names a host).
    pub listen_ip: Option<std::net::IpAddr>,
}

impl HostPolicy {
    /// A policy allowing the comma-separated `names` besides loopback, for a server on `listen_ip`.
    pub fn new(names: &str, listen_ip: Option<std::net::IpAddr>) -> HostPolicy {
        let allowed = names.split(',').map(|n| n.trim().trim_end_matches('.').to_ascii_lowercase());
        HostPolicy { allowed: allowed.filter(|n| !n.is_empty()).collect(), listen_ip }
    }

    /// Whether a request with these `Host` and `Origin` headers is answered; the error says why not
    /// and what to do.
    pub fn check(&self, host: Option<&str>, origin: Option<&str>) -> Result<(), String> {
        if let Some(host) = host {
            if !self.host_allowed(host) {
                return Err(format!(
                    "Host '{host}' is not a loopback address, localhost or a name of --allowed-hosts: refused, as a \
                     page of another site reaching this server through DNS rebinding would be. To serve this name, \
                     add it to --allowed-hosts (LOCALPLANE_ALLOWED_HOSTS, allowed_hosts in the config file)"
                ));
            }
        }
        if let Some(origin) = origin {
            let own = host.is_some_and(|h| origin.eq_ignore_ascii_case(&format!("http://{h}")));
            if !own {
                return Err(format!(
                    "A cross-origin request (Origin: {origin}) is refused: localplane answers only requests of \
                     its own origin, so that a web page cannot drive it. AWS SDKs and the CLI send no Origin"
                ));
            }
        }
        Ok(())
    }

    fn host_allowed(&self, host: &str) -> bool {
        if self.allowed.iter().any(|n| n == "*") {
            return true;
        }
        let name = host_name(host).trim_end_matches('.').to_ascii_lowercase();
        // DiscoverInstances carries the endpoint prefix `data-`: `data-127.0.0.1`, `data-localhost`.
        let unprefixed = name.strip_prefix("data-").unwrap_or(&name);
        let allowed = [name.as_str(), unprefixed].into_iter().any(|n| {
            let ip = n.trim_start_matches('[').trim_end_matches(']').parse::<std::net::IpAddr>().ok();
            n == "localhost"
                || n.ends_with(".localhost")
                || self.allowed.iter().any(|a| a == n)
                || ip
                    .is_some_and(|ip| ip.is_loopback() || self.listen_ip.is_some_and(|l| l == ip || l.is_unspecified()))
        });
        allowed
    }
}

/// The host of a `Host` header, without its port (`[::1]:80` → `[::1]`, `::1` stays whole).
fn host_name(host: &str) -> &str {
    let host = host.trim();
    if host.starts_with('[') {
        return host.find(']').map_or(host, |end| &host[..=end]);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

macro_rules! auth_error {
    ($name:ident, $code:literal, $status:literal) => {
        static $name: ErrorShape =
            ErrorShape { name: $code, status: $status, server_fault: false, members: &["Message"] };
    };
}

// Coral (awsJson, CBOR) answers 400; API Gateway (MSK Connect's REST front) answers 403.
auth_error!(MISSING_JSON, "MissingAuthenticationTokenException", 400);
auth_error!(MISSING_REST, "MissingAuthenticationTokenException", 403);
auth_error!(INCOMPLETE_JSON, "IncompleteSignatureException", 400);
auth_error!(INCOMPLETE_REST, "IncompleteSignatureException", 403);
auth_error!(UNRECOGNIZED_JSON, "UnrecognizedClientException", 400);
auth_error!(UNRECOGNIZED_REST, "UnrecognizedClientException", 403);
auth_error!(INVALID_JSON, "InvalidSignatureException", 400);
auth_error!(INVALID_REST, "InvalidSignatureException", 403);

fn header_lookup(headers: &HeaderMap) -> impl Fn(&str) -> Option<String> + '_ {
    move |name: &str| {
        let values: Vec<&str> = headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).collect();
        (!values.is_empty()).then(|| values.join(","))
    }
}

/// What authenticating a request looks at.
pub struct Presented<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// The path exactly as received.
    pub raw_path: &'a str,
    /// The raw query string.
    pub raw_query: Option<&'a str>,
    /// The request headers.
    pub headers: &'a HeaderMap,
    /// The whole body.
    pub body: &'a [u8],
    /// The protocol it arrived in (it decides the status of the errors).
    pub protocol: Protocol,
    /// The SigV4 signing name of the service it is routed to.
    pub service: &'a str,
}

impl Auth {
    /// Authenticates a request: its account and, when signed, the region of its credential scope.
    pub fn identify(&self, presented: &Presented<'_>) -> Result<(String, Option<String>), ApiError> {
        let Presented { method, raw_path, raw_query, headers, body, protocol, service } = *presented;
        let lookup = header_lookup(headers);
        let credential = lookup("authorization").as_deref().and_then(sigv4::parse_authorization);
        if self.mode == AuthMode::Accept {
            return Ok(match credential {
                Some(c) => (sigv4::account_for(&c.access_key, &self.default_account), Some(c.region)),
                None => (self.default_account.clone(), None),
            });
        }
        let req = sigv4::verify::SignedRequest { method, raw_path, raw_query, header: &lookup, body, service };
        let now =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
        let rest = protocol == Protocol::RestJson1;
        let pick = |json: &'static ErrorShape, rest_shape: &'static ErrorShape| if rest { rest_shape } else { json };
        match sigv4::verify::verify(&req, now, |k| self.keys.get(k).map(|(s, _)| s.clone())) {
            Ok(key) => {
                let account = self.keys.get(&key).map(|(_, a)| a.clone()).unwrap_or_else(|| self.default_account.clone());
                Ok((account, credential.map(|c| c.region)))
            }
            Err(Rejection::Missing) => Err(ApiError::new(pick(&MISSING_JSON, &MISSING_REST), "Missing Authentication Token")),
            Err(Rejection::Incomplete(why)) => Err(ApiError::new(pick(&INCOMPLETE_JSON, &INCOMPLETE_REST), why)),
            Err(Rejection::UnknownKey(key)) => Err(ApiError::new(
                pick(&UNRECOGNIZED_JSON, &UNRECOGNIZED_REST),
                format!("The security token included in the request is invalid (unknown access key {key})."),
            )),
            Err(Rejection::BadSignature) => Err(ApiError::new(
                pick(&INVALID_JSON, &INVALID_REST),
                "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.",
            )),
            Err(Rejection::Expired(why) | Rejection::BodyHashMismatch(why)) => {
                Err(ApiError::new(pick(&INVALID_JSON, &INVALID_REST), why))
            }
            Err(Rejection::WrongService { scoped, expected }) => Err(ApiError::new(
                pick(&INVALID_JSON, &INVALID_REST),
                format!("Credential should be scoped to correct service: '{expected}' (the request's scope names '{scoped}')."),
            )),
        }
    }

    /// Whether an admin request may proceed.
    pub fn admin_allowed(&self, headers: &HeaderMap) -> bool {
        let Some(token) = &self.admin_token else { return true };
        let given = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
        match given {
            Some(g) => g.len() == token.len() && g.bytes().zip(token.bytes()).fold(0u8, |a, (x, y)| a | (x ^ y)) == 0,
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::HostPolicy;

    #[test]
    fn hosts_and_origins_a_web_page_cannot_use() {
        let p = HostPolicy::new("", Some([127, 0, 0, 1].into()));
        for ok in ["127.0.0.1:4566", "127.0.0.2", "localhost", "LOCALHOST:1", "a.localhost:9", "[::1]:4566", "::1"] {
            assert_eq!(p.check(Some(ok), None), Ok(()), "{ok}");
        }
        for ok in ["data-127.0.0.1:4566", "data-localhost:4566"] {
            assert_eq!(p.check(Some(ok), None), Ok(()), "the data- prefix of {ok}");
        }
        for bad in ["evil.example", "evil.example:4566", "localhost.evil.example", "10.0.0.1:4566", "data-evil.example"]
        {
            assert!(p.check(Some(bad), None).is_err(), "{bad}");
        }
        assert_eq!(p.check(None, None), Ok(()), "HTTP/1.0 tools send no Host");
        assert_eq!(p.check(Some("127.0.0.1:4566"), Some("http://127.0.0.1:4566")), Ok(()));
        assert!(p.check(Some("127.0.0.1:4566"), Some("http://evil.example")).is_err());
        assert!(p.check(Some("127.0.0.1:4566"), Some("null")).is_err());
        assert!(p.check(None, Some("http://evil.example")).is_err());
        let named = HostPolicy::new("localplane, Host.Docker.Internal", Some([0, 0, 0, 0].into()));
        assert_eq!(named.check(Some("host.docker.internal:4566"), None), Ok(()));
        assert_eq!(named.check(Some("data-localplane:4566"), None), Ok(()));
        assert_eq!(named.check(Some("192.168.1.5:4566"), None), Ok(()), "any address of a wildcard listener");
        assert!(named.check(Some("evil.example"), None).is_err());
        assert_eq!(HostPolicy::new("*", None).check(Some("evil.example"), None), Ok(()));
    }
}
