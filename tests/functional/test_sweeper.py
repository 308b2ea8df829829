"""The sweeper finds uploads the event path missed and scans that died, and says so (R-MON-02)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from chalicelib.config import SweepSettings
from chalicelib.jobs import SCAN_GRACE, UPLOAD_GRACE, run_sweep
from devstack.clamd import EICAR
from devstack.resources import MainStack
from tests.functional.conftest import AlertInbox, Pipeline


def backdate(pipeline: Pipeline, key: str, **fields: str) -> None:
    owner, file_id = key.split("/")[1:3]
    names = {f"#{name}": name for name in fields}
    values = {f":{name}": value for name, value in fields.items()}
    pipeline.table.update_item(
        Key={"ownerSub": owner, "fileId": file_id},
        UpdateExpression="SET " + ", ".join(f"#{name} = :{name}" for name in fields),
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
    )


def ago(delta: timedelta) -> str:
    return (datetime.now(UTC) - delta).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def wait_all(pipeline: Pipeline) -> list[dict[str, Any]]:
    executions = pipeline.sfn.list_executions(stateMachineArn=pipeline.stack.state_machine_arn)["executions"]
    return [pipeline.wait(execution["executionArn"]) for execution in executions]


def test_a_lost_upload_event_is_found_scanned_and_reported(
    pipeline: Pipeline, stack: MainStack, alerts: AlertInbox, aws: boto3.Session
) -> None:
    lost, abandoned, fresh = "uploads/user-1/lost", "uploads/user-1/abandoned", "uploads/user-1/fresh"
    for key in (lost, abandoned, fresh):
        pipeline.register(key)
    backdate(pipeline, lost, createdAt=ago(UPLOAD_GRACE + timedelta(minutes=1)))
    backdate(pipeline, abandoned, createdAt=ago(UPLOAD_GRACE + timedelta(minutes=1)))
    version = pipeline.put(lost, EICAR)  # uploaded, but no event ever reached the handler
    pipeline.put(fresh, b"its event may still be on the way")

    settings = SweepSettings(stack.data_bucket, stack.files_table, stack.state_machine_arn, stack.alert_topic_arn)
    report = run_sweep(settings)
    assert report == {"unscanned": [f"{lost}@{version}"], "restarted": []}
    assert [execution["status"] for execution in wait_all(pipeline)] == ["SUCCEEDED"]
    assert pipeline.tags(lost, version)["scan-status"] == "INFECTED"
    assert pipeline.record_of(lost)["scanStatus"] == "INFECTED"
    assert pipeline.record_of(abandoned)["scanStatus"] == "PENDING_UPLOAD"
    subjects = [message["Subject"] for message in alerts.messages()]
    assert "Manabi Plus: uploads were waiting for a scan" in subjects

    assert run_sweep(settings) == {"unscanned": [], "restarted": []}


def test_a_scan_that_never_finished_is_restarted(pipeline: Pipeline, stack: MainStack) -> None:
    key = "uploads/user-1/stuck"
    version, _ = pipeline.upload(key, b"clean, but the record says PENDING")
    backdate(pipeline, key, scanStatus="PENDING", scanStartedAt=ago(SCAN_GRACE + timedelta(minutes=1)))

    settings = SweepSettings(stack.data_bucket, stack.files_table, stack.state_machine_arn, stack.alert_topic_arn)
    assert run_sweep(settings) == {"unscanned": [], "restarted": [f"{key}@{version}"]}
    wait_all(pipeline)
    assert pipeline.record_of(key)["scanStatus"] == "CLEAN"
