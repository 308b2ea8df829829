"""The local stack's event path (devstack/event_path.py) carries concurrent uploads: events are
handed to the handler concurrently, as EventBridge invokes Lambda on AWS, and moto's Step
Functions interpreter, with its caches, runs the real state machine exactly as before."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from devstack.event_path import EmulatorSpeedups, EventDelivery
from tests.support.pipeline import REGION, Pipeline

EVENT = {"source": "aws.s3", "detail-type": "Object Created", "detail": {"object": {"key": "uploads/u/f a+b"}}}


@pytest.fixture
def queue() -> Iterator[tuple[Any, str]]:
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        url = sqs.create_queue(QueueName="events", Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
        yield sqs, url


def _deliver(sqs: Any, url: str, handler: Any, count: int, workers: int) -> list[dict[str, Any]]:
    for _ in range(count):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(EVENT))
    handled: list[dict[str, Any]] = []
    stopping = threading.Event()

    def record(event: dict[str, Any], context: Any) -> None:
        handler(event)
        handled.append(event)

    delivery = EventDelivery(sqs, url, record, stopping, workers=workers).start()
    deadline = time.monotonic() + 20
    while len(handled) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    delivery.stop()
    return handled


def test_events_are_handled_concurrently(queue: tuple[Any, str]) -> None:
    """Four uploads in flight at once: each handler waits until all four have started. A single
    delivery thread (the local stack before issue #14) breaks the barrier on the first event."""
    sqs, url = queue
    barrier = threading.Barrier(4, timeout=10)

    handled = _deliver(sqs, url, lambda event: barrier.wait(), count=4, workers=4)

    assert len(handled) == 4
    assert not barrier.broken
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)


def test_keys_reach_the_handler_url_encoded_as_s3_sends_them(queue: tuple[Any, str]) -> None:
    sqs, url = queue
    handled = _deliver(sqs, url, lambda event: None, count=1, workers=2)
    assert handled[0]["detail"]["object"]["key"] == "uploads/u/f+a%2Bb"


