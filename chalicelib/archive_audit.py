"""Account for every zip member clamd might not have read.

ClamAV 1.4.6 answers ``OK`` for zip content it did not read (``docs/ARCHIVES.md`` has the
measurements): a member larger than ``MaxFileSize`` is trimmed silently, members in ZIP64
streaming form or compressed with LZMA are not decompressed at all, and a zip without a central
directory is not unpacked. gzip, bzip2, xz and tar raise ``Heuristics.Limits.Exceeded.*``
correctly, but a zip inside them is read by the same zip code.

So a zip, found by content (at the top of the object, or inside zip, tar, gzip, bzip2 or xz
content, down to ``MaxRecursion``), is read here too, independently of clamd: every member is
decompressed and counted, its real size held against the limits, its CRC checked, its headers
compared, and the bytes between members searched for entries the central directory does not
list. A member clamd's zip reader cannot decompress but Python can (ZIP64 streaming form, LZMA)
is decompressed here and streamed into clamd as a scan of its own. Anything that cannot be
accounted for is a ``Finding``: the object is UNSCANNABLE with a ``Manabi.*`` signature naming
the reason, never CLEAN.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import struct
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

CHUNK = 1024 * 1024
SNIFF_BYTES = 512
EOCD_SEARCH_BYTES = 65535 + 22  # the end record plus the longest possible zip comment

LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")
LOCAL_SIGNATURE = b"PK\x03\x04"
ZIP64_MARKER = 0xFFFFFFFF
FLAG_ENCRYPTED = 0x0001
FLAG_DATA_DESCRIPTOR = 0x0008
FLAG_STRONG_ENCRYPTION = 0x0040
STORED, DEFLATED, BZIP2, LZMA = 0, 8, 12, 14
# Methods clamd's zip reader decompresses fully, once the real size is within MaxFileSize.
ENGINE_METHODS = {STORED, DEFLATED, BZIP2}
# Methods Python can decompress here (the others are UNSCANNABLE: nothing could check them).
READABLE_METHODS = {STORED, DEFLATED, BZIP2, LZMA}

# Signatures written in ClamAV's style, so the tag reads like clamd's own limit findings.
MEMBER_TOO_LARGE = "Manabi.Limits.ZipMemberTooLarge"
ARCHIVE_TOO_LARGE = "Manabi.Limits.MaxScanSize"
TOO_MANY_FILES = "Manabi.Limits.MaxFiles"
TOO_DEEP = "Manabi.Limits.MaxRecursion"
ENCRYPTED = "Manabi.Archive.Encrypted"
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
    """Why the object is not CLEAN: ``infected`` when a member scanned here was FOUND."""

    signature: str
    reason: str
    infected: bool = False


class FindingError(Exception):
    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.reason)
        self.finding = finding


def _unaccounted(signature: str, reason: str) -> FindingError:
    return FindingError(Finding(signature, reason))


@dataclass
class AuditReport:
    """What the audit read. ``finding`` is None when every member was accounted for."""

    finding: Finding | None = None
    containers: int = 0
    members: int = 0
    inflated_bytes: int = 0
    member_scans: int = 0


MemberScan = Callable[[Iterable[bytes]], Finding | None]
"""Streams one member into clamd; returns a Finding when clamd did not answer OK."""


def sniff(head: bytes) -> str | None:
    """The container kind of content that starts with ``head``, or None for a leaf."""
    if head.startswith((LOCAL_SIGNATURE, b"PK\x05\x06", b"PK\x07\x08")):
        return "zip"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"BZh") and head[3:4].isdigit():
        return "bzip2"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    if head[257:262] == b"ustar":
        return "tar"
    return None


def has_end_record(tail: bytes) -> bool:
    """True when ``tail`` (the last bytes of some content) ends with a zip end-of-central-directory
    record: self-extracting archives, or a zip appended to other bytes. As in ``zipfile``, the
    record's comment length must reach exactly to the end, so random bytes almost never match."""
    tail = tail[-EOCD_SEARCH_BYTES:]
    position = tail.rfind(b"PK\x05\x06")
    while position >= 0:
        if position + 22 <= len(tail):
            (comment_length,) = struct.unpack_from("<H", tail, position + 20)
            if position + 22 + comment_length == len(tail):
                return True
        position = tail.rfind(b"PK\x05\x06", 0, position)
    return False


