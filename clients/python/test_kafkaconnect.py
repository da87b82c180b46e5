"""AWS MSK Connect (`kafkaconnect`, restJson1) through boto3 and the AWS CLI, told as one user's story.

A data team ships a Debezium change-data-capture connector: it uploads the plugin
(a custom plugin), writes a worker configuration, creates the connector and waits
for it to run. Then it changes the connector's configuration and watches the
update through its connector operation step by step, scales the workers, pushes a
broken configuration that fails validation and is rolled back, trips over a stale
`currentVersion`, reads the operation history page by page, pauses and resumes
the connector, tags it, meets the usual errors, and tears everything down.

A second story injects a failure through localplane's fault API and watches a
configuration update end ROLLBACK_FAILED; a third walks the README tour with the
AWS CLI (`aws kafkaconnect ...`).

Each story is a class whose steps run in order and share a `story` dict. A step
that needs something an earlier (failed) step should have produced is skipped,
so one server bug does not hide the others.

Behaviour reference: shared/reference/kafkaconnect.md, examples.md §1-3.
"""

from __future__ import annotations

import base64
import re
import subprocess
import time
import uuid
from contextlib import contextmanager
from datetime import datetime

import pytest
from botocore.exceptions import ClientError

ACCOUNT = "123456789012"
REGION = "us-east-1"
PREFIX = f"arn:aws:kafkaconnect:{REGION}:{ACCOUNT}"

ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/msk-connect"
BUCKET_ARN = "arn:aws:s3:::my-bucket"
FILE_KEY = "plugins/debezium.zip"
CONNECTOR_CLASS = "io.debezium.connector.postgresql.PostgresConnector"
PROPERTIES = "key.converter=org.apache.kafka.connect.storage.StringConverter\n"
PROPERTIES_B64 = base64.b64encode(PROPERTIES.encode()).decode()

# {name}/{uuid v4}-{small integer}; operations: {connector name}/{connector uuid-n}/{uuid v4}.
RESOURCE_ID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-\d+"
OPERATION_ID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"

POLL_INTERVAL_S = 0.2
POLL_TIMEOUT_S = 30.0

UPDATE_STEPS = {
    "UPDATE_CONNECTOR_CONFIGURATION": [
        "INITIALIZE_UPDATE", "UPDATE_CONNECTOR_CONFIGURATION", "VALIDATE_UPDATE", "FINALIZE_UPDATE",
    ],
    "UPDATE_WORKER_SETTING": ["INITIALIZE_UPDATE", "UPDATE_WORKER_SETTING", "VALIDATE_UPDATE", "FINALIZE_UPDATE"],
}
# The order in which an operation's states may follow each other (kafkaconnect.md §4.2).
OPERATION_STATE_RANK = {
    "PENDING": 0,
    "UPDATE_IN_PROGRESS": 1, "PAUSE_IN_PROGRESS": 1, "RESUME_IN_PROGRESS": 1, "RESTART_IN_PROGRESS": 1,
    "UPDATE_COMPLETE": 2, "UPDATE_FAILED": 2,
    "PAUSE_COMPLETE": 2, "PAUSE_FAILED": 2, "RESUME_COMPLETE": 2, "RESUME_FAILED": 2,
    "RESTART_COMPLETE": 2, "RESTART_FAILED": 2,
    "ROLLBACK_IN_PROGRESS": 3,
    "ROLLBACK_COMPLETE": 4, "ROLLBACK_FAILED": 4,
}
STEP_STATE_RANK = {"PENDING": 0, "IN_PROGRESS": 1, "COMPLETED": 2, "FAILED": 2, "CANCELLED": 2}


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
def kc(kafkaconnect):
    return kafkaconnect


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def strip(response: dict) -> dict:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


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
    assert response["Error"].get("Message"), f"{code} without a message"
    assert response["ResponseMetadata"].get("RequestId"), "x-amzn-RequestId missing on an error"


def poll(fetch, done, what: str):
    """Calls `fetch()` every 0.2 s until `done(result)`; returns (result, every result seen)."""
    deadline = time.monotonic() + POLL_TIMEOUT_S
    seen = []
    while True:
        result = fetch()
        seen.append(result)
        if done(result):
            return result, seen
        assert time.monotonic() < deadline, f"{what} not done after {POLL_TIMEOUT_S}s; last: {result}"
        time.sleep(POLL_INTERVAL_S)


def distinct(values):
    """The values with consecutive repeats collapsed: [A, A, B, A] -> [A, B, A]."""
    out = []
    for v in values:
        if not out or out[-1] != v:
            out.append(v)
    return out


def wait_plugin_active(kc, arn):
    plugin, seen = poll(
        lambda: strip(kc.describe_custom_plugin(customPluginArn=arn)),
        lambda p: p["customPluginState"] != "CREATING",
        f"custom plugin {arn}",
    )
    assert plugin["customPluginState"] == "ACTIVE", plugin
    return plugin, distinct(p["customPluginState"] for p in seen)


def wait_connector(kc, arn, want: str, transient: tuple[str, ...]):
    """Polls DescribeConnector until the state is `want`; every other state seen must be in `transient`."""
    def settled(d):
        assert d["connectorState"] in (want, *transient), f"connector {arn} went {d['connectorState']}: {d}"
        return d["connectorState"] == want

    connector, seen = poll(lambda: strip(kc.describe_connector(connectorArn=arn)), settled, f"connector {arn} → {want}")
    return connector, distinct(d["connectorState"] for d in seen)


