"""AWS Cloud Map through boto3 and the AWS CLI, told as one user's story.

A payments team registers its `checkout` service in an HTTP namespace, finds
instances through DiscoverInstances, marks one unhealthy, pages through the
registry, looks at the operation history, tags things, trips over the usual
errors, and tears everything down again. A second story does the same with a
private DNS namespace and an A-record service; a third walks the README tour
with the AWS CLI.

Each story is a class whose steps run in order and share a `story` dict.
A step that needs something an earlier (failed) step should have produced is
skipped, so one server bug does not hide the others.

Behaviour reference: shared/reference/servicediscovery.md, protocols.md §2.
"""

from __future__ import annotations

import re
import time
import uuid
from contextlib import contextmanager
from datetime import datetime

import pytest
from botocore.exceptions import ClientError

ACCOUNT = "123456789012"
REGION = "us-east-1"

NAMESPACE_ID = re.compile(r"^ns-[a-z2-7]{16}$")
SERVICE_ID = re.compile(r"^srv-[a-z2-7]{16}$")
OPERATION_ID = re.compile(r"^[a-z2-7]{32}-([0-9a-z]+)$")
HOSTED_ZONE_ID = re.compile(r"^Z[0-9A-Z]+$")

STATUS_ORDER = {"SUBMITTED": 0, "PENDING": 1, "SUCCESS": 2, "FAIL": 2}


# --------------------------------------------------------------------------- helpers


class Story(dict):
    """State shared by the steps of one story."""

    def need(self, *keys):
        missing = [k for k in keys if k not in self]
        if missing:
            pytest.skip(f"an earlier step did not produce {', '.join(missing)}")
        return [self[k] for k in keys] if len(keys) > 1 else self[keys[0]]


@pytest.fixture(scope="class")
def story():
    return Story()


@pytest.fixture
def sd(servicediscovery):
    return servicediscovery


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def wait_for_operation(client, operation_id, *, timeout=30.0, interval=0.2, seen=None):
    """Polls GetOperation until the operation is SUCCESS; returns the final Operation.

    Every status observed is appended to `seen` (if given). FAIL or a timeout fails the test.
    """
    deadline = time.monotonic() + timeout
    while True:
        op = client.get_operation(OperationId=operation_id)["Operation"]
        if seen is not None:
            seen.append(op["Status"])
        if op["Status"] == "SUCCESS":
            return op
        assert op["Status"] in ("SUBMITTED", "PENDING"), f"operation {operation_id} ended as {op}"
        assert time.monotonic() < deadline, f"operation {operation_id} still {op['Status']} after {timeout}s"
        time.sleep(interval)


@contextmanager
def expect_error(code: str, status: int):
    """Asserts that the block raises a ClientError with this code and HTTP status.

    Yields pytest's ExceptionInfo, so `err.value.response` is readable after the block.
    """
    with pytest.raises(ClientError) as excinfo:
        yield excinfo
    response = excinfo.value.response
    assert response["Error"]["Code"] == code, response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == status, response
    assert response["ResponseMetadata"].get("RequestId"), "x-amzn-RequestId missing on an error"


def instance_ids(discover_response) -> set[str]:
    return {i["InstanceId"] for i in discover_response["Instances"]}


def tag_map(tags_response) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in tags_response["Tags"]}


def operations(client, filters) -> dict[str, str]:
    """All operations matching `filters` (through the paginator), as {Id: Status}."""
    found = {}
    for page in client.get_paginator("list_operations").paginate(Filters=filters):
        for op in page["Operations"]:
            found[op["Id"]] = op["Status"]
    return found


def epoch_ms(dt: datetime) -> int:
    return round(dt.timestamp() * 1000)


def base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = digits[r] + out
    return out or "0"


# --------------------------------------------------------------------------- HTTP namespace story

CHECKOUT_INSTANCES = {
    "checkout-1": {"AWS_INSTANCE_IPV4": "10.0.1.17", "AWS_INSTANCE_PORT": "8080", "stage": "prod", "az": "us-east-1a"},
    "checkout-2": {"AWS_INSTANCE_IPV4": "10.0.1.42", "AWS_INSTANCE_PORT": "8080", "stage": "prod", "az": "us-east-1b"},
    "checkout-3": {"AWS_INSTANCE_IPV4": "10.0.2.9", "AWS_INSTANCE_PORT": "8081", "stage": "canary", "az": "us-east-1a"},
}


