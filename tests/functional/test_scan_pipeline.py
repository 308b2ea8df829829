"""Uploads through the real event handler, the real state machine file (run by moto) and a
real clamd. Every case ends by asserting the object version's tags and the file record."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chalicelib.config import ScannerSettings
from chalicelib.functions.scanner import handle_scan
from chalicelib.scanning.verdicts import OBJECT_TOO_LARGE
from chalicelib.timestamps import parse
from chalicelib.wiring import build_scanner
from devstack.clamd import (
    CLAMAV_TEST_FILE_SIGNATURE,
    EICAR,
    EICAR_SIGNATURE,
    UNOFFICIAL,
    ClamdProcess,
    write_offline_database,
)
from devstack.lambda_bridge import LambdaBridge
from tests.support.iam import current
from tests.support.limits import TEST_LIMITS
from tests.support.pipeline import AlertInbox, Pipeline, scanner_settings
from tests.support.samples import CLAMAV_TESTFILES, encrypted_zip, nested_zip, unique_bytes, zipped

EICAR_FOUND = EICAR_SIGNATURE + UNOFFICIAL


def assert_verdict(pipeline: Pipeline, key: str, version: str, verdict: str, signature: str | None = None) -> dict:
    tags = pipeline.tags(key, version)
    assert tags["scan-status"] == verdict, tags
    assert tags.get("scan-signature") == signature
    record = pipeline.record_of(key)
    assert record["scanStatus"] == verdict
    assert record["versionId"] == version
    if signature is not None:
        assert record["signature"] == signature
    return record


def test_clean_file_is_released(pipeline: Pipeline) -> None:
    key = "uploads/user-1/file-clean"
    body = b"hello, manabi plus\n"
    version, execution = pipeline.upload(key, body)

    assert execution["status"] == "SUCCEEDED"
    record = assert_verdict(pipeline, key, version, "CLEAN")
    tags = pipeline.tags(key, version)
    assert tags["scan-definitions"] == record["definitions"]
    assert record["definitions"].startswith("manabi-offline-")
    assert parse(tags["scanned-at"]).tzinfo is not None
    assert record["scannedBytes"] == len(body)
    assert record["sha256"] == hashlib.sha256(body).hexdigest()


def test_eicar_is_locked_with_its_signature_and_an_alert(pipeline: Pipeline, alerts: AlertInbox) -> None:
    key = "uploads/user-1/file-eicar"
    version, execution = pipeline.upload(key, EICAR)

    assert execution["status"] == "SUCCEEDED"
    assert_verdict(pipeline, key, version, "INFECTED", EICAR_FOUND)
    messages = alerts.messages()
    assert len(messages) == 1
    assert messages[0]["Subject"] == "Manabi Plus: infected upload locked"
    assert EICAR_FOUND in messages[0]["Message"] and key in messages[0]["Message"]


@pytest.mark.parametrize("depth", [1, 2], ids=["zip", "zip-in-zip"])
def test_eicar_inside_archives_is_infected(pipeline: Pipeline, depth: int) -> None:
    key = f"uploads/user-1/archive-{depth}"
    version, _ = pipeline.upload(key, nested_zip(EICAR, depth))
    assert_verdict(pipeline, key, version, "INFECTED", EICAR_FOUND)


def test_every_clamav_testfile_is_infected(pipeline: Pipeline) -> None:
    samples = sorted(CLAMAV_TESTFILES.iterdir())
    assert len(samples) >= 40, "Debian's clamav-testfiles is missing: run `make setup`"
    started = {}
    for index, sample in enumerate(samples):
        key = f"uploads/user-1/testfile-{index}"
        pipeline.register(key)
        version = pipeline.put(key, sample.read_bytes())
        started[sample.name] = (key, version, pipeline.deliver(key, version))
    verdicts = {}
    for name, (key, version, execution_arn) in started.items():
        pipeline.wait(execution_arn)
        verdicts[name] = (
            pipeline.tags(key, version).get("scan-signature"),
            pipeline.record_of(key)["scanStatus"],
        )
    expected = (CLAMAV_TEST_FILE_SIGNATURE + UNOFFICIAL, "INFECTED")
    assert {name: found for name, found in verdicts.items() if found != expected} == {}


def test_encrypted_zip_is_unscannable(pipeline: Pipeline) -> None:
    key = "uploads/user-1/encrypted"
    version, execution = pipeline.upload(key, encrypted_zip(b"an innocent looking secret"))
    assert execution["status"] == "SUCCEEDED"
    assert_verdict(pipeline, key, version, "UNSCANNABLE", "Heuristics.Encrypted.Zip")


def test_archive_nested_past_max_recursion_is_unscannable(pipeline: Pipeline) -> None:
    key = "uploads/user-1/deep"
    version, _ = pipeline.upload(key, nested_zip(unique_bytes(512), TEST_LIMITS.max_recursion + 5))
    assert_verdict(pipeline, key, version, "UNSCANNABLE", "Heuristics.Limits.Exceeded.MaxRecursion")


def _streams_seen(clamd: ClamdProcess) -> int:
    return (clamd.workdir / "clamd.log").read_text(errors="replace").count("instream(")


def test_object_over_the_limit_is_unscannable_without_being_streamed(pipeline: Pipeline, clamd: ClamdProcess) -> None:
    pipeline.upload("uploads/user-1/first", b"the engine check runs before the first scan")
    key = "uploads/user-1/too-big"
    streams_before = _streams_seen(clamd)
    version, _ = pipeline.upload(key, b"\0" * (TEST_LIMITS.stream_max + 1))

    record = assert_verdict(pipeline, key, version, "UNSCANNABLE", OBJECT_TOO_LARGE)
    assert record["scannedBytes"] == 0
    assert record["sha256"] == ""
    assert _streams_seen(clamd) == streams_before


def test_object_exactly_at_the_limit_is_scanned(pipeline: Pipeline) -> None:
    key = "uploads/user-1/at-limit"
    version, _ = pipeline.upload(key, unique_bytes(TEST_LIMITS.stream_max))
    assert assert_verdict(pipeline, key, version, "CLEAN")["scannedBytes"] == TEST_LIMITS.stream_max


def test_zero_byte_object_is_clean(pipeline: Pipeline) -> None:
    key = "uploads/user-1/empty"
    version, _ = pipeline.upload(key, b"")
    assert assert_verdict(pipeline, key, version, "CLEAN")["scannedBytes"] == 0


@pytest.mark.parametrize("file_id", ["report 2026.pdf", "c++ notes+1.txt", "宿題レポート 第1回.docx", "100% 50%2B.txt"])
def test_keys_with_spaces_plus_and_japanese_are_scanned(pipeline: Pipeline, file_id: str) -> None:
    key = f"uploads/user-1/{file_id}"
    version, execution = pipeline.upload(key, zipped("a.txt", EICAR))
    assert execution["status"] == "SUCCEEDED"
    assert_verdict(pipeline, key, version, "INFECTED", EICAR_FOUND)


def test_the_same_event_twice_starts_one_scan(pipeline: Pipeline) -> None:
    key = "uploads/user-1/twice"
    pipeline.register(key, len(b"once is enough"))
    version = pipeline.put(key, b"once is enough")
    first = pipeline.deliver(key, version, sequencer="0A1B2C3D4E5F6071")
    second = pipeline.deliver(key, version, sequencer="0A1B2C3D4E5F6071")
    assert first is not None
    pipeline.wait(first)

    executions = pipeline.sfn.list_executions(stateMachineArn=pipeline.stack.state_machine_arn)["executions"]
    assert [execution["executionArn"] for execution in executions] == [first]
    assert second in (None, first)
    assert_verdict(pipeline, key, version, "CLEAN")


def test_two_versions_of_one_key_each_get_their_own_verdict(pipeline: Pipeline) -> None:
    key = "uploads/user-1/versioned"
    clean_version, _ = pipeline.upload(key, b"first draft")
    infected_version = pipeline.put(key, EICAR)
    pipeline.wait(pipeline.deliver(key, infected_version))

    assert pipeline.tags(key, clean_version)["scan-status"] == "CLEAN"
    assert pipeline.tags(key, infected_version)["scan-status"] == "INFECTED"
    assert_verdict(pipeline, key, infected_version, "INFECTED", EICAR_FOUND)


def test_a_late_event_for_an_older_version_does_not_take_the_record_back(pipeline: Pipeline) -> None:
    key = "uploads/user-1/late"
    pipeline.register(key, len(b"the fixed upload"))
    older = pipeline.put(key, EICAR)
    newer = pipeline.put(key, b"the fixed upload")
    pipeline.wait(pipeline.deliver(key, newer, sequencer="00000000000000B0"))
    pipeline.wait(pipeline.deliver(key, older, sequencer="00000000000000A0"))

    assert pipeline.tags(key, older)["scan-status"] == "INFECTED"
    assert_verdict(pipeline, key, newer, "CLEAN")


def test_objects_outside_the_upload_layout_are_not_scanned_and_stay_untagged(pipeline: Pipeline) -> None:
    for key in ("other/file", "uploads/only-one-level", "uploads/a/b/c"):
        version = pipeline.put(key, b"x")
        assert pipeline.deliver(key, version) is None
        assert pipeline.tags(key, version) == {}


def test_an_upload_cannot_touch_another_users_record(pipeline: Pipeline) -> None:
    victim_key = "uploads/user-1/shared-id"
    pipeline.register(victim_key)
    attacker_key = "uploads/user-2/shared-id"
    version = pipeline.put(attacker_key, b"not yours")
    pipeline.wait(pipeline.deliver(attacker_key, version))

    assert pipeline.tags(attacker_key, version)["scan-status"] == "CLEAN"
    record = pipeline.record("shared-id")
    assert record["scanStatus"] == "PENDING_UPLOAD"
    assert "versionId" not in record


def test_a_deleted_version_ends_in_error_not_clean(pipeline: Pipeline) -> None:
    key = "uploads/user-1/gone"
    pipeline.register(key)
    version = pipeline.put(key, b"short-lived")
    pipeline.s3.delete_object(Bucket=pipeline.stack.data_bucket, Key=key, VersionId=version)
    execution = pipeline.wait(pipeline.deliver(key, version))

    assert execution["status"] == "FAILED"
    assert execution["error"] == "ScanFailed"
    assert pipeline.record("gone")["scanStatus"] == "PENDING_UPLOAD"


def _use_scanner(pipeline: Pipeline, bridge: LambdaBridge, settings: ScannerSettings) -> None:
    iam = current()
    assert iam is not None
    scanner = build_scanner(settings, iam.client("scanner", "s3"))
    handler = iam.handler("scanner", lambda event, context: handle_scan(event, scanner))
    bridge.register(pipeline.stack.scanner_function_arn, handler)


def test_clamd_down_is_retried_then_error_never_clean(
    pipeline: Pipeline, bridge: LambdaBridge, alerts: AlertInbox, tmp_path: Path, clamd: ClamdProcess
) -> None:
    _use_scanner(pipeline, bridge, scanner_settings(f"unix://{tmp_path / 'no-clamd.sock'}", str(clamd.database_dir)))
    key = "uploads/user-1/while-down"
    version, execution = pipeline.upload(key, EICAR)

    assert execution["status"] == "FAILED"
    failed_attempts = [
        event
        for event in pipeline.history(execution["executionArn"])
        if event["type"] == "TaskFailed" and "ClamdUnavailableError" in json.dumps(event, default=str)
    ]
    assert len(failed_attempts) == 4  # the first try and three retries
    assert pipeline.tags(key, version)["scan-status"] == "ERROR"
    record = pipeline.record("while-down")
    assert record["scanStatus"] == "ERROR"
    assert "ClamdUnavailableError" in record["scanError"]
    assert ["scan failed" in message["Subject"] for message in alerts.messages()] == [True]


def test_stale_definitions_are_refused_with_error(
    pipeline: Pipeline, bridge: LambdaBridge, alerts: AlertInbox, tmp_path: Path, clamd: ClamdProcess
) -> None:
    stale_db = tmp_path / "db"
    write_offline_database(stale_db, built_at=datetime.now(UTC) - timedelta(hours=49))
    _use_scanner(pipeline, bridge, scanner_settings(clamd.address, str(stale_db)))
    key = "uploads/user-1/stale"
    version, execution = pipeline.upload(key, b"would be clean with fresh definitions")

    assert execution["status"] == "FAILED"
    assert pipeline.tags(key, version)["scan-status"] == "ERROR"
    record = pipeline.record("stale")
    assert record["scanStatus"] == "ERROR"
    assert "ScannerRefused" in record["scanError"] and "old" in record["scanError"]
    assert len(alerts.messages()) == 1


def test_missing_definitions_are_refused_with_error(
    pipeline: Pipeline, bridge: LambdaBridge, tmp_path: Path, clamd: ClamdProcess
) -> None:
    _use_scanner(pipeline, bridge, scanner_settings(clamd.address, str(tmp_path / "empty")))
    key = "uploads/user-1/no-definitions"
    version, execution = pipeline.upload(key, b"cannot be judged")

    assert execution["status"] == "FAILED"
    assert pipeline.tags(key, version)["scan-status"] == "ERROR"
    assert "cannot tell which definitions" in pipeline.record("no-definitions")["scanError"]