def wait_connector_gone(kc, arn):
    """Polls DescribeConnector until NotFoundException; the connector must be DELETING until then."""
    def fetch():
        try:
            return kc.describe_connector(connectorArn=arn)["connectorState"]
        except ClientError as e:
            assert e.response["Error"]["Code"] == "NotFoundException", e.response
            assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 404, e.response
            return None

    _, seen = poll(fetch, lambda state: state is None, f"deletion of connector {arn}")
    assert set(seen[:-1]) <= {"DELETING"}, seen


def wait_operation(kc, op_arn):
    """Polls DescribeConnectorOperation until the operation has an endTime.

    Returns the final operation and every response seen. Checks on the way that the
    state never goes backwards, that the steps keep their order and never go back,
    and that at most one step is IN_PROGRESS at a time.
    """
    op, seen = poll(
        lambda: strip(kc.describe_connector_operation(connectorOperationArn=op_arn)),
        lambda o: "endTime" in o,
        f"connector operation {op_arn}",
    )
    ranks = [OPERATION_STATE_RANK[o["connectorOperationState"]] for o in seen]
    assert ranks == sorted(ranks), f"operation state went backwards: {[o['connectorOperationState'] for o in seen]}"
    for earlier, later in zip(seen, seen[1:]):
        before = earlier.get("operationSteps") or []
        after = later.get("operationSteps") or []
        assert [s["stepType"] for s in before] == [s["stepType"] for s in after], (before, after)
        for b, a in zip(before, after):
            assert STEP_STATE_RANK[b["stepState"]] <= STEP_STATE_RANK[a["stepState"]], f"step went back: {b} → {a}"
    for o in seen:
        assert sum(s["stepState"] == "IN_PROGRESS" for s in o.get("operationSteps") or []) <= 1, o
        assert o["connectorOperationArn"] == op_arn
        assert isinstance(o["creationTime"], datetime)
    assert op["endTime"] >= op["creationTime"], op
    return op, seen


def steps(op) -> list[tuple[str, str]]:
    return [(s["stepType"], s["stepState"]) for s in op.get("operationSteps") or []]


def connector_request(name: str, plugin_arn: str, **overrides) -> dict:
    """A complete CreateConnector request: one 1-MCU worker, `tasks.max` 1."""
    request = {
        "connectorName": name,
        "connectorDescription": "orders database change data capture",
        "capacity": {"provisionedCapacity": {"mcuCount": 1, "workerCount": 1}},
        "connectorConfiguration": {
            "connector.class": CONNECTOR_CLASS,
            "tasks.max": "1",
            "database.hostname": "orders-db.internal",
            "topic.prefix": "orders",
        },
        "kafkaCluster": {
            "apacheKafkaCluster": {
                "bootstrapServers": "b-1.orders.kafka.us-east-1.amazonaws.com:9092,b-2.orders.kafka.us-east-1.amazonaws.com:9092",
                "vpc": {"subnets": ["subnet-0a1b2c3d", "subnet-4e5f6a7b"], "securityGroups": ["sg-0123abcd"]},
            }
        },
        "kafkaClusterClientAuthentication": {"authenticationType": "NONE"},
        "kafkaClusterEncryptionInTransit": {"encryptionType": "PLAINTEXT"},
        "kafkaConnectVersion": "2.7.1",
        "serviceExecutionRoleArn": ROLE_ARN,
        "plugins": [{"customPlugin": {"customPluginArn": plugin_arn, "revision": 1}}],
    }
    request.update(overrides)
    return request


def config_with(base: dict, **changes) -> dict:
    """A copy of a connector configuration with some keys changed (`tasks_max` → `tasks.max`)."""
    return base | {k.replace("_", "."): v for k, v in changes.items()}


def unknown_arn(arn: str) -> str:
    """The same ARN with another (well-formed) id: parses, names nothing."""
    return arn[: arn.rfind("/")] + "/00000000-0000-4000-8000-000000000000-2"


def create_active_plugin(kc, name: str) -> str:
    arn = kc.create_custom_plugin(
        name=name,
        contentType="ZIP",
        location={"s3Location": {"bucketArn": BUCKET_ARN, "fileKey": FILE_KEY}},
    )["customPluginArn"]
    wait_plugin_active(kc, arn)
    return arn


# --------------------------------------------------------------------------- the connector story


