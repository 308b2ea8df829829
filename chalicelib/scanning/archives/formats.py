"""The other containers clamd unpacks: descended into for zips, checked where clamd has gaps.

- tar, gzip, bzip2, xz: clamd reads these fully (and alerts on MaxFileSize itself); they are
  descended into so that a zip inside them is audited too.
- OLE2 (legacy Office): streams are descended into; encrypted documents (an ``EncryptedPackage``
  stream, Word's fEncrypted bit, Excel's FILEPASS record) are UNSCANNABLE — clamd does not flag
  them, even with ``AlertEncryptedDoc``.
- 7z, RAR, CAB, ISO 9660, XAR, LHA, and zstd/lz4/lzip/compress/LZMA-alone streams: clamd skips
  some coders (7z BZip2/Deflate), trims CAB MSZIP members, cannot unpack RAR (no unrar in
  Debian's build) and decodes neither zisofs nor those compressions. libarchive reads them here
  and every file in them is streamed into clamd by itself.
- ARJ: clamd skips password-garbled members silently; those are UNSCANNABLE.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import struct
import tarfile
from collections.abc import Callable, Iterator
from typing import IO, Any

from chalicelib.scanning.archives.findings import ENCRYPTED, ENCRYPTED_DOCUMENT, UNREADABLE, Walker, unaccounted

CHUNK = 1024 * 1024
# OLE2 streams are read into memory by olefile: larger ones cannot be checked here.
OLE2_STREAM_LIMIT = 64 * 1024 * 1024
_STREAMS: dict[str, Callable[[IO[bytes]], Any]] = {
    "gzip": lambda raw: gzip.GzipFile(fileobj=raw, mode="rb"),
    "bzip2": lambda raw: bz2.BZ2File(raw, mode="rb"),
    "xz": lambda raw: lzma.LZMAFile(raw, mode="rb"),
}


def audit_stream(walker: Walker, source: IO[bytes], depth: int) -> None:
    """gzip, bzip2, xz: one decompressed stream, which may itself be a container."""
    kind = _stream_kind(source)
    try:
        with _STREAMS[kind](source) as stream:
            walker.member(iter(lambda: stream.read(CHUNK), b""), f"({kind} content)", True, depth)
    except (OSError, EOFError, lzma.LZMAError, ValueError) as error:
        raise unaccounted(UNREADABLE, f"{walker.where('')}: {kind} data cannot be decompressed: {error}") from error


def _stream_kind(source: IO[bytes]) -> str:
    source.seek(0)
    head = source.read(6)
    source.seek(0)
    return "gzip" if head.startswith(b"\x1f\x8b") else "bzip2" if head.startswith(b"BZh") else "xz"


def audit_tar(walker: Walker, source: IO[bytes], depth: int) -> None:
    """Tar members are stored, not compressed: clamd reads them whole; they matter here only if
    they are containers (the member is a seekable view of the tar, no copy needed)."""
    from chalicelib.scanning.archives.sniff import SNIFF_BYTES, sniff

    try:
        archive = tarfile.open(fileobj=source, mode="r:")
        for member in archive:
            walker.count_member()
            extracted = archive.extractfile(member) if member.isfile() else None
            if extracted is None:
                continue
            walker.add_inflated(member.size)
            walker.check_member_size(member.size, member.name)
            kind = sniff(extracted.read(SNIFF_BYTES))
            if kind is not None:
                walker.node(extracted, kind, depth + 1, member.name)
    except tarfile.TarError as error:
        raise unaccounted(UNREADABLE, f"{walker.where('')}: tar data cannot be read: {error}") from error


def audit_ole2(walker: Walker, source: IO[bytes], depth: int) -> None:
    import olefile

    try:
        document = olefile.OleFileIO(source)
    except (OSError, ValueError, struct.error) as error:
        raise unaccounted(UNREADABLE, f"{walker.where('')}: OLE2 structure cannot be read: {error}") from error
    with document:
        streams = document.listdir(streams=True, storages=False)
        names = {"/".join(path) for path in streams}
        if names & {"EncryptedPackage", "EncryptionInfo", "EncryptedSummary"} or _word_encrypted(document):
            raise unaccounted(ENCRYPTED_DOCUMENT, f"{walker.where('')} is an encrypted Office document")
        if _excel_encrypted(document):
            raise unaccounted(ENCRYPTED_DOCUMENT, f"{walker.where('')} is an encrypted Excel workbook")
        for path in streams:
            name = "/".join(path)
            walker.count_member()
            size = document.get_size(path)
            if size > OLE2_STREAM_LIMIT:
                raise unaccounted(UNREADABLE, f"{walker.where(name)} is a {size}-byte OLE2 stream, too large to check")
            with document.openstream(path) as stream:
                walker.member(iter(lambda: stream.read(CHUNK), b""), name, True, depth)


def _word_encrypted(document: Any) -> bool:
    if not document.exists("WordDocument"):
        return False
    with document.openstream("WordDocument") as stream:
        header = stream.read(12)
    # FIB: fEncrypted is bit 8 of the flags word at offset 0x0A ([MS-DOC] 2.5.2).
    return len(header) == 12 and bool(struct.unpack_from("<H", header, 0x0A)[0] & 0x0100)


def _excel_encrypted(document: Any) -> bool:
    """A FILEPASS record (0x002F) in the workbook globals, before their EOF ([MS-XLS] 2.4.117)."""
    for name in ("Workbook", "Book"):
        if document.exists(name):
            with document.openstream(name) as stream:
                data = stream.read(min(document.get_size(name), 1024 * 1024))
            position = 0
            while position + 4 <= len(data):
                record, length = struct.unpack_from("<HH", data, position)
                if record == 0x002F:
                    return True
                if record == 0x000A:
                    return False
                position += 4 + length
    return False


def audit_libarchive(walker: Walker, source: IO[bytes], depth: int) -> None:
    import libarchive
    import libarchive.exception

    head = source.read(8)
    source.seek(0)
    compressed_stream = head.startswith((b"\x28\xb5\x2f\xfd", b"\x04\x22\x4d\x18", b"LZIP", b"\x1f\x9d", b"\x5d\0\0"))
    # A bare compressed stream is one "raw" entry: its content (a tar, say) is sniffed like any member.
    format_name = "raw" if compressed_stream else "all"
    try:
        with libarchive.seekable_stream_reader(source, format_name=format_name, block_size=CHUNK) as archive:
            for entry in archive:
                walker.count_member()
                if not entry.isfile:
                    continue
                name = entry.pathname or "(data)"
                if entry.size is not None:
                    walker.check_member_size(int(entry.size), name)
                walker.member(_blocks(entry), name, False, depth)
    except libarchive.exception.ArchiveError as error:
        signature = ENCRYPTED if "ncrypt" in str(error) or "assphrase" in str(error) else UNREADABLE
        raise unaccounted(signature, f"{walker.where('')} cannot be read: {error}") from error


def _blocks(entry: Any) -> Iterator[bytes]:
    for block in entry.get_blocks():
        yield bytes(block)


def audit_arj(walker: Walker, source: IO[bytes], depth: int) -> None:
    """ARJ headers: ``60 EA``, size, basic header (flags at offset 4), CRC, extended headers,
    then the member's compressed data. clamd reads ARJ, but skips garbled (password) members."""
    data_position = 0
    first = True
    while True:
        source.seek(data_position)
        start = source.read(4)
        if len(start) < 4 or start[:2] != b"\x60\xea":
            raise unaccounted(UNREADABLE, f"{walker.where('')}: ARJ headers cannot be read")
        (size,) = struct.unpack_from("<H", start, 2)
        if size == 0:
            return
        basic = source.read(size)
        source.read(4)  # header CRC
        while True:
            (extended,) = struct.unpack("<H", source.read(2) or b"\0\0")
            if extended == 0:
                break
            source.read(extended + 4)
        if len(basic) < 16:
            raise unaccounted(UNREADABLE, f"{walker.where('')}: ARJ header is truncated")
        flags, compressed = basic[4], struct.unpack_from("<I", basic, 12)[0]
        if not first:
            walker.count_member()
            if flags & 0x01:
                raise unaccounted(ENCRYPTED, f"{walker.where('')} holds a password-protected ARJ member")
        data_position = source.tell() + (0 if first else compressed)
        first = False
