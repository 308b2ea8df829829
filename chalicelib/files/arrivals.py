"""An upload arrives (the upload event handler): a version for a deleted record is removed,
never scanned or kept; any other version is scanned, held to the size its record declared."""

from __future__ import annotations

import logging
from typing import Any

from chalicelib.files.repository import FilesRepo
from chalicelib.scanning.requests import ScanRequest, ScanStarter
from chalicelib.scanning.verdicts import DELETED

logger = logging.getLogger(__name__)


class UploadArrivals:
    """What the upload event handler does with one new object version."""

    def __init__(self, repo: FilesRepo, s3_client: Any, starter: ScanStarter) -> None:
        self._repo = repo
        self._s3 = s3_client
        self._starter = starter

    def arrived(self, request: ScanRequest) -> dict[str, str | None]:
        """Start the version's scan (``execution``: its ARN, or None when it was already
        started), or remove it when its file was deleted (``removed``: the version id).

        The presigned form stays valid for minutes after a delete, and a version POSTed then
        could never be reached or removed through the API. ``FileService.delete`` marks the
        record before it deletes the versions, so a version landing meanwhile is caught here.
        """
        record = self._repo.get_any(request.ownerSub, request.fileId)
        if record is not None and record.get("objectKey") == request.key and record.get("status") == DELETED:
            self._s3.delete_object(Bucket=request.bucket, Key=request.key, VersionId=request.versionId)
            logger.warning("removed %s (%s): its file was deleted", request.key, request.versionId)
            return {"execution": None, "removed": request.versionId}
        return {"execution": self._starter.start(request.declaring(record))}
