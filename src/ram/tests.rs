//! In-process tests of RAM's rules: a [`Ram`] over an in-memory store and an engine on a stopped
//! clock, called through the `m::Api` trait, sharing a made-up kind of resource. What Cloud Map
//! reads ([`grants::may_use`]) follows accept, removal, deletion and the resource's end; invitations
//! expire after 7 days.

use super::*;
use crate::engine::{StoppedClock, Timing, TimingProfile};
use crate::model::ram::Api as _;
use crate::registry::Shareable;
use crate::store::{memory::Memory, Store, StoreError};
use crate::wire::shape::Protocol;

const NOW: i64 = 1_750_000_000_000;
const O: &str = "111111111111";
const C: &str = "222222222222";
const X: &str = "333333333333";
const R: &str = "us-east-1";
const THING: &str = "arn:aws:test:us-east-1:111111111111:thing/t-1";

/// A kind of resource every owner has, except ids named `missing`.
static TEST_REGISTRATION: Registration = Registration {
    service: records::SERVICE,
    key_prefix: "test/",
    check_fault_rule: crate::registry::any_fault_rule,
    check_document: |_, _| Ok(()),
    shareable: &[Shareable {
        resource_type: "test:Thing",
        arn_service: "test",
        arn_kind: "thing",
        exists: |_, _, _, id| Ok(id != "missing"),
    }],
    start: REGISTRATION.start,
};

fn ram_on(clock: Arc<StoppedClock>) -> Ram {
    let engine = Engine::new(Store::new(Arc::new(Memory::new())), clock, Timing::new(TimingProfile::Instant));
    engine.register(records::SERVICE, Arc::new(driver::RamDriver));
    Ram::new(engine, &[&TEST_REGISTRATION])
}

fn as_account(account: &str) -> RequestContext {
    RequestContext {
        account: account.into(),
        region: R.into(),
        request_id: "test".into(),
        protocol: Protocol::RestJson1,
    }
}

async fn may_use(ram: &Ram, consumer: &'static str) -> bool {
    ram.engine.store().read(move |tx| grants::may_use(tx, R, O, consumer, THING)).await.unwrap()
}

async fn share_with_c(ram: &Ram) -> String {
    let input = m::CreateResourceShareRequest {
        name: "s".into(),
        resource_arns: Some(vec![THING.into()]),
        principals: Some(vec![C.into()]),
        ..Default::default()
    };
    let out = ram.create_resource_share(&as_account(O), input).await.expect("created");
    out.resource_share.unwrap().resource_share_arn.unwrap()
}

async fn invitation_of_c(ram: &Ram) -> m::ResourceShareInvitation {
    let out = ram
        .get_resource_share_invitations(&as_account(C), Default::default())
        .await
        .expect("invitations")
        .resource_share_invitations
        .unwrap();
    out.into_iter().find(|i| i.status == Some(m::ResourceShareInvitationStatus::Pending)).expect("a pending one")
}

async fn accept(ram: &Ram) -> Result<m::AcceptResourceShareInvitationResponse, ApiError> {
    let arn = invitation_of_c(ram).await.resource_share_invitation_arn.unwrap();
    let input = m::AcceptResourceShareInvitationRequest { resource_share_invitation_arn: arn, client_token: None };
    ram.accept_resource_share_invitation(&as_account(C), input).await
}

async fn resource_status(ram: &Ram, share: &str) -> Option<m::ResourceShareAssociationStatus> {
    let input = m::GetResourceShareAssociationsRequest {
        association_type: m::ResourceShareAssociationType::Resource,
        resource_share_arns: Some(vec![share.into()]),
        ..Default::default()
    };
    let rows = ram.get_resource_share_associations(&as_account(O), input).await.unwrap();
    rows.resource_share_associations.unwrap().first().and_then(|a| a.status)
}

