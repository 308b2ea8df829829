"""What the files domain refuses; the API maps each to its status (chalicelib/api/errors.py)."""

from __future__ import annotations

from typing import Any


class FilesError(Exception):
    """A refusal with a stable ``code`` and details a client can use."""

    code = "files_error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NoSuchFileError(FilesError):
    """Missing, deleted, or another learner's: the same answer for all three."""

    code = "not_found"


class InvalidCursorError(FilesError):
    code = "invalid_cursor"


class ScanPendingError(FilesError):
    code = "scan_pending"


class NotCleanError(FilesError):
    code = "file_not_clean"


class VerdictFinalError(FilesError):
    code = "verdict_final"


class NotUploadedError(FilesError):
    code = "not_uploaded"


class RescanInProgressError(FilesError):
    code = "rescan_in_progress"
