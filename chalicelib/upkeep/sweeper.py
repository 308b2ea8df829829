"""The sweeper: uploads whose scan never started or never finished (R-MON-02, "pending too long").

S3 and EventBridge deliver at least once, but a lost event, a handler that failed past its
retries, or an execution that died leave an object without a verdict. That fails closed — the
object stays unreadable — but silently. Every run looks for:
- records still ``PENDING_UPLOAD`` well after the upload URL expired whose object exists: the
  upload event never started a scan, so start one for each version;
- records ``PENDING`` long after their scan started: start the scan again;
- records ``ERROR`` for a reason that can pass (clamd unavailable, an engine that failed its
  check, missing or stale definitions, throttling): rescan them, with back-off (the wait doubles
  after each attempt) and a bounded number of attempts. INFECTED and UNSCANNABLE are verdicts,
  never retried this way.
It alerts when it found anything the event path missed, and when a file still ends ERROR after
its last automatic attempt, so neither a broken event path nor a broken engine is silent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.files.repository import FilesRepo
from chalicelib.scanning.errors import ObjectUnavailableError, ScanRequestError
from chalicelib.scanning.requests import ScanRequest, ScanStarter
from chalicelib.scanning.verdicts import PENDING_UPLOAD, Verdict
from chalicelib.timestamps import iso, parse

# Errors no rescan can mend: the version is gone, or the request was malformed.
PERMANENT_ERRORS = {ObjectUnavailableError.__name__, ScanRequestError.__name__}

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """Automatic rescans of transient ERRORs: attempt n waits ``first_delay * 2**n`` after the
    last verdict; after ``attempts`` attempts the file is left ERROR and reported."""

    attempts: int = 4
    first_delay: timedelta = timedelta(minutes=10)


@dataclass(frozen=True)
class SweepReport:
    unscanned_versions: list[str]
    restarted_scans: list[str]
    retried_errors: list[str]
    given_up: list[str]

    @property
    def found(self) -> int:
        return len(self.unscanned_versions) + len(self.restarted_scans)


class UploadSweeper:
    def __init__(self, repo: FilesRepo, s3_client: Any, data_bucket: str, starter: ScanStarter) -> None:
        self._repo = repo
        self._s3 = s3_client
        self._bucket = data_bucket
        self._starter = starter

    def sweep(
        self,
        upload_grace: timedelta,
        scan_grace: timedelta,
        now: datetime | None = None,
        retry: RetryPolicy | None = None,
    ) -> SweepReport:
        now = now or datetime.now(UTC)
        retried, given_up = self._retry_errors(now, retry or RetryPolicy())
        trigger = f"sweep-{iso(now)}"
        unscanned, restarted = [], []
        for record in self._repo.stuck(now - upload_grace, now - scan_grace):
            if record["scanStatus"] == PENDING_UPLOAD:
                for version_id in self._versions(record["objectKey"]):
                    self._start(record, version_id, "", trigger)
                    unscanned.append(f"{record['objectKey']}@{version_id}")
            elif record["scanStatus"] == Verdict.PENDING.value and record.get("versionId"):
                self._start(record, record["versionId"], record.get("sequencer", ""), trigger)
                restarted.append(f"{record['objectKey']}@{record['versionId']}")
        report = SweepReport(unscanned, restarted, retried, given_up)
        if report.found:
            logger.error("sweeper found %d unscanned version(s) and %d stuck scan(s)", len(unscanned), len(restarted))
        return report

    def _retry_errors(self, now: datetime, policy: RetryPolicy) -> tuple[list[str], list[str]]:
        retried, given_up = [], []
        for record in self._repo.errored():
            if record.get("scanErrorType") in PERMANENT_ERRORS or record.get("autoRescanGaveUp"):
                continue
            attempts = int(record.get("autoRescans", 0))
            where = f"{record['objectKey']}@{record['versionId']}"
            if attempts >= policy.attempts:
                self._repo.mark_auto_rescan_given_up(record["ownerSub"], record["fileId"])
                given_up.append(f"{where}: {record.get('scanError', 'no cause recorded')}")
                continue
            last = parse(str(record.get("scannedAt") or record["createdAt"]))
            if now < last + policy.first_delay * (2**attempts):
                continue
            if self._repo.claim_auto_rescan(record["ownerSub"], record["fileId"], attempts):
                trigger = f"retry-{attempts + 1}"
                self._start(record, record["versionId"], record.get("sequencer", ""), trigger)
                retried.append(where)
        if retried:
            logger.warning("rescanning %d file(s) that ended ERROR for a transient reason", len(retried))
        if given_up:
            logger.error("%d file(s) still ERROR after %d automatic rescans", len(given_up), policy.attempts)
        return retried, given_up

    def _versions(self, key: str) -> list[str]:
        paginator = self._s3.get_paginator("list_object_versions")
        return [
            version["VersionId"]
            for page in paginator.paginate(Bucket=self._bucket, Prefix=key)
            for version in page.get("Versions", [])
            if version["Key"] == key
        ]

    def _start(self, record: dict[str, Any], version_id: str, sequencer: str, trigger: str) -> None:
        self._starter.start(ScanRequest.for_record(self._bucket, record, version_id, trigger, sequencer))
