"""Container kinds by content, never by name."""

from __future__ import annotations

import struct

SNIFF_BYTES = 0x8006  # ISO 9660 says "CD001" at 0x8001
EOCD_SEARCH_BYTES = 65535 + 22  # the zip end record plus the longest possible comment

_PREFIXES: list[tuple[bytes, str]] = [
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),
    (b"PK\x07\x08", "zip"),
    (b"\x1f\x8b", "gzip"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "ole2"),
    # Formats clamd reads with gaps or not at all; libarchive reads them here.
    (b"7z\xbc\xaf\x27\x1c", "libarchive"),
    (b"Rar!\x1a\x07", "libarchive"),
    (b"MSCF\0\0\0\0", "libarchive"),
    (b"xar!", "libarchive"),
    (b"\x28\xb5\x2f\xfd", "libarchive"),  # zstd
    (b"\x04\x22\x4d\x18", "libarchive"),  # lz4
    (b"LZIP", "libarchive"),
    (b"\x1f\x9d", "libarchive"),  # compress (.Z)
    (b"\x60\xea", "arj"),
]


def sniff(head: bytes) -> str | None:
    """The container kind of content that starts with ``head``, or None for a leaf."""
    for prefix, kind in _PREFIXES:
        if head.startswith(prefix):
            return kind
    if head.startswith(b"BZh") and head[3:4].isdigit():
        return "bzip2"
    if head[257:262] == b"ustar":
        return "tar"
    if head[0x8001:0x8006] == b"CD001":
        return "libarchive"  # ISO 9660, zisofs-compressed files included
    if (
        len(head) >= 13
        and head[0] == 0x5D
        and head[1:5] in (b"\0\0\x80\0", b"\0\0\0\x01", b"\0\0\0\x02", b"\0\0\0\x04")
    ):
        return "libarchive"  # LZMA-alone (.lzma): properties byte and a usual dictionary size
    if len(head) >= 7 and head[2:4] == b"-l" and head[6:7] == b"-":
        return "libarchive"  # LHA
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