class ArchiveAudit:
    """Audits one object's containers; a new instance per object (it keeps the running totals)."""

    def __init__(self, limits: AuditLimits, member_scan: MemberScan, spool_dir: Path | None = None) -> None:
        self._limits = limits
        self._member_scan = member_scan
        self._spool_dir = spool_dir
        self.report = AuditReport()

    def run(self, source: IO[bytes], kind: str) -> AuditReport:
        """Audit ``source`` (seekable, positioned anywhere) as a container of ``kind``."""
        try:
            with ExitStack() as cleanup:
                self._audit(source, kind, depth=0, cleanup=cleanup)
        except FindingError as error:
            self.report.finding = error.finding
        return self.report

    # -- one node of the container tree -------------------------------------------------------

    def _audit(self, source: IO[bytes], kind: str, depth: int, cleanup: ExitStack) -> None:
        if depth > self._limits.max_recursion:
            raise _unaccounted(TOO_DEEP, f"containers nested deeper than {self._limits.max_recursion} levels")
        self.report.containers += 1
        if kind == "zip":
            self._audit_zip(source, depth, cleanup)
        elif kind == "tar":
            self._audit_tar(source, depth, cleanup)
        else:
            self._audit_stream(source, kind, depth, cleanup)

    def _audit_stream(self, source: IO[bytes], kind: str, depth: int, cleanup: ExitStack) -> None:
        """gzip, bzip2, xz: one decompressed stream, which may itself be a container."""
        source.seek(0)
        openers: dict[str, Callable[[IO[bytes]], Any]] = {
            "gzip": lambda raw: gzip.GzipFile(fileobj=raw, mode="rb"),
            "bzip2": lambda raw: bz2.BZ2File(raw, mode="rb"),
            "xz": lambda raw: lzma.LZMAFile(raw, mode="rb"),
        }
        try:
            with openers[kind](source) as stream:
                chunks = iter(lambda: stream.read(CHUNK), b"")
                self._member(chunks, f"{kind} content", engine_reads=True, depth=depth, cleanup=cleanup)
        except (OSError, EOFError, lzma.LZMAError, ValueError) as error:
            raise _unaccounted(UNREADABLE, f"{kind} data cannot be decompressed: {error}") from error

    def _audit_tar(self, source: IO[bytes], depth: int, cleanup: ExitStack) -> None:
        source.seek(0)
        try:
            archive = tarfile.open(fileobj=source, mode="r:")
            for member in archive:
                self._count_member()
                if not member.isfile():
                    continue
                extracted = archive.extractfile(member)
                if extracted is None:
                    continue
                # Tar members are stored, not compressed: clamd reads them whole (and alerts on
                # MaxFileSize itself); they only matter here if they are containers.
                self._add_inflated(member.size)
                head = extracted.read(SNIFF_BYTES)
                kind = sniff(head) or (self._tail_kind(extracted, member.size))
                if kind is not None:
                    self._check_member_size(member.size, member.name)
                    self._audit(extracted, kind, depth + 1, cleanup)
        except tarfile.TarError as error:
            raise _unaccounted(UNREADABLE, f"tar data cannot be read: {error}") from error

    def _audit_zip(self, source: IO[bytes], depth: int, cleanup: ExitStack) -> None:
        try:
            archive = zipfile.ZipFile(source)
            entries = archive.infolist()
            directory_start = archive.start_dir
        except zipfile.BadZipFile as error:
            source.seek(0)
            if source.read(4) == LOCAL_SIGNATURE and "File is not a zip file" in str(error):
                raise _unaccounted(
                    NO_CENTRAL_DIRECTORY, "zip local headers without a central directory (clamd does not unpack those)"
                ) from error
            raise _unaccounted(UNREADABLE, f"zip structure cannot be read: {error}") from error
        except (OSError, ValueError, EOFError, NotImplementedError) as error:
            raise _unaccounted(UNREADABLE, f"zip structure cannot be read: {error}") from error
        # clamd does not follow a classic end record saturated to 0xFFFF/0xFFFFFFFF to the ZIP64
        # one ("central not found, using localhdrs") and then extracts no deflated member at all.
        directory_readable = not _saturated_end_record(source)
        spans: list[tuple[int, int]] = []
        for entry in entries:
            self._count_member()
            spans.append(self._zip_member(source, entry, depth, cleanup, directory_readable))
        self._check_spans(source, spans, directory_start)

    def _zip_member(
        self, source: IO[bytes], entry: zipfile.ZipInfo, depth: int, cleanup: ExitStack, directory_readable: bool
    ) -> tuple[int, int]:
        name = entry.filename
        if entry.flag_bits & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION):
            raise _unaccounted(ENCRYPTED, f"zip member {name!r} is encrypted")
        if entry.compress_type not in READABLE_METHODS:
            raise _unaccounted(UNSUPPORTED_METHOD, f"zip member {name!r} uses compression method {entry.compress_type}")
        self._check_member_size(entry.file_size, name)
        source.seek(entry.header_offset)
        header = source.read(LOCAL_HEADER.size)
        if len(header) < LOCAL_HEADER.size:
            raise _unaccounted(UNREADABLE, f"zip member {name!r} points past the end of the file")
        signature, _, flags, method, _, _, _, local_csize, local_usize, name_length, extra_length = LOCAL_HEADER.unpack(
            header
        )
        if signature != LOCAL_SIGNATURE or method != entry.compress_type:
            raise _unaccounted(HEADER_MISMATCH, f"zip member {name!r}: local header disagrees with the directory")
        zip64_local = ZIP64_MARKER in (local_csize, local_usize)
        described_later = bool(flags & FLAG_DATA_DESCRIPTOR) and local_csize == 0 and local_usize == 0
        if not (zip64_local or described_later) and (local_csize, local_usize) != (
            entry.compress_size,
            entry.file_size,
        ):
            raise _unaccounted(HEADER_MISMATCH, f"zip member {name!r}: local sizes disagree with the directory")
        data_start = entry.header_offset + LOCAL_HEADER.size + name_length + extra_length
        chunks = _decompress(source, data_start, entry.compress_size, entry.compress_type, name)
        crc = 0
        produced = 0

        def counted() -> Iterator[bytes]:
            nonlocal crc, produced
            for chunk in chunks:
                crc = zlib.crc32(chunk, crc)
                produced += len(chunk)
                yield chunk

        engine_reads = directory_readable and entry.compress_type in ENGINE_METHODS and not zip64_local
        self._member(counted(), f"zip member {name!r}", engine_reads, depth, cleanup)
        if produced != entry.file_size:
            raise _unaccounted(
                SIZE_MISMATCH, f"zip member {name!r} holds {produced} bytes, its header says {entry.file_size}"
            )
        if crc != entry.CRC:
            raise _unaccounted(UNREADABLE, f"zip member {name!r} fails its CRC check")
        return entry.header_offset, data_start + entry.compress_size

    def _check_spans(self, source: IO[bytes], spans: list[tuple[int, int]], directory_start: int) -> None:
        """Members must not overlap, and the bytes between them must not hide another entry."""
        spans.sort()
        position = 0
        for start, end in spans:
            if start < position or end > directory_start:
                raise _unaccounted(OVERLAPPING, "zip members overlap each other or the directory (a zip bomb trick)")
            self._search_gap(source, position, start)
            position = end
        self._search_gap(source, position, directory_start)

    def _search_gap(self, source: IO[bytes], start: int, end: int) -> None:
        if end <= start:
            return
        source.seek(start)
        carry = b""
        remaining = end - start
        while remaining > 0:
            block = source.read(min(CHUNK, remaining))
            if not block:
                return
            if LOCAL_SIGNATURE in carry + block:
                raise _unaccounted(UNLISTED_ENTRY, "zip data holds a local entry the central directory does not list")
            carry = block[-3:]
            remaining -= len(block)

    # -- members ----------------------------------------------------------------------------

    def _member(self, chunks: Iterator[bytes], label: str, engine_reads: bool, depth: int, cleanup: ExitStack) -> None:
        """Count a member's decompressed bytes; spool it when it is a container or clamd needs it
        streamed separately; then audit or scan the spooled copy."""
        first = b""
        for chunk in chunks:
            first += chunk
            if len(first) >= SNIFF_BYTES:
                break
        kind = sniff(first)
        spool: IO[bytes] | None = None
        if kind is not None or not engine_reads:
            spool = cleanup.enter_context(tempfile.TemporaryFile(dir=self._spool_dir))
        size = 0
        tail = b""
        for block in _prepend(first, chunks):
            size += len(block)
            self._add_inflated(len(block))
            if size > self._limits.max_file:
                raise _unaccounted(MEMBER_TOO_LARGE, f"{label} is larger than the {self._limits.max_file}-byte limit")
            if spool is not None:
                spool.write(block)
            else:
                tail = (tail + block)[-EOCD_SEARCH_BYTES:]
        if spool is None and kind is None and has_end_record(tail):
            raise _unaccounted(UNLISTED_ENTRY, f"{label} ends with a zip directory but does not start like one")
        if spool is None:
            return
        spool.flush()
        if not engine_reads:
            self.report.member_scans += 1
            finding = self._member_scan(_read_all(spool))
            if finding is not None:
                raise FindingError(finding)
        if kind is not None:
            self._audit(spool, kind, depth + 1, cleanup)

    def _tail_kind(self, member: IO[bytes], size: int) -> str | None:
        if size < 22:
            return None
        member.seek(max(0, size - EOCD_SEARCH_BYTES))
        return "zip" if has_end_record(member.read()) else None

    def _count_member(self) -> None:
        self.report.members += 1
        if self.report.members > self._limits.max_files:
            raise _unaccounted(TOO_MANY_FILES, f"more than {self._limits.max_files} archive members")

    def _check_member_size(self, size: int, name: str) -> None:
        if size > self._limits.max_file:
            raise _unaccounted(
                MEMBER_TOO_LARGE, f"member {name!r} is {size} bytes, over the {self._limits.max_file}-byte limit"
            )

    def _add_inflated(self, size: int) -> None:
        self.report.inflated_bytes += size
        if self.report.inflated_bytes > self._limits.max_scan:
            raise _unaccounted(ARCHIVE_TOO_LARGE, f"archive content exceeds the {self._limits.max_scan}-byte limit")


