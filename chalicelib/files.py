"""A learner's files: upload URLs, records, downloads of CLEAN versions only, deletion."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from chalicelib.errors import ConflictError, ForbiddenError, InvalidRequestError, NotFoundError
from chalicelib.ids import new_file_id
from chalicelib.uploads import ScanRequest, ScanStarter
from chalicelib.verdicts import Verdict

PENDING_UPLOAD = "PENDING_UPLOAD"
DELETED = "DELETED"
STILL_SCANNING = {PENDING_UPLOAD, Verdict.PENDING.value}
NEVER_RESCANNED = {Verdict.INFECTED.value}


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def encode_cursor(last_key: dict[str, Any] | None) -> str | None:
    if not last_key:
        return None
    return base64.urlsafe_b64encode(json.dumps(last_key, default=_plain).encode()).decode()


def decode_cursor(cursor: str | None, owner_sub: str | None = None) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, binascii.Error):
        raise InvalidRequestError("cursor is not one this API returned", code="invalid_cursor") from None
    if not isinstance(key, dict) or (owner_sub is not None and key.get("ownerSub") != owner_sub):
        raise InvalidRequestError("cursor is not one this API returned", code="invalid_cursor")
    return key


def public_view(record: dict[str, Any]) -> dict[str, Any]:
    """What a learner (or an admin) sees of a file record."""
    status = record["scanStatus"]
    view: dict[str, Any] = {
        "id": record["fileId"],
        "name": record["name"],
        "size": _plain(record["size"]),
        "contentType": record["contentType"],
        "createdAt": record["createdAt"],
        "scanStatus": status,
    }
    if record.get("scannedAt"):
        view["scannedAt"] = record["scannedAt"]
        view["definitions"] = record.get("definitions") or None
    if status in {Verdict.INFECTED.value, Verdict.UNSCANNABLE.value}:
        view["signature"] = record.get("signature")
    # Why a file was refused: what could not be read, or why scanning failed (and whether it is
    # being retried automatically).
    if status == Verdict.UNSCANNABLE.value and record.get("scanReason"):
        view["reason"] = record["scanReason"]
    if status == Verdict.ERROR.value:
        view["reason"] = record.get("scanError") or "scanning failed"
        view["automaticRescans"] = _plain(record.get("autoRescans", 0))
    if status in {Verdict.CLEAN.value, Verdict.INFECTED.value} and record.get("sha256"):
        view["sha256"] = record["sha256"]
    return view


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    cursor: str | None


class FilesRepo:
    """File records in DynamoDB, one partition per owner (``ownerSub``, ``fileId``)."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def create(self, record: dict[str, Any]) -> None:
        self._table.put_item(Item=record, ConditionExpression="attribute_not_exists(fileId)")

    def get(self, owner_sub: str, file_id: str) -> dict[str, Any] | None:
        item = self._table.get_item(Key={"ownerSub": owner_sub, "fileId": file_id}, ConsistentRead=True).get("Item")
        if item is None or item.get("status") == DELETED:
            return None
        return item  # type: ignore[no-any-return]

    def list_for_owner(self, owner_sub: str, limit: int, cursor: str | None) -> Page:
        from boto3.dynamodb.conditions import Attr, Key

        arguments: dict[str, Any] = {
            "KeyConditionExpression": Key("ownerSub").eq(owner_sub),
            "FilterExpression": Attr("status").ne(DELETED),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        start = decode_cursor(cursor, owner_sub)
        if start:
            arguments["ExclusiveStartKey"] = start
        response = self._table.query(**arguments)
        return Page(response.get("Items", []), encode_cursor(response.get("LastEvaluatedKey")))

    def list_by_status(self, scan_status: str, limit: int, cursor: str | None) -> Page:
        """Admin view across owners. A Scan with a filter: fine for an operator's occasional use,
        and it keeps the table free of secondary indexes (R-DDB-01)."""
        from boto3.dynamodb.conditions import Attr

        arguments: dict[str, Any] = {
            "FilterExpression": Attr("scanStatus").eq(scan_status) & Attr("status").ne(DELETED),
            "Limit": limit,
        }
        start = decode_cursor(cursor)
        if start:
            arguments["ExclusiveStartKey"] = start
        response = self._table.scan(**arguments)
        return Page(response.get("Items", []), encode_cursor(response.get("LastEvaluatedKey")))

    def rescannable(
        self, not_scanned_with: str | None = None, clean_since: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every uploaded, scanned, not-INFECTED, not-deleted record matching the criteria."""
        from boto3.dynamodb.conditions import Attr

        condition = (
            Attr("status").ne(DELETED)
            & Attr("versionId").exists()
            & Attr("scanStatus").is_in([Verdict.CLEAN.value, Verdict.UNSCANNABLE.value, Verdict.ERROR.value])
        )
        if not_scanned_with is not None:
            condition &= Attr("definitions").ne(not_scanned_with)
        if clean_since is not None:
            condition &= Attr("scanStatus").eq(Verdict.CLEAN.value) & Attr("scannedAt").gte(clean_since)
        yield from self._scan_all(condition)

    def get_any(self, owner_sub: str, file_id: str) -> dict[str, Any] | None:
        """The record even when it is marked deleted (restores)."""
        key = {"ownerSub": owner_sub, "fileId": file_id}
        return self._table.get_item(Key=key, ConsistentRead=True).get("Item")  # type: ignore[no-any-return]

    def mark_restored(self, owner_sub: str, file_id: str) -> None:
        self._table.update_item(
            Key={"ownerSub": owner_sub, "fileId": file_id},
            UpdateExpression="REMOVE #status, deletedAt",
            ExpressionAttributeNames={"#status": "status"},
        )

    def clean_versions(self) -> Iterator[dict[str, Any]]:
        """Every record whose current version was scanned CLEAN (the daily data backup)."""
        from boto3.dynamodb.conditions import Attr

        condition = Attr("status").ne(DELETED) & Attr("versionId").exists() & Attr("scanStatus").eq(Verdict.CLEAN.value)
        yield from self._scan_all(condition)

    def _scan_all(self, condition: Any) -> Iterator[dict[str, Any]]:
        arguments: dict[str, Any] = {"FilterExpression": condition}
        while True:
            response = self._table.scan(**arguments)
            yield from response.get("Items", [])
            if "LastEvaluatedKey" not in response:
                return
            arguments["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def stuck(self, created_before: str, scan_started_before: str) -> Iterator[dict[str, Any]]:
        """Records waiting for an upload created before, or for a scan started before, the given times."""
        from boto3.dynamodb.conditions import Attr

        waiting_upload = Attr("scanStatus").eq(PENDING_UPLOAD) & Attr("createdAt").lt(created_before)
        waiting_scan = Attr("scanStatus").eq(Verdict.PENDING.value) & Attr("scanStartedAt").lt(scan_started_before)
        yield from self._scan_all(Attr("status").ne(DELETED) & (waiting_upload | waiting_scan))

    def errored(self) -> Iterator[dict[str, Any]]:
        """Records whose current version ended ERROR (the sweeper's automatic rescans)."""
        from boto3.dynamodb.conditions import Attr

        condition = Attr("status").ne(DELETED) & Attr("versionId").exists() & Attr("scanStatus").eq(Verdict.ERROR.value)
        yield from self._scan_all(condition)

    def claim_auto_rescan(self, owner_sub: str, file_id: str, attempts: int) -> bool:
        """Count one more automatic rescan, unless another sweeper run counted it first."""
        from botocore.exceptions import ClientError

        try:
            self._table.update_item(
                Key={"ownerSub": owner_sub, "fileId": file_id},
                UpdateExpression="SET autoRescans = :next",
                ConditionExpression="scanStatus = :error AND "
                "(attribute_not_exists(autoRescans) OR autoRescans = :seen)",
                ExpressionAttributeValues={":next": attempts + 1, ":seen": attempts, ":error": Verdict.ERROR.value},
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def mark_auto_rescan_given_up(self, owner_sub: str, file_id: str) -> None:
        self._table.update_item(
            Key={"ownerSub": owner_sub, "fileId": file_id},
            UpdateExpression="SET autoRescanGaveUp = :now",
            ExpressionAttributeValues={":now": utc_now()},
        )

    def mark_deleted(self, owner_sub: str, file_id: str) -> None:
        self._table.update_item(
            Key={"ownerSub": owner_sub, "fileId": file_id},
            UpdateExpression="SET #status = :deleted, deletedAt = :now",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":deleted": DELETED, ":now": utc_now()},
        )


def content_disposition(name: str) -> str:
    """``attachment`` with an ASCII fallback and the exact UTF-8 name (RFC 6266 / 5987)."""
    fallback = "".join(char if 32 <= ord(char) < 127 and char not in '"\\' else "_" for char in name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


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
            "createdAt": utc_now(),
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
            raise NotFoundError(f"no file {file_id}")
        return record

    def list(self, owner_sub: str, limit: int, cursor: str | None) -> dict[str, Any]:
        page = self.repository.list_for_owner(owner_sub, limit, cursor)
        return {"files": [public_view(item) for item in page.items], "cursor": page.cursor}

    def download(self, owner_sub: str, file_id: str) -> dict[str, Any]:
        record = self.get(owner_sub, file_id)
        status = record["scanStatus"]
        if status in STILL_SCANNING:
            raise ConflictError(
                f"file {file_id} is not scanned yet ({status}); try again shortly",
                code="scan_pending",
                scanStatus=status,
            )
        if status != Verdict.CLEAN.value or not record.get("versionId"):
            raise ForbiddenError(
                f"file {file_id} cannot be downloaded: its scan status is {status}",
                code="file_not_clean",
                scanStatus=status,
            )
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
        """Delete every version (INFECTED ones included, R-AV-04), then mark the record."""
        record = self.get(owner_sub, file_id)
        key = record["objectKey"]
        paginator = self._s3.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=self._bucket, Prefix=key):
            doomed = [
                {"Key": entry["Key"], "VersionId": entry["VersionId"]}
                for entry in page.get("Versions", []) + page.get("DeleteMarkers", [])
                if entry["Key"] == key
            ]
            if doomed:
                self._s3.delete_objects(Bucket=self._bucket, Delete={"Objects": doomed, "Quiet": True})
        self.repository.mark_deleted(owner_sub, file_id)

    def rescan(self, owner_sub: str, file_id: str, starter: ScanStarter) -> str:
        record = self.get(owner_sub, file_id)
        status = record["scanStatus"]
        if status in NEVER_RESCANNED:
            raise ConflictError(f"file {file_id} is INFECTED: its verdict is final", code="verdict_final")
        if status == PENDING_UPLOAD or not record.get("versionId"):
            raise ConflictError(f"file {file_id} has not been uploaded", code="not_uploaded")
        execution = self._start_rescan(record, starter)
        if execution is None:
            raise ConflictError(f"a rescan of {file_id} was just started", code="rescan_in_progress")
        return execution

    def rescan_all(
        self, starter: ScanStarter, not_scanned_with: str | None = None, clean_since: str | None = None
    ) -> int:
        """Rescan every matching file (INFECTED verdicts are final and never rescanned)."""
        started = 0
        for record in self.repository.rescannable(not_scanned_with, clean_since):
            if self._start_rescan(record, starter) is not None:
                started += 1
        return started

    def _start_rescan(self, record: dict[str, Any], starter: ScanStarter) -> str | None:
        request = ScanRequest.for_record(
            self._bucket, record, record["versionId"], f"rescan-{utc_now()}", record.get("sequencer", "")
        )
        return starter.start(request)
