"""Zip (and Office Open XML, jar, apk, epub): every member accounted for, independently of clamd.

clamd's zip reader trims members over ``MaxFileSize``, skips methods it does not know (LZMA,
PPMd, XZ), does not decompress members whose local header carries ZIP64 sizes, and extracts
nothing when the central directory is missing or only reachable through a ZIP64 end record.
Here every member is decompressed (the whole compressed range, whatever the header claims),
its real size, CRC and headers checked, the bytes between members searched for unlisted
entries; members clamd's reader would not have read are streamed into clamd by themselves.
"""

from __future__ import annotations

import bz2
import lzma
import struct
import zipfile
import zlib
from collections.abc import Iterator
from typing import IO, Any

from chalicelib.scanning.archives.findings import (
    ENCRYPTED,
    HEADER_MISMATCH,
    NO_CENTRAL_DIRECTORY,
    OVERLAPPING,
    SIZE_MISMATCH,
    UNLISTED_ENTRY,
    UNREADABLE,
    UNSUPPORTED_METHOD,
    ZIP_MEMBER_TOO_LARGE,
    Walker,
    unaccounted,
)
from chalicelib.scanning.archives.sniff import EOCD_SEARCH_BYTES

CHUNK = 1024 * 1024
LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")
END_RECORD = struct.Struct("<4sHHHHIIH")
LOCAL_SIGNATURE = b"PK\x03\x04"
ZIP64_MARKER = 0xFFFFFFFF
FLAG_ENCRYPTED = 0x0001
FLAG_DATA_DESCRIPTOR = 0x0008
FLAG_STRONG_ENCRYPTION = 0x0040
STORED, DEFLATED, BZIP2, LZMA = 0, 8, 12, 14
# Methods clamd's zip reader decompresses fully, once the real size is within MaxFileSize.
ENGINE_METHODS = {STORED, DEFLATED, BZIP2}
# Methods Python decompresses here; the others (Deflate64, PPMd, XZ, …) nothing can check.
READABLE_METHODS = {STORED, DEFLATED, BZIP2, LZMA}


def audit_zip(walker: Walker, source: IO[bytes], depth: int) -> None:
    try:
        archive = zipfile.ZipFile(source)
        entries = archive.infolist()
        directory_start = archive.start_dir
    except zipfile.BadZipFile as error:
        source.seek(0)
        if source.read(4) == LOCAL_SIGNATURE and "File is not a zip file" in str(error):
            raise unaccounted(
                NO_CENTRAL_DIRECTORY, "zip local headers without a central directory (clamd does not unpack those)"
            ) from error
        raise unaccounted(UNREADABLE, f"zip structure cannot be read: {error}") from error
    except (OSError, ValueError, EOFError, NotImplementedError) as error:
        raise unaccounted(UNREADABLE, f"zip structure cannot be read: {error}") from error
    # clamd does not follow a classic end record saturated to 0xFFFF/0xFFFFFFFF to the ZIP64
    # one ("central not found, using localhdrs") and then extracts no deflated member at all.
    directory_readable = not _saturated_end_record(source)
    spans = []
    for entry in entries:
        walker.count_member()
        spans.append(_member(walker, source, entry, depth, directory_readable))
    _check_spans(walker, source, spans, directory_start)


