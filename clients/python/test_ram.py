"""AWS RAM through boto3 and the AWS CLI: an owner shares a Cloud Map namespace with a consumer,
who accepts the invitation; an outsider sees nothing; the consumer leaves; the owner deletes the
share. Every test uses accounts of its own (the server is shared by the session).

Behaviour reference: shared/reference/sharing.md §3.
"""

from __future__ import annotations

import copy
import random
import time

import pytest
from botocore.exceptions import ClientError

from conftest import make_client


def accounts(n: int) -> list[str]:
    return [str(random.randrange(10**11, 10**12)) for _ in range(n)]


def error_code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def http_namespace(endpoint_url: str, account: str, name: str) -> str:
    sd = make_client("servicediscovery", endpoint_url, access_key=account)
    op = sd.create_http_namespace(Name=name)["OperationId"]
    deadline = time.monotonic() + 20
    while True:
        got = sd.get_operation(OperationId=op)["Operation"]
        if got["Status"] == "SUCCESS":
            return sd.get_namespace(Id=got["Targets"]["NAMESPACE"])["Namespace"]["Arn"]
        assert got["Status"] != "FAIL" and time.monotonic() < deadline, got
        time.sleep(0.05)


def association(ram, share: str, kind: str, entity: str) -> dict:
    rows = ram.get_resource_share_associations(associationType=kind, resourceShareArns=[share])
    return next(a for a in rows["resourceShareAssociations"] if a["associatedEntity"] == entity)


def wait_association(ram, share: str, kind: str, entity: str, status: str) -> dict:
    deadline = time.monotonic() + 20
    while True:
        row = association(ram, share, kind, entity)
        if row["status"] == status:
            return row
        assert time.monotonic() < deadline, f"{entity} stayed {row['status']}, wanted {status}"
        time.sleep(0.05)


def test_share_accept_leave_and_delete(endpoint_url):
    owner, consumer, outsider = accounts(3)
    o, c, x = (make_client("ram", endpoint_url, access_key=a) for a in (owner, consumer, outsider))
    ns = http_namespace(endpoint_url, owner, f"py-{owner}")

    share = o.create_resource_share(name="cm", resourceArns=[ns], principals=[consumer])["resourceShare"]
    arn = share["resourceShareArn"]
    assert arn.startswith(f"arn:aws:ram:us-east-1:{owner}:resource-share/")
    assert share["status"] == "ACTIVE" and share["owningAccountId"] == owner
    assert share["creationTime"].year >= 2025, "epoch seconds parse as a datetime"
    wait_association(o, arn, "RESOURCE", ns, "ASSOCIATED")
    assert association(o, arn, "PRINCIPAL", consumer)["status"] == "ASSOCIATING"

    invitations = c.get_resource_share_invitations(resourceShareArns=[arn])["resourceShareInvitations"]
    assert [i["status"] for i in invitations] == ["PENDING"]
    inv = invitations[0]["resourceShareInvitationArn"]
    assert x.get_resource_share_invitations()["resourceShareInvitations"] == []
    with pytest.raises(ClientError) as e:
        x.accept_resource_share_invitation(resourceShareInvitationArn=inv)
    assert error_code(e) == "ResourceShareInvitationArnNotFoundException"
    pending = c.list_pending_invitation_resources(resourceShareInvitationArn=inv)["resources"]
    assert [(r["arn"], r["type"]) for r in pending] == [(ns, "servicediscovery:Namespace")]

    accepted = c.accept_resource_share_invitation(resourceShareInvitationArn=inv)["resourceShareInvitation"]
    assert accepted["status"] == "ACCEPTED"
    assert association(o, arn, "PRINCIPAL", consumer)["status"] == "ASSOCIATED"
    theirs = c.get_resource_shares(resourceOwner="OTHER-ACCOUNTS")["resourceShares"]
    assert [s["resourceShareArn"] for s in theirs] == [arn]
    assert x.get_resource_shares(resourceOwner="OTHER-ACCOUNTS")["resourceShares"] == []
    listed = c.list_resources(resourceOwner="OTHER-ACCOUNTS", maxResults=500)["resources"]
    assert [r["arn"] for r in listed] == [ns]
    assert [p["id"] for p in c.list_principals(resourceOwner="OTHER-ACCOUNTS")["principals"]] == [owner]
    perms = c.list_resource_share_permissions(resourceShareArn=arn)["permissions"]
    assert perms[0]["name"] == "AWSRAMDefaultPermissionCloudMapNamespace"

    with pytest.raises(ClientError) as e:
        c.update_resource_share(resourceShareArn=arn, name="mine")
    assert error_code(e) == "UnknownResourceException"
    left = c.disassociate_resource_share(resourceShareArn=arn, principals=[consumer])
    assert left["resourceShareAssociations"][0]["status"] == "DISASSOCIATING"
    assert c.get_resource_shares(resourceOwner="OTHER-ACCOUNTS")["resourceShares"] == []
    wait_association(o, arn, "PRINCIPAL", consumer, "DISASSOCIATED")

    assert o.delete_resource_share(resourceShareArn=arn)["returnValue"] is True
    deadline = time.monotonic() + 20
    while o.get_resource_shares(resourceOwner="SELF", resourceShareArns=[arn])["resourceShares"][0]["status"] != "DELETED":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert association(o, arn, "RESOURCE", ns)["status"] == "DISASSOCIATED"
    with pytest.raises(ClientError) as e:
        o.delete_resource_share(resourceShareArn=arn)
    assert error_code(e) == "UnknownResourceException"


