//! AWS RAM through `aws-sdk-ram` with three accounts: the owner O of a Cloud Map namespace, a
//! consumer C who accepts the invitation, and an outsider X.

use crate::common::*;
use aws_sdk_ram as ram;
use ram::types::*;
use serde_json::json;
use std::time::{Duration, Instant};

const O: &str = "111111111111";
const C: &str = "222222222222";
const X: &str = "333333333333";

fn ram_as(server: &Server, account: &str) -> ram::Client {
    let conf = ram::Config::builder()
        .behavior_version(ram::config::BehaviorVersion::latest())
        .region(ram::config::Region::new(REGION))
        .credentials_provider(ram::config::Credentials::new(account, "secret", None, None, "test"))
        .endpoint_url(server.endpoint())
        .build();
    ram::Client::from_conf(conf)
}

/// A new HTTP namespace of `account`; returns its ARN.
async fn namespace(server: &Server, account: &str, name: &str) -> String {
    let sd = cloudmap_as(server, Wire::Json, account);
    let op = sd.create_http_namespace().name(name).send().await.expect("CreateHttpNamespace");
    let (op, _) = wait_cloudmap_operation(&sd, op.operation_id().unwrap()).await;
    let id = op.targets().unwrap().get(&aws_sdk_servicediscovery::types::OperationTargetType::Namespace).unwrap();
    format!("arn:aws:servicediscovery:{REGION}:{account}:namespace/{id}")
}

/// The association of `entity` in share `arn` as its owner sees it.
async fn association(
    owner: &ram::Client,
    arn: &str,
    kind: ResourceShareAssociationType,
    entity: &str,
) -> ResourceShareAssociation {
    let out = owner
        .get_resource_share_associations()
        .association_type(kind)
        .resource_share_arns(arn)
        .send()
        .await
        .expect("GetResourceShareAssociations");
    out.resource_share_associations()
        .iter()
        .find(|a| a.associated_entity() == Some(entity))
        .expect("association")
        .clone()
}

