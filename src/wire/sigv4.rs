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
    /// The signing name (`kafkaconnect`, `servicediscovery`).
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
        let h = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20250611/us-east-1/kafkaconnect/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=2066";
        let c = parse_authorization(h).unwrap();
        assert_eq!(c.region, "us-east-1");
        assert_eq!(c.service, "kafkaconnect");
        assert_eq!(account_for("123456789012", "000000000000"), "123456789012");
        assert_eq!(account_for(&c.access_key, "000000000000"), "000000000000");
        assert!(parse_authorization("Bearer x").is_none());
    }
}
