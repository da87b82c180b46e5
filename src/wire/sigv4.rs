//! SigV4 `Authorization` header parsing: who is calling (access key → account) and in which region.

/// The credential scope of a SigV4 signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// The access key id.
    pub access_key: String,
    /// `yyyymmdd`.
    pub date: String,
    /// The region the request was signed for.
    pub region: String,
    /// The signing name of the service (its `endpointPrefix`).
    pub service: String,
}

/// Parses `AWS4-HMAC-SHA256 Credential=AKID/date/region/service/aws4_request, SignedHeaders=…, Signature=…`.
/// Tolerates extra spaces and any order of the three parts.
pub fn parse_authorization(value: &str) -> Option<Credential> {
    let rest = value.trim().strip_prefix("AWS4-HMAC-SHA256")?;
    for part in rest.split(',') {
        let part = part.trim();
        if let Some(cred) = part.strip_prefix("Credential=") {
            let mut it = cred.trim().split('/');
            let access_key = it.next()?.to_string();
            let date = it.next()?.to_string();
            let region = it.next()?.to_string();
            let service = it.next()?.to_string();
            if access_key.is_empty() || region.is_empty() {
                return None;
            }
            return Some(Credential { access_key, date, region, service });
        }
    }
    None
}

/// The account of an access key: a 12-digit key is itself the account id, any other maps to `default`.
pub fn account_for(access_key: &str, default: &str) -> String {
    if access_key.len() == 12 && access_key.bytes().all(|b| b.is_ascii_digit()) {
        access_key.to_string()
    } else {
        default.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_boto3_header() {
        let h = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20250611/us-east-1/examplesvc/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=2066";
        let c = parse_authorization(h).unwrap();
        assert_eq!(c.region, "us-east-1");
        assert_eq!(c.service, "examplesvc");
        assert_eq!(account_for("123456789012", "000000000000"), "123456789012");
        assert_eq!(account_for(&c.access_key, "000000000000"), "000000000000");
        assert!(parse_authorization("Bearer x").is_none());
    }
}

/// Signature verification of SigV4 requests against a table of known keys.
pub mod verify {
    use hmac::{Hmac, Mac};
    use sha2::{Digest, Sha256};

    type HmacSha256 = Hmac<Sha256>;

    /// How far a request's `X-Amz-Date` may be from the server's clock.
    pub const MAX_SKEW_SECS: i64 = 15 * 60;

    /// Why a request was refused.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Rejection {
        /// No `Authorization` header.
        Missing,
        /// The header is not a complete SigV4 header.
        Incomplete(String),
        /// The access key is not in the table.
        UnknownKey(String),
        /// The signature does not match.
        BadSignature,
        /// `X-Amz-Date` is missing, malformed, or too far from now.
        Expired(String),
        /// `X-Amz-Content-Sha256` is not the SHA-256 of the body (or an unsigned `UNSIGNED-PAYLOAD`).
        BodyHashMismatch(String),
        /// The credential scope names another service than the one the request went to.
        WrongService {
            /// The service named in the scope.
            scoped: String,
            /// The signing name of the service the request was routed to.
            expected: String,
        },
    }

    /// What verification needs to know about a request.
    pub struct SignedRequest<'a> {
        /// HTTP method.
        pub method: &'a str,
        /// The path exactly as received (still percent-encoded).
        pub raw_path: &'a str,
        /// The raw query string.
        pub raw_query: Option<&'a str>,
        /// Looks up a header (case-insensitive), joining repeated values with `,`.
        pub header: &'a dyn Fn(&str) -> Option<String>,
        /// The body.
        pub body: &'a [u8],
        /// The signing name of the service the request is routed to (its credential scope must name it).
        pub service: &'a str,
    }

    fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
        // HMAC accepts keys of any length.
        let mut mac = <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC takes any key length");
        mac.update(data);
        mac.finalize().into_bytes().to_vec()
    }

    /// AWS's URI encoding: everything but unreserved characters is `%XX` (uppercase).
    pub fn uri_encode(s: &str, keep_slash: bool) -> String {
        let mut out = String::with_capacity(s.len());
        for b in s.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
                b'/' if keep_slash => out.push('/'),
                _ => out.push_str(&format!("%{b:02X}")),
            }
        }
        out
    }

    fn canonical_query(raw: Option<&str>) -> String {
        let mut pairs: Vec<(String, String)> = crate::wire::rest::parse_query(raw)
            .into_iter()
            .map(|(k, v)| (uri_encode(&k, false), uri_encode(&v, false)))
            .collect();
        pairs.sort();
        pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
    }

    fn trim_all(v: &str) -> String {
        v.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    /// Parses `yyyymmddThhmmssZ` into epoch seconds.
    fn parse_amz_date(s: &str) -> Option<i64> {
        let fmt = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
        time::PrimitiveDateTime::parse(s, &fmt).ok().map(|t| t.assume_utc().unix_timestamp())
    }

    /// The payload hash of the canonical request. A declared `X-Amz-Content-Sha256` must be the
    /// body's SHA-256 (the signature covers the header, not the body: trusting it would let a
    /// signed request be replayed with any body); `UNSIGNED-PAYLOAD` stands only when the header
    /// itself is signed.
    fn payload_hash(req: &SignedRequest<'_>, signed_headers: &str) -> Result<String, Rejection> {
        let actual = hex::encode(Sha256::digest(req.body));
        let Some(declared) = (req.header)("x-amz-content-sha256") else { return Ok(actual) };
        let declared = declared.trim();
        if declared == "UNSIGNED-PAYLOAD" {
            if signed_headers.split(';').any(|h| h.eq_ignore_ascii_case("x-amz-content-sha256")) {
                return Ok(declared.to_string());
            }
            return Err(Rejection::BodyHashMismatch(
                "X-Amz-Content-Sha256 is UNSIGNED-PAYLOAD but is not one of the SignedHeaders; sign it, or send the body's SHA-256".into(),
            ));
        }
        if declared.eq_ignore_ascii_case(&actual) {
            Ok(actual)
        } else {
            Err(Rejection::BodyHashMismatch(format!(
                "The provided X-Amz-Content-Sha256 header '{declared}' does not match the SHA-256 of the request body ({actual})"
            )))
        }
    }

    /// Verifies `req`; `secret_for` maps an access key to its secret. Returns the access key.
    pub fn verify(
        req: &SignedRequest<'_>,
        now_secs: i64,
        secret_for: impl Fn(&str) -> Option<String>,
    ) -> Result<String, Rejection> {
        let Some(auth) = (req.header)("authorization") else { return Err(Rejection::Missing) };
        let rest = auth
            .trim()
            .strip_prefix("AWS4-HMAC-SHA256")
            .ok_or_else(|| Rejection::Incomplete("Authorization header must start with AWS4-HMAC-SHA256".into()))?;
        let (mut credential, mut signed, mut signature) = (None, None, None);
        for part in rest.split(',') {
            let part = part.trim();
            if let Some(v) = part.strip_prefix("Credential=") {
                credential = Some(v.trim().to_string());
            } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
                signed = Some(v.trim().to_string());
            } else if let Some(v) = part.strip_prefix("Signature=") {
                signature = Some(v.trim().to_string());
            }
        }
        let (Some(credential), Some(signed), Some(signature)) = (credential, signed, signature) else {
            return Err(Rejection::Incomplete(
                "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters".into(),
            ));
        };
        let parts: Vec<&str> = credential.split('/').collect();
        if parts.len() != 5 || parts[4] != "aws4_request" {
            return Err(Rejection::Incomplete(format!(
                "Credential '{credential}' is not <key>/<date>/<region>/<service>/aws4_request"
            )));
        }
        let (key, date, region, service) = (parts[0], parts[1], parts[2], parts[3]);
        if service != req.service {
            return Err(Rejection::WrongService { scoped: service.to_string(), expected: req.service.to_string() });
        }
        let Some(secret) = secret_for(key) else { return Err(Rejection::UnknownKey(key.to_string())) };
        let amz_date =
            (req.header)("x-amz-date").ok_or_else(|| Rejection::Expired("X-Amz-Date header is missing".into()))?;
        let signed_at = parse_amz_date(&amz_date)
            .ok_or_else(|| Rejection::Expired(format!("X-Amz-Date '{amz_date}' is malformed")))?;
        if (now_secs - signed_at).abs() > MAX_SKEW_SECS {
            return Err(Rejection::Expired(format!(
                "Signature expired: {amz_date} is more than 15 minutes away from the server's time"
            )));
        }
        if !amz_date.starts_with(date) {
            return Err(Rejection::BadSignature);
        }
        let canonical_uri = {
            let path = if req.raw_path.is_empty() { "/" } else { req.raw_path };
            path.split('/').map(|seg| uri_encode(seg, false)).collect::<Vec<_>>().join("/")
        };
        let mut headers = String::new();
        for name in signed.split(';') {
            let value = (req.header)(name).unwrap_or_default();
            headers.push_str(&format!("{name}:{}\n", trim_all(&value)));
        }
        let payload_hash = payload_hash(req, &signed)?;
        let canonical = format!(
            "{}\n{canonical_uri}\n{}\n{headers}\n{signed}\n{payload_hash}",
            req.method,
            canonical_query(req.raw_query)
        );
        let scope = format!("{date}/{region}/{service}/aws4_request");
        let to_sign =
            format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}", hex::encode(Sha256::digest(canonical.as_bytes())));
        let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
        let k_region = hmac(&k_date, region.as_bytes());
        let k_service = hmac(&k_region, service.as_bytes());
        let k_signing = hmac(&k_service, b"aws4_request");
        let expected = hex::encode(hmac(&k_signing, to_sign.as_bytes()));
        // Constant-time comparison of the hex strings.
        let same = expected.len() == signature.len()
            && expected.bytes().zip(signature.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
        if same {
            Ok(key.to_string())
        } else {
            Err(Rejection::BadSignature)
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        /// The "get-vanilla" case of the AWS SigV4 test suite.
        #[test]
        fn aws_test_suite_get_vanilla() {
            let header = |name: &str| -> Option<String> {
                match name {
                    "authorization" => Some("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31".into()),
                    "host" => Some("example.amazonaws.com".into()),
                    "x-amz-date" => Some("20150830T123600Z".into()),
                    _ => None,
                }
            };
            let req = SignedRequest {
                method: "GET",
                raw_path: "/",
                raw_query: None,
                header: &header,
                body: b"",
                service: "service",
            };
            let now = parse_amz_date("20150830T123600Z").unwrap();
            let secret = |k: &str| (k == "AKIDEXAMPLE").then(|| "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".to_string());
            assert_eq!(verify(&req, now, secret), Ok("AKIDEXAMPLE".to_string()));
            assert_eq!(verify(&req, now + 16 * 60, secret).map_err(|e| matches!(e, Rejection::Expired(_))), Err(true));
            let wrong = |_: &str| Some("other".to_string());
            assert_eq!(verify(&req, now, wrong), Err(Rejection::BadSignature));
            assert_eq!(verify(&req, now, |_: &str| None), Err(Rejection::UnknownKey("AKIDEXAMPLE".into())));
            let elsewhere = SignedRequest { service: "kafkaconnect", ..req };
            assert_eq!(
                verify(&elsewhere, now, secret),
                Err(Rejection::WrongService { scoped: "service".into(), expected: "kafkaconnect".into() })
            );
        }
    }
}
