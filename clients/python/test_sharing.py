"""A Cloud Map namespace shared across accounts through AWS RAM, with boto3 and the AWS CLI.

Three accounts (the 12-digit access key is the account): the owner shares an HTTP namespace, the
consumer accepts the invitation and works in the namespace by ARN, the outsider sees nothing; taking
the namespace out of the share cuts the consumer off and deletes nothing.
"""

from __future__ import annotations

import copy
import random
import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

REGION = "us-east-1"


def fresh_account() -> str:
    return str(random.randrange(10**11, 10**12))


@pytest.fixture
def accounts():
    return fresh_account(), fresh_account(), fresh_account()


@pytest.fixture
def client_as(endpoint_url):
    def make(service: str, account: str):
        return boto3.session.Session().client(
            service,
            region_name=REGION,
            endpoint_url=endpoint_url,
            aws_access_key_id=account,
            aws_secret_access_key="secret",
            config=Config(inject_host_prefix=False, retries={"total_max_attempts": 1}),
        )

    return make


def error_code(call, *args, **kwargs) -> str:
    with pytest.raises(ClientError) as err:
        call(*args, **kwargs)
    return err.value.response["Error"]["Code"]


def wait_operation(sd, op_id: str, owner: str | None = None) -> dict:
    kwargs = {"OwnerAccount": owner} if owner else {}
    deadline = time.monotonic() + 20
    while True:
        op = sd.get_operation(OperationId=op_id, **kwargs)["Operation"]
        if op["Status"] in ("SUCCESS", "FAIL"):
            return op
        assert time.monotonic() < deadline, op
        time.sleep(0.05)


def wait_association(ram, share_arn: str, entity: str, kind: str, want: str) -> None:
    deadline = time.monotonic() + 20
    while True:
        rows = ram.get_resource_share_associations(associationType=kind, resourceShareArns=[share_arn])[
            "resourceShareAssociations"
        ]
        status = next((r["status"] for r in rows if r["associatedEntity"] == entity), None)
        if status == want:
            return
        assert time.monotonic() < deadline, (entity, status, want)
        time.sleep(0.05)


def test_boto3_owner_consumer_outsider(client_as, accounts):
    owner, consumer, outsider = accounts
    sd_o, sd_c, sd_x = (client_as("servicediscovery", a) for a in accounts)
    ram_o, ram_c = client_as("ram", owner), client_as("ram", consumer)

    op = sd_o.create_http_namespace(Name="platform")["OperationId"]
    ns_id = wait_operation(sd_o, op)["Targets"]["NAMESPACE"]
    ns_arn = f"arn:aws:servicediscovery:{REGION}:{owner}:namespace/{ns_id}"
    assert error_code(sd_c.get_namespace, Id=ns_arn) == "AccessDeniedException"

    share = ram_o.create_resource_share(name="cm", resourceArns=[ns_arn], principals=[consumer])["resourceShare"]
    share_arn = share["resourceShareArn"]
    inv = ram_c.get_resource_share_invitations(resourceShareArns=[share_arn])["resourceShareInvitations"][0]
    assert (inv["senderAccountId"], inv["receiverAccountId"], inv["status"]) == (owner, consumer, "PENDING")
    accepted = ram_c.accept_resource_share_invitation(resourceShareInvitationArn=inv["resourceShareInvitationArn"])
    assert accepted["resourceShareInvitation"]["status"] == "ACCEPTED"
    wait_association(ram_o, share_arn, ns_arn, "RESOURCE", "ASSOCIATED")

    assert sd_c.get_namespace(Id=ns_arn)["Namespace"]["ResourceOwner"] == owner
    assert error_code(sd_c.get_namespace, Id=ns_id) == "NamespaceNotFound"
    assert error_code(sd_x.get_namespace, Id=ns_arn) == "AccessDeniedException"
    shared = sd_c.list_namespaces(Filters=[{"Name": "RESOURCE_OWNER", "Values": ["OTHER_ACCOUNTS"], "Condition": "EQ"}])
    assert [n["Id"] for n in shared["Namespaces"]] == [ns_id]
    mine = sd_c.list_namespaces(Filters=[{"Name": "RESOURCE_OWNER", "Values": ["SELF"], "Condition": "EQ"}])
    assert mine["Namespaces"] == []

    svc = sd_c.create_service(Name="web", NamespaceId=ns_arn)["Service"]
    assert svc["Arn"].startswith(f"arn:aws:servicediscovery:{REGION}:{owner}:service/")
    assert (svc["ResourceOwner"], svc["CreatedByAccount"], svc["NamespaceId"]) == (owner, consumer, ns_id)
    assert sd_o.get_service(Id=svc["Id"])["Service"]["CreatedByAccount"] == consumer
    op = sd_c.register_instance(ServiceId=svc["Arn"], InstanceId="i-1", Attributes={"k": "v"})["OperationId"]
    assert error_code(sd_c.get_operation, OperationId=op) == "OperationNotFound"
    done = wait_operation(sd_c, op, owner)
    assert (done["OwnerAccount"], done["Type"], done["Status"]) == (owner, "REGISTER_INSTANCE", "SUCCESS")
    assert error_code(sd_x.get_operation, OperationId=op, OwnerAccount=owner) == "OperationNotFound"
    assert [o["Id"] for o in sd_c.list_operations()["Operations"]] == [op]
    assert op not in [o["Id"] for o in sd_o.list_operations()["Operations"]]
    got = sd_c.get_instance(ServiceId=svc["Arn"], InstanceId="i-1")
    assert (got["ResourceOwner"], got["Instance"]["CreatedByAccount"]) == (owner, consumer)
    found = sd_c.discover_instances(NamespaceName="platform", ServiceName="web", OwnerAccount=owner)
    assert [i["InstanceId"] for i in found["Instances"]] == ["i-1"]
    code = error_code(sd_x.discover_instances, NamespaceName="platform", ServiceName="web", OwnerAccount=owner)
    assert code == "NamespaceNotFound"
    assert error_code(sd_c.delete_namespace, Id=ns_arn) == "AccessDeniedException"
    assert error_code(sd_c.tag_resource, ResourceARN=ns_arn, Tags=[{"Key": "k", "Value": "v"}]) == "AccessDeniedException"

    ram_o.disassociate_resource_share(resourceShareArn=share_arn, resourceArns=[ns_arn])
    wait_association(ram_o, share_arn, ns_arn, "RESOURCE", "DISASSOCIATED")
    assert error_code(sd_c.get_service, Id=svc["Arn"]) == "AccessDeniedException"
    assert error_code(sd_c.deregister_instance, ServiceId=svc["Arn"], InstanceId="i-1") == "AccessDeniedException"
    assert sd_c.list_operations()["Operations"] == []
    kept = sd_o.get_service(Id=svc["Id"])["Service"]
    assert (kept["CreatedByAccount"], kept["InstanceCount"]) == (consumer, 1)
    assert len(sd_o.discover_instances(NamespaceName="platform", ServiceName="web")["Instances"]) == 1