def _saturated_end_record(source: IO[bytes]) -> bool:
    source.seek(0, 2)
    size = source.tell()
    source.seek(max(0, size - EOCD_SEARCH_BYTES))
    tail = source.read()
    position = tail.rfind(b"PK\x05\x06")
    if position < 0 or position + 22 > len(tail):
        return False
    _, disk, directory_disk, disk_entries, entries, directory_size, offset, _ = struct.unpack_from(
        "<4sHHHHIIH", tail, position
    )
    return 0xFFFF in (disk, directory_disk, disk_entries, entries) or ZIP64_MARKER in (directory_size, offset)


def _prepend(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest


def _read_all(spool: IO[bytes]) -> Iterator[bytes]:
    spool.seek(0)
    yield from iter(lambda: spool.read(CHUNK), b"")


def _decompressor(method: int, source: IO[bytes]) -> Any:
    if method == DEFLATED:
        return zlib.decompressobj(-15)
    if method == BZIP2:
        return bz2.BZ2Decompressor()
    # Zip's LZMA: a 2-byte version, a 2-byte properties length, the properties, then raw LZMA1.
    _, length = struct.unpack("<HH", source.read(4))
    properties = source.read(length)
    filters = [lzma._decode_filter_properties(lzma.FILTER_LZMA1, properties)]  # type: ignore[attr-defined]
    return lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=filters)