def test_refusals_change_nothing(endpoint_url):
    owner, other = accounts(2)
    o = make_client("ram", endpoint_url, access_key=owner)
    ns = http_namespace(endpoint_url, owner, f"mine-{owner}")
    theirs = http_namespace(endpoint_url, other, f"theirs-{other}")
    cases = [
        ({"principals": ["12345"]}, "InvalidParameterException"),
        ({"resourceArns": ["nope"]}, "MalformedArnException"),
        ({"resourceArns": [ns.replace(":namespace/", ":service/")]}, "InvalidParameterException"),
        ({"resourceArns": [theirs]}, "OperationNotPermittedException"),
        ({"resourceArns": [ns + "x"]}, "UnknownResourceException"),
        ({"resourceArns": [ns], "permissionArns": ["arn:aws:ram::aws:permission/Nope"]}, "UnknownResourceException"),
        ({"resourceArns": [ns], "tags": [{"key": f"k{i}", "value": "v"} for i in range(51)]}, "TagLimitExceededException"),
    ]
    for args, want in cases:
        with pytest.raises(ClientError) as e:
            o.create_resource_share(name="bad", **args)
        assert error_code(e) == want, args
    assert o.get_resource_shares(resourceOwner="SELF")["resourceShares"] == []
    with pytest.raises(ClientError) as e:
        o.get_resource_share_invitations(maxResults=501)
    assert error_code(e) == "InvalidMaxResultsException"
    with pytest.raises(ClientError) as e:
        o.get_resource_shares(resourceOwner="SELF", nextToken="garbage!")
    assert error_code(e) == "InvalidNextTokenException"
    with pytest.raises(ClientError) as e:
        o.get_resource_share_associations(associationType="RESOURCE", principal=other)
    assert error_code(e) == "InvalidParameterException"
    with pytest.raises(ClientError) as e:
        o.enable_sharing_with_aws_organization()
    assert error_code(e) == "OperationNotPermittedException"
    with pytest.raises(ClientError) as e:
        o.get_resource_policies(resourceArns=[ns])
    assert error_code(e) == "OperationNotPermittedException"