#[tokio::test]
async fn grants_follow_accept_removal_and_deletion() {
    let ram = ram_on(Arc::new(StoppedClock::at(NOW)));
    let share = share_with_c(&ram).await;
    assert!(!may_use(&ram, C).await, "not before the invitation is accepted");
    accept(&ram).await.expect("accepted");
    assert!(may_use(&ram, C).await && !may_use(&ram, X).await);
    let shared = ram.engine.store().read(|tx| grants::shared_with(tx, R, C)).await.unwrap();
    assert_eq!(shared, vec![grants::Grant { owner: O.into(), resource_arn: THING.into() }]);

    let remove = m::DisassociateResourceShareRequest {
        resource_share_arn: share.clone(),
        principals: Some(vec![C.into()]),
        ..Default::default()
    };
    ram.disassociate_resource_share(&as_account(O), remove).await.unwrap();
    assert!(!may_use(&ram, C).await, "removal ends access");

    let add = m::AssociateResourceShareRequest {
        resource_share_arn: share.clone(),
        principals: Some(vec![C.into()]),
        ..Default::default()
    };
    ram.associate_resource_share(&as_account(O), add).await.unwrap();
    accept(&ram).await.expect("a new invitation");
    assert!(may_use(&ram, C).await);

    // The owning service deletes the resource: its association ends with the grant (C13).
    ram.engine.store().write(|tx| grants::resource_gone(tx, R, O, THING)).await.unwrap();
    assert!(!may_use(&ram, C).await);
    assert_eq!(resource_status(&ram, &share).await, Some(m::ResourceShareAssociationStatus::Disassociated));

    let again = m::AssociateResourceShareRequest {
        resource_share_arn: share.clone(),
        resource_arns: Some(vec![THING.into()]),
        ..Default::default()
    };
    ram.associate_resource_share(&as_account(O), again).await.unwrap();
    assert!(may_use(&ram, C).await, "associated again under instant timing");
    let delete = m::DeleteResourceShareRequest { resource_share_arn: share.clone(), client_token: None };
    ram.delete_resource_share(&as_account(O), delete).await.unwrap();
    assert!(!may_use(&ram, C).await, "deletion ends access");
    let left = ram.engine.store().read(|tx| grants::shared_with(tx, R, C)).await.unwrap();
    assert!(left.is_empty());
}

#[tokio::test]
async fn invitations_expire_after_seven_days() {
    let clock = Arc::new(StoppedClock::at(NOW));
    let ram = ram_on(clock.clone());
    let share = share_with_c(&ram).await;
    let arn = invitation_of_c(&ram).await.resource_share_invitation_arn.unwrap();
    clock.advance(records::INVITATION_TTL_MS);
    let input = m::AcceptResourceShareInvitationRequest { resource_share_invitation_arn: arn, client_token: None };
    let err = ram.accept_resource_share_invitation(&as_account(C), input).await.unwrap_err();
    assert_eq!(err.shape.name, "ResourceShareInvitationExpiredException");
    let input = m::GetResourceShareAssociationsRequest {
        association_type: m::ResourceShareAssociationType::Principal,
        resource_share_arns: Some(vec![share]),
        ..Default::default()
    };
    let rows = ram.get_resource_share_associations(&as_account(O), input).await.unwrap();
    assert_eq!(rows.resource_share_associations.unwrap()[0].status, Some(m::ResourceShareAssociationStatus::Failed));
    assert!(!may_use(&ram, C).await);
}

#[tokio::test]
async fn a_missing_resource_is_unknown_and_creates_nothing() {
    let ram = ram_on(Arc::new(StoppedClock::at(NOW)));
    let input = m::CreateResourceShareRequest {
        name: "s".into(),
        resource_arns: Some(vec!["arn:aws:test:us-east-1:111111111111:thing/missing".into()]),
        principals: Some(vec![C.into()]),
        ..Default::default()
    };
    let err = ram.create_resource_share(&as_account(O), input).await.unwrap_err();
    assert_eq!(err.shape.name, "UnknownResourceException");
    let keys = ram.engine.store().read(|tx| Ok::<_, StoreError>(tx.scan("ram/", None, 10)?.len())).await.unwrap();
    assert_eq!(keys, 0, "nothing was written");
}

#[tokio::test]
async fn no_input_panics_any_operation() {
    use crate::registry::ServiceBackend as _;
    let ram = ram_on(Arc::new(StoppedClock::at(NOW)));
    let share = share_with_c(&ram).await;
    let inputs = [
        serde_json::json!({}),
        serde_json::json!({"resourceShareArn": 5, "maxResults": -1, "principals": "x", "tags": {}}),
        serde_json::json!({
            "resourceShareArn": share, "resourceOwner": "SELF", "associationType": "PRINCIPAL", "name": "n",
            "resourceShareInvitationArn": "arn:aws:ram:us-east-1:111111111111:resource-share-invitation/x",
            "permissionArn": "arn:aws:ram::aws:permission/AWSRAMDefaultPermissionCloudMapNamespace",
            "resourceArns": [THING, "arn:aws:test:us-east-1:111111111111:thing/a/b", "arn:aws::::"],
            "principals": [C, O, "arn:aws:iam::222222222222:role/r", ""], "tags": [{"key": "aws:x"}],
            "tagKeys": [], "nextToken": "eyJ9", "maxResults": 500, "resourceType": "TEST:THING",
            "clientToken": "same", "resourceShareArns": [share, "arn:aws:ram:us-east-1:1:resource-share/"],
        }),
    ];
    for account in [O, C, X] {
        let cx = as_account(account);
        for op in m::OPERATIONS {
            for input in &inputs {
                let _ = ram.dispatch(&cx, op, input).await;
            }
        }
    }
    // The share is still there for its owner, whatever was thrown at it.
    let input = m::GetResourceSharesRequest { resource_owner: m::ResourceOwner::SelfValue, ..Default::default() };
    let shares = ram.get_resource_shares(&as_account(O), input).await.unwrap().resource_shares.unwrap();
    assert!(!shares.is_empty());
}