class TestConnectorStory:
    """boto3: a Debezium connector from its plugin to its deletion."""

    def test_01_create_a_custom_plugin(self, kc, story):
        name = unique("debezium-postgres")
        resp = kc.create_custom_plugin(
            name=name,
            description="Debezium PostgreSQL connector 2.5",
            contentType="ZIP",
            location={"s3Location": {"bucketArn": BUCKET_ARN, "fileKey": FILE_KEY}},
            tags={"team": "data"},
        )
        arn = resp["customPluginArn"]
        assert re.fullmatch(rf"{PREFIX}:custom-plugin/{name}/{RESOURCE_ID}", arn), arn
        assert resp["name"] == name
        assert resp["revision"] == 1
        assert resp["customPluginState"] == "CREATING"
        story.update(plugin_name=name, plugin_arn=arn)

    def test_02_the_plugin_becomes_active(self, kc, story):
        name, arn = story.need("plugin_name", "plugin_arn")
        plugin, seen = wait_plugin_active(kc, arn)
        assert seen[-1] == "ACTIVE" and set(seen) <= {"CREATING", "ACTIVE"}, seen
        assert plugin["customPluginArn"] == arn
        assert plugin["name"] == name
        assert plugin["description"] == "Debezium PostgreSQL connector 2.5"
        assert isinstance(plugin["creationTime"], datetime)
        rev = plugin["latestRevision"]
        assert rev["revision"] == 1
        assert rev["contentType"] == "ZIP"
        assert rev["location"]["s3Location"]["bucketArn"] == BUCKET_ARN
        assert rev["location"]["s3Location"]["fileKey"] == FILE_KEY
        assert re.fullmatch(r"[0-9a-f]{32}", rev["fileDescription"]["fileMd5"]), rev
        assert rev["fileDescription"]["fileSize"] > 0

        listed = kc.list_custom_plugins(namePrefix=name)
        assert [p["customPluginArn"] for p in listed["customPlugins"]] == [arn]
        assert listed["customPlugins"][0]["customPluginState"] == "ACTIVE"
        assert listed["customPlugins"][0]["latestRevision"]["revision"] == 1
        assert "nextToken" not in listed
        story["plugin_active"] = True

    def test_03_create_a_worker_configuration(self, kc, story):
        name = unique("string-keys")
        resp = kc.create_worker_configuration(
            name=name, description="plain string keys", propertiesFileContent=PROPERTIES_B64
        )
        arn = resp["workerConfigurationArn"]
        assert re.fullmatch(rf"{PREFIX}:worker-configuration/{name}/{RESOURCE_ID}", arn), arn
        assert resp["name"] == name
        # Worker configurations are ACTIVE at once: there is no CREATING state.
        assert resp["workerConfigurationState"] == "ACTIVE"
        assert resp["latestRevision"]["revision"] == 1
        assert resp["latestRevision"]["description"] == "plain string keys"
        assert isinstance(resp["creationTime"], datetime)

        got = kc.describe_worker_configuration(workerConfigurationArn=arn)
        assert got["workerConfigurationArn"] == arn
        assert got["name"] == name
        assert got["workerConfigurationState"] == "ACTIVE"
        # The properties come back exactly as sent: base64 of the properties file.
        assert got["latestRevision"]["propertiesFileContent"] == PROPERTIES_B64
        assert base64.b64decode(got["latestRevision"]["propertiesFileContent"]).decode() == PROPERTIES

        listed = kc.list_worker_configurations(namePrefix=name)["workerConfigurations"]
        assert [w["workerConfigurationArn"] for w in listed] == [arn]
        assert "propertiesFileContent" not in listed[0]["latestRevision"]
        story.update(wc_name=name, wc_arn=arn)

    def test_04_create_the_connector(self, kc, story):
        plugin_arn, wc_arn, _ = story.need("plugin_arn", "wc_arn", "plugin_active")
        name = unique("orders-cdc")
        request = connector_request(
            name,
            plugin_arn,
            workerConfiguration={"workerConfigurationArn": wc_arn, "revision": 1},
            tags={"env": "dev", "team": "data"},
        )
        resp = kc.create_connector(**request)
        arn = resp["connectorArn"]
        assert re.fullmatch(rf"{PREFIX}:connector/{name}/{RESOURCE_ID}", arn), arn
        assert resp["connectorName"] == name
        assert resp["connectorState"] == "CREATING"
        story.update(name=name, arn=arn, request=request)

    def test_05_the_connector_runs(self, kc, story):
        arn, name, request = story.need("arn", "name", "request")
        d, seen = wait_connector(kc, arn, "RUNNING", transient=("CREATING",))
        assert seen[-1] == "RUNNING", seen
        assert d["connectorArn"] == arn
        assert d["connectorName"] == name
        assert d["connectorDescription"] == request["connectorDescription"]
        assert d["capacity"] == {"provisionedCapacity": {"mcuCount": 1, "workerCount": 1}}
        assert d["connectorConfiguration"] == request["connectorConfiguration"]
        assert d["kafkaCluster"] == request["kafkaCluster"]
        assert d["kafkaClusterClientAuthentication"] == {"authenticationType": "NONE"}
        assert d["kafkaClusterEncryptionInTransit"] == {"encryptionType": "PLAINTEXT"}
        assert d["kafkaConnectVersion"] == "2.7.1"
        assert d["serviceExecutionRoleArn"] == ROLE_ARN
        assert d["plugins"] == request["plugins"]
        assert d["workerConfiguration"] == request["workerConfiguration"]
        assert d["networkType"] == "IPV4"  # the default
        assert "logDelivery" not in d  # omitted when not supplied
        assert isinstance(d["creationTime"], datetime)
        assert isinstance(d["currentVersion"], str) and d["currentVersion"], d

        # Creating a connector is not a connector operation.
        assert kc.list_connector_operations(connectorArn=arn)["connectorOperations"] == []

        listed = kc.list_connectors(connectorNamePrefix=name)
        assert [c["connectorArn"] for c in listed["connectors"]] == [arn]
        summary = listed["connectors"][0]
        assert summary["connectorState"] == "RUNNING"
        assert summary["currentVersion"] == d["currentVersion"]
        assert summary["plugins"] == request["plugins"]
        assert "connectorConfiguration" not in summary  # not part of ConnectorSummary
        story.update(v1=d["currentVersion"], config1=d["connectorConfiguration"])

    def test_06_update_the_connector_configuration(self, kc, story):
        arn, name, v1, config1 = story.need("arn", "name", "v1", "config1")
        config2 = config_with(config1, tasks_max="2")
        resp = kc.update_connector(connectorArn=arn, currentVersion=v1, connectorConfiguration=config2)
        assert resp["connectorArn"] == arn
        assert resp["connectorState"] == "UPDATING"
        op_arn = resp["connectorOperationArn"]
        connector_id = arn.rsplit("/", 1)[1]
        assert re.fullmatch(rf"{PREFIX}:connector-operation/{name}/{connector_id}/{OPERATION_ID}", op_arn), op_arn

        # Accepted: the connector is UPDATING on its old configuration, with a new currentVersion.
        during = kc.describe_connector(connectorArn=arn)
        assert during["connectorState"] == "UPDATING"
        assert during["connectorConfiguration"] == config1, "settings apply only at UPDATE_COMPLETE"
        assert during["currentVersion"] != v1, "an accepted update issues a new currentVersion"
        story.update(config2=config2, op1=op_arn)

    def test_07_watch_the_update_operation_step_by_step(self, kc, story):
        arn, op_arn, config1, config2 = story.need("arn", "op1", "config1", "config2")
        op, seen = wait_operation(kc, op_arn)
        states = distinct(o["connectorOperationState"] for o in seen)
        assert states[-1] == "UPDATE_COMPLETE", states
        assert set(states) <= {"PENDING", "UPDATE_IN_PROGRESS", "UPDATE_COMPLETE"}, states
        assert "UPDATE_IN_PROGRESS" in states, f"an update of ~2 s should be seen in progress: {states}"
        # Step by step: INITIALIZE_UPDATE → UPDATE_CONNECTOR_CONFIGURATION → VALIDATE_UPDATE → FINALIZE_UPDATE.
        in_progress = distinct(t for o in seen for t, s in steps(o) if s == "IN_PROGRESS")
        assert set(in_progress) <= set(UPDATE_STEPS["UPDATE_CONNECTOR_CONFIGURATION"]), in_progress
        assert in_progress == sorted(in_progress, key=UPDATE_STEPS["UPDATE_CONNECTOR_CONFIGURATION"].index), in_progress

        assert op["connectorArn"] == arn
        assert op["connectorOperationType"] == "UPDATE_CONNECTOR_CONFIGURATION"
        assert steps(op) == [(t, "COMPLETED") for t in UPDATE_STEPS["UPDATE_CONNECTOR_CONFIGURATION"]]
        assert op["originConnectorConfiguration"] == config1
        assert op["targetConnectorConfiguration"] == config2
        assert "originWorkerSetting" not in op and "targetWorkerSetting" not in op
        assert "errorInfo" not in op
        story["op1_done"] = True

    def test_08_the_connector_runs_the_new_configuration(self, kc, story):
        arn, v1, config2, _ = story.need("arn", "v1", "config2", "op1_done")
        d, _ = wait_connector(kc, arn, "RUNNING", transient=("UPDATING",))
        assert d["connectorConfiguration"] == config2
        assert d["connectorConfiguration"]["tasks.max"] == "2"
        assert d["currentVersion"] != v1
        assert d["capacity"] == {"provisionedCapacity": {"mcuCount": 1, "workerCount": 1}}
        story["v2"] = d["currentVersion"]

    def test_09_switch_to_auto_scaling(self, kc, story):
        arn, v2, wc_arn, plugin_arn, config2 = story.need("arn", "v2", "wc_arn", "plugin_arn", "config2")
        auto = {
            "mcuCount": 1,
            "minWorkerCount": 1,
            "maxWorkerCount": 2,
            "scaleInPolicy": {"cpuUtilizationPercentage": 20},
            "scaleOutPolicy": {"cpuUtilizationPercentage": 80},
        }
        resp = kc.update_connector(connectorArn=arn, currentVersion=v2, capacity={"autoScaling": auto})
        assert resp["connectorState"] == "UPDATING"
        op, seen = wait_operation(kc, resp["connectorOperationArn"])
        assert op["connectorOperationState"] == "UPDATE_COMPLETE", op
        assert op["connectorOperationType"] == "UPDATE_WORKER_SETTING"
        assert steps(op) == [(t, "COMPLETED") for t in UPDATE_STEPS["UPDATE_WORKER_SETTING"]]
        assert "originConnectorConfiguration" not in op and "targetConnectorConfiguration" not in op

        origin, target = op["originWorkerSetting"], op["targetWorkerSetting"]
        assert origin["capacity"] == {"provisionedCapacity": {"mcuCount": 1, "workerCount": 1}}
        for key, value in auto.items():
            assert target["capacity"]["autoScaling"][key] == value, target
        assert "provisionedCapacity" not in target["capacity"]
        # Unchanged parts of the worker setting are copied from the origin.
        plugins = [{"customPlugin": {"customPluginArn": plugin_arn, "revision": 1}}]
        assert origin["plugins"] == plugins and target["plugins"] == plugins
        wc = {"workerConfigurationArn": wc_arn, "revision": 1}
        assert origin["workerConfiguration"] == wc and target["workerConfiguration"] == wc

        d, _ = wait_connector(kc, arn, "RUNNING", transient=("UPDATING",))
        assert "provisionedCapacity" not in d["capacity"]
        for key, value in auto.items():
            assert d["capacity"]["autoScaling"][key] == value, d["capacity"]
        assert d["connectorConfiguration"] == config2, "a worker-setting update leaves the configuration alone"
        assert d["currentVersion"] != v2
        story.update(v3=d["currentVersion"], op2=resp["connectorOperationArn"], auto=auto)

    def test_10_a_configuration_that_fails_validation_is_rolled_back(self, kc, story):
        arn, v3, config2, auto = story.need("arn", "v3", "config2", "auto")
        broken = config_with(config2, tasks_max="zero")
        # The request itself is fine; Kafka Connect rejects the configuration during VALIDATE_UPDATE.
        resp = kc.update_connector(connectorArn=arn, currentVersion=v3, connectorConfiguration=broken)
        assert resp["connectorState"] == "UPDATING"
        op, seen = wait_operation(kc, resp["connectorOperationArn"])
        states = distinct(o["connectorOperationState"] for o in seen)
        assert op["connectorOperationState"] == "ROLLBACK_COMPLETE", states
        assert set(states) <= {
            "PENDING", "UPDATE_IN_PROGRESS", "UPDATE_FAILED", "ROLLBACK_IN_PROGRESS", "ROLLBACK_COMPLETE"
        }, states
        assert op["connectorOperationType"] == "UPDATE_CONNECTOR_CONFIGURATION"
        assert steps(op) == [
            ("INITIALIZE_UPDATE", "COMPLETED"),
            ("UPDATE_CONNECTOR_CONFIGURATION", "COMPLETED"),
            ("VALIDATE_UPDATE", "FAILED"),
            ("FINALIZE_UPDATE", "CANCELLED"),
        ]
        assert op["errorInfo"]["code"] and op["errorInfo"]["message"], op.get("errorInfo")
        assert op["originConnectorConfiguration"] == config2
        assert op["targetConnectorConfiguration"] == broken

        # Back to RUNNING on the previous configuration and capacity.
        d, _ = wait_connector(kc, arn, "RUNNING", transient=("UPDATING",))
        assert d["connectorConfiguration"] == config2
        assert d["connectorConfiguration"]["tasks.max"] == "2"
        for key, value in auto.items():
            assert d["capacity"]["autoScaling"][key] == value, d["capacity"]
        story.update(op3=resp["connectorOperationArn"], v4=d["currentVersion"])

    def test_11_a_stale_current_version_is_refused(self, kc, story):
        arn, v1, config2, v4 = story.need("arn", "v1", "config2", "v4")
        before = kc.list_connector_operations(connectorArn=arn)["connectorOperations"]
        with expect_error("BadRequestException", 400):
            kc.update_connector(
                connectorArn=arn, currentVersion=v1, connectorConfiguration=config_with(config2, tasks_max="4")
            )
        # Nothing changed: no operation, same version, same configuration.
        d = kc.describe_connector(connectorArn=arn)
        assert d["connectorState"] == "RUNNING"
        assert d["currentVersion"] == v4
        assert d["connectorConfiguration"] == config2
        assert kc.list_connector_operations(connectorArn=arn)["connectorOperations"] == before

    def test_12_list_connector_operations_newest_first_page_by_page(self, kc, story):
        arn, op1, op2, op3 = story.need("arn", "op1", "op2", "op3")
        pages = list(
            kc.get_paginator("list_connector_operations").paginate(
                connectorArn=arn, PaginationConfig={"PageSize": 1}
            )
        )
        assert all(len(p["connectorOperations"]) == 1 for p in pages), pages
        assert all("nextToken" in p for p in pages[:-1]) and "nextToken" not in pages[-1]
        ops = [o for p in pages for o in p["connectorOperations"]]
        assert [o["connectorOperationArn"] for o in ops] == [op3, op2, op1]
        assert [(o["connectorOperationType"], o["connectorOperationState"]) for o in ops] == [
            ("UPDATE_CONNECTOR_CONFIGURATION", "ROLLBACK_COMPLETE"),
            ("UPDATE_WORKER_SETTING", "UPDATE_COMPLETE"),
            ("UPDATE_CONNECTOR_CONFIGURATION", "UPDATE_COMPLETE"),
        ]
        created = [o["creationTime"] for o in ops]
        assert created == sorted(created, reverse=True), created
        assert all(o["endTime"] >= o["creationTime"] for o in ops)

        # By hand: the first page of one holds a token that leads to the second.
        first = kc.list_connector_operations(connectorArn=arn, maxResults=1)
        assert [o["connectorOperationArn"] for o in first["connectorOperations"]] == [op3]
        second = kc.list_connector_operations(connectorArn=arn, maxResults=1, nextToken=first["nextToken"])
        assert [o["connectorOperationArn"] for o in second["connectorOperations"]] == [op2]
        # One page of everything has no token.
        everything = kc.list_connector_operations(connectorArn=arn)
        assert [o["connectorOperationArn"] for o in everything["connectorOperations"]] == [op3, op2, op1]
        assert "nextToken" not in everything

    def test_13_pause_and_resume(self, kc, story):
        arn, config2 = story.need("arn", "config2")
        paused = kc.pause_connector(connectorArn=arn)
        assert paused["connectorArn"] == arn
        op, _ = wait_operation(kc, paused["connectorOperationArn"])
        assert op["connectorOperationType"] == "PAUSE_CONNECTOR"
        assert op["connectorOperationState"] == "PAUSE_COMPLETE"
        assert not op.get("operationSteps"), "pause has no update steps"
        d, seen = wait_connector(kc, arn, "PAUSED", transient=("RUNNING", "PAUSING"))
        assert d["connectorConfiguration"] == config2, "pausing keeps the settings"

        # A PAUSED connector is only updated with skipHealthValidation.
        with expect_error("BadRequestException", 400):
            kc.update_connector(
                connectorArn=arn,
                currentVersion=d["currentVersion"],
                connectorConfiguration=config_with(config2, tasks_max="3"),
            )

        resumed = kc.resume_connector(connectorArn=arn)
        assert resumed["connectorArn"] == arn
        op, _ = wait_operation(kc, resumed["connectorOperationArn"])
        assert op["connectorOperationType"] == "RESUME_CONNECTOR"
        assert op["connectorOperationState"] == "RESUME_COMPLETE"
        wait_connector(kc, arn, "RUNNING", transient=("PAUSED", "RESUMING"))

        types = [o["connectorOperationType"] for o in kc.list_connector_operations(connectorArn=arn)["connectorOperations"]]
        assert types[:2] == ["RESUME_CONNECTOR", "PAUSE_CONNECTOR"], types
        story["resumed"] = True

    def test_14_tags(self, kc, story):
        arn, plugin_arn, wc_arn = story.need("arn", "plugin_arn", "wc_arn")
        assert kc.list_tags_for_resource(resourceArn=arn)["tags"] == {"env": "dev", "team": "data"}

        kc.tag_resource(resourceArn=arn, tags={"env": "prod", "owner": "payments"})
        assert kc.list_tags_for_resource(resourceArn=arn)["tags"] == {"env": "prod", "team": "data", "owner": "payments"}

        # Removing a key that is not there is not an error.
        kc.untag_resource(resourceArn=arn, tagKeys=["owner", "team", "absent"])
        assert kc.list_tags_for_resource(resourceArn=arn)["tags"] == {"env": "prod"}

        # Plugins and worker configurations carry tags too; none is an empty map.
        assert kc.list_tags_for_resource(resourceArn=plugin_arn)["tags"] == {"team": "data"}
        assert kc.list_tags_for_resource(resourceArn=wc_arn)["tags"] == {}
        # Tags are not part of Describe output.
        assert "tags" not in kc.describe_connector(connectorArn=arn)

    def test_15_errors(self, kc, story):
        arn, name, plugin_arn, op1 = story.need("arn", "name", "plugin_arn", "op1")
        # A well-formed ARN that names nothing: 404.
        with expect_error("NotFoundException", 404):
            kc.describe_connector(connectorArn=unknown_arn(arn))
        with expect_error("NotFoundException", 404):
            kc.list_connector_operations(connectorArn=unknown_arn(arn))
        with expect_error("NotFoundException", 404):
            kc.describe_connector_operation(connectorOperationArn=op1[: op1.rfind("/")] + "/ffffffff-7a8b-4e5f-9c0d-1b2a3c4d5e6f")
        with expect_error("NotFoundException", 404):
            kc.describe_custom_plugin(customPluginArn=unknown_arn(plugin_arn))
        with expect_error("NotFoundException", 404):
            kc.list_tags_for_resource(resourceArn=unknown_arn(arn))

        # Not an ARN at all: 400.
        with expect_error("BadRequestException", 400):
            kc.describe_connector(connectorArn="not-an-arn")
        with expect_error("BadRequestException", 400):
            kc.describe_connector_operation(connectorOperationArn="not-an-arn")

        # mcuCount must be 1, 2, 4 or 8: 400, and nothing is created.
        three = unique("three-mcu")
        with expect_error("BadRequestException", 400):
            kc.create_connector(
                **connector_request(three, plugin_arn, capacity={"provisionedCapacity": {"mcuCount": 3, "workerCount": 1}})
            )
        assert kc.list_connectors(connectorNamePrefix=three)["connectors"] == []

        # The name is taken: 409.
        with expect_error("ConflictException", 409):
            kc.create_connector(**connector_request(name, plugin_arn))
        assert len(kc.list_connectors(connectorNamePrefix=name)["connectors"]) == 1

    def test_20_delete_the_connector(self, kc, story):
        arn, op1 = story.need("arn", "op1")
        version = kc.describe_connector(connectorArn=arn)["currentVersion"]
        resp = kc.delete_connector(connectorArn=arn, currentVersion=version)
        assert resp["connectorArn"] == arn
        assert resp["connectorState"] == "DELETING"
        wait_connector_gone(kc, arn)

        with expect_error("NotFoundException", 404):
            kc.list_tags_for_resource(resourceArn=arn)
        with expect_error("NotFoundException", 404):
            kc.list_connector_operations(connectorArn=arn)
        # Operations go with their connector (kafkaconnect.md §2.8, recommended).
        with expect_error("NotFoundException", 404):
            kc.describe_connector_operation(connectorOperationArn=op1)
        story["connector_deleted"] = True

    def test_21_delete_the_worker_configuration_and_the_plugin(self, kc, story):
        plugin_arn, plugin_name, wc_arn, _ = story.need("plugin_arn", "plugin_name", "wc_arn", "connector_deleted")
        resp = kc.delete_worker_configuration(workerConfigurationArn=wc_arn)
        assert resp["workerConfigurationArn"] == wc_arn
        assert resp["workerConfigurationState"] == "DELETING"
        resp = kc.delete_custom_plugin(customPluginArn=plugin_arn)
        assert resp["customPluginArn"] == plugin_arn
        assert resp["customPluginState"] == "DELETING"

        def gone(describe, **kwargs):
            try:
                describe(**kwargs)
                return False
            except ClientError as e:
                assert e.response["Error"]["Code"] == "NotFoundException", e.response
                return True

        poll(lambda: gone(kc.describe_worker_configuration, workerConfigurationArn=wc_arn), bool, "worker configuration deletion")
        poll(lambda: gone(kc.describe_custom_plugin, customPluginArn=plugin_arn), bool, "custom plugin deletion")
        assert kc.list_custom_plugins(namePrefix=plugin_name)["customPlugins"] == []
        with expect_error("NotFoundException", 404):
            kc.list_tags_for_resource(resourceArn=plugin_arn)