def test_aws_cli_tour(aws_cli, accounts):
    """The README's tour, command for command."""
    owner, consumer, _ = accounts
    as_owner, as_consumer = copy.copy(aws_cli), copy.copy(aws_cli)
    as_owner.env = aws_cli.env | {"AWS_ACCESS_KEY_ID": owner}
    as_consumer.env = aws_cli.env | {"AWS_ACCESS_KEY_ID": consumer}

    op = as_owner("servicediscovery", "create-http-namespace", "--name", "team-a")["OperationId"]
    deadline = time.monotonic() + 20
    while (got := as_owner("servicediscovery", "get-operation", "--operation-id", op)["Operation"])["Status"] != "SUCCESS":
        assert time.monotonic() < deadline, got
        time.sleep(0.1)
    ns_id = got["Targets"]["NAMESPACE"]
    ns_arn = as_owner("servicediscovery", "get-namespace", "--id", ns_id)["Namespace"]["Arn"]
    share = as_owner(
        "ram", "create-resource-share", "--name", "team-a", "--resource-arns", ns_arn, "--principals", consumer
    )["resourceShare"]
    invitation = as_consumer("ram", "get-resource-share-invitations")["resourceShareInvitations"]
    invitation = next(i for i in invitation if i["resourceShareArn"] == share["resourceShareArn"])
    as_consumer(
        "ram",
        "accept-resource-share-invitation",
        "--resource-share-invitation-arn",
        invitation["resourceShareInvitationArn"],
    )
    deadline = time.monotonic() + 20
    while True:
        res = as_consumer("ram", "list-resources", "--resource-owner", "OTHER-ACCOUNTS")["resources"]
        if any(r["arn"] == ns_arn for r in res):
            break
        assert time.monotonic() < deadline, res
        time.sleep(0.1)
    svc = as_consumer("servicediscovery", "create-service", "--name", "api", "--namespace-id", ns_arn)["Service"]
    op = as_consumer(
        "servicediscovery", "register-instance", "--service-id", svc["Arn"], "--instance-id", "i-1",
        "--attributes", "AWS_INSTANCE_IPV4=10.0.0.9",
    )["OperationId"]
    deadline = time.monotonic() + 20
    while True:
        got = as_consumer("servicediscovery", "get-operation", "--operation-id", op, "--owner-account", owner)
        if got["Operation"]["Status"] == "SUCCESS":
            break
        assert time.monotonic() < deadline, got
        time.sleep(0.1)
    found = as_consumer(
        "servicediscovery", "discover-instances", "--namespace-name", "team-a", "--service-name", "api",
        "--owner-account", owner,
    )
    assert [i["InstanceId"] for i in found["Instances"]] == ["i-1"]
    failed = as_consumer.error("servicediscovery", "delete-namespace", "--id", ns_arn)
    assert "AccessDeniedException" in failed.stderr
