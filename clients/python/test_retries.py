"""Request faults: throttles and server errors injected by localplane, absorbed by boto3's retries."""

import boto3
import botocore.config
import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT_ID


def retrying_client(endpoint_url, service, attempts):
    return boto3.client(
        service,
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=ACCOUNT_ID,
        aws_secret_access_key="x",
        config=botocore.config.Config(
            inject_host_prefix=False, retries={"mode": "standard", "total_max_attempts": attempts}
        ),
    )


def test_throttled_get_operation_is_retried_until_it_succeeds(endpoint_url, servicediscovery, admin):
    op_id = servicediscovery.create_http_namespace(Name="retry-story")["OperationId"]
    admin.add_fault(
        {
            "service": "servicediscovery",
            "api": "GetOperation",
            "httpStatus": 429,
            "errorCode": "RequestLimitExceeded",
            "count": 2,
        }
    )
    client = retrying_client(endpoint_url, "servicediscovery", attempts=5)
    got = client.get_operation(OperationId=op_id)
    assert got["Operation"]["Id"] == op_id
    assert got["ResponseMetadata"]["RetryAttempts"] == 2, "two throttles, then success"
    status, listed = admin.request("GET", "/_localplane/faults")
    assert status == 200 and listed["faults"] == [], "the used-up rule is gone"


def test_server_error_without_retries_is_the_modelled_error(endpoint_url, admin):
    admin.add_fault(
        {
            "service": "kafkaconnect",
            "api": "ListConnectors",
            "httpStatus": 503,
            "errorCode": "ServiceUnavailableException",
            "count": 1,
        }
    )
    client = retrying_client(endpoint_url, "kafkaconnect", attempts=1)
    with pytest.raises(ClientError) as raised:
        client.list_connectors()
    assert raised.value.response["Error"]["Code"] == "ServiceUnavailableException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert "connectors" in client.list_connectors()
