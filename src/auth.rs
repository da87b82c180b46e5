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
