"""The scan canary (issue #14) through the real handler, state machine, scanner and clamd under
moto: the EICAR ends INFECTED and locked, the clean file CLEAN and readable, both are deleted,
and the metric says so. Its objects stay out of listings, backups, rescans and the sweeper."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import requests

from chalicelib.config import CanarySettings
from chalicelib.files.repository import FilesRepo
from chalicelib.scanning.requests import parse_object_created
from chalicelib.timestamps import iso
from chalicelib.upkeep.canary import EICAR, Canary
from chalicelib.wiring import build_canary
from devstack.lambda_bridge import LambdaBridge
from devstack.resources import MainStack
from tests.support.iam import IamHarness
from tests.support.pipeline import REGION, Pipeline, object_created_event


def canary_for(
    pipeline: Pipeline, iam: IamHarness, expect_denied: bool = False, leftovers_after: float | None = None
) -> Canary:
    """The canary as wiring builds it, with its function's role (its policy enforced,
    tests/support/iam.py); its presigned POST goes through requests (moto intercepts it) and,
    since moto sends no EventBridge events in-process, the test delivers each one."""
    role = iam.role_session("scan_canary")
    settings = CanarySettings(
        pipeline.stack.data_bucket,
        pipeline.stack.files_table,
        "local",
        verdict_timeout_seconds=60.0,
        expect_access_denied=expect_denied,
    )
    table = role.resource("dynamodb").Table(pipeline.stack.files_table)
    canary = build_canary(settings, role.client("s3"), table, role.client("cloudwatch"))

    def post(url: str, fields: dict[str, str], filename: str, body: bytes) -> int:
        response = requests.post(url, data=fields, files={"file": (filename, body)}, timeout=10)
        key = fields["key"]
        listed = pipeline.s3.list_object_versions(Bucket=pipeline.stack.data_bucket, Prefix=key)
        version = listed["Versions"][0]["VersionId"]
        assert pipeline.deliver(key, version, len(body)), "the upload handler did not scan a canary object"
        return response.status_code

    if leftovers_after is not None:
        canary._leftovers_after = leftovers_after
    canary._post = post
    canary._poll = 0.05
    return canary


def metric(aws: boto3.Session, name: str) -> list[float]:
    cloudwatch = aws.client("cloudwatch", region_name=REGION)
    now = datetime.now(UTC)
    points = cloudwatch.get_metric_statistics(
        Namespace="ManabiPlus/Canary",
        MetricName=name,
        Dimensions=[{"Name": "Stage", "Value": "local"}],
        StartTime=now - timedelta(hours=1),
        EndTime=now + timedelta(minutes=5),
        Period=3600,
        Statistics=["Minimum"],
    )["Datapoints"]
    return [point["Minimum"] for point in points]


def test_the_canary_passes_through_the_real_pipeline(pipeline: Pipeline, aws: boto3.Session, iam: IamHarness) -> None:
    report = canary_for(pipeline, iam).run()

    steps = {step.name: step for step in report.steps}
    assert report.passed, report.to_dict()
    assert "Manabi.Test.EICAR" in steps["EICAR is INFECTED (record and tag)"].detail
    assert steps["S3 denies a non-scanner principal the EICAR"].ok is None  # skipped: moto enforces no policy
    assert metric(aws, "CanaryPassed") == [1.0]
    # Everything it made is gone: no object version, no record.
    s3 = aws.client("s3", region_name=REGION)
    listed = s3.list_object_versions(Bucket=pipeline.stack.data_bucket, Prefix="canary/")
    assert not listed.get("Versions") and not listed.get("DeleteMarkers")
    assert pipeline.table.scan()["Items"] == []


def test_a_broken_lock_fails_the_canary(pipeline: Pipeline, aws: boto3.Session, iam: IamHarness) -> None:
    """Expecting AccessDenied where S3 (here: moto) lets anyone read the EICAR is a failure."""
    report = canary_for(pipeline, iam, expect_denied=True).run()

    failed = [step for step in report.steps if step.ok is False]
    assert not report.passed
    assert failed[0].name == "S3 denies a non-scanner principal the EICAR"
    assert "lock is broken" in failed[0].detail
    assert metric(aws, "CanaryPassed") == [0.0]
    assert pipeline.table.scan()["Items"] == []  # cleaned up all the same


def test_an_engine_that_misses_the_eicar_fails_the_canary(
    pipeline: Pipeline, iam: IamHarness, bridge: LambdaBridge, stack: MainStack
) -> None:
    def blind_scanner(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {
            "verdict": "CLEAN",
            "signature": "",
            "engine": "blind",
            "definitions": "none",
            "sha256": "",
            "bytes": 0,
            "seconds": 0.0,
            "reason": "",
        }

    bridge.register(stack.scanner_function_arn, blind_scanner)
    report = canary_for(pipeline, iam).run()

    failed = [step for step in report.steps if step.ok is False]
    assert failed[0].name == "EICAR is INFECTED (record and tag)"
    assert "expected INFECTED" in failed[0].detail
    assert report.steps[-2].name == "delete both objects and records" and report.steps[-2].ok


def test_canary_records_stay_out_of_every_scan_across_owners(aws: boto3.Session, stack: MainStack) -> None:
    table = aws.resource("dynamodb", region_name=REGION).Table(stack.files_table)
    old = iso(datetime.now(UTC) - timedelta(days=1))
    for prefix, owner in (("canary/", "run-1"), ("uploads/", "user-1")):
        for status in ("CLEAN", "ERROR", "PENDING_UPLOAD"):
            table.put_item(
                Item={
                    "ownerSub": owner,
                    "fileId": f"{owner}-{status}",
                    "objectKey": f"{prefix}{owner}/{owner}-{status}",
                    "scanStatus": status,
                    "versionId": "v1",
                    "createdAt": old,
                    "scannedAt": old,
                }
            )
    repo = FilesRepo(table)
    recent = datetime.now(UTC) - timedelta(days=2)

    for found in (
        repo.clean_versions(),  # backups
        repo.errored(),  # the sweeper's automatic rescans
        repo.stuck(datetime.now(UTC), datetime.now(UTC)),  # the sweeper
        repo.rescannable(),  # rescans after a definitions update
        repo.rescannable(clean_since=recent),
        repo.list_by_status("CLEAN", 100, None).items,  # the admin view
    ):
        owners = {record["ownerSub"] for record in found}
        assert owners == {"user-1"}, owners


def test_the_upload_handler_scans_canary_objects(stack: MainStack) -> None:
    event = object_created_event(stack.data_bucket, "canary/run-1/file-1", "v1", 68, "0A")
    request = parse_object_created(event, stack.data_bucket, "uploads/", "canary/")
    assert request is not None
    assert (request.ownerSub, request.fileId, request.key) == ("run-1", "file-1", "canary/run-1/file-1")
    assert parse_object_created(event, stack.data_bucket, "uploads/") is None  # only where asked


def test_the_canary_role_reaches_only_canary_records(pipeline: Pipeline, iam: IamHarness, stack: MainStack) -> None:
    """Its policy's ``dynamodb:LeadingKeys`` condition (``run-*``) is evaluated: a learner's
    record is out of its reach, its own run's is not."""
    import pytest
    from botocore.exceptions import ClientError

    from tests.support.iam import Check, Permission

    table = iam.role_session("scan_canary").resource("dynamodb").Table(stack.files_table)
    assert "Item" not in table.get_item(Key={"ownerSub": "run-1", "fileId": "f"})
    with pytest.raises(ClientError) as denied:
        table.get_item(Key={"ownerSub": "sub-alice", "fileId": "f"})
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    table_arn = stack.context.attributes[("FilesTable", "Arn")]
    assert iam.take_denials() == [Check("scan_canary", Permission("dynamodb:GetItem", table_arn))]