def test_paging_client_tokens_and_tags(endpoint_url):
    (owner,) = accounts(1)
    o = make_client("ram", endpoint_url, access_key=owner)
    for i in range(5):
        o.create_resource_share(name=f"p{i}")
    pages = list(o.get_paginator("get_resource_shares").paginate(resourceOwner="SELF", PaginationConfig={"PageSize": 2}))
    assert [len(p["resourceShares"]) for p in pages] == [2, 2, 1]
    assert [s["name"] for p in pages for s in p["resourceShares"]] == [f"p{i}" for i in range(5)]

    first = o.create_resource_share(name="idem", clientToken="t-1")
    again = o.create_resource_share(name="idem", clientToken="t-1")
    assert first["resourceShare"]["resourceShareArn"] == again["resourceShare"]["resourceShareArn"]
    assert again["clientToken"] == "t-1"
    with pytest.raises(ClientError) as e:
        o.create_resource_share(name="changed", clientToken="t-1")
    assert error_code(e) == "IdempotentParameterMismatchException"

    arn = first["resourceShare"]["resourceShareArn"]
    o.tag_resource(resourceShareArn=arn, tags=[{"key": "team", "value": "blue"}, {"key": "env", "value": "dev"}])
    o.untag_resource(resourceShareArn=arn, tagKeys=["env"])
    found = o.get_resource_shares(resourceOwner="SELF", tagFilters=[{"tagKey": "team", "tagValues": ["blue"]}])
    assert [(s["resourceShareArn"], s["tags"]) for s in found["resourceShares"]] == [(arn, [{"key": "team", "value": "blue"}])]

    types = o.list_resource_types()["resourceTypes"]
    assert types == [{"resourceType": "servicediscovery:Namespace", "serviceName": "servicediscovery", "resourceRegionScope": "REGIONAL"}]
    perms = o.list_permissions(resourceType="servicediscovery:Namespace")["permissions"]
    default = next(p for p in perms if p["isResourceTypeDefault"])
    policy = o.get_permission(permissionArn=default["arn"])["permission"]["permission"]
    assert "servicediscovery:RegisterInstance" in policy


def test_manual_timing_waits_for_the_admin_advance(endpoint_url, admin):
    (owner,) = accounts(1)
    o = make_client("ram", endpoint_url, access_key=owner)
    ns = http_namespace(endpoint_url, owner, f"manual-{owner}")
    status, before = admin.request("GET", "/_localplane/timing")
    assert status == 200
    admin.request("PUT", "/_localplane/timing", {"profile": "manual"})
    try:
        arn = o.create_resource_share(name="m", resourceArns=[ns])["resourceShare"]["resourceShareArn"]
        time.sleep(0.7)
        assert association(o, arn, "RESOURCE", ns)["status"] == "ASSOCIATING"
        _, ops = admin.request("GET", "/_localplane/operations")
        mine = [op for op in ops["operations"] if op["service"] == "ram" and arn in op["resource"]]
        assert [op["state"] for op in mine] == ["IN_PROGRESS"]
        status, _ = admin.request("POST", f"/_localplane/operations/{mine[0]['id']}/advance?until=terminal")
        assert status == 200
        assert association(o, arn, "RESOURCE", ns)["status"] == "ASSOCIATED"
    finally:
        admin.request("PUT", "/_localplane/timing", before)


def test_a_fault_rule_fails_an_association(endpoint_url, admin):
    (owner,) = accounts(1)
    o = make_client("ram", endpoint_url, access_key=owner)
    ns = http_namespace(endpoint_url, owner, f"fault-{owner}")
    share = o.create_resource_share(name="f")["resourceShare"]["resourceShareArn"]
    admin.add_fault({"service": "ram", "operationType": "ASSOCIATE_RESOURCE_SHARE", "resource": ns,
                     "errorCode": "InternalError", "errorMessage": "sharing failed"})
    o.associate_resource_share(resourceShareArn=share, resourceArns=[ns])
    row = wait_association(o, share, "RESOURCE", ns, "FAILED")
    assert row["statusMessage"] == "sharing failed"


def test_cli_share_and_accept(endpoint_url, aws_cli):
    owner, consumer = accounts(2)
    ns = http_namespace(endpoint_url, owner, f"cli-{owner}")

    def cli_as(account):
        other = copy.copy(aws_cli)
        other.env = aws_cli.env | {"AWS_ACCESS_KEY_ID": account}
        return other

    o, c = cli_as(owner), cli_as(consumer)
    share = o("ram", "create-resource-share", "--name", "cli", "--resource-arns", ns, "--principals", consumer)
    arn = share["resourceShare"]["resourceShareArn"]
    inv = c("ram", "get-resource-share-invitations", "--resource-share-arns", arn)["resourceShareInvitations"][0]
    out = c("ram", "accept-resource-share-invitation", "--resource-share-invitation-arn", inv["resourceShareInvitationArn"])
    assert out["resourceShareInvitation"]["status"] == "ACCEPTED"
    listed = c("ram", "list-resources", "--resource-owner", "OTHER-ACCOUNTS")["resources"]
    assert [r["arn"] for r in listed] == [ns]
    failed = c.error("ram", "delete-resource-share", "--resource-share-arn", arn)
    assert "UnknownResourceException" in failed.stderr
    assert o("ram", "delete-resource-share", "--resource-share-arn", arn)["returnValue"] is True