# --------------------------------------------------------------------------- fault injection


class TestInjectedFailureStory:
    """boto3 + the admin API: an injected VALIDATE_UPDATE failure whose rollback fails."""

    def test_01_a_running_connector(self, kc, story):
        name = unique("faulty-cdc")
        plugin_arn = create_active_plugin(kc, unique("faulty-plugin"))
        request = connector_request(name, plugin_arn)
        arn = kc.create_connector(**request)["connectorArn"]
        d, _ = wait_connector(kc, arn, "RUNNING", transient=("CREATING",))
        story.update(arn=arn, plugin_arn=plugin_arn, version=d["currentVersion"], config=d["connectorConfiguration"])

    def test_02_an_injected_failure_ends_rollback_failed(self, kc, admin, story):
        arn, version, config = story.need("arn", "version", "config")
        rule = {
            "service": "kafkaconnect",
            "operationType": "UPDATE_CONNECTOR_CONFIGURATION",
            "step": "VALIDATE_UPDATE",
            "errorCode": "InjectedFailure",
            "errorMessage": "boom",
            "rollback": "failed",
            "count": 1,
            # Only this connector, so that a shared server's other users are not hit.
            "resource": arn,
        }
        assert admin.add_fault(rule)["id"]

        target = config_with(config, tasks_max="2")  # a configuration that would validate
        resp = kc.update_connector(connectorArn=arn, currentVersion=version, connectorConfiguration=target)
        op, seen = wait_operation(kc, resp["connectorOperationArn"])
        states = distinct(o["connectorOperationState"] for o in seen)
        assert op["connectorOperationState"] == "ROLLBACK_FAILED", states
        assert set(states) <= {"PENDING", "UPDATE_IN_PROGRESS", "UPDATE_FAILED", "ROLLBACK_IN_PROGRESS", "ROLLBACK_FAILED"}
        assert op["errorInfo"] == {"code": "InjectedFailure", "message": "boom"}
        assert steps(op) == [
            ("INITIALIZE_UPDATE", "COMPLETED"),
            ("UPDATE_CONNECTOR_CONFIGURATION", "COMPLETED"),
            ("VALIDATE_UPDATE", "FAILED"),
            ("FINALIZE_UPDATE", "CANCELLED"),
        ]
        # localplane leaves a connector whose rollback failed FAILED (the reference does not say).
        d, _ = wait_connector(kc, arn, "FAILED", transient=("UPDATING",))
        assert d["connectorConfiguration"]["tasks.max"] == "1", "the target configuration was never applied"

        # The rule was used up: no fault is left for this connector.
        status, body = admin.request("GET", "/_localplane/faults")
        assert status == 200
        assert all(f.get("resource") != arn for f in body["faults"]), body

    def test_03_clean_up(self, kc, story):
        arn, plugin_arn = story.need("arn", "plugin_arn")
        assert kc.delete_connector(connectorArn=arn)["connectorState"] == "DELETING"
        wait_connector_gone(kc, arn)
        assert kc.delete_custom_plugin(customPluginArn=plugin_arn)["customPluginState"] == "DELETING"


