"""The sweeper: uploads whose scan never started or never finished (R-MON-02, "pending too long").

S3 and EventBridge deliver at least once, but a lost event, a handler that failed past its
retries, or an execution that died leave an object without a verdict. That fails closed — the
object stays unreadable — but silently. Every run looks for:
- records still ``PENDING_UPLOAD`` well after the upload URL expired whose object exists: the
  upload event never started a scan, so start one for each version;
- records ``PENDING`` long after their scan started: start the scan again.
It alerts when it found anything, so a broken event path is never silent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.files import PENDING_UPLOAD, FilesRepo
from chalicelib.uploads import ScanRequest, ScanStarter
from chalicelib.verdicts import Verdict

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepReport:
    unscanned_versions: list[str]
    restarted_scans: list[str]

    @property
    def found(self) -> int:
        return len(self.unscanned_versions) + len(self.restarted_scans)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


class UploadSweeper:
    def __init__(self, repo: FilesRepo, s3_client: Any, data_bucket: str, starter: ScanStarter) -> None:
        self._repo = repo
        self._s3 = s3_client
        self._bucket = data_bucket
        self._starter = starter

    def sweep(self, upload_grace: timedelta, scan_grace: timedelta, now: datetime | None = None) -> SweepReport:
        now = now or datetime.now(UTC)
        trigger = f"sweep-{_stamp(now)}"
        unscanned, restarted = [], []
        for record in self._repo.stuck(_stamp(now - upload_grace), _stamp(now - scan_grace)):
            if record["scanStatus"] == PENDING_UPLOAD:
                for version_id in self._versions(record["objectKey"]):
                    self._start(record, version_id, "", trigger)
                    unscanned.append(f"{record['objectKey']}@{version_id}")
            elif record["scanStatus"] == Verdict.PENDING.value and record.get("versionId"):
                self._start(record, record["versionId"], record.get("sequencer", ""), trigger)
                restarted.append(f"{record['objectKey']}@{record['versionId']}")
        report = SweepReport(unscanned, restarted)
        if report.found:
            logger.error("sweeper found %d unscanned version(s) and %d stuck scan(s)", len(unscanned), len(restarted))
        return report

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