def _member(
    walker: Walker, source: IO[bytes], entry: zipfile.ZipInfo, depth: int, directory_readable: bool
) -> tuple[int, int]:
    name = entry.filename
    where = walker.where(name)
    if entry.flag_bits & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION):
        raise unaccounted(ENCRYPTED, f"{where} is encrypted")
    if entry.compress_type not in READABLE_METHODS:
        raise unaccounted(UNSUPPORTED_METHOD, f"{where} uses compression method {entry.compress_type}")
    walker.check_member_size(entry.file_size, name, ZIP_MEMBER_TOO_LARGE)
    source.seek(entry.header_offset)
    header = source.read(LOCAL_HEADER.size)
    if len(header) < LOCAL_HEADER.size:
        raise unaccounted(UNREADABLE, f"{where} points past the end of the file")
    signature, _, flags, method, _, _, _, local_csize, local_usize, name_length, extra_length = LOCAL_HEADER.unpack(
        header
    )
    if signature != LOCAL_SIGNATURE or method != entry.compress_type:
        raise unaccounted(HEADER_MISMATCH, f"{where}: the local header disagrees with the directory")
    zip64_local = ZIP64_MARKER in (local_csize, local_usize)
    described_later = bool(flags & FLAG_DATA_DESCRIPTOR) and local_csize == 0 and local_usize == 0
    if not (zip64_local or described_later) and (local_csize, local_usize) != (entry.compress_size, entry.file_size):
        raise unaccounted(HEADER_MISMATCH, f"{where}: the local sizes disagree with the directory")
    data_start = entry.header_offset + LOCAL_HEADER.size + name_length + extra_length
    crc = 0
    produced = 0

    def counted() -> Iterator[bytes]:
        nonlocal crc, produced
        for chunk in _decompress(source, data_start, entry.compress_size, entry.compress_type, where):
            crc = zlib.crc32(chunk, crc)
            produced += len(chunk)
            yield chunk

    engine_reads = directory_readable and entry.compress_type in ENGINE_METHODS and not zip64_local
    walker.member(counted(), name, engine_reads, depth, ZIP_MEMBER_TOO_LARGE)
    if produced != entry.file_size:
        raise unaccounted(SIZE_MISMATCH, f"{where} holds {produced} bytes, its header says {entry.file_size}")
    if crc != entry.CRC:
        raise unaccounted(UNREADABLE, f"{where} fails its CRC check")
    return entry.header_offset, data_start + entry.compress_size


def _check_spans(walker: Walker, source: IO[bytes], spans: list[tuple[int, int]], directory_start: int) -> None:
    """Members must not overlap, and the bytes between them must not hide another entry."""
    spans.sort()
    position = 0
    for start, end in spans:
        if start < position or end > directory_start:
            raise unaccounted(OVERLAPPING, "zip members overlap each other or the directory (a zip bomb trick)")
        _search_gap(walker, source, position, start)
        position = end
    _search_gap(walker, source, position, directory_start)


def _search_gap(walker: Walker, source: IO[bytes], start: int, end: int) -> None:
    source.seek(start)
    carry = b""
    remaining = end - start
    while remaining > 0:
        block = source.read(min(CHUNK, remaining))
        if not block:
            return
        if LOCAL_SIGNATURE in carry + block:
            raise unaccounted(UNLISTED_ENTRY, f"{walker.where('')} holds a zip entry its directory does not list")
        carry = block[-3:]
        remaining -= len(block)


def _saturated_end_record(source: IO[bytes]) -> bool:
    source.seek(0, 2)
    size = source.tell()
    source.seek(max(0, size - EOCD_SEARCH_BYTES))
    tail = source.read()
    position = tail.rfind(b"PK\x05\x06")
    if position < 0 or position + END_RECORD.size > len(tail):
        return False
    _, disk, directory_disk, disk_entries, entries, directory_size, offset, _ = END_RECORD.unpack_from(tail, position)
    return 0xFFFF in (disk, directory_disk, disk_entries, entries) or ZIP64_MARKER in (directory_size, offset)


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


def _decompress(source: IO[bytes], start: int, compressed: int, method: int, where: str) -> Iterator[bytes]:
    """The decompressed bytes of one member, in chunks of at most ``CHUNK`` bytes: the whole
    compressed range is consumed, whatever the header claims about the output size."""
    source.seek(start)
    truncated = unaccounted(UNREADABLE, f"{where} ends before its compressed data does")
    if method == STORED:
        remaining = compressed
        while remaining > 0:
            block = source.read(min(CHUNK, remaining))
            if not block:
                raise truncated
            remaining -= len(block)
            yield block
        return
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
        raise unaccounted(UNREADABLE, f"{where} cannot be decompressed: {error}") from error