# --------------------------------------------------------------------------- AWS CLI


def cli_poll(aws_cli, args, done, what):
    result, _ = poll(lambda: aws_cli("kafkaconnect", *args), done, what)
    return result


def test_cli_worker_configuration_from_gnu_base64(aws_cli):
    """The README's `--properties-file-content "$(printf '…' | base64)"`: GNU base64 wraps at 76
    columns, and the line break inside is skipped as MIME decoders do."""
    text = "key.converter=org.apache.kafka.connect.storage.StringConverter\n"
    encoded = subprocess.run(["base64"], input=text.encode(), capture_output=True, check=True).stdout.decode()
    wrapped = encoded.rstrip("\n")  # what "$(…)" keeps
    assert "\n" in wrapped, wrapped
    wc = aws_cli(
        "kafkaconnect", "create-worker-configuration", "--name", unique("gnu-base64"),
        "--properties-file-content", wrapped,
    )
    assert wc["workerConfigurationState"] == "ACTIVE"
    got = aws_cli("kafkaconnect", "describe-worker-configuration", "--worker-configuration-arn", wc["workerConfigurationArn"])
    assert base64.b64decode(got["latestRevision"]["propertiesFileContent"]).decode() == text


def test_cli_readme_tour(aws_cli):
    """The tour with `aws kafkaconnect ...`: plugin, worker configuration, connector, an update, clean-up."""
    kc = lambda *args: aws_cli("kafkaconnect", *args)  # noqa: E731
    plugin_name, wc_name, name = unique("debezium"), unique("string-keys"), unique("tour-cdc")

    plugin = kc(
        "create-custom-plugin", "--name", plugin_name, "--content-type", "ZIP",
        "--location", f"s3Location={{bucketArn={BUCKET_ARN},fileKey={FILE_KEY}}}",
    )
    plugin_arn = plugin["customPluginArn"]
    assert re.fullmatch(rf"{PREFIX}:custom-plugin/{plugin_name}/{RESOURCE_ID}", plugin_arn), plugin
    assert plugin["customPluginState"] == "CREATING" and plugin["revision"] == 1
    active = cli_poll(
        aws_cli, ["describe-custom-plugin", "--custom-plugin-arn", plugin_arn],
        lambda p: p["customPluginState"] != "CREATING", "plugin creation",
    )
    assert active["customPluginState"] == "ACTIVE", active
    assert active["latestRevision"]["location"]["s3Location"] == {"bucketArn": BUCKET_ARN, "fileKey": FILE_KEY}

    wc = kc("create-worker-configuration", "--name", wc_name, "--properties-file-content", PROPERTIES_B64)
    assert wc["workerConfigurationState"] == "ACTIVE"
    wc_arn = wc["workerConfigurationArn"]
    got = kc("describe-worker-configuration", "--worker-configuration-arn", wc_arn)
    assert got["latestRevision"]["propertiesFileContent"] == PROPERTIES_B64

    request = connector_request(
        name, plugin_arn, workerConfiguration={"workerConfigurationArn": wc_arn, "revision": 1}
    )
    created = kc("create-connector", "--cli-input-json", aws_cli.write("connector.json", request))
    arn = created["connectorArn"]
    assert created["connectorState"] == "CREATING"
    assert re.fullmatch(rf"{PREFIX}:connector/{name}/{RESOURCE_ID}", arn), created
    d = cli_poll(
        aws_cli, ["describe-connector", "--connector-arn", arn],
        lambda c: c["connectorState"] != "CREATING", "connector creation",
    )
    assert d["connectorState"] == "RUNNING", d
    assert d["workerConfiguration"] == {"workerConfigurationArn": wc_arn, "revision": 1}

    first_version = d["currentVersion"]
    new_config = config_with(request["connectorConfiguration"], tasks_max="2")
    updated = kc(
        "update-connector", "--connector-arn", arn, "--current-version", first_version,
        "--connector-configuration", aws_cli.write("config.json", new_config),
    )
    assert updated["connectorState"] == "UPDATING"
    op_arn = updated["connectorOperationArn"]
    op = cli_poll(
        aws_cli, ["describe-connector-operation", "--connector-operation-arn", op_arn],
        lambda o: "endTime" in o, "the update",
    )
    assert op["connectorOperationState"] == "UPDATE_COMPLETE", op
    assert [(s["stepType"], s["stepState"]) for s in op["operationSteps"]] == [
        (t, "COMPLETED") for t in UPDATE_STEPS["UPDATE_CONNECTOR_CONFIGURATION"]
    ]
    # AWS CLI v1 prints restJson1 timestamps as they came over the wire (ISO 8601 strings).
    assert isinstance(op["creationTime"], str) and isinstance(op["endTime"], str), op
    d = cli_poll(
        aws_cli, ["describe-connector", "--connector-arn", arn],
        lambda c: c["connectorState"] != "UPDATING", "the connector after the update",
    )
    assert d["connectorState"] == "RUNNING"
    assert d["connectorConfiguration"]["tasks.max"] == "2"

    # The CLI follows nextToken by itself: pages of one still list the operation.
    listed = kc("list-connector-operations", "--connector-arn", arn, "--page-size", "1")
    assert [o["connectorOperationArn"] for o in listed["connectorOperations"]] == [op_arn]

    stale = aws_cli.error(
        "kafkaconnect", "update-connector", "--connector-arn", arn, "--current-version", first_version,
        "--connector-configuration", aws_cli.write("config3.json", config_with(new_config, tasks_max="3")),
    )
    assert "(BadRequestException)" in stale.stderr and "UpdateConnector" in stale.stderr, stale.stderr
    bad_arn = aws_cli.error("kafkaconnect", "describe-connector", "--connector-arn", "not-an-arn")
    assert "(BadRequestException)" in bad_arn.stderr, bad_arn.stderr
    missing = aws_cli.error("kafkaconnect", "describe-connector", "--connector-arn", unknown_arn(arn))
    assert "(NotFoundException)" in missing.stderr and "DescribeConnector" in missing.stderr, missing.stderr

    deleting = kc("delete-connector", "--connector-arn", arn, "--current-version", d["currentVersion"])
    assert deleting["connectorState"] == "DELETING"

    def connector_gone(_):
        result = aws_cli.run("kafkaconnect", "describe-connector", "--connector-arn", arn)
        if result.returncode == 0:
            assert result.json["connectorState"] == "DELETING", result.json
            return False
        assert "(NotFoundException)" in result.stderr, result.stderr
        return True

    poll(lambda: None, connector_gone, "connector deletion")
    assert kc("delete-worker-configuration", "--worker-configuration-arn", wc_arn)["workerConfigurationState"] == "DELETING"
    assert kc("delete-custom-plugin", "--custom-plugin-arn", plugin_arn)["customPluginState"] == "DELETING"
