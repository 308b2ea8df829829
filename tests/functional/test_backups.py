"""Daily data backup of CLEAN versions only, and restore that goes through the scan again
(R-BAK-03, R-BAK-04, R-BAK-05)."""

from __future__ import annotations

import boto3
import pytest

from chalicelib.config import BackupSettings
from chalicelib.files.repository import FilesRepo
from chalicelib.functions.schedules import backup_data
from chalicelib.upkeep.backups import RestoreError, backup_key, restore_file
from devstack.clamd import EICAR
from devstack.resources import MainStack, create_bucket
from manabi_cli import restore as restore_cli
from tests.support.pipeline import REGION, Pipeline
from tests.support.schedules import run_scheduled


def run_backup(settings: BackupSettings) -> dict[str, int]:
    """The daily backup as EventBridge runs it, with only its own function's environment."""
    environment = {
        "DATA_BUCKET": settings.data_bucket,
        "FILES_TABLE": settings.files_table,
        "BACKUP_BUCKET": settings.backup_bucket,
    }
    return run_scheduled(backup_data, environment)  # type: ignore[no-any-return]


@pytest.fixture
def backup_bucket(aws: boto3.Session, stack: MainStack) -> str:
    return create_bucket(aws.client("s3", region_name=REGION), stack.context, "BackupBucket")


def test_only_clean_versions_are_backed_up_and_only_once(
    pipeline: Pipeline, stack: MainStack, backup_bucket: str
) -> None:
    clean_key, infected_key = "uploads/user-1/notes", "uploads/user-1/eicar"
    clean_version, _ = pipeline.upload(clean_key, b"clean notes")
    pipeline.upload(infected_key, EICAR)
    pipeline.register("uploads/user-1/never-uploaded")
    settings = BackupSettings(stack.data_bucket, stack.files_table, backup_bucket)

    assert run_backup(settings) == {"copied": 1, "alreadyBackedUp": 0}
    listed = pipeline.s3.list_objects_v2(Bucket=backup_bucket)["Contents"]
    assert [item["Key"] for item in listed] == [backup_key(clean_key, clean_version)]
    copy = pipeline.s3.get_object(Bucket=backup_bucket, Key=listed[0]["Key"])
    assert copy["Body"].read() == b"clean notes"
    assert copy["Metadata"]["owner"] == "user-1"
    assert run_backup(settings) == {"copied": 0, "alreadyBackedUp": 1}


def test_a_deleted_file_is_restored_and_scanned_again(pipeline: Pipeline, stack: MainStack, backup_bucket: str) -> None:
    key = "uploads/user-1/essay"
    version, _ = pipeline.upload(key, b"my essay")
    run_backup(BackupSettings(stack.data_bucket, stack.files_table, backup_bucket))
    pipeline.s3.delete_object(Bucket=stack.data_bucket, Key=key, VersionId=version)
    repo = FilesRepo(pipeline.table)
    repo.mark_deleted("user-1", "essay")

    result = restore_file(repo, pipeline.s3, pipeline.s3, backup_bucket, stack.data_bucket, "user-1", "essay")
    assert result["from"] == f"s3://{backup_bucket}/{backup_key(key, version)}"
    versions = pipeline.s3.list_object_versions(Bucket=stack.data_bucket, Prefix=key)["Versions"]
    (restored,) = versions
    assert pipeline.tags(key, restored["VersionId"]) == {}  # not readable until scanned
    pipeline.wait(pipeline.deliver(key, restored["VersionId"]))
    assert pipeline.tags(key, restored["VersionId"])["scan-status"] == "CLEAN"
    record = pipeline.record_of(key)
    assert (record["scanStatus"], record["versionId"], record.get("status")) == ("CLEAN", restored["VersionId"], None)


def test_restore_says_what_is_missing(pipeline: Pipeline, stack: MainStack, backup_bucket: str) -> None:
    repo = FilesRepo(pipeline.table)
    with pytest.raises(RestoreError, match="restore the table first"):
        restore_file(repo, pipeline.s3, pipeline.s3, backup_bucket, stack.data_bucket, "user-1", "nothing")
    pipeline.register("uploads/user-1/unbacked")
    with pytest.raises(RestoreError, match="no backup"):
        restore_file(repo, pipeline.s3, pipeline.s3, backup_bucket, stack.data_bucket, "user-1", "unbacked")


def test_the_restore_command_runs_with_operator_credentials(
    pipeline: Pipeline, stack: MainStack, backup_bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    key = "uploads/user-1/report"
    pipeline.upload(key, b"report")
    run_backup(BackupSettings(stack.data_bucket, stack.files_table, backup_bucket))
    assert restore_cli.main(["--stage", "local", "--owner", "user-1", "--file-id", "report"]) == 0
    assert '"objectKey": "uploads/user-1/report"' in capsys.readouterr().out
    assert restore_cli.main(["--stage", "local", "--owner", "user-1", "--file-id", "missing"]) == 1
    assert capsys.readouterr().err.startswith("restore: no record")