class TestHttpNamespaceStory:
    """boto3: an HTTP namespace from creation to deletion."""

    def test_01_create_http_namespace_and_wait_for_the_operation(self, sd, story):
        name = unique("orders") + ".internal"
        token = str(uuid.uuid4())
        resp = sd.create_http_namespace(
            Name=name,
            Description="orders API namespace",
            CreatorRequestId=token,
            Tags=[{"Key": "team", "Value": "payments"}],
        )
        op_id = resp["OperationId"]
        assert OPERATION_ID.match(op_id), op_id

        # The operation is visible at once, and already names the namespace it creates.
        first = sd.get_operation(OperationId=op_id)["Operation"]
        assert first["Id"] == op_id
        assert first["Type"] == "CREATE_NAMESPACE"
        assert first["Status"] in ("SUBMITTED", "PENDING", "SUCCESS")
        ns_id = first["Targets"]["NAMESPACE"]
        assert NAMESPACE_ID.match(ns_id), first

        seen = [first["Status"]]
        op = wait_for_operation(sd, op_id, seen=seen)
        ranks = [STATUS_ORDER[s] for s in seen]
        assert ranks == sorted(ranks), f"status went backwards: {seen}"
        assert op["Targets"]["NAMESPACE"] == ns_id
        assert op["CreateDate"] <= op["UpdateDate"]
        assert "ErrorCode" not in op and "ErrorMessage" not in op
        # The id's suffix is the base-36 CreateDate in epoch milliseconds.
        suffix = OPERATION_ID.match(op_id).group(1)
        assert abs(int(suffix, 36) - epoch_ms(op["CreateDate"])) <= 1, (suffix, op["CreateDate"])

        story.update(ns_name=name, ns_id=ns_id, ns_token=token, ns_create_op=op_id)

    def test_02_get_namespace(self, sd, story):
        ns_id, name, token = story.need("ns_id", "ns_name", "ns_token")
        ns = sd.get_namespace(Id=ns_id)["Namespace"]
        arn = f"arn:aws:servicediscovery:{REGION}:{ACCOUNT}:namespace/{ns_id}"
        assert ns["Id"] == ns_id
        assert ns["Arn"] == arn
        assert ns["Name"] == name
        assert ns["Type"] == "HTTP"
        assert ns["Description"] == "orders API namespace"
        assert ns["Properties"]["HttpProperties"]["HttpName"] == name
        assert ns["ServiceCount"] == 0
        assert ns["CreatorRequestId"] == token
        assert ns["ResourceOwner"] == ACCOUNT
        assert isinstance(ns["CreateDate"], datetime)

        # Every Id parameter also takes the full ARN.
        assert sd.get_namespace(Id=arn)["Namespace"]["Id"] == ns_id
        story["ns_arn"] = arn

    def test_03_list_namespaces_with_filters(self, sd, story):
        ns_id, name = story.need("ns_id", "ns_name")
        by_name = sd.list_namespaces(Filters=[{"Name": "NAME", "Values": [name], "Condition": "EQ"}])
        assert [n["Id"] for n in by_name["Namespaces"]] == [ns_id]
        summary = by_name["Namespaces"][0]
        assert summary["Type"] == "HTTP"
        assert summary["Properties"]["HttpProperties"]["HttpName"] == name
        assert "NextToken" not in by_name

        http_ids = set()
        for page in sd.get_paginator("list_namespaces").paginate(Filters=[{"Name": "TYPE", "Values": ["HTTP"]}]):
            http_ids |= {n["Id"] for n in page["Namespaces"]}
            assert all(n["Type"] == "HTTP" for n in page["Namespaces"])
        assert ns_id in http_ids

    def test_04_create_service_with_custom_health_checks(self, sd, story):
        ns_id, ns_arn = story.need("ns_id", "ns_arn")
        token = str(uuid.uuid4())
        svc = sd.create_service(
            Name="checkout",
            NamespaceId=ns_id,
            Description="checkout API",
            CreatorRequestId=token,
            HealthCheckCustomConfig={"FailureThreshold": 1},
            Tags=[{"Key": "tier", "Value": "web"}],
        )["Service"]
        assert SERVICE_ID.match(svc["Id"]), svc
        assert svc["Arn"] == f"arn:aws:servicediscovery:{REGION}:{ACCOUNT}:service/{svc['Id']}"
        assert svc["Name"] == "checkout"
        assert svc["NamespaceId"] == ns_id
        assert svc["Type"] == "HTTP"
        assert svc["InstanceCount"] == 0
        assert svc["HealthCheckCustomConfig"] == {"FailureThreshold": 1}
        assert "DnsConfig" not in svc and "HealthCheckConfig" not in svc
        assert svc["CreatorRequestId"] == token
        assert svc["CreatedByAccount"] == ACCOUNT
        assert svc["ResourceOwner"] == ACCOUNT

        got = sd.get_service(Id=svc["Id"])["Service"]
        for key in ("Id", "Arn", "Name", "NamespaceId", "Description", "Type", "HealthCheckCustomConfig"):
            assert got[key] == svc[key], key
        assert sd.get_service(Id=svc["Arn"])["Service"]["Id"] == svc["Id"]

        listed = sd.list_services(Filters=[{"Name": "NAMESPACE_ID", "Values": [ns_id], "Condition": "EQ"}])
        assert [s["Id"] for s in listed["Services"]] == [svc["Id"]]
        # The filter also accepts the namespace ARN.
        listed = sd.list_services(Filters=[{"Name": "NAMESPACE_ID", "Values": [ns_arn]}])
        assert [s["Id"] for s in listed["Services"]] == [svc["Id"]]

        assert sd.get_namespace(Id=ns_id)["Namespace"]["ServiceCount"] == 1
        story.update(srv_id=svc["Id"], srv_arn=svc["Arn"], srv_token=token)

    def test_05_register_three_instances(self, sd, story):
        srv_id = story.need("srv_id")
        op_ids = {}
        for instance_id, attributes in CHECKOUT_INSTANCES.items():
            op_ids[instance_id] = sd.register_instance(
                ServiceId=srv_id, InstanceId=instance_id, Attributes=attributes
            )["OperationId"]
        for instance_id, op_id in op_ids.items():
            op = wait_for_operation(sd, op_id)
            assert op["Type"] == "REGISTER_INSTANCE"
            assert op["Targets"]["INSTANCE"] == instance_id
            assert op["Targets"]["SERVICE"] == srv_id
        story["register_ops"] = op_ids

    def test_06_registered_instances_are_readable(self, sd, story):
        srv_id, _ = story.need("srv_id", "register_ops")
        got = sd.get_instance(ServiceId=srv_id, InstanceId="checkout-1")
        assert got["Instance"]["Id"] == "checkout-1"
        assert got["Instance"]["Attributes"] == CHECKOUT_INSTANCES["checkout-1"]
        assert got["Instance"]["CreatedByAccount"] == ACCOUNT
        assert got["Instance"]["CreatorRequestId"]  # boto3 filled in a token
        assert got["ResourceOwner"] == ACCOUNT

        assert sd.get_service(Id=srv_id)["Service"]["InstanceCount"] == 3
        # Custom health checks start HEALTHY unless AWS_INIT_HEALTH_STATUS says otherwise.
        health = sd.get_instances_health_status(ServiceId=srv_id)["Status"]
        assert health == {i: "HEALTHY" for i in CHECKOUT_INSTANCES}

    def test_07_discover_instances_with_query_and_optional_parameters(self, sd, story):
        name, _ = story.need("ns_name", "register_ops")

        everything = sd.discover_instances(NamespaceName=name, ServiceName="checkout")
        assert instance_ids(everything) == set(CHECKOUT_INSTANCES)
        for inst in everything["Instances"]:
            assert inst["NamespaceName"] == name
            assert inst["ServiceName"] == "checkout"
            assert inst["HealthStatus"] == "HEALTHY"
            assert inst["Attributes"] == CHECKOUT_INSTANCES[inst["InstanceId"]]
        revision = everything["InstancesRevision"]
        assert isinstance(revision, int)

        prod = sd.discover_instances(NamespaceName=name, ServiceName="checkout", QueryParameters={"stage": "prod"})
        assert instance_ids(prod) == {"checkout-1", "checkout-2"}

        # OptionalParameters narrow the result when something matches...
        prod_b = sd.discover_instances(
            NamespaceName=name,
            ServiceName="checkout",
            QueryParameters={"stage": "prod"},
            OptionalParameters={"az": "us-east-1b"},
        )
        assert instance_ids(prod_b) == {"checkout-2"}
        # ...and are ignored when nothing does.
        fallback = sd.discover_instances(
            NamespaceName=name,
            ServiceName="checkout",
            QueryParameters={"stage": "prod"},
            OptionalParameters={"az": "eu-west-1c"},
        )
        assert instance_ids(fallback) == {"checkout-1", "checkout-2"}

        nothing = sd.discover_instances(NamespaceName=name, ServiceName="checkout", QueryParameters={"stage": "qa"})
        assert nothing["Instances"] == []

        one = sd.discover_instances(NamespaceName=name, ServiceName="checkout", MaxResults=1)
        assert len(one["Instances"]) == 1

        assert sd.discover_instances_revision(NamespaceName=name, ServiceName="checkout")["InstancesRevision"] == revision
        story["revision"] = revision

    def test_08_custom_health_status_filters_discovery(self, sd, story):
        srv_id, name, revision = story.need("srv_id", "ns_name", "revision")

        sd.update_instance_custom_health_status(ServiceId=srv_id, InstanceId="checkout-1", Status="UNHEALTHY")
        # localplane applies custom health changes immediately (AWS takes ~30 s).
        healthy = sd.discover_instances(NamespaceName=name, ServiceName="checkout")
        assert instance_ids(healthy) == {"checkout-2", "checkout-3"}
        assert {i["HealthStatus"] for i in healthy["Instances"]} == {"HEALTHY"}

        unhealthy = sd.discover_instances(NamespaceName=name, ServiceName="checkout", HealthStatus="UNHEALTHY")
        assert instance_ids(unhealthy) == {"checkout-1"}
        assert unhealthy["Instances"][0]["HealthStatus"] == "UNHEALTHY"

        everyone = sd.discover_instances(NamespaceName=name, ServiceName="checkout", HealthStatus="ALL")
        assert {i["InstanceId"]: i["HealthStatus"] for i in everyone["Instances"]} == {
            "checkout-1": "UNHEALTHY",
            "checkout-2": "HEALTHY",
            "checkout-3": "HEALTHY",
        }
        assert sd.get_instances_health_status(ServiceId=srv_id)["Status"] == {
            "checkout-1": "UNHEALTHY",
            "checkout-2": "HEALTHY",
            "checkout-3": "HEALTHY",
        }
        assert sd.get_instances_health_status(ServiceId=srv_id, Instances=["checkout-1"])["Status"] == {
            "checkout-1": "UNHEALTHY"
        }

        # The only canary goes down too: HEALTHY finds nothing, HEALTHY_OR_ELSE_ALL fails open.
        sd.update_instance_custom_health_status(ServiceId=srv_id, InstanceId="checkout-3", Status="UNHEALTHY")
        canary = {"NamespaceName": name, "ServiceName": "checkout", "QueryParameters": {"stage": "canary"}}
        assert sd.discover_instances(**canary)["Instances"] == []
        assert instance_ids(sd.discover_instances(**canary, HealthStatus="HEALTHY_OR_ELSE_ALL")) == {"checkout-3"}
        prod = {"NamespaceName": name, "ServiceName": "checkout", "QueryParameters": {"stage": "prod"}}
        assert instance_ids(sd.discover_instances(**prod, HealthStatus="HEALTHY_OR_ELSE_ALL")) == {"checkout-2"}

        # Health changes do not move the instances revision.
        assert sd.discover_instances_revision(NamespaceName=name, ServiceName="checkout")["InstancesRevision"] == revision

        for instance_id in ("checkout-1", "checkout-3"):
            sd.update_instance_custom_health_status(ServiceId=srv_id, InstanceId=instance_id, Status="HEALTHY")
        assert instance_ids(sd.discover_instances(NamespaceName=name, ServiceName="checkout")) == set(CHECKOUT_INSTANCES)

    def test_09_list_instances_one_page_at_a_time(self, sd, story):
        srv_id, _ = story.need("srv_id", "register_ops")
        first = sd.list_instances(ServiceId=srv_id, MaxResults=1)
        assert len(first["Instances"]) == 1
        assert first.get("NextToken")
        assert first["ResourceOwner"] == ACCOUNT

        pages = list(
            sd.get_paginator("list_instances").paginate(ServiceId=srv_id, PaginationConfig={"PageSize": 1})
        )
        assert [len(p["Instances"]) for p in pages] == [1, 1, 1], "three instances, one per page, no empty last page"
        assert "NextToken" not in pages[-1]
        listed = {i["Id"]: i for p in pages for i in p["Instances"]}
        assert set(listed) == set(CHECKOUT_INSTANCES)
        for instance_id, inst in listed.items():
            assert inst["Attributes"] == CHECKOUT_INSTANCES[instance_id]
            assert inst["CreatedByAccount"] == ACCOUNT

    def test_10_list_operations_with_filters(self, sd, story):
        ns_id, srv_id, create_op, register_ops = story.need("ns_id", "srv_id", "ns_create_op", "register_ops")
        in_namespace = {"Name": "NAMESPACE_ID", "Values": [ns_id], "Condition": "EQ"}

        registered = operations(
            sd,
            [
                {"Name": "TYPE", "Values": ["REGISTER_INSTANCE"], "Condition": "IN"},
                {"Name": "STATUS", "Values": ["SUCCESS"], "Condition": "EQ"},
                in_namespace,
            ],
        )
        assert registered == {op_id: "SUCCESS" for op_id in register_ops.values()}

        created = operations(sd, [in_namespace, {"Name": "TYPE", "Values": ["CREATE_NAMESPACE"]}])
        assert created == {create_op: "SUCCESS"}

        both = operations(
            sd,
            [in_namespace, {"Name": "TYPE", "Values": ["CREATE_NAMESPACE", "REGISTER_INSTANCE"], "Condition": "IN"}],
        )
        assert set(both) == {create_op, *register_ops.values()}

        for_service = operations(sd, [{"Name": "SERVICE_ID", "Values": [srv_id], "Condition": "EQ"}])
        assert set(for_service) == set(register_ops.values())

        assert operations(sd, [in_namespace, {"Name": "STATUS", "Values": ["SUBMITTED", "PENDING"], "Condition": "IN"}]) == {}

        now = int(time.time())
        recent = operations(
            sd,
            [in_namespace, {"Name": "UPDATE_DATE", "Values": [str(now - 3600), str(now + 3600)], "Condition": "BETWEEN"}],
        )
        assert set(recent) == {create_op, *register_ops.values()}

        # Wrong condition for a filter, or EQ with two values, is InvalidInput.
        with expect_error("InvalidInput", 400):
            sd.list_operations(Filters=[{"Name": "TYPE", "Values": ["REGISTER_INSTANCE"], "Condition": "BETWEEN"}])
        with expect_error("InvalidInput", 400):
            sd.list_operations(Filters=[{"Name": "STATUS", "Values": ["SUCCESS", "FAIL"], "Condition": "EQ"}])

    def test_11_tag_and_untag_namespace_and_service(self, sd, story):
        ns_arn, srv_arn = story.need("ns_arn", "srv_arn")
        assert tag_map(sd.list_tags_for_resource(ResourceARN=ns_arn)) == {"team": "payments"}
        assert tag_map(sd.list_tags_for_resource(ResourceARN=srv_arn)) == {"tier": "web"}

        sd.tag_resource(ResourceARN=srv_arn, Tags=[{"Key": "env", "Value": "test"}, {"Key": "owner", "Value": "alice"}])
        assert tag_map(sd.list_tags_for_resource(ResourceARN=srv_arn)) == {"tier": "web", "env": "test", "owner": "alice"}

        # Tagging merges; an existing key is overwritten.
        sd.tag_resource(ResourceARN=srv_arn, Tags=[{"Key": "env", "Value": "staging"}])
        assert tag_map(sd.list_tags_for_resource(ResourceARN=srv_arn))["env"] == "staging"

        # Untagging a key that is not there is not an error.
        sd.untag_resource(ResourceARN=srv_arn, TagKeys=["owner", "no-such-key"])
        assert tag_map(sd.list_tags_for_resource(ResourceARN=srv_arn)) == {"tier": "web", "env": "staging"}

        sd.tag_resource(ResourceARN=ns_arn, Tags=[{"Key": "cost-center", "Value": ""}])
        assert tag_map(sd.list_tags_for_resource(ResourceARN=ns_arn)) == {"team": "payments", "cost-center": ""}

        with expect_error("ResourceNotFoundException", 404):
            sd.list_tags_for_resource(
                ResourceARN=f"arn:aws:servicediscovery:{REGION}:{ACCOUNT}:service/srv-aaaaaaaaaaaaaaaa"
            )

        # At most 50 tags per resource: two are there, 49 more would make 51.
        with expect_error("TooManyTagsException", 400) as err:
            sd.tag_resource(ResourceARN=srv_arn, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(49)])
        assert err.value.response["ResourceName"] == srv_arn
        assert tag_map(sd.list_tags_for_resource(ResourceARN=srv_arn)) == {"tier": "web", "env": "staging"}

    def test_12_service_attributes(self, sd, story):
        srv_id, srv_arn = story.need("srv_id", "srv_arn")
        sd.update_service_attributes(ServiceId=srv_id, Attributes={"version": "1", "color": "blue"})
        attrs = sd.get_service_attributes(ServiceId=srv_id)["ServiceAttributes"]
        assert attrs["ServiceArn"] == srv_arn
        assert attrs["ResourceOwner"] == ACCOUNT
        assert attrs["Attributes"] == {"version": "1", "color": "blue"}

        # Updates merge...
        sd.update_service_attributes(ServiceId=srv_id, Attributes={"color": "green"})
        assert sd.get_service_attributes(ServiceId=srv_id)["ServiceAttributes"]["Attributes"] == {
            "version": "1",
            "color": "green",
        }
        # ...and deletes remove only the named keys.
        sd.delete_service_attributes(ServiceId=srv_id, Attributes=["version"])
        assert sd.get_service_attributes(ServiceId=srv_id)["ServiceAttributes"]["Attributes"] == {"color": "green"}

        # At most 30 attributes per service: one is there, 30 more would make 31.
        with expect_error("ServiceAttributesLimitExceededException", 400):
            sd.update_service_attributes(ServiceId=srv_id, Attributes={f"a{i}": "x" for i in range(30)})
        assert sd.get_service_attributes(ServiceId=srv_id)["ServiceAttributes"]["Attributes"] == {"color": "green"}

    def test_13_not_found_errors(self, sd, servicediscovery_as, story):
        srv_id, name, ns_id = story.need("srv_id", "ns_name", "ns_id")
        with expect_error("NamespaceNotFound", 404):
            sd.get_namespace(Id="ns-aaaaaaaaaaaaaaaa")
        with expect_error("ServiceNotFound", 404):
            sd.get_service(Id="srv-aaaaaaaaaaaaaaaa")
        with expect_error("OperationNotFound", 404):
            sd.get_operation(OperationId="a7kq3zt2xw5m4hbnd6vcy2pfo7elrgu3-mbrzzzzz")
        with expect_error("InstanceNotFound", 404):
            sd.get_instance(ServiceId=srv_id, InstanceId="checkout-404")
        with expect_error("InstanceNotFound", 404):
            sd.update_instance_custom_health_status(ServiceId=srv_id, InstanceId="checkout-404", Status="HEALTHY")
        with expect_error("ServiceNotFound", 404):
            sd.register_instance(ServiceId="srv-aaaaaaaaaaaaaaaa", InstanceId="x", Attributes={"a": "b"})
        with expect_error("ServiceNotFound", 404):
            sd.discover_instances(NamespaceName=name, ServiceName="no-such-service")
        with expect_error("NamespaceNotFound", 404):
            sd.discover_instances(NamespaceName=unique("nowhere"), ServiceName="checkout")
        with expect_error("NamespaceNotFound", 404):
            sd.create_service(Name="orphan", NamespaceId="ns-aaaaaaaaaaaaaaaa")
        with expect_error("InstanceNotFound", 404):
            sd.get_instances_health_status(ServiceId=srv_id, Instances=["checkout-1", "checkout-404"])

        # Another account (another 12-digit access key) sees none of it.
        other = servicediscovery_as("210987654321")
        with expect_error("NamespaceNotFound", 404):
            other.get_namespace(Id=ns_id)
        with expect_error("ServiceNotFound", 404):
            other.get_service(Id=srv_id)
        with expect_error("NamespaceNotFound", 404):
            other.discover_instances(NamespaceName=name, ServiceName="checkout")

    def test_14_resources_in_use_cannot_be_deleted(self, sd, story):
        ns_id, srv_id, _ = story.need("ns_id", "srv_id", "register_ops")
        with expect_error("ResourceInUse", 409):
            sd.delete_namespace(Id=ns_id)  # it still contains the checkout service
        with expect_error("ResourceInUse", 409):
            sd.delete_service(Id=srv_id)  # it still has registered instances

    def test_15_names_already_taken(self, sd, story):
        ns_id, name, token, srv_id, srv_arn, srv_token = story.need(
            "ns_id", "ns_name", "ns_token", "srv_id", "srv_arn", "srv_token"
        )
        with expect_error("NamespaceAlreadyExists", 400) as err:
            sd.create_http_namespace(Name=name)
        assert err.value.response["NamespaceId"] == ns_id
        assert err.value.response["CreatorRequestId"] == token

        with expect_error("ServiceAlreadyExists", 400) as err:
            sd.create_service(Name="checkout", NamespaceId=ns_id, HealthCheckCustomConfig={"FailureThreshold": 1})
        assert err.value.response["ServiceId"] == srv_id
        assert err.value.response["ServiceArn"] == srv_arn
        assert err.value.response["CreatorRequestId"] == srv_token

    def test_16_invalid_input(self, sd, story):
        ns_id, srv_id = story.need("ns_id", "srv_id")
        with expect_error("InvalidInput", 400):
            sd.create_http_namespace(Name="not a valid name")  # spaces are not allowed
        with expect_error("InvalidInput", 400):
            sd.create_service(Name="bad name!", NamespaceId=ns_id)
        with expect_error("InvalidInput", 400):  # HTTP namespaces have no DNS records
            sd.create_service(
                Name="dns-in-http", NamespaceId=ns_id, DnsConfig={"DnsRecords": [{"Type": "A", "TTL": 60}]}
            )
        with expect_error("InvalidInput", 400):  # services in HTTP namespaces cannot be updated
            sd.update_service(Id=srv_id, Service={"Description": "new description"})
        with expect_error("InvalidInput", 400):  # Route 53 and custom health checks exclude each other
            sd.create_service(
                Name="both-checks",
                NamespaceId=ns_id,
                HealthCheckConfig={"Type": "HTTP", "ResourcePath": "/health"},
                HealthCheckCustomConfig={"FailureThreshold": 1},
            )
        with expect_error("InvalidInput", 400):  # at most 30 custom attributes per instance
            sd.register_instance(
                ServiceId=srv_id, InstanceId="too-many", Attributes={f"attr{i}": "x" for i in range(31)}
            )

    def test_20_deregister_every_instance(self, sd, story):
        srv_id, name, revision, _ = story.need("srv_id", "ns_name", "revision", "register_ops")
        op_ids = {i: sd.deregister_instance(ServiceId=srv_id, InstanceId=i)["OperationId"] for i in CHECKOUT_INSTANCES}
        for instance_id, op_id in op_ids.items():
            op = wait_for_operation(sd, op_id)
            assert op["Type"] == "DEREGISTER_INSTANCE"
            assert op["Targets"]["INSTANCE"] == instance_id
            assert op["Targets"]["SERVICE"] == srv_id

        assert sd.list_instances(ServiceId=srv_id)["Instances"] == []
        assert sd.get_service(Id=srv_id)["Service"]["InstanceCount"] == 0
        gone = sd.discover_instances(NamespaceName=name, ServiceName="checkout", HealthStatus="ALL")
        assert gone["Instances"] == []
        assert gone["InstancesRevision"] > revision
        with expect_error("InstanceNotFound", 404):
            sd.get_instance(ServiceId=srv_id, InstanceId="checkout-1")
        story["deregistered"] = True

    def test_21_delete_service(self, sd, story):
        ns_id, srv_id, srv_arn, _ = story.need("ns_id", "srv_id", "srv_arn", "deregistered")
        sd.delete_service(Id=srv_id)
        with expect_error("ServiceNotFound", 404):
            sd.get_service(Id=srv_id)
        with expect_error("ServiceNotFound", 404):
            sd.get_service_attributes(ServiceId=srv_id)
        with expect_error("ResourceNotFoundException", 404):
            sd.list_tags_for_resource(ResourceARN=srv_arn)
        assert sd.get_namespace(Id=ns_id)["Namespace"]["ServiceCount"] == 0
        story["service_deleted"] = True

    def test_22_delete_namespace(self, sd, story):
        ns_id, name, create_op, _ = story.need("ns_id", "ns_name", "ns_create_op", "service_deleted")
        op_id = sd.delete_namespace(Id=ns_id)["OperationId"]
        assert OPERATION_ID.match(op_id), op_id
        first = sd.get_operation(OperationId=op_id)["Operation"]
        assert first["Type"] == "DELETE_NAMESPACE"
        assert first["Targets"]["NAMESPACE"] == ns_id

        wait_for_operation(sd, op_id)
        with expect_error("NamespaceNotFound", 404):
            sd.get_namespace(Id=ns_id)
        with expect_error("NamespaceNotFound", 404):
            sd.discover_instances(NamespaceName=name, ServiceName="checkout")
        assert sd.list_namespaces(Filters=[{"Name": "NAME", "Values": [name]}])["Namespaces"] == []

        # Operations outlive what they targeted.
        assert sd.get_operation(OperationId=op_id)["Operation"]["Status"] == "SUCCESS"
        assert sd.get_operation(OperationId=create_op)["Operation"]["Status"] == "SUCCESS"


