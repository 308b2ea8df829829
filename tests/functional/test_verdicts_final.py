"""Verdicts stay final under races (issue #13): one in-flight scan per version, and an INFECTED
record is never rewritten — not by an overlapping scan that ends in ERROR (on AWS the bucket
policy denies it the tags), nor by one that would say CLEAN."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.functions.scanner import handle_scan
from chalicelib.scanning.requests import ScanRequest, ScanStarter
from chalicelib.wiring import build_scanner
from devstack.clamd import EICAR, ClamdProcess
from devstack.lambda_bridge import LambdaBridge
from tests.support.api import ADMIN, ALICE, Api, upload_via_presigned_post
from tests.support.pipeline import Pipeline, scanner_settings

ADMINS = {"user": ADMIN, "groups": ["admins"]}


def upload(api: Api, pipeline: Pipeline, content: bytes) -> tuple[str, str]:
    created = api.call("POST", "/files", body={"name": "a.txt", "size": len(content), "contentType": "text/plain"}).json
    assert upload_via_presigned_post(created, content).status_code in (200, 204)
    key = created["upload"]["fields"]["key"]
    version = pipeline.s3.list_object_versions(Bucket=pipeline.stack.data_bucket, Prefix=key)["Versions"][0]
    pipeline.wait(pipeline.deliver(key, version["VersionId"], len(content)))
    return created["file"]["id"], version["VersionId"]


def executions_of(pipeline: Pipeline, file_id: str) -> list[dict[str, Any]]:
    listed = pipeline.sfn.list_executions(stateMachineArn=pipeline.stack.state_machine_arn)["executions"]
    return [execution for execution in listed if execution["name"].startswith(f"{file_id}-")]


@pytest.fixture
def hold(pipeline: Pipeline, bridge: LambdaBridge, clamd: ClamdProcess) -> Iterator[Any]:
    """``hold()``: from now on the scanner waits for the returned event before it scans, so a
    scan stays in flight until the test releases it."""
    scanner = build_scanner(scanner_settings(clamd.address, str(clamd.database_dir)), pipeline.s3)
    release = threading.Event()

    def held(event: dict[str, Any], context: Any) -> Any:
        assert release.wait(60), "the test never released the scanner"
        return handle_scan(event, scanner)

    def install() -> threading.Event:
        bridge.register(pipeline.stack.scanner_function_arn, held)
        return release

    yield install
    release.set()


def test_a_second_rescan_of_a_version_in_flight_is_refused(api: Api, pipeline: Pipeline, hold: Any) -> None:
    file_id, _ = upload(api, pipeline, b"scan me twice, at once")
    release = hold()
    path = f"/admin/users/{ALICE}/files/{file_id}/rescan"
    first = api.call("POST", path, **ADMINS)
    assert first.status_code == 202, first.json
    second = api.call("POST", path, **ADMINS)
    assert (second.status_code, second.json["code"]) == (409, "rescan_in_progress")
    everything = api.call("POST", "/admin/rescans", body={"notScannedWith": "daily-1"}, **ADMINS)
    assert (everything.status_code, everything.json["started"]) == (202, 0)
    assert api.call("GET", f"/files/{file_id}").json["scanStatus"] == "PENDING"

    release.set()
    assert pipeline.wait(first.json["execution"])["status"] == "SUCCEEDED"
    assert len(executions_of(pipeline, file_id)) == 2  # the upload's and one rescan
    assert api.call("GET", f"/files/{file_id}").json["scanStatus"] == "CLEAN"
    again = api.call("POST", path, **ADMINS)
    assert again.status_code == 202, "once the scan is done, a rescan may start"
    pipeline.wait(again.json["execution"])


def overlapping_scan(pipeline: Pipeline, file_id: str, version: str, trigger: str) -> dict[str, Any]:
    """A second execution for a version already judged, as an overlapping rescan starts one."""
    record = pipeline.record(file_id, ALICE)
    request = ScanRequest.for_record(pipeline.stack.data_bucket, record, version, trigger, record["sequencer"])
    execution = ScanStarter(pipeline.sfn, pipeline.stack.state_machine_arn).start(request)
    assert execution is not None
    return pipeline.wait(execution)


def test_an_infected_record_is_not_rewritten_by_an_overlapping_scan_that_fails(
    api: Api, pipeline: Pipeline, bridge: LambdaBridge
) -> None:
    file_id, version = upload(api, pipeline, EICAR)
    before = pipeline.record(file_id, ALICE)
    assert before["scanStatus"] == "INFECTED"

    def denied(event: dict[str, Any], context: Any) -> Any:
        raise PermissionError("AccessDenied: the tags of an INFECTED version cannot change")

    bridge.register(pipeline.stack.scanner_function_arn, denied)
    assert overlapping_scan(pipeline, file_id, version, "overlap-error")["status"] == "FAILED"
    after = pipeline.record(file_id, ALICE)
    assert {name: after.get(name) for name in ("scanStatus", "signature", "scanExecution", "scannedAt")} == {
        name: before.get(name) for name in ("scanStatus", "signature", "scanExecution", "scannedAt")
    }
    assert "scanError" not in after


def test_an_infected_record_is_not_rewritten_by_an_overlapping_scan_that_says_clean(
    api: Api, pipeline: Pipeline, bridge: LambdaBridge
) -> None:
    file_id, version = upload(api, pipeline, EICAR)
    before = pipeline.record(file_id, ALICE)

    def clean(event: dict[str, Any], context: Any) -> Any:
        return {
            "verdict": "CLEAN",
            "signature": "",
            "engine": "ClamAV",
            "definitions": "daily-2",
            "sha256": "0" * 64,
            "bytes": len(EICAR),
            "seconds": 0.1,
            "reason": "",
        }

    bridge.register(pipeline.stack.scanner_function_arn, clean)
    overlapping_scan(pipeline, file_id, version, "overlap-clean")
    after = pipeline.record(file_id, ALICE)
    assert (after["scanStatus"], after["signature"], after["definitions"]) == (
        "INFECTED",
        before["signature"],
        before["definitions"],
    )
    assert api.call("GET", f"/files/{file_id}/download").status_code == 403