def _decompress(source: IO[bytes], start: int, compressed: int, method: int, name: str) -> Iterator[bytes]:
    """The decompressed bytes of one zip member, in chunks of at most ``CHUNK`` bytes: the whole
    compressed range is consumed, whatever the header claims about the output size."""
    source.seek(start)
    if method == STORED:
        remaining = compressed
        while remaining > 0:
            block = source.read(min(CHUNK, remaining))
            if not block:
                raise _unaccounted(UNREADABLE, f"zip member {name!r} is truncated")
            remaining -= len(block)
            yield block
        return
    truncated = _unaccounted(UNREADABLE, f"zip member {name!r} ends before its compressed stream does")
    try:
        decompressor = _decompressor(method, source)
        remaining = compressed - (source.tell() - start)
        pending = b""
        while True:
            hungry = not pending if method == DEFLATED else decompressor.needs_input
            if hungry and remaining > 0:
                pending = source.read(min(CHUNK, remaining))
                if not pending:
                    raise truncated
                remaining -= len(pending)
            block = decompressor.decompress(pending, CHUNK)
            pending = decompressor.unconsumed_tail if method == DEFLATED else b""
            if block:
                yield block
            if decompressor.eof:
                return
            if not block and hungry and remaining <= 0:
                raise truncated
    except (zlib.error, OSError, EOFError, lzma.LZMAError, ValueError, struct.error) as error:
        raise _unaccounted(UNREADABLE, f"zip member {name!r} cannot be decompressed: {error}") from error