def test_a_failed_event_stays_queued_for_another_attempt(queue: tuple[Any, str]) -> None:
    sqs, url = queue

    def fail(event: dict[str, Any]) -> None:
        raise RuntimeError("the handler is down")

    assert _deliver(sqs, url, fail, count=1, workers=2) == []
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])
    assert attributes["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "1"  # not deleted


def test_the_real_state_machine_runs_unchanged_with_the_executor_caches(pipeline: Pipeline) -> None:
    """Two executions through the caches: the definition is parsed once, each service's client is
    built once, and both verdicts, tags and records are what they are without the caches."""
    from devstack.clamd import EICAR

    with EmulatorSpeedups() as speedups:
        clean_version, clean = pipeline.upload("uploads/user-1/clean", b"hello\n")
        infected_version, infected = pipeline.upload("uploads/user-1/eicar", EICAR)

    assert clean["status"] == infected["status"] == "SUCCEEDED"
    assert pipeline.tags("uploads/user-1/clean", clean_version)["scan-status"] == "CLEAN"
    assert pipeline.tags("uploads/user-1/eicar", infected_version)["scan-status"] == "INFECTED"
    assert pipeline.record_of("uploads/user-1/clean")["scanStatus"] == "CLEAN"
    assert pipeline.record_of("uploads/user-1/eicar")["scanStatus"] == "INFECTED"
    assert speedups.trees_parsed == 1
    assert speedups.clients_built <= 4  # s3, dynamodb, lambda, sns: once each
    assert not speedups.installed


# --- moto's DynamoDB expression caches (devstack/dynamodb_speedups.py) ---------------------------

MACHINE = Path(__file__).resolve().parents[2] / "statemachines" / "scan-object.asl.json"
KEY = {"ownerSub": {"S": "user-1"}, "fileId": {"S": "f-1"}}
RECORD_PENDING = next(  # the state machine's own expressions, as the emulator receives them
    state["Parameters"]
    for state in json.loads(MACHINE.read_text())["States"].values()
    if state.get("Resource") == "arn:aws:states:::dynamodb:updateItem"
)
RECORD_PENDING_VALUES = set(RECORD_PENDING["ExpressionAttributeValues"]) - {":infected", ":key"}  # its condition's


def S(value: str) -> dict[str, str]:  # DynamoDB's name for a string value
    return {"S": value}


# (update, condition, names, values): valid ones with values that differ, and each kind of error,
# some of them twice so that a cached pass or parse cannot excuse the second one.
REQUESTS: list[tuple[str, str | None, dict[str, str] | None, dict[str, Any]]] = [
    (
        "SET scanStatus = :s, versionId = :v",
        "attribute_exists(fileId)",
        None,
        {":s": {"S": "PENDING"}, ":v": {"S": "1"}},
    ),
    ("SET scanStatus = :s, versionId = :v", "attribute_exists(fileId)", None, {":s": {"S": "CLEAN"}, ":v": {"S": "2"}}),
    ("SET scanStatus = :s, seen = :v", "versionId = :v", None, {":s": {"S": "INFECTED"}, ":v": {"S": "1"}}),  # fails
    ("SET scanStatus = :s, seen = :v", "versionId = :v", None, {":s": {"S": "INFECTED"}, ":v": {"S": "2"}}),
    ("SET #a = :s REMOVE seen", None, {"#a": "note"}, {":s": {"S": "kept"}}),
    ("SET #a = :s REMOVE seen", None, {"#a": "ownerSub"}, {":s": {"S": "x"}}),  # a key attribute
    ("SET #a = :s REMOVE seen", None, {"#a": "ownerSub"}, {":s": {"S": "x"}}),
    ("SET note = :s, note = :s", None, None, {":s": {"S": "twice"}}),  # overlapping paths
    ("SET note = :s, note = :s", None, None, {":s": {"S": "twice"}}),
    ("SET a = :s SET b = :s", None, None, {":s": {"S": "x"}}),  # two SET clauses
    ("SET counter = counter + :one", None, None, {":one": {"N": "1"}}),  # no counter yet
    ("SET counter = if_not_exists(counter, :zero) + :one", None, None, {":zero": {"N": "0"}, ":one": {"N": "1"}}),
    ("SET counter = if_not_exists(counter, :zero) + :one", None, None, {":zero": {"N": "0"}, ":one": {"N": "1"}}),
    (
        "SET tags = list_append(if_not_exists(tags, :empty), :t)",
        None,
        None,
        {":empty": {"L": []}, ":t": {"L": [{"S": "a"}]}},
    ),
    (
        "SET tags = list_append(if_not_exists(tags, :empty), :t)",
        None,
        None,
        {":empty": {"L": []}, ":t": {"L": [{"S": "b"}]}},
    ),
    (
        "SET note = :s",
        "scanStatus IN (:a, :b) AND size(note) > :n",
        None,
        {":s": S("y"), ":a": S("CLEAN"), ":b": S("INFECTED"), ":n": {"N": "1"}},
    ),
    (
        "SET note = :s",
        "scanStatus IN (:a, :b) AND size(note) > :n",
        None,
        {":s": S("z"), ":a": S("CLEAN"), ":b": S("INFECTED"), ":n": {"N": "9"}},
    ),  # fails
    ("SET = :s", None, None, {":s": {"S": "x"}}),  # does not parse
    ("SET = :s", None, None, {":s": {"S": "x"}}),
    (RECORD_PENDING["UpdateExpression"], None, None, {k: S("v") for k in RECORD_PENDING_VALUES}),
]


def _table(dynamodb: Any) -> None:
    dynamodb.create_table(
        TableName="files",
        KeySchema=[{"AttributeName": "ownerSub", "KeyType": "HASH"}, {"AttributeName": "fileId", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "ownerSub", "AttributeType": "S"},
            {"AttributeName": "fileId", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.put_item(TableName="files", Item={**KEY, "objectKey": {"S": "uploads/user-1/f-1"}})


def _outcomes(requests: list[tuple[str, str | None, dict[str, str] | None, dict[str, Any]]]) -> list[Any]:
    """What each request does in a fresh emulator: the item after it, or the error it raised."""
    from botocore.exceptions import ClientError

    outcomes: list[Any] = []
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        _table(dynamodb)
        for update, condition, names, values in requests:
            arguments: dict[str, Any] = {"TableName": "files", "Key": KEY, "UpdateExpression": update}
            arguments.update({"ConditionExpression": condition} if condition else {})
            arguments.update({"ExpressionAttributeNames": names} if names else {})
            arguments.update({"ExpressionAttributeValues": values, "ReturnValues": "ALL_NEW"})
            try:
                outcomes.append(dynamodb.update_item(**arguments)["Attributes"])
            except ClientError as error:
                outcomes.append((error.response["Error"]["Code"], error.response["Error"]["Message"]))
    return outcomes


def test_the_expression_caches_change_no_outcome_errors_included() -> None:
    """The same requests, in order, without and with the caches: the same items and the same
    errors (a key attribute updated, overlapping paths, two SET clauses, a failed condition, an
    expression that does not parse), also when an expression repeats with other values or names."""
    from devstack.dynamodb_speedups import ExpressionCaches

    without = _outcomes(REQUESTS)
    with ExpressionCaches() as caches:
        cached = _outcomes(REQUESTS)

    assert cached == without
    errors = [outcome for outcome in without if isinstance(outcome, tuple)]
    assert len(errors) >= 8
    assert {code for code, _ in errors} == {"ValidationException", "ConditionalCheckFailedException"}
    distinct = {update for update, *_ in REQUESTS if update != "SET = :s"}
    assert caches.update_expressions.misses == len(distinct)  # each expression parsed once
    assert not caches.installed


def test_two_expressions_do_not_share_a_cached_tree() -> None:
    """Two expressions that differ only in an attribute name, and one differing only in spacing,
    are three entries; each request changes the attribute its own expression names."""
    from devstack.dynamodb_speedups import ExpressionCaches

    with ExpressionCaches() as caches, mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        _table(dynamodb)
        for update, value in (("SET alpha = :v", "1"), ("SET beta = :v", "2"), ("SET  alpha = :v", "3")):
            dynamodb.update_item(
                TableName="files", Key=KEY, UpdateExpression=update, ExpressionAttributeValues={":v": {"S": value}}
            )
        item = dynamodb.get_item(TableName="files", Key=KEY)["Item"]

    assert (item["alpha"], item["beta"]) == ({"S": "3"}, {"S": "2"})
    assert caches.update_expressions.misses == len(caches.update_expressions) == 3


def test_the_expression_caches_hold_under_concurrent_requests() -> None:
    """Sixteen threads update their own items through four shared expressions at once: every
    item ends with its own values (a tree shared between requests is never changed)."""
    from concurrent.futures import ThreadPoolExecutor

    from devstack.dynamodb_speedups import ExpressionCaches

    expressions = [f"SET scanStatus = :s, n{i} = if_not_exists(n{i}, :zero) + :one" for i in range(4)]
    with ExpressionCaches() as caches, mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        _table(dynamodb)

        def work(thread: int) -> None:
            key = {"ownerSub": S("user-1"), "fileId": S(f"f-{thread}")}
            for round_ in range(10):
                dynamodb.update_item(
                    TableName="files",
                    Key=key,
                    UpdateExpression=expressions[(thread + round_) % 4],
                    ConditionExpression="attribute_not_exists(scanStatus) OR scanStatus <> :final",
                    ExpressionAttributeValues={
                        ":s": {"S": f"t{thread}-r{round_}"},
                        ":zero": {"N": "0"},
                        ":one": {"N": "1"},
                        ":final": {"S": "INFECTED"},
                    },
                )

        with ThreadPoolExecutor(16) as pool:
            list(pool.map(work, range(16)))
        keys = {thread: {"ownerSub": {"S": "user-1"}, "fileId": {"S": f"f-{thread}"}} for thread in range(16)}
        items = {thread: dynamodb.get_item(TableName="files", Key=key)["Item"] for thread, key in keys.items()}

    for thread, item in items.items():
        assert item["scanStatus"] == {"S": f"t{thread}-r9"}
        assert sum(int(item[f"n{i}"]["N"]) for i in range(4)) == 10
    assert len(caches.update_expressions) == 4
    assert len(caches.condition_tokens) == 1


def test_the_real_state_machine_runs_unchanged_with_the_expression_caches(pipeline: Pipeline) -> None:
    """The state machine's updateItem tasks through both sets of caches: a clean, an infected and
    another clean upload get the verdicts, tags and records they get without the caches."""
    from devstack.clamd import EICAR
    from devstack.dynamodb_speedups import ExpressionCaches

    _, plain = pipeline.upload("uploads/user-1/plain", b"plain\n")
    with EmulatorSpeedups(), ExpressionCaches() as caches:
        clean_version, clean = pipeline.upload("uploads/user-1/clean", b"hello\n")
        infected_version, infected = pipeline.upload("uploads/user-1/eicar", EICAR)
        again_version, again = pipeline.upload("uploads/user-1/again", b"hello again\n")
        parsed = caches.update_expressions.misses

    assert plain["status"] == clean["status"] == infected["status"] == again["status"] == "SUCCEEDED"
    assert pipeline.tags("uploads/user-1/clean", clean_version)["scan-status"] == "CLEAN"
    assert pipeline.tags("uploads/user-1/again", again_version)["scan-status"] == "CLEAN"
    assert pipeline.tags("uploads/user-1/eicar", infected_version)["scan-status"] == "INFECTED"
    infected_record = pipeline.record_of("uploads/user-1/eicar")
    assert infected_record["scanStatus"] == "INFECTED" and infected_record["signature"]
    without, cached = pipeline.record_of("uploads/user-1/plain"), pipeline.record_of("uploads/user-1/again")
    assert cached["scanStatus"] == without["scanStatus"] == "CLEAN"
    assert set(cached) == set(without)  # the same attributes set and removed
    # RecordPending's expression and the one RecordVerdict and RecordInfected share: parsed once for
    # three uploads (the error path's third expression is not used here).
    assert parsed == 2
