"""STS as boto3 and the AWS CLI call it: ``GetCallerIdentity`` (query protocol, XML) answers the
account of the access key; other actions are refused with ``InvalidAction``."""

from __future__ import annotations

import botocore.exceptions
import pytest

from conftest import ACCOUNT_ID, make_client


def test_boto3_get_caller_identity_answers_the_account_of_the_key(endpoint_url):
    me = make_client("sts", endpoint_url).get_caller_identity()
    assert me["Account"] == ACCOUNT_ID
    assert me["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:user/localplane"
    assert me["UserId"].startswith("AIDA") and len(me["UserId"]) == 21
    other = make_client("sts", endpoint_url, access_key="210987654321").get_caller_identity()
    assert other["Account"] == "210987654321"
    assert other["UserId"] != me["UserId"]


def test_boto3_other_actions_say_only_get_caller_identity_is_served(endpoint_url):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        make_client("sts", endpoint_url).get_session_token()
    assert e.value.response["Error"]["Code"] == "InvalidAction"
    assert e.value.response["Error"]["Message"] == (
        "localplane serves only GetCallerIdentity of AWS STS; GetSessionToken is not served"
    )
    meta = e.value.response["ResponseMetadata"]
    assert meta["HTTPStatusCode"] == 400
    assert meta["RequestId"] == meta["HTTPHeaders"]["x-amzn-requestid"]  # <RequestId> of the <ErrorResponse>


def test_aws_cli_get_caller_identity(aws_cli):
    me = aws_cli("sts", "get-caller-identity")
    assert me["Account"] == ACCOUNT_ID
    assert me["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:user/localplane"