/// Polls the association until its status is `want`.
async fn wait_association(
    owner: &ram::Client,
    arn: &str,
    kind: ResourceShareAssociationType,
    entity: &str,
    want: ResourceShareAssociationStatus,
) -> ResourceShareAssociation {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let a = association(owner, arn, kind.clone(), entity).await;
        if a.status() == Some(&want) {
            return a;
        }
        assert!(Instant::now() < deadline, "{entity} of {arn} stayed {:?}, wanted {want:?}", a.status());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn share_status(owner: &ram::Client, arn: &str) -> ResourceShareStatus {
    let out = owner
        .get_resource_shares()
        .resource_owner(ResourceOwner::SelfValue)
        .resource_share_arns(arn)
        .send()
        .await
        .unwrap();
    out.resource_shares()[0].status().unwrap().clone()
}

async fn pending_invitation(c: &ram::Client, share: &str) -> ResourceShareInvitation {
    let out = c.get_resource_share_invitations().resource_share_arns(share).send().await.unwrap();
    out.resource_share_invitations()
        .iter()
        .find(|i| i.status() == Some(&ResourceShareInvitationStatus::Pending))
        .expect("a pending invitation")
        .clone()
}

fn ram_code<E: aws_sdk_ram::error::ProvideErrorMetadata>(err: &E) -> String {
    err.code().unwrap_or("<none>").to_string()
}

/// The user story: share a namespace, the consumer accepts and sees it, the outsider never does,
/// then the consumer leaves.
#[tokio::test]
async fn share_accept_and_leave() {
    let server = Server::ephemeral("fast").await;
    let (o, c, x) = (ram_as(&server, O), ram_as(&server, C), ram_as(&server, X));
    let ns = namespace(&server, O, "shared").await;

    let created = o.create_resource_share().name("cm").resource_arns(&ns).principals(C).send().await.unwrap();
    let share = created.resource_share().unwrap();
    let arn = share.resource_share_arn().unwrap().to_string();
    assert!(arn.starts_with(&format!("arn:aws:ram:{REGION}:{O}:resource-share/")), "{arn}");
    assert_eq!(share.status(), Some(&ResourceShareStatus::Active));
    assert_eq!(share.owning_account_id(), Some(O));
    assert_eq!(share.allow_external_principals(), Some(true));
    assert_eq!(share.feature_set(), Some(&ResourceShareFeatureSet::Standard));
    assert!(created.client_token().is_some());

    let res = wait_association(
        &o,
        &arn,
        ResourceShareAssociationType::Resource,
        &ns,
        ResourceShareAssociationStatus::Associated,
    )
    .await;
    assert_eq!(res.external(), Some(false));
    let p = association(&o, &arn, ResourceShareAssociationType::Principal, C).await;
    assert_eq!(p.status(), Some(&ResourceShareAssociationStatus::Associating), "an account waits for its invitation");
    assert_eq!(p.external(), Some(true));

    // The invitation is the receiver's alone.
    let inv = pending_invitation(&c, &arn).await;
    assert_eq!(inv.sender_account_id(), Some(O));
    assert_eq!(inv.receiver_account_id(), Some(C));
    assert_eq!(inv.resource_share_name(), Some("cm"));
    let inv_arn = inv.resource_share_invitation_arn().unwrap().to_string();
    assert!(x.get_resource_share_invitations().send().await.unwrap().resource_share_invitations().is_empty());
    let err = x.accept_resource_share_invitation().resource_share_invitation_arn(&inv_arn).send().await.unwrap_err();
    assert_eq!(ram_code(&err), "ResourceShareInvitationArnNotFoundException");
    let pending = c.list_pending_invitation_resources().resource_share_invitation_arn(&inv_arn).send().await.unwrap();
    assert_eq!(pending.resources()[0].arn(), Some(ns.as_str()));
    assert_eq!(pending.resources()[0].r#type(), Some("servicediscovery:Namespace"));
    let other = c.get_resource_shares().resource_owner(ResourceOwner::OtherAccounts).send().await.unwrap();
    assert!(other.resource_shares().is_empty(), "not before accepting");

    // Accepting takes effect at once.
    let accepted = c.accept_resource_share_invitation().resource_share_invitation_arn(&inv_arn).send().await.unwrap();
    assert_eq!(accepted.resource_share_invitation().unwrap().status(), Some(&ResourceShareInvitationStatus::Accepted));
    let p = association(&o, &arn, ResourceShareAssociationType::Principal, C).await;
    assert_eq!(p.status(), Some(&ResourceShareAssociationStatus::Associated));
    let again = c.accept_resource_share_invitation().resource_share_invitation_arn(&inv_arn).send().await.unwrap_err();
    assert_eq!(ram_code(&again), "ResourceShareInvitationAlreadyAcceptedException");

    let other = c.get_resource_shares().resource_owner(ResourceOwner::OtherAccounts).send().await.unwrap();
    assert_eq!(other.resource_shares().len(), 1);
    assert_eq!(other.resource_shares()[0].resource_share_arn(), Some(arn.as_str()));
    let none = x.get_resource_shares().resource_owner(ResourceOwner::OtherAccounts).send().await.unwrap();
    assert!(none.resource_shares().is_empty());
    let listed = c.list_resources().resource_owner(ResourceOwner::OtherAccounts).max_results(500).send().await.unwrap();
    assert_eq!(listed.resources().len(), 1);
    assert_eq!(listed.resources()[0].resource_region_scope(), Some(&ResourceRegionScope::Regional));
    let owners = c.list_principals().resource_owner(ResourceOwner::OtherAccounts).send().await.unwrap();
    assert_eq!(owners.principals()[0].id(), Some(O));
    let principals = o.list_principals().resource_owner(ResourceOwner::SelfValue).send().await.unwrap();
    assert_eq!(principals.principals().iter().filter_map(|p| p.id()).collect::<Vec<_>>(), [C]);
    let own = o
        .list_resources()
        .resource_owner(ResourceOwner::SelfValue)
        .resource_type("SERVICEDISCOVERY:NAMESPACE")
        .send()
        .await
        .unwrap();
    assert_eq!(own.resources().len(), 1, "resource types match case-insensitively");
    let perms = c.list_resource_share_permissions().resource_share_arn(&arn).send().await.unwrap();
    assert_eq!(perms.permissions()[0].name(), Some("AWSRAMDefaultPermissionCloudMapNamespace"));
    let err = x.list_resource_share_permissions().resource_share_arn(&arn).send().await.unwrap_err();
    assert_eq!(ram_code(&err), "UnknownResourceException");

    // Only the owner changes the share (C27); the consumer may leave it (C25).
    let err = c.update_resource_share().resource_share_arn(&arn).name("mine").send().await.unwrap_err();
    assert_eq!(ram_code(&err), "UnknownResourceException");
    let err = c.disassociate_resource_share().resource_share_arn(&arn).resource_arns(&ns).send().await.unwrap_err();
    assert_eq!(ram_code(&err), "UnknownResourceException");
    let left = c.disassociate_resource_share().resource_share_arn(&arn).principals(C).send().await.unwrap();
    assert_eq!(left.resource_share_associations()[0].status(), Some(&ResourceShareAssociationStatus::Disassociating));
    let other = c.get_resource_shares().resource_owner(ResourceOwner::OtherAccounts).send().await.unwrap();
    assert!(other.resource_shares().is_empty(), "access ends with the request");
    wait_association(
        &o,
        &arn,
        ResourceShareAssociationType::Principal,
        C,
        ResourceShareAssociationStatus::Disassociated,
    )
    .await;

    // Added again, the consumer gets a new invitation.
    o.associate_resource_share().resource_share_arn(&arn).principals(C).send().await.unwrap();
    let fresh = pending_invitation(&c, &arn).await;
    assert_ne!(fresh.resource_share_invitation_arn(), Some(inv_arn.as_str()));
}

/// Rejecting, deleting: a rejected principal fails, a deleted share withdraws its invitations and
/// stays listed to its owner as DELETED.
#[tokio::test]
async fn reject_and_delete() {
    let server = Server::ephemeral("fast").await;
    let (o, c, x) = (ram_as(&server, O), ram_as(&server, C), ram_as(&server, X));
    let ns = namespace(&server, O, "gone").await;
    let arn =
        o.create_resource_share().name("two").resource_arns(&ns).principals(C).principals(X).send().await.unwrap();
    let arn = arn.resource_share().unwrap().resource_share_arn().unwrap().to_string();
    let inv = pending_invitation(&c, &arn).await.resource_share_invitation_arn().unwrap().to_string();
    let rejected = c.reject_resource_share_invitation().resource_share_invitation_arn(&inv).send().await.unwrap();
    assert_eq!(rejected.resource_share_invitation().unwrap().status(), Some(&ResourceShareInvitationStatus::Rejected));
    let p = association(&o, &arn, ResourceShareAssociationType::Principal, C).await;
    assert_eq!(p.status(), Some(&ResourceShareAssociationStatus::Failed));
    assert!(p.status_message().is_some());
    let err = c.list_pending_invitation_resources().resource_share_invitation_arn(&inv).send().await.unwrap_err();
    assert_eq!(ram_code(&err), "ResourceShareInvitationAlreadyRejectedException");
    let err = c.accept_resource_share_invitation().resource_share_invitation_arn(&inv).send().await.unwrap_err();
    assert_eq!(ram_code(&err), "ResourceShareInvitationAlreadyRejectedException");

    let deleted = o.delete_resource_share().resource_share_arn(&arn).client_token("del-1").send().await.unwrap();
    assert_eq!(deleted.return_value(), Some(true));
    assert_eq!(deleted.client_token(), Some("del-1"));
    assert!(
        x.get_resource_share_invitations().send().await.unwrap().resource_share_invitations().is_empty(),
        "withdrawn"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while share_status(&o, &arn).await != ResourceShareStatus::Deleted {
        assert!(Instant::now() < deadline, "the share did not reach DELETED");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let res = association(&o, &arn, ResourceShareAssociationType::Resource, &ns).await;
    assert_eq!(res.status(), Some(&ResourceShareAssociationStatus::Disassociated));
    let err = o.delete_resource_share().resource_share_arn(&arn).send().await.unwrap_err();
    assert_eq!(ram_code(&err), "UnknownResourceException");
    let err = o.associate_resource_share().resource_share_arn(&arn).principals(C).send().await.unwrap_err();
    assert_eq!(ram_code(&err), "UnknownResourceException");
    // The namespace itself is untouched.
    let sd = cloudmap_as(&server, Wire::Json, O);
    sd.get_namespace().id(&ns).send().await.expect("the namespace stays");
}

/// Every refusal of §3.5 creates and changes nothing.
#[tokio::test]
async fn errors_change_nothing() {
    let server = Server::ephemeral("instant").await;
    let (o, c) = (ram_as(&server, O), ram_as(&server, C));
    let ns = namespace(&server, O, "mine").await;
    let theirs = namespace(&server, C, "theirs").await;
    let unknown_ns = format!("arn:aws:servicediscovery:{REGION}:{O}:namespace/ns-doesnotexist0000");
    let service = format!("arn:aws:servicediscovery:{REGION}:{O}:service/srv-abc");
    let create = |name: &str| o.create_resource_share().name(name);
    let cases = [
        (create("a").principals("12345"), "InvalidParameterException"),
        (create("b").resource_arns("not-an-arn"), "MalformedArnException"),
        (create("c").resource_arns(&service), "InvalidParameterException"),
        (create("d").resource_arns(&theirs), "OperationNotPermittedException"),
        (create("e").resource_arns(&unknown_ns), "UnknownResourceException"),
        (
            create("f").resource_arns(&ns).permission_arns("arn:aws:ram::aws:permission/Nope"),
            "UnknownResourceException",
        ),
        (create("g").principals("arn:aws:organizations::111111111111:organization/o-abc"), "UnknownResourceException"),
        (create("h").resource_arns(&ns).principals(C).principals("bad"), "InvalidParameterException"),
    ];
    for (req, want) in cases {
        let err = req.send().await.unwrap_err();
        assert_eq!(ram_code(&err), want, "{err:?}");
    }
    let mut many = create("tags").resource_arns(&ns);
    for i in 0..51 {
        many = many.tags(Tag::builder().key(format!("k{i}")).value("v").build());
    }
    assert_eq!(ram_code(&many.send().await.unwrap_err()), "TagLimitExceededException");
    let shares = o.get_resource_shares().resource_owner(ResourceOwner::SelfValue).send().await.unwrap();
    assert!(shares.resource_shares().is_empty(), "nothing was created");
    assert!(c.get_resource_share_invitations().send().await.unwrap().resource_share_invitations().is_empty());

    let missing = format!("arn:aws:ram:{REGION}:{O}:resource-share/00000000-0000-0000-0000-000000000000");
    let err = o
        .get_resource_shares()
        .resource_owner(ResourceOwner::SelfValue)
        .resource_share_arns(&missing)
        .send()
        .await
        .unwrap_err();
    assert_eq!(ram_code(&err), "UnknownResourceException");
    let err = o
        .get_resource_shares()
        .resource_owner(ResourceOwner::SelfValue)
        .resource_share_arns("arn:nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(ram_code(&err), "MalformedArnException");
    assert_eq!(
        ram_code(&o.update_resource_share().resource_share_arn(&missing).name("x").send().await.unwrap_err()),
        "UnknownResourceException"
    );
    assert_eq!(
        ram_code(&o.delete_resource_share().resource_share_arn(&missing).send().await.unwrap_err()),
        "UnknownResourceException"
    );
    let err = o
        .get_resource_share_associations()
        .association_type(ResourceShareAssociationType::Principal)
        .resource_arn(&ns)
        .send()
        .await
        .unwrap_err();
    assert_eq!(ram_code(&err), "InvalidParameterException");
    let err = o.get_resource_shares().resource_owner(ResourceOwner::SelfValue).max_results(0).send().await.unwrap_err();
    assert_eq!(ram_code(&err), "InvalidParameterException");
    let err = c.get_resource_share_invitations().max_results(501).send().await.unwrap_err();
    assert_eq!(ram_code(&err), "InvalidMaxResultsException");
    let err = o
        .get_resource_shares()
        .resource_owner(ResourceOwner::SelfValue)
        .next_token("garbage!")
        .send()
        .await
        .unwrap_err();
    assert_eq!(ram_code(&err), "InvalidNextTokenException");
    let err = o
        .list_resources()
        .resource_owner(ResourceOwner::SelfValue)
        .resource_type("s3:Bucket")
        .send()
        .await
        .unwrap_err();
    assert_eq!(ram_code(&err), "InvalidResourceTypeException");
    let err = o.list_permissions().resource_type("s3:Bucket").send().await.unwrap_err();
    assert_eq!(ram_code(&err), "InvalidParameterException");
    let err = o.get_permission().permission_arn("arn:aws:ram::aws:permission/Nope").send().await.unwrap_err();
    assert_eq!(ram_code(&err), "UnknownResourceException");
    let bogus_inv = format!("arn:aws:ram:{REGION}:{O}:resource-share-invitation/00000000-0000-0000-0000-000000000000");
    let err = c.get_resource_share_invitations().resource_share_invitation_arns(&bogus_inv).send().await.unwrap_err();
    assert_eq!(ram_code(&err), "ResourceShareInvitationArnNotFoundException");
    // No organizations, no customer managed permissions.
    assert_eq!(
        ram_code(&o.enable_sharing_with_aws_organization().send().await.unwrap_err()),
        "OperationNotPermittedException"
    );
    let err = o
        .create_permission()
        .name("p")
        .resource_type("servicediscovery:Namespace")
        .policy_template("{}")
        .send()
        .await
        .unwrap_err();
    assert_eq!(ram_code(&err), "OperationNotPermittedException");
}

/// Paging, client tokens, tags, permissions and resource types.
#[tokio::test]
async fn paging_tokens_tags_and_permissions() {
    let server = Server::ephemeral("instant").await;
    let o = ram_as(&server, O);
    let ns = namespace(&server, O, "paged").await;
    for i in 0..7 {
        o.create_resource_share().name(format!("s{i}")).send().await.unwrap();
    }
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let out = o
            .get_resource_shares()
            .resource_owner(ResourceOwner::SelfValue)
            .max_results(3)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        pages += 1;
        names.extend(out.resource_shares().iter().filter_map(|s| s.name().map(str::to_string)));
        token = out.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(names, (0..7).map(|i| format!("s{i}")).collect::<Vec<_>>(), "oldest first, each once");
    let pages: Vec<_> = o
        .get_resource_shares()
        .resource_owner(ResourceOwner::SelfValue)
        .max_results(4)
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    let all: Vec<_> = pages.iter().flat_map(|p| p.resource_shares().iter()).collect();
    assert_eq!(all.len(), 7);

    // The same client token and input: the same share; other input: a mismatch.
    let first = o.create_resource_share().name("idem").resource_arns(&ns).client_token("tok-1").send().await.unwrap();
    let again = o.create_resource_share().name("idem").resource_arns(&ns).client_token("tok-1").send().await.unwrap();
    let arn = first.resource_share().unwrap().resource_share_arn().unwrap().to_string();
    assert_eq!(again.resource_share().unwrap().resource_share_arn(), Some(arn.as_str()));
    assert_eq!(again.client_token(), Some("tok-1"));
    let err = o.create_resource_share().name("other").client_token("tok-1").send().await.unwrap_err();
    assert_eq!(ram_code(&err), "IdempotentParameterMismatchException");
    let count = o.get_resource_shares().resource_owner(ResourceOwner::SelfValue).name("idem").send().await.unwrap();
    assert_eq!(count.resource_shares().len(), 1);

    // Tags.
    let tag = |k: &str, v: &str| Tag::builder().key(k).value(v).build();
    o.tag_resource().resource_share_arn(&arn).tags(tag("team", "blue")).tags(tag("env", "dev")).send().await.unwrap();
    o.untag_resource().resource_share_arn(&arn).tag_keys("env").send().await.unwrap();
    let filter = TagFilter::builder().tag_key("team").tag_values("blue").build();
    let tagged =
        o.get_resource_shares().resource_owner(ResourceOwner::SelfValue).tag_filters(filter).send().await.unwrap();
    assert_eq!(tagged.resource_shares().len(), 1);
    assert_eq!(tagged.resource_shares()[0].tags().len(), 1);
    let mut req = o.tag_resource().resource_share_arn(&arn);
    for i in 0..50 {
        req = req.tags(tag(&format!("k{i}"), "v"));
    }
    assert_eq!(ram_code(&req.send().await.unwrap_err()), "TagLimitExceededException");

    // Permissions and resource types.
    let perms = o.list_permissions().resource_type("servicediscovery:namespace").send().await.unwrap();
    assert_eq!(perms.permissions().len(), 2);
    let default = perms.permissions().iter().find(|p| p.is_resource_type_default() == Some(true)).unwrap();
    assert_eq!(default.permission_type(), Some(&PermissionType::AwsManaged));
    let got = o.get_permission().permission_arn(default.arn().unwrap()).send().await.unwrap();
    let policy = got.permission().unwrap().permission().unwrap();
    assert!(policy.contains("servicediscovery:GetNamespace") && !policy.contains("TagResource"), "{policy}");
    let types = o.list_resource_types().send().await.unwrap();
    assert_eq!(types.resource_types().len(), 1);
    assert_eq!(types.resource_types()[0].resource_type(), Some("servicediscovery:Namespace"));
    assert_eq!(types.resource_types()[0].service_name(), Some("servicediscovery"));
    let ecs = "arn:aws:ram::aws:permission/AWSRAMPermissionCloudMapECSFullPermission";
    let err =
        o.associate_resource_share_permission().resource_share_arn(&arn).permission_arn(ecs).send().await.unwrap_err();
    assert_eq!(ram_code(&err), "InvalidParameterException");
    o.associate_resource_share_permission()
        .resource_share_arn(&arn)
        .permission_arn(ecs)
        .replace(true)
        .send()
        .await
        .unwrap();
    let now = o.list_resource_share_permissions().resource_share_arn(&arn).send().await.unwrap();
    assert_eq!(now.permissions()[0].arn(), Some(ecs));
    let by_perm =
        o.get_resource_shares().resource_owner(ResourceOwner::SelfValue).permission_arn(ecs).send().await.unwrap();
    assert_eq!(by_perm.resource_shares().len(), 1);
}

/// Under `manual` nothing settles until the admin advance, and what is moving survives a restart.
#[tokio::test]
async fn manual_timing_and_restart() {
    let dir = temp_dir("ram-manual");
    let mut server = Server::persistent(&dir, "manual").await;
    let sd = cloudmap_as(&server, Wire::Json, O);
    let op = sd.create_http_namespace().name("slow").send().await.unwrap().operation_id.unwrap();
    admin(&server, reqwest::Method::POST, &format!("/_localplane/operations/{op}/advance?until=terminal"), None).await;
    let ns_id = sd.list_namespaces().send().await.unwrap().namespaces()[0].id().unwrap().to_string();
    let ns = format!("arn:aws:servicediscovery:{REGION}:{O}:namespace/{ns_id}");

    let o = ram_as(&server, O);
    let arn = o.create_resource_share().name("m").resource_arns(&ns).principals(O).send().await.unwrap();
    let arn = arn.resource_share().unwrap().resource_share_arn().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(700)).await;
    let a = association(&o, &arn, ResourceShareAssociationType::Resource, &ns).await;
    assert_eq!(a.status(), Some(&ResourceShareAssociationStatus::Associating));
    let (_, ops) = admin(&server, reqwest::Method::GET, "/_localplane/operations", None).await;
    let ram_ops: Vec<_> = ops["operations"].as_array().unwrap().iter().filter(|v| v["service"] == "ram").collect();
    assert_eq!(ram_ops.len(), 1, "{ops}");
    assert_eq!(ram_ops[0]["operationType"], "ASSOCIATE_RESOURCE_SHARE");
    assert_eq!(ram_ops[0]["state"], "IN_PROGRESS");

    server.restart().await;
    let o = ram_as(&server, O);
    let a = association(&o, &arn, ResourceShareAssociationType::Resource, &ns).await;
    assert_eq!(a.status(), Some(&ResourceShareAssociationStatus::Associating), "nothing moved across the restart");
    let (_, moved) = admin(&server, reqwest::Method::POST, "/_localplane/operations/advance", None).await;
    assert_eq!(moved["advanced"], json!(1));
    assert_eq!(
        association(&o, &arn, ResourceShareAssociationType::Resource, &ns).await.status(),
        Some(&ResourceShareAssociationStatus::Associated)
    );
    let owner = association(&o, &arn, ResourceShareAssociationType::Principal, O).await;
    assert_eq!(
        owner.status(),
        Some(&ResourceShareAssociationStatus::Associated),
        "the owner's account needs no invitation"
    );
    assert_eq!(owner.external(), Some(false));

    o.disassociate_resource_share().resource_share_arn(&arn).resource_arns(&ns).send().await.unwrap();
    server.restart().await;
    let o = ram_as(&server, O);
    assert_eq!(
        association(&o, &arn, ResourceShareAssociationType::Resource, &ns).await.status(),
        Some(&ResourceShareAssociationStatus::Disassociating)
    );
    admin(&server, reqwest::Method::POST, "/_localplane/operations/advance", None).await;
    assert_eq!(
        association(&o, &arn, ResourceShareAssociationType::Resource, &ns).await.status(),
        Some(&ResourceShareAssociationStatus::Disassociated)
    );

    o.delete_resource_share().resource_share_arn(&arn).send().await.unwrap();
    assert_eq!(share_status(&o, &arn).await, ResourceShareStatus::Deleting);
    admin(&server, reqwest::Method::POST, "/_localplane/operations/advance", None).await;
    assert_eq!(share_status(&o, &arn).await, ResourceShareStatus::Deleted);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A fault rule fails the next association: FAILED with the rule's message.
#[tokio::test]
async fn fault_rule_fails_an_association() {
    let server = Server::ephemeral("fast").await;
    let o = ram_as(&server, O);
    let ns = namespace(&server, O, "faulty").await;
    let bad = json!({"service": "ram", "operationType": "CREATE_NAMESPACE", "errorCode": "X"});
    assert_eq!(admin(&server, reqwest::Method::POST, "/_localplane/faults", Some(bad)).await.0, 400);
    let rule = json!({"service": "ram", "operationType": "ASSOCIATE_RESOURCE_SHARE", "errorCode": "InternalError",
        "errorMessage": "the namespace could not be shared"});
    assert_eq!(admin(&server, reqwest::Method::POST, "/_localplane/faults", Some(rule)).await.0, 201);
    let arn = o.create_resource_share().name("f").resource_arns(&ns).send().await.unwrap();
    let arn = arn.resource_share().unwrap().resource_share_arn().unwrap().to_string();
    let failed =
        wait_association(&o, &arn, ResourceShareAssociationType::Resource, &ns, ResourceShareAssociationStatus::Failed)
            .await;
    assert_eq!(failed.status_message(), Some("the namespace could not be shared"));
    // The rule is used up: associating again works.
    o.associate_resource_share().resource_share_arn(&arn).resource_arns(&ns).send().await.unwrap();
    wait_association(&o, &arn, ResourceShareAssociationType::Resource, &ns, ResourceShareAssociationStatus::Associated)
        .await;
}

/// RAM's state is in snapshots and goes with `reset?service=ram`.
#[tokio::test]
async fn reset_and_snapshot_round_trip() {
    let server = Server::ephemeral("instant").await;
    let (o, c) = (ram_as(&server, O), ram_as(&server, C));
    let ns = namespace(&server, O, "kept").await;
    let arn = o.create_resource_share().name("snap").resource_arns(&ns).principals(C).send().await.unwrap();
    let arn = arn.resource_share().unwrap().resource_share_arn().unwrap().to_string();
    let (status, snapshot) = admin(&server, reqwest::Method::GET, "/_localplane/snapshot", None).await;
    assert_eq!(status, 200);
    let (status, _) = admin(&server, reqwest::Method::POST, "/_localplane/reset?service=ram", None).await;
    assert_eq!(status, 200);
    assert!(o
        .get_resource_shares()
        .resource_owner(ResourceOwner::SelfValue)
        .send()
        .await
        .unwrap()
        .resource_shares()
        .is_empty());
    assert!(c.get_resource_share_invitations().send().await.unwrap().resource_share_invitations().is_empty());
    cloudmap_as(&server, Wire::Json, O).get_namespace().id(&ns).send().await.expect("Cloud Map keeps its state");
    let (status, body) = admin(&server, reqwest::Method::PUT, "/_localplane/snapshot", Some(snapshot)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(share_status(&o, &arn).await, ResourceShareStatus::Active);
    let inv = pending_invitation(&c, &arn).await;
    c.accept_resource_share_invitation()
        .resource_share_invitation_arn(inv.resource_share_invitation_arn().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        association(&o, &arn, ResourceShareAssociationType::Principal, C).await.status(),
        Some(&ResourceShareAssociationStatus::Associated)
    );
}