# --------------------------------------------------------------------------- private DNS namespace story


class TestPrivateDnsNamespaceStory:
    """boto3: a private DNS namespace with an A-record service."""

    VPC = "vpc-0a1b2c3d4e5f67890"

    def test_01_create_private_dns_namespace(self, sd, story):
        name = unique("inventory") + ".internal"
        op_id = sd.create_private_dns_namespace(
            Name=name,
            Vpc=self.VPC,
            Description="inventory services",
            Properties={"DnsProperties": {"SOA": {"TTL": 60}}},
        )["OperationId"]
        op = wait_for_operation(sd, op_id)
        assert op["Type"] == "CREATE_NAMESPACE"
        ns_id = op["Targets"]["NAMESPACE"]
        assert NAMESPACE_ID.match(ns_id), op

        ns = sd.get_namespace(Id=ns_id)["Namespace"]
        assert ns["Name"] == name
        assert ns["Type"] == "DNS_PRIVATE"
        assert HOSTED_ZONE_ID.match(ns["Properties"]["DnsProperties"]["HostedZoneId"]), ns["Properties"]
        assert ns["Properties"]["DnsProperties"]["SOA"] == {"TTL": 60}
        assert ns["Properties"]["HttpProperties"]["HttpName"] == name
        story.update(ns_id=ns_id, ns_name=name)

    def test_02_create_dns_service_with_an_a_record(self, sd, story):
        ns_id = story.need("ns_id")
        svc = sd.create_service(
            Name="api",
            NamespaceId=ns_id,
            DnsConfig={"RoutingPolicy": "MULTIVALUE", "DnsRecords": [{"Type": "A", "TTL": 30}]},
        )["Service"]
        assert svc["Type"] == "DNS_HTTP"
        assert svc["NamespaceId"] == ns_id
        # The deprecated DnsConfig.NamespaceId is echoed (Terraform depends on it).
        assert svc["DnsConfig"]["NamespaceId"] == ns_id
        assert svc["DnsConfig"]["RoutingPolicy"] == "MULTIVALUE"
        assert svc["DnsConfig"]["DnsRecords"] == [{"Type": "A", "TTL": 30}]

        got = sd.get_service(Id=svc["Id"])["Service"]
        assert got["Type"] == "DNS_HTTP"
        assert got["DnsConfig"]["NamespaceId"] == ns_id
        assert got["DnsConfig"]["DnsRecords"] == [{"Type": "A", "TTL": 30}]
        story["srv_id"] = svc["Id"]

        with expect_error("InvalidInput", 400):  # no Route 53 health checks in private namespaces
            sd.create_service(
                Name="checked",
                NamespaceId=ns_id,
                DnsConfig={"DnsRecords": [{"Type": "A", "TTL": 30}]},
                HealthCheckConfig={"Type": "HTTP", "ResourcePath": "/health"},
            )

    def test_03_terraform_style_service_naming_the_namespace_only_in_dns_config(self, sd, story):
        ns_id = story.need("ns_id")
        svc = sd.create_service(
            Name="legacy",
            DnsConfig={"NamespaceId": ns_id, "DnsRecords": [{"Type": "A", "TTL": 10}]},
        )["Service"]
        assert svc["NamespaceId"] == ns_id
        assert svc["DnsConfig"]["NamespaceId"] == ns_id
        sd.delete_service(Id=svc["Id"])

    def test_04_a_records_need_an_ipv4_address(self, sd, story):
        srv_id = story.need("srv_id")
        with expect_error("InvalidInput", 400):
            sd.register_instance(ServiceId=srv_id, InstanceId="api-1", Attributes={"stage": "prod"})

        op_id = sd.register_instance(
            ServiceId=srv_id, InstanceId="api-1", Attributes={"AWS_INSTANCE_IPV4": "10.0.3.4", "stage": "prod"}
        )["OperationId"]
        op = wait_for_operation(sd, op_id)
        assert op["Type"] == "REGISTER_INSTANCE"
        assert op["Targets"]["INSTANCE"] == "api-1"
        assert op["Targets"]["SERVICE"] == srv_id
        story["registered"] = True

    def test_05_discovery_without_health_checks_reports_unknown(self, sd, story):
        name, srv_id, _ = story.need("ns_name", "srv_id", "registered")
        with expect_error("CustomHealthNotFound", 404):  # the service has no custom health check
            sd.update_instance_custom_health_status(ServiceId=srv_id, InstanceId="api-1", Status="UNHEALTHY")
        # No health check configured: HealthStatus is ignored and every instance is UNKNOWN.
        found = sd.discover_instances(NamespaceName=name, ServiceName="api", HealthStatus="HEALTHY")
        assert found["Instances"] == [
            {
                "InstanceId": "api-1",
                "NamespaceName": name,
                "ServiceName": "api",
                "HealthStatus": "UNKNOWN",
                "Attributes": {"AWS_INSTANCE_IPV4": "10.0.3.4", "stage": "prod"},
            }
        ]

    def test_06_update_the_record_ttl(self, sd, story):
        ns_id, srv_id = story.need("ns_id", "srv_id")
        op_id = sd.update_service(
            Id=srv_id,
            Service={"Description": "inventory API", "DnsConfig": {"DnsRecords": [{"Type": "A", "TTL": 120}]}},
        )["OperationId"]
        op = wait_for_operation(sd, op_id)
        assert op["Type"] == "UPDATE_SERVICE"
        assert op["Targets"]["SERVICE"] == srv_id

        svc = sd.get_service(Id=srv_id)["Service"]
        assert svc["Description"] == "inventory API"
        assert svc["DnsConfig"]["DnsRecords"] == [{"Type": "A", "TTL": 120}]
        assert svc["DnsConfig"]["NamespaceId"] == ns_id

        with expect_error("InvalidInput", 400):  # record types are fixed at creation
            sd.update_service(Id=srv_id, Service={"DnsConfig": {"DnsRecords": [{"Type": "AAAA", "TTL": 120}]}})

    def test_07_tear_down(self, sd, story):
        ns_id, srv_id, _ = story.need("ns_id", "srv_id", "registered")
        wait_for_operation(sd, sd.deregister_instance(ServiceId=srv_id, InstanceId="api-1")["OperationId"])
        sd.delete_service(Id=srv_id)
        op_id = sd.delete_namespace(Id=ns_id)["OperationId"]
        op = wait_for_operation(sd, op_id)
        assert op["Type"] == "DELETE_NAMESPACE"
        assert op["Targets"]["NAMESPACE"] == ns_id
        with expect_error("NamespaceNotFound", 404):
            sd.get_namespace(Id=ns_id)


