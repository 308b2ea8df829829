"""The audit of one object: walks its container tree and keeps the running totals."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from chalicelib.scanning.archives import formats, zips
from chalicelib.scanning.archives.findings import (
    ARCHIVE_TOO_LARGE,
    MEMBER_TOO_LARGE,
    TOO_DEEP,
    TOO_MANY_FILES,
    UNLISTED_ENTRY,
    AuditLimits,
    Finding,
    FindingError,
    unaccounted,
)
from chalicelib.scanning.archives.sniff import EOCD_SEARCH_BYTES, SNIFF_BYTES, has_end_record, sniff

CHUNK = 1024 * 1024

MemberScan = Callable[[Iterable[bytes]], Finding | None]
"""Streams one member into clamd; returns a Finding when clamd did not answer OK."""

_READERS: dict[str, Callable[..., None]] = {
    "zip": zips.audit_zip,
    "tar": formats.audit_tar,
    "gzip": formats.audit_stream,
    "bzip2": formats.audit_stream,
    "xz": formats.audit_stream,
    "ole2": formats.audit_ole2,
    "libarchive": formats.audit_libarchive,
    "arj": formats.audit_arj,
}


@dataclass
class AuditReport:
    """What the audit read. ``finding`` is None when every member was accounted for."""

    finding: Finding | None = None
    containers: int = 0
    members: int = 0
    inflated_bytes: int = 0
    member_scans: int = 0


class ArchiveAudit:
    """Audits one object's containers; a new instance per object (it keeps the running totals).

    Format readers (``zip``, ``formats``) report each member's decompressed bytes to ``member``:
    they are counted against the limits, spooled when they are a container themselves (which is
    then audited in turn) or when clamd cannot be trusted to have read them (then streamed into
    clamd by themselves through ``member_scan``).
    """

    def __init__(self, limits: AuditLimits, member_scan: MemberScan, spool_dir: Path | None = None) -> None:
        self.limits = limits
        self._member_scan = member_scan
        self._spool_dir = spool_dir
        self._path: list[str] = []
        self._cleanup = ExitStack()
        self.report = AuditReport()

    def run(self, source: IO[bytes], kind: str) -> AuditReport:
        """Audit ``source`` (seekable) as a container of ``kind`` (see ``sniff``)."""
        try:
            with self._cleanup:
                self.node(source, kind, depth=0, name="")
        except FindingError as error:
            self.report.finding = error.finding
        return self.report

    def where(self, name: str) -> str:
        """A member's place in the tree, for reasons a person reads: ``in.zip › a.bin``."""
        return " › ".join([*self._path, name]) if name else " › ".join(self._path) or "the file"

    def node(self, source: IO[bytes], kind: str, depth: int, name: str) -> None:
        if depth > self.limits.max_recursion:
            raise unaccounted(TOO_DEEP, f"containers nested deeper than {self.limits.max_recursion} levels")
        self.report.containers += 1
        if name:
            self._path.append(name)
        try:
            source.seek(0)
            _READERS[kind](self, source, depth)
        finally:
            if name:
                self._path.pop()

    def member(
        self, chunks: Iterator[bytes], name: str, engine_reads: bool, depth: int, too_large: str = MEMBER_TOO_LARGE
    ) -> None:
        first = b""
        for chunk in chunks:
            first += chunk
            if len(first) >= SNIFF_BYTES:
                break
        kind = sniff(first)
        spool: IO[bytes] | None = None
        if kind is not None or not engine_reads:
            spool = self._cleanup.enter_context(tempfile.TemporaryFile(dir=self._spool_dir))
        size = 0
        tail = b""
        for block in _prepend(first, chunks):
            size += len(block)
            self.add_inflated(len(block))
            if size > self.limits.max_file:
                raise unaccounted(too_large, f"{self.where(name)} is larger than the {self.limits.max_file}-byte limit")
            if spool is not None:
                spool.write(block)
            else:
                tail = (tail + block)[-EOCD_SEARCH_BYTES:]
        if spool is None and kind is None and has_end_record(tail):
            raise unaccounted(
                UNLISTED_ENTRY, f"{self.where(name)} ends with a zip directory but does not start like one"
            )
        if spool is None:
            return
        spool.flush()
        if not engine_reads:
            self.report.member_scans += 1
            finding = self._member_scan(_read_all(spool))
            if finding is not None:
                raise FindingError(
                    Finding(finding.signature, f"{self.where(name)}: {finding.reason}", finding.infected)
                )
        if kind is not None:
            self.node(spool, kind, depth + 1, name)

    def count_member(self) -> None:
        self.report.members += 1
        if self.report.members > self.limits.max_files:
            raise unaccounted(TOO_MANY_FILES, f"more than {self.limits.max_files} archive members")

    def check_member_size(self, size: int, name: str, signature: str = MEMBER_TOO_LARGE) -> None:
        if size > self.limits.max_file:
            raise unaccounted(
                signature, f"{self.where(name)} is {size} bytes, over the {self.limits.max_file}-byte limit"
            )

    def add_inflated(self, size: int) -> None:
        self.report.inflated_bytes += size
        if self.report.inflated_bytes > self.limits.max_scan:
            raise unaccounted(ARCHIVE_TOO_LARGE, f"archive content exceeds the {self.limits.max_scan}-byte limit")


def _prepend(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest


def _read_all(spool: IO[bytes]) -> Iterator[bytes]:
    spool.seek(0)
    yield from iter(lambda: spool.read(CHUNK), b"")
