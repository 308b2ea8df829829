"""Verdicts stay final under races (issue #13): one in-flight scan per version, and an INFECTED
record is never rewritten — not by an overlapping scan that ends in ERROR (on AWS the bucket
policy denies it the tags), nor by one that would say CLEAN."""

from __future__ import annotations

from typing import Any

from chalicelib.scanning.requests import ScanRequest, ScanStarter
from devstack.clamd import EICAR
from devstack.lambda_bridge import LambdaBridge
from tests.support.api import ADMIN, ALICE, Api, upload_via_presigned_post
from tests.support.pipeline import Pipeline

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
