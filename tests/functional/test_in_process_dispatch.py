"""The local stack's own requests reach moto in-process (devstack/in_process.py): the same answers,
errors included, as over moto's HTTP server, with no socket involved."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSPreparedRequest
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError
from moto import mock_aws
from moto.server import ThreadedMotoServer

from devstack.in_process import InProcessDispatch
from devstack.local import free_port

REGION = "ap-northeast-1"
KEY = "uploads/u-1/f 1+2/日本語.txt"
PASS_MACHINE = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})
CLEAN_TAG = {"Key": "scan-status", "Value": "CLEAN"}
QUEUE_URL = re.compile(r"^https?://[^/]+/(123456789012/.+)$")
CLEAN_IF_PENDING: dict[str, Any] = {
    "TableName": "files",
    "Key": {"pk": {"S": "f"}},
    "UpdateExpression": "SET #s = :clean",
    "ConditionExpression": "#s = :pending",
    "ExpressionAttributeNames": {"#s": "status"},
    "ExpressionAttributeValues": {":clean": {"S": "CLEAN"}, ":pending": {"S": "PENDING"}},
}
# Values that differ between any two runs, whatever the transport.
VOLATILE = {"VersionId", "RequestId", "MessageId", "ReceiptHandle", "HostId", "RetryAttempts", "HTTPHeaders"}


def _mask(value: Any) -> Any:
    if isinstance(value, datetime):
        return "<date>"
    if isinstance(value, dict):
        return {key: "<varies>" if key in VOLATILE else _mask(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_mask(item) for item in value]
    if isinstance(value, str) and QUEUE_URL.match(value):
        # A queue URL names the host the request was sent to: the emulator's over HTTP, SQS's own
        # (https://sqs.<region>.amazonaws.com/…, as on AWS) in-process. Either works as QueueUrl.
        return QUEUE_URL.sub(r"<queue host>/\1", value)
    return value


def _client(service: str, endpoint: str) -> Any:
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(retries={"total_max_attempts": 1}),
    )


def _script(endpoint: str) -> list[Any]:
    """What the stack's process asks of the emulator: buckets, tags, versions, records with
    conditions, the event queue, executions, alerts, rules. Each outcome is an answer or an error."""
    s3, ddb = _client("s3", endpoint), _client("dynamodb", endpoint)
    sqs, sfn = _client("sqs", endpoint), _client("stepfunctions", endpoint)
    sns, events = _client("sns", endpoint), _client("events", endpoint)
    steps: list[Callable[[], Any]] = [
        lambda: s3.create_bucket(Bucket="data", CreateBucketConfiguration={"LocationConstraint": REGION}),
        lambda: s3.put_bucket_versioning(Bucket="data", VersioningConfiguration={"Status": "Enabled"}),
        lambda: s3.put_object(Bucket="data", Key=KEY, Body=b"x" * 70_000, Tagging="scan-status=PENDING"),
        lambda: s3.put_object_tagging(Bucket="data", Key=KEY, Tagging={"TagSet": [CLEAN_TAG]}),
        lambda: s3.get_object_tagging(Bucket="data", Key=KEY),
        lambda: s3.head_object(Bucket="data", Key=KEY),
        lambda: s3.get_object(Bucket="data", Key=KEY, Range="bytes=69990-")["Body"].read(),
        lambda: len(s3.get_object(Bucket="data", Key=KEY)["Body"].read()),
        lambda: s3.get_object(Bucket="data", Key="uploads/missing"),
        lambda: s3.list_object_versions(Bucket="data", Prefix="uploads/"),
        lambda: s3.delete_object(Bucket="data", Key=KEY),
        lambda: s3.get_object(Bucket="nowhere", Key=KEY),
        lambda: ddb.create_table(
            TableName="files",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        ),
        lambda: ddb.put_item(TableName="files", Item={"pk": {"S": "f"}, "status": {"S": "PENDING"}}),
        lambda: ddb.update_item(**CLEAN_IF_PENDING, ReturnValues="ALL_NEW"),
        lambda: ddb.update_item(**CLEAN_IF_PENDING),  # no longer PENDING: the condition fails
        lambda: ddb.get_item(TableName="files", Key={"pk": {"S": "f"}}, ConsistentRead=True),
        lambda: sqs.create_queue(QueueName="events")["QueueUrl"],
        lambda: sqs.send_message(QueueUrl=sqs.get_queue_url(QueueName="events")["QueueUrl"], MessageBody="{}"),
        lambda: sqs.receive_message(QueueUrl=sqs.get_queue_url(QueueName="events")["QueueUrl"], WaitTimeSeconds=0),
        lambda: sqs.get_queue_url(QueueName="missing"),
        lambda: sfn.create_state_machine(
            name="scan", definition=PASS_MACHINE, roleArn="arn:aws:iam::123456789012:role/scan"
        )["stateMachineArn"],
        lambda: sfn.start_execution(
            stateMachineArn=f"arn:aws:states:{REGION}:123456789012:stateMachine:scan", name="one", input="{}"
        )["executionArn"],
        lambda: sfn.start_execution(
            stateMachineArn=f"arn:aws:states:{REGION}:123456789012:stateMachine:missing", name="two", input="{}"
        ),
        lambda: sns.create_topic(Name="alerts")["TopicArn"],
        lambda: events.put_rule(Name="created", EventPattern=json.dumps({"source": ["aws.s3"]}))["RuleArn"],
    ]
    outcomes = []
    for step in steps:
        try:
            outcomes.append(_mask(step()))
        except ClientError as error:
            outcomes.append(
                ("error", error.response["Error"]["Code"], error.response["ResponseMetadata"]["HTTPStatusCode"])
            )
    return outcomes


@pytest.fixture
def server() -> Iterator[str]:
    port = free_port()
    running = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    running.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        running.stop()


def test_in_process_answers_are_the_servers_answers_without_a_socket(server: str) -> None:
    with mock_aws():  # fresh backends, shared by the server and the in-process router
        over_http = _script(server)
    nothing_listens = f"http://127.0.0.1:{free_port()}"
    with mock_aws(), InProcessDispatch(nothing_listens) as dispatch:
        in_process = _script(nothing_listens)

    assert over_http[4]["TagSet"] == [CLEAN_TAG]  # the script did its work
    assert ("error", "ConditionalCheckFailedException", 400) in over_http
    assert in_process == over_http
    assert set(dispatch.routed) == {"s3", "dynamodb", "sqs", "states", "sns", "events"}


def test_requests_it_does_not_own_still_go_over_http() -> None:
    nothing_listens = f"http://127.0.0.1:{free_port()}"
    dispatch = InProcessDispatch(nothing_listens)
    signed = {"Authorization": "AWS4-HMAC-SHA256 Credential=local/20261202/ap-northeast-1/s3/aws4_request, X"}
    elsewhere = AWSPreparedRequest("GET", "http://127.0.0.1:1/data", signed, b"", False)
    unsigned = AWSPreparedRequest("POST", f"{nothing_listens}/", {"X-Amz-Target": "InitiateAuth"}, b"{}", False)
    with dispatch:
        assert dispatch(request=elsewhere) is None
        assert dispatch(request=unsigned) is None
        with pytest.raises(EndpointConnectionError):  # cognito's InitiateAuth is unsigned: HTTP
            _client("cognito-idp", nothing_listens).initiate_auth(
                ClientId="c", AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": "u", "PASSWORD": "p"}
            )
    assert not dispatch.routed


def test_after_uninstall_clients_use_http_again() -> None:
    nothing_listens = f"http://127.0.0.1:{free_port()}"
    with mock_aws():
        with InProcessDispatch(nothing_listens):
            s3 = _client("s3", nothing_listens)
            s3.list_buckets()
        with pytest.raises(EndpointConnectionError):
            s3.list_buckets()


def test_a_crash_inside_the_emulator_is_a_500_not_an_exception(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.s3.models import S3Backend

    def crash(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("a moto bug")

    nothing_listens = f"http://127.0.0.1:{free_port()}"
    with mock_aws(), InProcessDispatch(nothing_listens):
        s3 = _client("s3", nothing_listens)
        monkeypatch.setattr(S3Backend, "list_buckets", crash)
        with pytest.raises(ClientError) as raised:
            s3.list_buckets()
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
