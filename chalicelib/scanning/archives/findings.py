"""What the audit can conclude, and the interface the format readers use to report members."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Protocol

# Signatures written in ClamAV's style, so the tag reads like clamd's own limit findings.
ZIP_MEMBER_TOO_LARGE = "Manabi.Limits.ZipMemberTooLarge"
MEMBER_TOO_LARGE = "Manabi.Limits.MemberTooLarge"
ARCHIVE_TOO_LARGE = "Manabi.Limits.MaxScanSize"
TOO_MANY_FILES = "Manabi.Limits.MaxFiles"
TOO_DEEP = "Manabi.Limits.MaxRecursion"
ENCRYPTED = "Manabi.Archive.Encrypted"
ENCRYPTED_DOCUMENT = "Manabi.Document.Encrypted"
UNSUPPORTED_METHOD = "Manabi.Archive.UnsupportedMethod"
UNREADABLE = "Manabi.Archive.Unreadable"
NO_CENTRAL_DIRECTORY = "Manabi.Archive.NoCentralDirectory"
HEADER_MISMATCH = "Manabi.Archive.HeaderMismatch"
SIZE_MISMATCH = "Manabi.Archive.SizeMismatch"
OVERLAPPING = "Manabi.Archive.OverlappingEntries"
UNLISTED_ENTRY = "Manabi.Archive.UnlistedEntry"


@dataclass(frozen=True)
class AuditLimits:
    """The limits clamd runs with; the audit holds every container to the same ones."""

    max_file: int
    max_scan: int
    max_files: int
    max_recursion: int


@dataclass(frozen=True)
class Finding:
    """Why the object is not CLEAN: ``infected`` when a member streamed to clamd here was FOUND."""

    signature: str
    reason: str
    infected: bool = False


class FindingError(Exception):
    """Raised by a format reader to end the audit with its finding."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.reason)
        self.finding = finding


def unaccounted(signature: str, reason: str) -> FindingError:
    return FindingError(Finding(signature, reason))


class Walker(Protocol):
    """What a format reader reports each container and member to (``ArchiveAudit``)."""

    limits: AuditLimits

    def where(self, name: str) -> str: ...

    def member(
        self, chunks: Iterator[bytes], name: str, engine_reads: bool, depth: int, too_large: str = MEMBER_TOO_LARGE
    ) -> None: ...

    def node(self, source: IO[bytes], kind: str, depth: int, name: str) -> None: ...

    def count_member(self) -> None: ...

    def check_member_size(self, size: int, name: str, signature: str = MEMBER_TOO_LARGE) -> None: ...

    def add_inflated(self, size: int) -> None: ...
