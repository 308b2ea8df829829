"""The archive audit on crafted containers, without clamd: which members it accounts for, which
it streams to clamd by themselves, and which make the object UNSCANNABLE."""

from __future__ import annotations

import io
import struct
import zipfile
from collections.abc import Iterable

import pytest

from chalicelib.scanning.archives import ArchiveAudit, AuditLimits, Finding, findings, has_end_record, sniff

LIMITS = AuditLimits(max_file=1024 * 1024, max_scan=4 * 1024 * 1024, max_files=20, max_recursion=3)


class MemberScans:
    """Stands in for clamd: records what the audit streamed, finds b"MALWARE"."""

    def __init__(self) -> None:
        self.scanned: list[bytes] = []

    def __call__(self, chunks: Iterable[bytes]) -> Finding | None:
        content = b"".join(chunks)
        self.scanned.append(content)
        return Finding("Test.Malware", "member", infected=True) if b"MALWARE" in content else None


def audit(data: bytes, kind: str = "zip") -> tuple[Finding | None, MemberScans]:
    scans = MemberScans()
    report = ArchiveAudit(LIMITS, scans).run(io.BytesIO(data), kind)
    return report.finding, scans


def zip_of(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def test_an_ordinary_zip_is_accounted_for_without_a_second_scan() -> None:
    finding, scans = audit(zip_of({"a.txt": b"hello" * 1000, "b.bin": bytes(range(256)) * 100}))
    assert finding is None
    assert scans.scanned == []


def test_the_real_size_counts_not_the_header() -> None:
    data = bytearray(zip_of({"a": b"\0" * (LIMITS.max_file + 1)}))
    local, central = data.index(b"PK\x03\x04"), data.index(b"PK\x01\x02")
    struct.pack_into("<I", data, local + 22, 100)
    struct.pack_into("<I", data, central + 24, 100)
    finding, _ = audit(bytes(data))
    assert finding is not None and finding.signature == findings.ZIP_MEMBER_TOO_LARGE


def test_a_header_that_understates_the_size_is_a_mismatch() -> None:
    data = bytearray(zip_of({"a": b"\0" * 5000}))
    local, central = data.index(b"PK\x03\x04"), data.index(b"PK\x01\x02")
    struct.pack_into("<I", data, local + 22, 100)
    struct.pack_into("<I", data, central + 24, 100)
    finding, _ = audit(bytes(data))
    assert finding is not None and finding.signature == findings.SIZE_MISMATCH


def test_a_local_header_that_disagrees_with_the_directory_is_refused() -> None:
    data = bytearray(zip_of({"a": b"x" * 100}))
    struct.pack_into("<I", data, data.index(b"PK\x03\x04") + 18, 7)  # compressed size
    finding, _ = audit(bytes(data))
    assert finding is not None and finding.signature == findings.HEADER_MISMATCH


def test_lzma_members_are_streamed_to_clamd_by_themselves() -> None:
    finding, scans = audit(zip_of({"clean.txt": b"fine " * 100, "bad.txt": b"MALWARE"}, zipfile.ZIP_LZMA))
    assert finding is not None and finding.infected
    assert b"MALWARE" in scans.scanned[-1]


def test_members_in_zip64_form_are_streamed_to_clamd_by_themselves() -> None:
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open("x", "w", force_zip64=True) as member,
    ):
        member.write(b"clean content")
    finding, scans = audit(buffer.getvalue())
    assert finding is None
    assert scans.scanned == [b"clean content"]


def with_saturated_end_record(data: bytes) -> bytes:
    """The same zip with a ZIP64 end record, and the classic one saturated (as `zip -fz` writes)."""
    end = data.rindex(b"PK\x05\x06")
    _, _, _, _, entries, size, offset, _ = struct.unpack_from("<4sHHHHIIH", data, end)
    zip64_end = struct.pack("<4sQHHIIQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, entries, entries, size, offset)
    locator = struct.pack("<4sIQI", b"PK\x06\x07", 0, end, 1)
    classic = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    return data[:end] + zip64_end + locator + classic


def test_a_saturated_end_record_means_clamd_extracts_nothing_so_every_member_is_streamed() -> None:
    data = with_saturated_end_record(zip_of({"a.txt": b"MALWARE hidden from clamd"}))
    assert zipfile.ZipFile(io.BytesIO(data)).read("a.txt") == b"MALWARE hidden from clamd"
    finding, _ = audit(data)
    assert finding is not None and finding.infected


@pytest.mark.parametrize(
    ("method", "signature"),
    [(zipfile.ZIP_STORED, None), (9, findings.UNSUPPORTED_METHOD), (98, findings.UNSUPPORTED_METHOD)],
    ids=["stored", "deflate64", "ppmd"],
)
def test_methods_nobody_here_can_read_are_unsupported(method: int, signature: str | None) -> None:
    data = bytearray(zip_of({"a": b"x" * 10}, zipfile.ZIP_STORED))
    for offset in (data.index(b"PK\x03\x04") + 8, data.index(b"PK\x01\x02") + 10):
        struct.pack_into("<H", data, offset, method)
    finding, _ = audit(bytes(data))
    assert (finding.signature if finding else None) == signature


def test_too_many_members_and_too_deep_nesting_are_limits() -> None:
    many, _ = audit(zip_of({f"f{index}": b"x" for index in range(LIMITS.max_files + 1)}))
    assert many is not None and many.signature == findings.TOO_MANY_FILES
    nested = b"core"
    for level in range(LIMITS.max_recursion + 2):
        nested = zip_of({f"level{level}.zip": nested})
    deep, _ = audit(nested)
    assert deep is not None and deep.signature == findings.TOO_DEEP


def test_all_members_together_are_held_to_the_scan_size() -> None:
    members = {f"part{index}": b"\0" * LIMITS.max_file for index in range(5)}
    finding, _ = audit(zip_of(members))
    assert finding is not None and finding.signature == findings.ARCHIVE_TOO_LARGE


def test_overlapping_members_are_refused() -> None:
    data = bytearray(zip_of({"a": b"first", "b": b"second"}))
    second = data.index(b"PK\x01\x02", data.index(b"PK\x01\x02") + 4)
    struct.pack_into("<I", data, second + 42, 0)  # b's local header offset -> a's
    finding, _ = audit(bytes(data))
    assert finding is not None and finding.signature in {findings.OVERLAPPING, findings.HEADER_MISMATCH}


def test_a_truncated_member_is_unreadable() -> None:
    data = zip_of({"a": bytes(range(256)) * 400})
    directory = data.index(b"PK\x01\x02")
    damaged = data[:200] + b"\0" * (directory - 200) + data[directory:]
    finding, _ = audit(damaged)
    assert finding is not None and finding.signature == findings.UNREADABLE


def test_sniffing_is_by_content() -> None:
    assert sniff(zip_of({"a": b"x"})[:512]) == "zip"
    assert sniff(b"\x1f\x8b\x08") == "gzip"
    assert sniff(b"BZh91AY") == "bzip2"
    assert sniff(b"\xfd7zXZ\x00\x00") == "xz"
    assert sniff(b"\0" * 257 + b"ustar\x0000") == "tar"
    assert sniff(b"%PDF-1.7") is None
    assert has_end_record(b"prefix" + zip_of({"a": b"x"}))
    assert not has_end_record(b"random PK\x05\x06 bytes that only look like a record" + b"\0" * 40)
