"""The sweeper finds uploads the event path missed and scans that died, and says so (R-MON-02)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from chalicelib.config import SweepSettings
from chalicelib.functions.schedules import SCAN_GRACE, UPLOAD_GRACE, sweep_stuck_uploads
from devstack.clamd import EICAR
from devstack.resources import MainStack
from tests.support.pipeline import AlertInbox, Pipeline
from tests.support.schedules import run_scheduled


def run_sweep(settings: SweepSettings) -> dict[str, Any]:
    """The sweeper as EventBridge runs it, with only its own function's environment."""
    environment = {
        "DATA_BUCKET": settings.data_bucket,
        "FILES_TABLE": settings.files_table,
        "SCAN_STATE_MACHINE_ARN": settings.state_machine_arn,
        "ALERT_TOPIC_ARN": settings.alert_topic_arn,
    }
    return run_scheduled(sweep_stuck_uploads, environment)  # type: ignore[no-any-return]


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
    assert report == {"unscanned": [f"{lost}@{version}"], "restarted": [], "retried": [], "gaveUp": []}
    assert [execution["status"] for execution in wait_all(pipeline)] == ["SUCCEEDED"]
    assert pipeline.tags(lost, version)["scan-status"] == "INFECTED"
    assert pipeline.record_of(lost)["scanStatus"] == "INFECTED"
    assert pipeline.record_of(abandoned)["scanStatus"] == "PENDING_UPLOAD"
    subjects = [message["Subject"] for message in alerts.messages()]
    assert "Manabi Plus: uploads were waiting for a scan" in subjects

    assert run_sweep(settings) == {"unscanned": [], "restarted": [], "retried": [], "gaveUp": []}


def test_a_scan_that_never_finished_is_restarted(pipeline: Pipeline, stack: MainStack) -> None:
    key = "uploads/user-1/stuck"
    version, _ = pipeline.upload(key, b"clean, but the record says PENDING")
    backdate(pipeline, key, scanStatus="PENDING", scanStartedAt=ago(SCAN_GRACE + timedelta(minutes=1)))

    settings = SweepSettings(stack.data_bucket, stack.files_table, stack.state_machine_arn, stack.alert_topic_arn)
    assert run_sweep(settings)["restarted"] == [f"{key}@{version}"]
    wait_all(pipeline)
    assert pipeline.record_of(key)["scanStatus"] == "CLEAN"


def attempts_so_far(pipeline: Pipeline, key: str, attempts: int) -> None:
    owner, file_id = key.split("/")[1:3]
    pipeline.table.update_item(
        Key={"ownerSub": owner, "fileId": file_id},
        UpdateExpression="SET autoRescans = :attempts",
        ExpressionAttributeValues={":attempts": attempts},
    )


def sweep_settings(stack: MainStack) -> SweepSettings:
    return SweepSettings(stack.data_bucket, stack.files_table, stack.state_machine_arn, stack.alert_topic_arn)


def test_a_transient_error_is_rescanned_with_back_off_until_it_heals(
    pipeline: Pipeline, stack: MainStack, alerts: AlertInbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTO_RESCAN_FIRST_DELAY_SECONDS", "600")
    key = "uploads/user-1/flaky"
    version, _ = pipeline.upload(key, b"clean, but clamd was restarting when it was scanned")
    backdate(
        pipeline, key, scanStatus="ERROR", scanErrorType="ClamdUnavailableError", scannedAt=ago(timedelta(minutes=5))
    )
    assert run_sweep(sweep_settings(stack))["retried"] == [], "not before the first delay has passed"

    backdate(pipeline, key, scannedAt=ago(timedelta(minutes=11)))
    assert run_sweep(sweep_settings(stack))["retried"] == [f"{key}@{version}"]
    assert run_sweep(sweep_settings(stack))["retried"] == [], "one rescan per attempt"
    wait_all(pipeline)
    record = pipeline.record_of(key)
    assert record["scanStatus"] == "CLEAN"
    assert "autoRescans" not in record and "scanErrorType" not in record
    assert alerts.messages() == []


def test_the_second_attempt_waits_twice_as_long_and_the_last_one_alerts(
    pipeline: Pipeline, stack: MainStack, alerts: AlertInbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTO_RESCAN_ATTEMPTS", "2")
    key = "uploads/user-1/broken-engine"
    version, _ = pipeline.upload(key, b"the engine check kept failing")
    error = {"scanStatus": "ERROR", "scanErrorType": "ScannerRefused", "scanError": "ScannerRefused: engine check"}
    backdate(pipeline, key, **error, scannedAt=ago(timedelta(minutes=15)))
    attempts_so_far(pipeline, key, 1)
    assert run_sweep(sweep_settings(stack))["retried"] == [], "attempt 2 waits 2 × 10 minutes"
    backdate(pipeline, key, scannedAt=ago(timedelta(minutes=21)))
    assert run_sweep(sweep_settings(stack))["retried"] == [f"{key}@{version}"]
    wait_all(pipeline)

    # The second rescan failed too (the engine is still broken).
    backdate(pipeline, key, **error, scannedAt=ago(timedelta(hours=3)))
    attempts_so_far(pipeline, key, 2)
    report = run_sweep(sweep_settings(stack))
    assert report["retried"] == [] and report["gaveUp"] == [f"{key}@{version}: ScannerRefused: engine check"]
    assert [message["Subject"] for message in alerts.messages()] == ["Manabi Plus: scans keep failing"]
    assert run_sweep(sweep_settings(stack))["gaveUp"] == [], "reported once"


@pytest.mark.parametrize(
    "fields",
    [
        {"scanStatus": "ERROR", "scanErrorType": "ObjectUnavailableError"},
        {"scanStatus": "INFECTED"},
        {"scanStatus": "UNSCANNABLE"},
    ],
    ids=["permanent-error", "infected", "unscannable"],
)
def test_verdicts_and_permanent_errors_are_never_retried(
    pipeline: Pipeline, stack: MainStack, fields: dict[str, str]
) -> None:
    key = "uploads/user-1/final"
    pipeline.upload(key, b"judged")
    backdate(pipeline, key, **fields, scannedAt=ago(timedelta(days=1)))
    assert run_sweep(sweep_settings(stack))["retried"] == []
