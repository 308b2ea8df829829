"""Rescans: one file (an operator), every file not scanned with a definitions version (an
operator, after an update), recent CLEAN files after new definitions (the updater). INFECTED
verdicts are final and never rescanned."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from chalicelib.files.errors import NoSuchFileError, NotUploadedError, RescanInProgressError, VerdictFinalError
from chalicelib.files.repository import FilesRepo
from chalicelib.scanning.requests import ScanRequest, ScanStarter
from chalicelib.scanning.verdicts import NEVER_RESCANNED, PENDING_UPLOAD
from chalicelib.timestamps import now

logger = logging.getLogger(__name__)


class Rescans:
    def __init__(self, repo: FilesRepo, starter: ScanStarter, data_bucket: str) -> None:
        self._repo = repo
        self._starter = starter
        self._bucket = data_bucket

    def rescan(self, owner_sub: str, file_id: str) -> str:
        record = self._repo.get(owner_sub, file_id)
        if record is None:
            raise NoSuchFileError(f"no file {file_id}")
        status = record["scanStatus"]
        if status in NEVER_RESCANNED:
            raise VerdictFinalError(f"file {file_id} is INFECTED: its verdict is final")
        if status == PENDING_UPLOAD or not record.get("versionId"):
            raise NotUploadedError(f"file {file_id} has not been uploaded")
        execution = self._start(record)
        if execution is None:
            raise RescanInProgressError(f"file {file_id} is being scanned ({status}); try again once it is done")
        return execution

    def rescan_all(self, not_scanned_with: str | None = None, clean_since: datetime | None = None) -> int:
        """Rescan every matching file; returns how many scans started."""
        return sum(self._start(record) is not None for record in self._repo.rescannable(not_scanned_with, clean_since))

    def _start(self, record: dict[str, Any]) -> str | None:
        """Claim the version (one in-flight scan per version, ``FilesRepo.claim_rescan``), then
        start its scan; None when the claim was refused."""
        file_id, version_id = record["fileId"], record["versionId"]
        if not self._repo.claim_rescan(record["ownerSub"], file_id, version_id):
            logger.info("not rescanning %s: a scan of %s is in flight or its verdict is final", file_id, version_id)
            return None
        trigger, sequencer = f"rescan-{now()}", record.get("sequencer", "")
        return self._starter.start(ScanRequest.for_record(self._bucket, record, version_id, trigger, sequencer))
