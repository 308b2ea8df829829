"""The local stack's event path (devstack/event_path.py) carries concurrent uploads: events are
handed to the handler concurrently, as EventBridge invokes Lambda on AWS, and moto's Step
Functions interpreter, with its caches, runs the real state machine exactly as before."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
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
