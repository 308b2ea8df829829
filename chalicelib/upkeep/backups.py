"""Daily backup of the data bucket (R-BAK-03) and its restore (R-BAK-04).

Only versions scanned CLEAN are backed up: the backup bucket (replicated to Osaka in prod) has
no scan lock, so copying everything would make unscanned or INFECTED bytes readable there. Each
backup object is addressed by the exact version it copies, ``data/{objectKey}/{versionId}``, so
a run only copies what the previous runs have not.

A restore writes the bytes back as a new version of the original key — a plain upload, so the
data bucket's policy applies and the restored version is scanned again before anyone can read
it, with the definitions of the day.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.files.repository import FilesRepo
from chalicelib.scanning.verdicts import DELETED

logger = logging.getLogger(__name__)
BACKUP_PREFIX = "data/"


class RestoreError(Exception):
    """Nothing to restore, or the backup cannot be read."""


@dataclass(frozen=True)
class BackupReport:
    copied: int
    already_backed_up: int


def backup_key(object_key: str, version_id: str) -> str:
    return f"{BACKUP_PREFIX}{object_key}/{version_id}"


class DataBackup:
    def __init__(self, repo: FilesRepo, s3_client: Any, data_bucket: str, backup_bucket: str) -> None:
        self._repo = repo
        self._s3 = s3_client
        self._data_bucket = data_bucket
        self._backup_bucket = backup_bucket

    def run(self) -> BackupReport:
        copied = already = 0
        for record in self._repo.clean_versions():
            key = backup_key(record["objectKey"], record["versionId"])
            if self._exists(key):
                already += 1
                continue
            self._s3.copy(
                {"Bucket": self._data_bucket, "Key": record["objectKey"], "VersionId": record["versionId"]},
                self._backup_bucket,
                key,
                ExtraArgs={
                    "Metadata": {
                        "owner": record["ownerSub"],
                        "file-id": record["fileId"],
                        "sha256": record.get("sha256", ""),
                    },
                    "MetadataDirective": "REPLACE",
                    "TaggingDirective": "REPLACE",
                },
            )
            copied += 1
        logger.info("data backup: %d copied, %d already backed up", copied, already)
        return BackupReport(copied, already)

    def _exists(self, key: str) -> bool:
        try:
            self._s3.head_object(Bucket=self._backup_bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise
        return True


def restore_file(
    repo: FilesRepo,
    backup_s3: Any,
    data_s3: Any,
    backup_bucket: str,
    data_bucket: str,
    owner_sub: str,
    file_id: str,
    version_id: str | None = None,
) -> dict[str, str]:
    """Put a backed-up version of one file back as a new version (scanned again on arrival).

    ``backup_s3``/``backup_bucket`` may be the Osaka copy when Tokyo's is unreachable.
    """
    record = repo.get_any(owner_sub, file_id)
    if record is None:
        raise RestoreError(f"no record of file {file_id} for {owner_sub}: restore the table first (PITR)")
    prefix = f"{BACKUP_PREFIX}{record['objectKey']}/"
    listed = backup_s3.list_objects_v2(Bucket=backup_bucket, Prefix=prefix).get("Contents", [])
    if not listed:
        raise RestoreError(f"no backup of {record['objectKey']} in s3://{backup_bucket}")
    chosen = (
        next((item for item in listed if item["Key"] == prefix + version_id), None)
        if version_id
        else max(listed, key=lambda item: item["LastModified"])
    )
    if chosen is None:
        raise RestoreError(f"no backup of version {version_id} of {record['objectKey']}")
    body = backup_s3.get_object(Bucket=backup_bucket, Key=chosen["Key"])["Body"]
    # Undeleted first: a version arriving for a deleted record is removed on arrival.
    repo.mark_restored(owner_sub, file_id)
    try:
        data_s3.upload_fileobj(
            body,
            data_bucket,
            record["objectKey"],
            ExtraArgs={"ContentType": record.get("contentType", "application/octet-stream")},
        )
    except BaseException:
        if record.get("status") == DELETED:
            repo.mark_deleted(owner_sub, file_id)
        raise
    finally:
        body.close()
    return {
        "objectKey": record["objectKey"],
        "from": f"s3://{backup_bucket}/{chosen['Key']}",
        "scanStatus": "scanned again on arrival (unreadable until CLEAN)",
    }
