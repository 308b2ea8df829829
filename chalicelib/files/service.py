"""Everything the files API does for a learner: upload forms, records, CLEAN-only downloads,
deletion of every version."""

from __future__ import annotations

from typing import Any

from chalicelib.files.errors import NoSuchFileError, NotCleanError, ScanPendingError
from chalicelib.files.ids import new_file_id
from chalicelib.files.records import content_disposition, public_view
from chalicelib.files.repository import FilesRepo
from chalicelib.scanning.verdicts import PENDING_UPLOAD, STILL_SCANNING, Verdict
from chalicelib.timestamps import now


class FileService:
    """Everything the files API does, given its AWS clients."""

    def __init__(
        self,
        repo: FilesRepo,
        s3_client: Any,
        data_bucket: str,
        upload_prefix: str,
        max_upload_bytes: int,
        upload_url_seconds: int = 300,
        download_url_seconds: int = 300,
    ) -> None:
        self.repository = repo
        self._s3 = s3_client
        self._bucket = data_bucket
        self._prefix = upload_prefix
        self.max_upload_bytes = max_upload_bytes
        self._upload_seconds = upload_url_seconds
        self._download_seconds = download_url_seconds

    def create_upload(self, owner_sub: str, name: str, size: int, content_type: str) -> dict[str, Any]:
        file_id = new_file_id()
        key = f"{self._prefix}{owner_sub}/{file_id}"
        record = {
            "ownerSub": owner_sub,
            "fileId": file_id,
            "objectKey": key,
            "name": name,
            "size": size,
            "contentType": content_type,
            "scanStatus": PENDING_UPLOAD,
            "createdAt": now(),
        }
        self.repository.create(record)
        # Every form field must appear in the policy, so a client cannot add tags or another key.
        post = self._s3.generate_presigned_post(
            Bucket=self._bucket,
            Key=key,
            Fields={"Content-Type": content_type},
            Conditions=[["content-length-range", size, size], {"Content-Type": content_type}],
            ExpiresIn=self._upload_seconds,
        )
        return {
            "file": public_view(record),
            "upload": {"url": post["url"], "fields": post["fields"], "expiresIn": self._upload_seconds},
        }

    def get(self, owner_sub: str, file_id: str) -> dict[str, Any]:
        record = self.repository.get(owner_sub, file_id)
        if record is None:
            raise NoSuchFileError(f"no file {file_id}")
        return record

    def list(self, owner_sub: str, limit: int, cursor: str | None) -> dict[str, Any]:
        page = self.repository.list_for_owner(owner_sub, limit, cursor)
        return {"files": [public_view(item) for item in page.items], "cursor": page.cursor}

    def download(self, owner_sub: str, file_id: str) -> dict[str, Any]:
        record = self.get(owner_sub, file_id)
        status = record["scanStatus"]
        if status in STILL_SCANNING:
            raise ScanPendingError(
                f"file {file_id} is not scanned yet ({status}); try again shortly", scanStatus=status
            )
        if status != Verdict.CLEAN.value or not record.get("versionId"):
            raise NotCleanError(f"file {file_id} cannot be downloaded: its scan status is {status}", scanStatus=status)
        url = self._s3.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self._bucket,
                "Key": record["objectKey"],
                "VersionId": record["versionId"],
                "ResponseContentDisposition": content_disposition(record["name"]),
                "ResponseContentType": record["contentType"],
            },
            ExpiresIn=self._download_seconds,
        )
        return {"url": url, "expiresIn": self._download_seconds, "file": public_view(record)}

    def delete(self, owner_sub: str, file_id: str) -> None:
        """Mark the record deleted, then delete every version (INFECTED ones included, R-AV-04).

        In that order: a version that lands while (or after) the versions are deleted — the
        presigned form is valid for minutes — finds the record deleted and is removed on
        arrival (``UploadArrivals``). When a version cannot be deleted the record comes back
        and the delete fails, so the learner still sees the file and can try again."""
        record = self.get(owner_sub, file_id)
        self.repository.mark_deleted(owner_sub, file_id)
        try:
            self.delete_versions(record["objectKey"])
        except Exception:
            self.repository.mark_restored(owner_sub, file_id)
            raise

    def delete_versions(self, key: str) -> None:
        """Delete every version and delete marker of ``key``; raise when S3 keeps one."""
        paginator = self._s3.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=self._bucket, Prefix=key):
            doomed = [
                {"Key": entry["Key"], "VersionId": entry["VersionId"]}
                for entry in page.get("Versions", []) + page.get("DeleteMarkers", [])
                if entry["Key"] == key
            ]
            if doomed:
                response = self._s3.delete_objects(Bucket=self._bucket, Delete={"Objects": doomed, "Quiet": True})
                # S3 answers 200 and lists the versions it kept (AccessDenied, …): not deleted then.
                if response.get("Errors"):
                    refused = response["Errors"][0]
                    raise RuntimeError(
                        f"S3 kept {len(response['Errors'])} version(s) of {key}: {refused.get('Code')} "
                        f"{refused.get('Message')}"
                    )
