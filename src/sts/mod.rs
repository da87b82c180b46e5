//! AWS STS as far as localplane serves it: `GetCallerIdentity`, the call Terraform's AWS provider
//! and many scripts make first, answering the account of the access key (a 12-digit key is its
//! account id, as everywhere here). Every other action is refused with `InvalidAction`, saying so.

use crate::model::sts as m;
use crate::model::Service;
use crate::wire::shape::{ApiError, Json, OperationInfo, RequestContext, INVALID_ACTION};
use std::sync::Arc;

/// The one action served.
const SERVED: &str = "GetCallerIdentity";

/// The registration of STS.
pub static REGISTRATION: crate::registry::Registration = crate::registry::Registration {
    service: Service::Sts,
    key_prefix: "sts/",
    check_fault_rule: crate::registry::any_fault_rule,
    check_document: |key, _| Err(format!("{key}: STS keeps no state")),
    shareable: &[],
    start: |_, _| (Arc::new(Sts), Arc::new(NoOperations)),
};

/// The STS backend: it keeps nothing.
pub struct Sts;

/// The caller of a request: `arn:aws:iam::ACCOUNT:user/localplane`, an IAM user as AWS reports
/// one, with a user id (`AIDA…`, 21 characters) that is stable per account.
pub fn caller_identity(account: &str) -> m::GetCallerIdentityResponse {
    m::GetCallerIdentityResponse {
        account: Some(account.to_string()),
        arn: Some(format!("arn:aws:iam::{account}:user/localplane")),
        user_id: Some(user_id(account)),
    }
}

/// `AIDA` and 17 characters of base-32 from a digest of the account: an IAM user id's form.
fn user_id(account: &str) -> String {
    use sha2::Digest;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let digest = sha2::Sha256::digest(format!("localplane user {account}").as_bytes());
    let tail: String = digest.iter().take(17).map(|b| ALPHABET[usize::from(b % 32)] as char).collect();
    format!("AIDA{tail}")
}

fn not_served(action: &str) -> ApiError {
    ApiError::new(&INVALID_ACTION, format!("localplane serves only {SERVED} of AWS STS; {action} is not served"))
}

impl m::Api for Sts {
    async fn get_caller_identity(
        &self,
        cx: &RequestContext,
        _input: m::GetCallerIdentityRequest,
    ) -> Result<m::GetCallerIdentityResponse, ApiError> {
        Ok(caller_identity(&cx.account))
    }

    async fn assume_role(
        &self,
        _cx: &RequestContext,
        _input: m::AssumeRoleRequest,
    ) -> Result<m::AssumeRoleResponse, ApiError> {
        Err(not_served("AssumeRole"))
    }

    async fn assume_role_with_saml(
        &self,
        _cx: &RequestContext,
        _input: m::AssumeRoleWithSAMLRequest,
    ) -> Result<m::AssumeRoleWithSAMLResponse, ApiError> {
        Err(not_served("AssumeRoleWithSAML"))
    }

    async fn assume_role_with_web_identity(
        &self,
        _cx: &RequestContext,
        _input: m::AssumeRoleWithWebIdentityRequest,
    ) -> Result<m::AssumeRoleWithWebIdentityResponse, ApiError> {
        Err(not_served("AssumeRoleWithWebIdentity"))
    }

    async fn assume_root(
        &self,
        _cx: &RequestContext,
        _input: m::AssumeRootRequest,
    ) -> Result<m::AssumeRootResponse, ApiError> {
        Err(not_served("AssumeRoot"))
    }

    async fn decode_authorization_message(
        &self,
        _cx: &RequestContext,
        _input: m::DecodeAuthorizationMessageRequest,
    ) -> Result<m::DecodeAuthorizationMessageResponse, ApiError> {
        Err(not_served("DecodeAuthorizationMessage"))
    }

    async fn get_access_key_info(
        &self,
        _cx: &RequestContext,
        _input: m::GetAccessKeyInfoRequest,
    ) -> Result<m::GetAccessKeyInfoResponse, ApiError> {
        Err(not_served("GetAccessKeyInfo"))
    }

    async fn get_delegated_access_token(
        &self,
        _cx: &RequestContext,
        _input: m::GetDelegatedAccessTokenRequest,
    ) -> Result<m::GetDelegatedAccessTokenResponse, ApiError> {
        Err(not_served("GetDelegatedAccessToken"))
    }

    async fn get_federation_token(
        &self,
        _cx: &RequestContext,
        _input: m::GetFederationTokenRequest,
    ) -> Result<m::GetFederationTokenResponse, ApiError> {
        Err(not_served("GetFederationToken"))
    }

    async fn get_session_token(
        &self,
        _cx: &RequestContext,
        _input: m::GetSessionTokenRequest,
    ) -> Result<m::GetSessionTokenResponse, ApiError> {
        Err(not_served("GetSessionToken"))
    }

    async fn get_web_identity_token(
        &self,
        _cx: &RequestContext,
        _input: m::GetWebIdentityTokenRequest,
    ) -> Result<m::GetWebIdentityTokenResponse, ApiError> {
        Err(not_served("GetWebIdentityToken"))
    }
}

impl crate::registry::ServiceBackend for Sts {
    fn dispatch<'a>(
        &'a self,
        cx: &'a RequestContext,
        operation: &'static OperationInfo,
        input: &'a Json,
    ) -> crate::registry::Answer<'a> {
        // An action not served is refused before its parameters are checked against the model.
        if operation.name != SERVED {
            return Box::pin(async move { Err(not_served(operation.name)) });
        }
        Box::pin(m::dispatch_route(self, cx, operation, input))
    }

    fn forget_cached(&self) {}
}

/// STS starts no asynchronous operations.
struct NoOperations;

impl crate::engine::OperationDriver for NoOperations {
    fn advance(
        &self,
        _tx: &mut dyn crate::store::Tx,
        op: &str,
        _now: i64,
        _timing: &crate::engine::Timing,
    ) -> Result<crate::engine::StepOutcome, crate::store::StoreError> {
        Err(crate::store::StoreError::Backend(format!("STS has no operations, yet {op} was scheduled for it")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_caller_is_an_iam_user_of_the_account() {
        let me = caller_identity("123456789012");
        assert_eq!(me.arn.as_deref(), Some("arn:aws:iam::123456789012:user/localplane"));
        let id = me.user_id.unwrap();
        assert_eq!((id.len(), &id[..4]), (21, "AIDA"));
        assert_eq!(caller_identity("123456789012").user_id.unwrap(), id);
        assert_ne!(caller_identity("210987654321").user_id.unwrap(), id);
    }
}
