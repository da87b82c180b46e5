"""Declarative seeding as boto3 sees it: the shipped ``examples/seed.yaml`` posted to a running
server (``POST /_localplane/seed``, what ``localplane seed`` sends) is there for boto3, in the
server's default account, and a second post changes nothing."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from conftest import REPO_ROOT, make_client

EXAMPLE = REPO_ROOT / "examples" / "seed.yaml"
# The example names no account: it lands in the server's default account.
DEFAULT_ACCOUNT = "000000000000"


def post_seed(endpoint_url: str, text: bytes) -> tuple[int, dict]:
    req = urllib.request.Request(f"{endpoint_url}/_localplane/seed", data=text, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_the_example_seed_file_is_what_boto3_reads(endpoint_url):
    status, body = post_seed(endpoint_url, EXAMPLE.read_bytes())
    assert status == 200, body
    assert {(o["kind"], o["name"]) for o in body["seeded"]} == {
        ("namespace", "demo"),
        ("service", "web"),
        ("instance", "web/web-1"),
        ("instance", "web/web-2"),
        ("custom plugin", "s3-sink"),
        ("worker configuration", "string-converters"),
        ("connector", "orders-to-s3"),
    }

    sd = make_client("servicediscovery", endpoint_url, access_key=DEFAULT_ACCOUNT)
    namespaces = sd.list_namespaces(Filters=[{"Name": "NAME", "Values": ["demo"], "Condition": "EQ"}])["Namespaces"]
    assert [(n["Name"], n["Type"]) for n in namespaces] == [("demo", "HTTP")]
    services = sd.list_services(
        Filters=[{"Name": "NAMESPACE_ID", "Values": [namespaces[0]["Id"]], "Condition": "EQ"}]
    )["Services"]
    assert [s["Name"] for s in services] == ["web"]
    found = sd.discover_instances(NamespaceName="demo", ServiceName="web")["Instances"]
    assert sorted((i["InstanceId"], i["Attributes"]["AWS_INSTANCE_IPV4"]) for i in found) == [
        ("web-1", "10.0.0.11"),
        ("web-2", "10.0.0.12"),
    ]

    kc = make_client("kafkaconnect", endpoint_url, access_key=DEFAULT_ACCOUNT)
    plugin = next(p for p in kc.list_custom_plugins()["customPlugins"] if p["name"] == "s3-sink")
    assert plugin["customPluginState"] == "ACTIVE"
    connector = next(c for c in kc.list_connectors()["connectors"] if c["connectorName"] == "orders-to-s3")
    described = kc.describe_connector(connectorArn=connector["connectorArn"])
    assert described["connectorState"] == "RUNNING"
    assert described["plugins"][0]["customPlugin"]["customPluginArn"] == plugin["customPluginArn"]
    assert described["connectorConfiguration"]["topics"] == "orders"

    operations = sd.list_operations()["Operations"]
    status, again = post_seed(endpoint_url, EXAMPLE.read_bytes())
    assert status == 200, again
    assert [o for o in again["seeded"] if o["created"]] == []
    assert sd.list_operations()["Operations"] == operations


def test_a_bad_seed_file_names_its_line(endpoint_url):
    status, body = post_seed(endpoint_url, b"namespaces:\n  - Name: x\nbuckets: []\n")
    assert status == 400
    assert body["line"] == 3
    assert body["message"].startswith("line 3: unknown section 'buckets'"), body
