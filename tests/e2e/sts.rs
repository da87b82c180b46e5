//! STS through aws-sdk-sts against the real binary: `GetCallerIdentity` answers the account of the
//! access key (query protocol, XML), and every other action is refused with `InvalidAction`.

use crate::common::*;
use aws_sdk_sts as sts;

fn sts_as(server: &Server, access_key: &str, region: &str) -> sts::Client {
    let conf = sts::Config::builder()
        .behavior_version(sts::config::BehaviorVersion::latest())
        .region(sts::config::Region::new(region.to_string()))
        .credentials_provider(sts::config::Credentials::new(access_key, "secret", None, None, "test"))
        .endpoint_url(server.endpoint())
        .build();
    sts::Client::from_conf(conf)
}

#[tokio::test(flavor = "multi_thread")]
async fn get_caller_identity_answers_the_account_of_the_access_key() {
    let server = Server::ephemeral("fast").await;
    let me = sts_as(&server, ACCOUNT, REGION).get_caller_identity().send().await.expect("GetCallerIdentity");
    assert_eq!(me.account(), Some(ACCOUNT));
    assert_eq!(me.arn(), Some("arn:aws:iam::123456789012:user/localplane"));
    let user_id = me.user_id().unwrap().to_string();
    assert!(user_id.starts_with("AIDA") && user_id.len() == 21, "{user_id}");

    // Another account in another region; a key that is no account id is the default account.
    let other = sts_as(&server, "210987654321", "eu-west-1").get_caller_identity().send().await.unwrap();
    assert_eq!(other.account(), Some("210987654321"));
    assert_ne!(other.user_id(), Some(user_id.as_str()));
    let named = sts_as(&server, "AKIAIOSFODNN7EXAMPLE", REGION).get_caller_identity().send().await.unwrap();
    assert_eq!(named.account(), Some("000000000000"));

    let err = sts_as(&server, ACCOUNT, REGION)
        .assume_role()
        .role_arn("arn:aws:iam::123456789012:role/deploy")
        .role_session_name("ci")
        .send()
        .await
        .unwrap_err();
    let err = err.into_service_error();
    let meta = sts::error::ProvideErrorMetadata::meta(&err);
    assert_eq!(meta.code(), Some("InvalidAction"));
    assert_eq!(meta.message(), Some("localplane serves only GetCallerIdentity of AWS STS; AssumeRole is not served"));
}
