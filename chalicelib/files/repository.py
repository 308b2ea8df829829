"""File records in DynamoDB: one partition per owner (``ownerSub``, ``fileId``), no indexes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from chalicelib import tracing
from chalicelib.config import CANARY_PREFIX
from chalicelib.files.records import Page, decode_cursor, encode_cursor
from chalicelib.scanning.verdicts import DELETED, PENDING_UPLOAD, Verdict
from chalicelib.timestamps import now, parse

# A page reads at least READ_LIMIT records per request, and at most PAGE_READS requests.
READ_LIMIT = 100
PAGE_READS = 10
_NOT_DELETED = "(attribute_not_exists(#status) OR #status <> :deleted)"


def _not_canary() -> Any:
    """The scan canary's records (objects under ``canary/``) are no one's files: every scan across
    owners leaves them out (the admin view, rescans, backups, the sweeper)."""
    from boto3.dynamodb.conditions import Attr

    return ~Attr("objectKey").begins_with(CANARY_PREFIX)


class FilesRepo:
    """File records in DynamoDB, one partition per owner (``ownerSub``, ``fileId``)."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def create(self, record: dict[str, Any]) -> None:
        with tracing.step(tracing.RECORD_UPDATE, change="create"):
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
        }
        return self._page(self._table.query, arguments, limit, decode_cursor(cursor, owner_sub))

    def list_by_status(self, scan_status: str, limit: int, cursor: str | None) -> Page:
        """Admin view across owners. A Scan with a filter: fine for an operator's occasional use,
        and it keeps the table free of secondary indexes (R-DDB-01)."""
        from boto3.dynamodb.conditions import Attr

        arguments: dict[str, Any] = {
            "FilterExpression": Attr("scanStatus").eq(scan_status) & Attr("status").ne(DELETED) & _not_canary(),
        }
        return self._page(self._table.scan, arguments, limit, decode_cursor(cursor))

    @staticmethod
    def _page(read: Any, arguments: dict[str, Any], limit: int, start: dict[str, Any] | None) -> Page:
        """Up to ``limit`` records that pass the filter. DynamoDB's ``Limit`` counts the records
        it reads, deleted ones included, so read on until the page is full (at most
        ``PAGE_READS`` reads); the cursor is the key of the last record shown."""
        items: list[dict[str, Any]] = []
        for _ in range(PAGE_READS):
            where = {"ExclusiveStartKey": start} if start else {}
            response = read(**arguments, **where, Limit=max(limit, READ_LIMIT))
            items.extend(response.get("Items", []))
            start = response.get("LastEvaluatedKey")
            if len(items) >= limit or not start:
                break
        if len(items) > limit:
            items = items[:limit]
            start = items[-1]
        return Page(items, encode_cursor(start))

    def rescannable(
        self, not_scanned_with: str | None = None, clean_since: datetime | None = None
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
        if clean_since is None:
            yield from self._scan_all(condition)
            return
        condition &= Attr("scanStatus").eq(Verdict.CLEAN.value) & Attr("scannedAt").exists()
        # scannedAt comes from Step Functions: compared as a time, not as a string.
        yield from (record for record in self._scan_all(condition) if parse(record["scannedAt"]) >= clean_since)

    def get_any(self, owner_sub: str, file_id: str) -> dict[str, Any] | None:
        """The record even when it is marked deleted (restores)."""
        key = {"ownerSub": owner_sub, "fileId": file_id}
        return self._table.get_item(Key=key, ConsistentRead=True).get("Item")  # type: ignore[no-any-return]

    def mark_restored(self, owner_sub: str, file_id: str) -> None:
        with tracing.step(tracing.RECORD_UPDATE, change="restore"):
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
        arguments: dict[str, Any] = {"FilterExpression": condition & _not_canary()}
        while True:
            response = self._table.scan(**arguments)
            yield from response.get("Items", [])
            if "LastEvaluatedKey" not in response:
                return
            arguments["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def stuck(self, created_before: datetime, scan_started_before: datetime) -> Iterator[dict[str, Any]]:
        """Records waiting for an upload created before, or for a scan started before, the given times."""
        from boto3.dynamodb.conditions import Attr

        waiting = Attr("scanStatus").is_in([PENDING_UPLOAD, Verdict.PENDING.value])
        for record in self._scan_all(Attr("status").ne(DELETED) & waiting):
            if record["scanStatus"] == PENDING_UPLOAD:
                since, limit = record.get("createdAt"), created_before
            else:
                since, limit = record.get("scanStartedAt"), scan_started_before
            if since and parse(str(since)) < limit:
                yield record

    def errored(self) -> Iterator[dict[str, Any]]:
        """Records whose current version ended ERROR (the sweeper's automatic rescans)."""
        from boto3.dynamodb.conditions import Attr

        condition = Attr("status").ne(DELETED) & Attr("versionId").exists() & Attr("scanStatus").eq(Verdict.ERROR.value)
        yield from self._scan_all(condition)

    def claim_rescan(self, owner_sub: str, file_id: str, version_id: str) -> bool:
        """Mark the record's version as being scanned again (``PENDING``), unless a scan of it is
        already in flight, its verdict is final (INFECTED), it was deleted or a newer version
        took the record: one in-flight scan per version. A claim whose execution never starts
        is found by the sweeper once ``scanStartedAt`` is old, like any scan that died."""
        return self._claim(
            owner_sub,
            file_id,
            "SET scanStatus = :pending, scanStartedAt = :now",
            f"versionId = :version AND scanStatus IN (:clean, :unscannable, :error) AND {_NOT_DELETED}",
            {":version": version_id, ":clean": Verdict.CLEAN.value, ":unscannable": Verdict.UNSCANNABLE.value},
        )

    def claim_auto_rescan(self, owner_sub: str, file_id: str, attempts: int) -> bool:
        """Count one more automatic rescan and mark the scan in flight, unless another sweeper
        run counted it first or another rescan claimed the version."""
        return self._claim(
            owner_sub,
            file_id,
            "SET autoRescans = :next, scanStatus = :pending, scanStartedAt = :now",
            f"scanStatus = :error AND (attribute_not_exists(autoRescans) OR autoRescans = :seen) AND {_NOT_DELETED}",
            {":next": attempts + 1, ":seen": attempts},
        )

    def _claim(self, owner_sub: str, file_id: str, update: str, condition: str, values: dict[str, Any]) -> bool:
        from botocore.exceptions import ClientError

        try:
            with tracing.step(tracing.RECORD_UPDATE, change="claim rescan"):
                self._table.update_item(
                    Key={"ownerSub": owner_sub, "fileId": file_id},
                    UpdateExpression=update,
                    ConditionExpression=condition,
                    ExpressionAttributeNames={"#status": "status"},
                    ExpressionAttributeValues={
                        ":pending": Verdict.PENDING.value,
                        ":error": Verdict.ERROR.value,
                        ":deleted": DELETED,
                        ":now": now(),
                        **values,
                    },
                )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def mark_auto_rescan_given_up(self, owner_sub: str, file_id: str) -> None:
        with tracing.step(tracing.RECORD_UPDATE, change="give up"):
            self._table.update_item(
                Key={"ownerSub": owner_sub, "fileId": file_id},
                UpdateExpression="SET autoRescanGaveUp = :now",
                ExpressionAttributeValues={":now": now()},
            )

    def forget(self, owner_sub: str, file_id: str) -> None:
        """Remove the record itself (the scan canary's, once its objects are deleted)."""
        with tracing.step(tracing.RECORD_UPDATE, change="forget"):
            self._table.delete_item(Key={"ownerSub": owner_sub, "fileId": file_id})

    def mark_deleted(self, owner_sub: str, file_id: str) -> None:
        with tracing.step(tracing.RECORD_UPDATE, change="delete"):
            self._table.update_item(
                Key={"ownerSub": owner_sub, "fileId": file_id},
                UpdateExpression="SET #status = :deleted, deletedAt = :now",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":deleted": DELETED, ":now": now()},
            )
