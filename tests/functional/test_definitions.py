"""Definitions: the updater publishes through a mirror, the scanner runtime loads and reloads
them, and missing or stale definitions are refused (R-AV-05)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from chalice.test import Client

from app import app
from chalicelib.definitions.errors import DefinitionsUpdateError
from chalicelib.definitions.sources import read_cvd_header
from chalicelib.definitions.store import DefinitionsStore
from chalicelib.scanning.verdicts import Verdict
from devstack.clamd import hash_signature
from devstack.definitions_mirror import DefinitionsMirror
from devstack.resources import MainStack
from tests.support.pipeline import REGION, AlertInbox, clamd_pids, put

MIB = 1024 * 1024


def published(aws: boto3.Session, bucket: str) -> dict[str, Any] | None:
    manifest = DefinitionsStore(aws.client("s3", region_name=REGION), bucket).current()
    return None if manifest is None else json.loads(manifest.to_json())


def test_the_updater_publishes_the_mirrors_set_with_a_manifest(
    update: Any, mirror: DefinitionsMirror, aws: boto3.Session, app_bucket: str
) -> None:
    version = mirror.release()
    assert update() == {"published": True, "version": version, "files": ["manabi-offline.ndb", "manabi-offline.hdb"]}

    manifest = published(aws, app_bucket)
    assert manifest is not None
    assert manifest["version"] == version and manifest["source"] == mirror.url
    s3 = aws.client("s3", region_name=REGION)
    for entry in manifest["files"]:
        assert entry["key"] == f"clamav/{version}/{entry['name']}"
        body = s3.get_object(Bucket=app_bucket, Key=entry["key"])["Body"].read()
        assert (len(body), hashlib.sha256(body).hexdigest()) == (entry["size"], entry["sha256"])
        assert body == (mirror.directory / entry["name"]).read_bytes()
    assert update() == {"published": False, "version": version}


@pytest.mark.parametrize("damage", ["missing file", "truncated file", "wrong checksum", "no index"])
def test_a_broken_mirror_leaves_the_published_set_and_alerts(
    update: Any, mirror: DefinitionsMirror, aws: boto3.Session, app_bucket: str, alerts: AlertInbox, damage: str
) -> None:
    mirror.release()
    update()
    before = published(aws, app_bucket)
    alerts.messages()

    mirror.release(extra_hashes=(hash_signature(b"new release", "Manabi.Test.New"),))
    target = mirror.directory / "manabi-offline.hdb"
    if damage == "missing file":
        target.unlink()
    elif damage == "truncated file":
        target.write_bytes(target.read_bytes()[:-10])
    elif damage == "wrong checksum":
        target.write_bytes(target.read_bytes().replace(b"Manabi", b"Xanabi"))
    else:
        (mirror.directory / "index.json").unlink()
    with pytest.raises(DefinitionsUpdateError, match="not published"):
        update()

    assert published(aws, app_bucket) == before
    messages = alerts.messages()
    assert [message["Subject"] for message in messages] == ["Manabi Plus: definitions update failed"]
    assert "unchanged" in messages[0]["Message"]


def test_a_new_signature_is_picked_up_without_a_restart(
    update: Any, mirror: DefinitionsMirror, aws: boto3.Session, stack: MainStack, runtime_scanner: Any
) -> None:
    homework = b"a file that is clean until today's definitions"
    version = put(aws, stack.data_bucket, "uploads/u/f", homework)
    mirror.release()
    update()
    scanner = runtime_scanner()
    before_pids = clamd_pids()
    first = scanner.scan(stack.data_bucket, "uploads/u/f", version)
    assert first.verdict is Verdict.CLEAN
    started = clamd_pids() - before_pids
    assert len(started) == 1

    new_version = mirror.release(extra_hashes=(hash_signature(homework, "Manabi.Test.Homework"),))
    assert update()["version"] == new_version
    second = scanner.scan(stack.data_bucket, "uploads/u/f", version)
    assert (second.verdict, second.signature) == (Verdict.INFECTED, "Manabi.Test.Homework.UNOFFICIAL")
    assert second.definitions == new_version != first.definitions
    assert started <= clamd_pids(), "clamd was restarted instead of reloaded"


def test_stale_definitions_are_refused(
    update: Any, mirror: DefinitionsMirror, aws: boto3.Session, stack: MainStack, runtime_scanner: Any
) -> None:
    mirror.release(built_at=datetime.now(UTC) - timedelta(hours=50))
    update()
    scanner = runtime_scanner(hours=48)
    result = scanner.scan(stack.data_bucket, "uploads/u/f", put(aws, stack.data_bucket, "uploads/u/f", b"x"))
    assert result.verdict is Verdict.ERROR
    assert "old" in result.reason


def test_missing_definitions_are_refused(aws: boto3.Session, stack: MainStack, runtime_scanner: Any) -> None:
    scanner = runtime_scanner()
    result = scanner.scan(stack.data_bucket, "uploads/u/f", put(aws, stack.data_bucket, "uploads/u/f", b"x"))
    assert result.verdict is Verdict.ERROR
    assert "no definitions published" in result.reason


@pytest.mark.parametrize(
    "stage_settings",
    [{}, {"REQUIRE_ORIGIN_SECRET": "true", "ORIGIN_SECRET_ARN": ""}],
    ids=["local", "like-stag-and-prod"],
)
def test_the_schedule_is_a_chalice_function_and_can_rescan_recent_clean_files(
    aws: boto3.Session,
    stack: MainStack,
    app_bucket: str,
    mirror: DefinitionsMirror,
    tmp_path: Path,
    pipeline: Any,
    stage_settings: dict[str, str],
) -> None:
    """In stag and prod the API needs the CloudFront origin secret; the updater's function has
    none (and may not read it), so its rescans must not be built from the API's settings."""
    key = "uploads/user-1/recent"
    recent_version, _ = pipeline.upload(key, b"clean an hour ago")
    version = mirror.release()
    config = json.loads((Path(__file__).resolve().parents[2] / ".chalice" / "config.json").read_text())
    config["stages"]["local"]["environment_variables"].update(
        DEFINITIONS_SOURCE=mirror.url, ALERT_TOPIC_ARN=stack.alert_topic_arn, RESCAN_CLEAN_HOURS="24", **stage_settings
    )
    (tmp_path / ".chalice").mkdir()
    (tmp_path / ".chalice" / "config.json").write_text(json.dumps(config))
    with Client(app, stage_name="local", project_dir=str(tmp_path)) as client:
        event = client.events.generate_cw_event(
            source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
        )
        first = client.lambda_.invoke("update_definitions", event).payload
        again = client.lambda_.invoke("update_definitions", event).payload
    assert first == {
        "published": True,
        "version": version,
        "files": ["manabi-offline.ndb", "manabi-offline.hdb"],
        "rescansStarted": 1,
    }
    assert again == {"published": False, "version": version}
    executions = pipeline.sfn.list_executions(stateMachineArn=stack.state_machine_arn)["executions"]
    for execution in executions:
        pipeline.wait(execution["executionArn"])
    assert len(executions) == 2
    assert pipeline.tags(key, recent_version)["scan-status"] == "CLEAN"


def cvd(body: bytes, md5: str | None = None) -> bytes:
    digest = md5 or hashlib.md5(body, usedforsecurity=False).hexdigest()
    header = f"ClamAV-VDB:29 Nov 2026 03-27 -0500:27512:2076500:90:{digest}:sig:builder:1796027220".encode()
    return header.ljust(512, b" ") + body


def test_cvd_headers_are_checked(tmp_path: Path) -> None:
    good = tmp_path / "daily.cvd"
    good.write_bytes(cvd(b"\x1f\x8b compressed signatures"))
    assert read_cvd_header(good) == {"version": 27512, "signatures": 2076500, "built": 1796027220}
    truncated = tmp_path / "main.cvd"
    truncated.write_bytes(cvd(b"\x1f\x8b compressed signatures")[:-4])
    with pytest.raises(DefinitionsUpdateError, match="corrupt or truncated"):
        read_cvd_header(truncated)
    html = tmp_path / "bytecode.cvd"
    html.write_bytes(b"<html>rate limited</html>")
    with pytest.raises(DefinitionsUpdateError, match="not a CVD"):
        read_cvd_header(html)