# --------------------------------------------------------------------------- AWS CLI


def cli_wait_for_operation(aws_cli, operation_id, *, timeout=30.0, interval=0.2):
    deadline = time.monotonic() + timeout
    while True:
        op = aws_cli("servicediscovery", "get-operation", "--operation-id", operation_id)["Operation"]
        if op["Status"] == "SUCCESS":
            return op
        assert op["Status"] in ("SUBMITTED", "PENDING"), op
        assert time.monotonic() < deadline, f"operation {operation_id} still {op['Status']} after {timeout}s"
        time.sleep(interval)


def test_cli_readme_tour(aws_cli):
    """The README tour with `aws servicediscovery ...`, then the clean-up."""
    sd = lambda *args: aws_cli("servicediscovery", *args)  # noqa: E731
    name = unique("tour") + ".local"

    op_id = sd("create-http-namespace", "--name", name)["OperationId"]
    assert OPERATION_ID.match(op_id), op_id
    op = cli_wait_for_operation(aws_cli, op_id)
    assert op["Type"] == "CREATE_NAMESPACE"
    # AWS CLI v1 prints timestamps as they came over the wire: epoch seconds (JSON numbers).
    assert isinstance(op["CreateDate"], (int, float)) and op["CreateDate"] <= op["UpdateDate"], op
    ns_id = op["Targets"]["NAMESPACE"]
    assert NAMESPACE_ID.match(ns_id)

    ns = sd("get-namespace", "--id", ns_id)["Namespace"]
    assert ns["Properties"]["HttpProperties"]["HttpName"] == name

    svc = sd(
        "create-service", "--name", "web", "--namespace-id", ns_id,
        "--health-check-custom-config", "{}",
    )["Service"]
    srv_id = svc["Id"]
    assert SERVICE_ID.match(srv_id)
    # The obsolete FailureThreshold is always reported as 1.
    assert svc["HealthCheckCustomConfig"] == {"FailureThreshold": 1}, svc

    registrations = [
        sd(
            "register-instance", "--service-id", srv_id, "--instance-id", instance_id,
            "--attributes", f"AWS_INSTANCE_IPV4={ip},AWS_INSTANCE_PORT=8080,stage={stage}",
        )["OperationId"]
        for instance_id, stage, ip in (("web-1", "prod", "10.0.0.5"), ("web-2", "dev", "10.0.0.6"))
    ]
    for op_id in registrations:
        assert cli_wait_for_operation(aws_cli, op_id)["Type"] == "REGISTER_INSTANCE"

    found = sd("discover-instances", "--namespace-name", name, "--service-name", "web", "--query-parameters", "stage=prod")
    assert [i["InstanceId"] for i in found["Instances"]] == ["web-1"]
    assert found["Instances"][0]["Attributes"] == {
        "AWS_INSTANCE_IPV4": "10.0.0.5",
        "AWS_INSTANCE_PORT": "8080",
        "stage": "prod",
    }
    assert found["Instances"][0]["HealthStatus"] == "HEALTHY"

    # The CLI follows NextToken by itself: page size 1 still lists both instances.
    listed = sd("list-instances", "--service-id", srv_id, "--page-size", "1")
    assert sorted(i["Id"] for i in listed["Instances"]) == ["web-1", "web-2"]

    failed = aws_cli.error("servicediscovery", "get-namespace", "--id", "ns-aaaaaaaaaaaaaaaa")
    assert "(NamespaceNotFound)" in failed.stderr and "GetNamespace" in failed.stderr, failed.stderr

    in_use = aws_cli.error("servicediscovery", "delete-namespace", "--id", ns_id)
    assert "(ResourceInUse)" in in_use.stderr, in_use.stderr

    deregistrations = [
        sd("deregister-instance", "--service-id", srv_id, "--instance-id", instance_id)["OperationId"]
        for instance_id in ("web-1", "web-2")
    ]
    for op_id in deregistrations:
        assert cli_wait_for_operation(aws_cli, op_id)["Type"] == "DEREGISTER_INSTANCE"
    sd("delete-service", "--id", srv_id)
    delete_op = cli_wait_for_operation(aws_cli, sd("delete-namespace", "--id", ns_id)["OperationId"])
    assert delete_op["Type"] == "DELETE_NAMESPACE"
    gone = aws_cli.error("servicediscovery", "get-namespace", "--id", ns_id)
    assert "(NamespaceNotFound)" in gone.stderr, gone.stderr
