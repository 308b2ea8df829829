"""What happens when an upload arrives (issue #13): delete means gone — a version that arrives
for a deleted record is removed, never scanned or kept — and the scanned byte count must equal
the size the upload declared (S3 enforces the POST policy; the emulator does not)."""

from __future__ import annotations

from typing import Any

import boto3

from chalicelib.files.repository import FilesRepo
from chalicelib.files.service import FileService
from chalicelib.upkeep.backups import restore_file
from devstack.clamd import EICAR
from devstack.resources import MainStack, create_bucket
from tests.support.api import ALICE, Api, upload_via_presigned_post
from tests.support.pipeline import REGION, Pipeline


def versions(pipeline: Pipeline, key: str) -> list[dict[str, Any]]:
    listed = pipeline.s3.list_object_versions(Bucket=pipeline.stack.data_bucket, Prefix=key)
    return listed.get("Versions", []) + listed.get("DeleteMarkers", [])


def test_a_version_posted_after_delete_is_removed_not_scanned(api: Api, pipeline: Pipeline) -> None:
    created = api.call("POST", "/files", body={"name": "a.txt", "size": 5, "contentType": "text/plain"}).json
    file_id, key = created["file"]["id"], created["upload"]["fields"]["key"]
    assert api.call("DELETE", f"/files/{file_id}").status_code == 204

    # The presigned form is still valid for a few minutes: POST the bytes anyway.
    assert upload_via_presigned_post(created, b"hello").status_code in (200, 204)
    (arrived,) = versions(pipeline, key)
    assert pipeline.deliver(key, arrived["VersionId"], 5) is None, "no scan starts for a deleted file"
    assert versions(pipeline, key) == []
    executions = pipeline.sfn.list_executions(stateMachineArn=pipeline.stack.state_machine_arn)["executions"]
    assert executions == []
    assert api.call("GET", f"/files/{file_id}").status_code == 404


def test_delete_marks_the_record_before_it_deletes_the_versions(api: Api, pipeline: Pipeline) -> None:
    """So a version that lands while the versions are being deleted finds the record deleted."""
    file_id = api.call("POST", "/files", body={"name": "a.txt", "size": 5, "contentType": "text/plain"}).json["file"][
        "id"
    ]
    s3 = boto3.client("s3", region_name=REGION)
    seen: list[str | None] = []
    s3.meta.events.register(
        "before-call.s3.ListObjectVersions", lambda **_: seen.append(pipeline.record(file_id, ALICE).get("status"))
    )
    FileService(FilesRepo(pipeline.table), s3, pipeline.stack.data_bucket, "uploads/", 1 << 30).delete(ALICE, file_id)
    assert seen == ["DELETED"]


def test_a_version_of_another_size_than_declared_is_unscannable(api: Api, pipeline: Pipeline) -> None:
    created = api.call("POST", "/files", body={"name": "a.txt", "size": 5, "contentType": "text/plain"}).json
    file_id, key = created["file"]["id"], created["upload"]["fields"]["key"]
    # moto does not enforce the POST policy's content-length-range (S3 does).
    assert upload_via_presigned_post(created, b"rather more than five bytes").status_code in (200, 204)
    (arrived,) = versions(pipeline, key)
    pipeline.wait(pipeline.deliver(key, arrived["VersionId"], 27))

    assert pipeline.tags(key, arrived["VersionId"])["scan-status"] == "UNSCANNABLE"
    details = api.call("GET", f"/files/{file_id}").json
    assert (details["scanStatus"], details["signature"]) == ("UNSCANNABLE", "Manabi.Size.Mismatch")
    assert details["reason"] == "27 bytes arrived, but the upload declared 5"
    assert api.call("GET", f"/files/{file_id}/download").status_code == 403


def test_a_signature_found_in_a_version_of_another_size_is_still_infected(api: Api, pipeline: Pipeline) -> None:
    created = api.call("POST", "/files", body={"name": "a.com", "size": 5, "contentType": "text/plain"}).json
    key = created["upload"]["fields"]["key"]
    assert upload_via_presigned_post(created, EICAR).status_code in (200, 204)
    (arrived,) = versions(pipeline, key)
    pipeline.wait(pipeline.deliver(key, arrived["VersionId"], len(EICAR)))
    assert pipeline.tags(key, arrived["VersionId"])["scan-status"] == "INFECTED"


def test_a_restored_version_whose_event_comes_at_once_is_kept(pipeline: Pipeline, stack: MainStack) -> None:
    """A restore puts a version back for a deleted record: the record is undeleted first."""
    backup_bucket = create_bucket(pipeline.s3, stack.context, "BackupBucket")
    key = "uploads/user-1/essay"
    version, _ = pipeline.upload(key, b"my essay")
    pipeline.s3.copy(
        {"Bucket": stack.data_bucket, "Key": key, "VersionId": version}, backup_bucket, f"data/{key}/{version}"
    )
    repo = FilesRepo(pipeline.table)
    repo.mark_deleted("user-1", "essay")
    pipeline.s3.delete_object(Bucket=stack.data_bucket, Key=key, VersionId=version)

    class ImmediateEvents:
        """The data bucket, with the upload event handled the moment the object lands."""

        def __init__(self) -> None:
            self.executions: list[str | None] = []

        def upload_fileobj(self, body: Any, bucket: str, object_key: str, ExtraArgs: dict[str, str]) -> None:
            pipeline.s3.upload_fileobj(body, bucket, object_key, ExtraArgs=ExtraArgs)
            (landed,) = versions(pipeline, object_key)
            self.executions.append(pipeline.deliver(object_key, landed["VersionId"], 8))

    data = ImmediateEvents()
    restore_file(repo, pipeline.s3, data, backup_bucket, stack.data_bucket, "user-1", "essay")  # type: ignore[arg-type]
    (execution,) = data.executions
    assert execution is not None, "the restored version was taken for a late upload to a deleted file"
    pipeline.wait(execution)
    assert pipeline.record_of(key)["scanStatus"] == "CLEAN"
