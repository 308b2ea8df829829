"""X-Ray (issue #14): the recorder emits the domain steps' subsegments and the AWS calls, and the
upload handler's trace continues into the scan workflow. No daemon: a local emitter collects what
the recorder would send."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_xray_sdk.core import xray_recorder

from chalicelib import tracing
from chalicelib.files.repository import FilesRepo
from chalicelib.scanning.requests import ScanRequest, ScanStarter
from chalicelib.wiring import build_scanner
from devstack.clamd import EICAR, ClamdProcess
from devstack.resources import MainStack
from tests.support.pipeline import REGION, scanner_settings
from tests.support.samples import zipped


class LocalEmitter:
    """What the UDP emitter would send to the daemon, kept in memory."""

    def __init__(self) -> None:
        self.entities: list[dict[str, Any]] = []

    def send_entity(self, entity: Any) -> None:
        self.entities.append(entity.to_dict())

    def set_daemon_address(self, address: str | None) -> None:
        pass


def names(entities: list[dict[str, Any]]) -> list[str]:
    found: list[str] = []
    pending = list(entities)
    while pending:
        entity = pending.pop(0)
        found.append(entity["name"])
        pending.extend(entity.get("subsegments", []))
    return found


def find(entities: list[dict[str, Any]], name: str) -> dict[str, Any]:
    pending = list(entities)
    while pending:
        entity = pending.pop(0)
        if entity["name"] == name:
            return entity
        pending.extend(entity.get("subsegments", []))
    raise AssertionError(f"no subsegment {name!r} in {names(entities)}")


@pytest.fixture
def emitter() -> Iterator[LocalEmitter]:
    assert tracing.configure()
    emitter = LocalEmitter()
    previous = xray_recorder._emitter
    xray_recorder.configure(emitter=emitter, sampling=False)
    try:
        yield emitter
    finally:
        xray_recorder.configure(emitter=previous, sampling=True)


def test_a_scan_emits_its_domain_steps_and_its_aws_calls(
    emitter: LocalEmitter, aws: boto3.Session, stack: MainStack, clamd: ClamdProcess
) -> None:
    s3 = aws.client("s3", region_name=REGION)
    key = "uploads/user-1/file-1"
    version = s3.put_object(Bucket=stack.data_bucket, Key=key, Body=zipped("homework.txt", EICAR))["VersionId"]
    scanner = build_scanner(scanner_settings(clamd.address, str(clamd.database_dir)), s3)

    xray_recorder.begin_segment("scanner")
    result = scanner.scan(stack.data_bucket, key, version)
    xray_recorder.end_segment()

    assert result.verdict.value == "INFECTED"
    emitted = names(emitter.entities)
    for step in ("engine ready", "download and hash", "clamd INSTREAM", "archive accounting", "s3"):
        assert step in emitted, emitted
    scan = find(emitter.entities, "scan")
    assert scan["annotations"]["verdict"] == "INFECTED"
    download = find(emitter.entities, "download and hash")
    instream = find(emitter.entities, "clamd INSTREAM")
    # The download streams into clamd: it lies within INSTREAM, and so does the archive audit.
    assert instream["start_time"] <= download["start_time"] <= download["end_time"] <= instream["end_time"]
    assert download["metadata"]["default"]["bytes"] == result.bytes


def test_record_updates_are_subsegments(emitter: LocalEmitter, aws: boto3.Session, stack: MainStack) -> None:
    repo = FilesRepo(aws.resource("dynamodb", region_name=REGION).Table(stack.files_table))

    xray_recorder.begin_segment("api")
    repo.create({"ownerSub": "user-1", "fileId": "file-1", "objectKey": "uploads/user-1/file-1"})
    repo.mark_deleted("user-1", "file-1")
    xray_recorder.end_segment()

    record_updates = [entity for entity in names(emitter.entities) if entity == "record update"]
    assert len(record_updates) == 2
    assert "dynamodb" in names(emitter.entities)


def test_the_upload_handlers_trace_continues_into_the_execution(
    emitter: LocalEmitter, aws: boto3.Session, stack: MainStack
) -> None:
    sfn = aws.client("stepfunctions", region_name=REGION)
    sent: list[dict[str, Any]] = []
    sfn.meta.events.register("provide-client-params.states.StartExecution", lambda params, **_: sent.append(params))
    request = ScanRequest(stack.data_bucket, "uploads/user-1/file-1", "v1", "0" * 32, "file-1", "user-1")

    segment = xray_recorder.begin_segment("on_object_created")
    ScanStarter(sfn, stack.state_machine_arn).start(request)
    xray_recorder.end_segment()

    header = sent[0]["traceHeader"]
    assert header.startswith(f"Root={segment.trace_id};Parent=")
    assert header.endswith(";Sampled=1")


def test_outside_a_trace_the_steps_do_nothing() -> None:
    tracing.configure()
    with tracing.step("download and hash") as subsegment:
        assert subsegment is None
    tracing.span("download and hash", 0.0, 1.0)
    assert tracing.trace_header() is None