def test_what_a_dead_run_left_is_removed_by_the_next(pipeline: Pipeline, iam: IamHarness) -> None:
    """A run that died before its last step leaves an EICAR under canary/ and its records, which
    the sweeper and listings skip: the next run removes them, and leaves a run in flight alone."""
    bucket, s3 = pipeline.stack.data_bucket, pipeline.s3
    for run in ("run-dead", "run-in-flight"):
        s3.put_object(Bucket=bucket, Key=f"canary/{run}/f1", Body=EICAR)
        pipeline.table.put_item(Item={"ownerSub": run, "fileId": "f1", "objectKey": f"canary/{run}/f1"})
    time.sleep(2.1)  # S3 keeps LastModified to the second
    s3.put_object(Bucket=bucket, Key="canary/run-in-flight/f2", Body=b"younger")

    canary = canary_for(pipeline, iam, leftovers_after=1.5)
    report = canary.run()

    steps = {step.name: step for step in report.steps}
    assert report.passed, report.to_dict()
    assert "run-dead" in steps["remove what earlier runs left"].detail
    keys = {v["Key"] for v in s3.list_object_versions(Bucket=bucket, Prefix="canary/").get("Versions", [])}
    assert keys == {"canary/run-in-flight/f2"}
    assert "Item" not in pipeline.table.get_item(Key={"ownerSub": "run-dead", "fileId": "f1"})
