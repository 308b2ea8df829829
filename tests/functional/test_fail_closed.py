"""Issue #9: CLEAN only when the engine demonstrably read every byte.

Each case goes through the real event handler, the real state machine file and a real clamd,
and asserts the verdict, the version's tags and what the download route gives a learner. The
inputs are the ones ClamAV 1.4.6 answers ``OK`` for although it did not read them
(docs/ARCHIVES.md), next to controls that must stay CLEAN and downloadable.
"""

from __future__ import annotations

import io
import struct
import tarfile
import zipfile

import pytest

from chalicelib.files.errors import NotCleanError
from chalicelib.files.records import public_view
from chalicelib.scanning.archives import findings
from devstack.clamd import EICAR, EICAR_SIGNATURE, UNOFFICIAL
from tests.support.limits import TEST_LIMITS
from tests.support.pipeline import Pipeline
from tests.support.samples import libarchive_sample, ole2_document, tool_sample, unique_bytes

EICAR_FOUND = EICAR_SIGNATURE + UNOFFICIAL
# Zeros compress to almost nothing: a member far over MaxFileSize in a few KiB of zip.
OVERSIZE = b"\0" * (TEST_LIMITS.max_file + 1024 * 1024) + EICAR


def zip_of(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED, zip64: bool = False) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, content in members.items():
            if zip64:
                # ZIP64 streaming form: sizes in a data descriptor, 0xFFFFFFFF in the local header.
                with archive.open(name, "w", force_zip64=True) as member:
                    member.write(content)
            else:
                archive.writestr(name, content)
    return buffer.getvalue()


def office_like(media: bytes) -> bytes:
    """The layout of a .docx: Office Open XML documents are zip containers."""
    return zip_of(
        {
            "[Content_Types].xml": b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>',
            "_rels/.rels": b'<?xml version="1.0"?><Relationships/>',
            "word/document.xml": "<w:document><w:body><w:p>今日の宿題</w:p></w:body></w:document>".encode(),
            "word/media/image1.png": media,
        }
    )


def tar_gz_of(name: str, content: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo(name)
        info.size = len(content)
        archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def without_directory(data: bytes) -> bytes:
    return data[: data.index(b"PK\x01\x02")]


def with_hidden_entry(visible: bytes, hidden: bytes) -> bytes:
    """A zip whose central directory does not list one of its local entries."""
    hidden_local = hidden[: hidden.index(b"PK\x01\x02")]
    directory = visible.index(b"PK\x01\x02")
    data = bytearray(visible[:directory] + hidden_local + visible[directory:])
    end = data.rindex(b"PK\x05\x06")
    struct.pack_into("<I", data, end + 16, directory + len(hidden_local))
    return bytes(data)


def assert_locked(pipeline: Pipeline, key: str, version: str, verdict: str, signature: str) -> dict:
    tags = pipeline.tags(key, version)
    assert (tags["scan-status"], tags.get("scan-signature")) == (verdict, signature), tags
    record = pipeline.record_of(key)
    assert (record["scanStatus"], record["signature"]) == (verdict, signature)
    with pytest.raises(NotCleanError):
        pipeline.download(key)
    return record


@pytest.mark.parametrize(
    ("case", "body", "signature"),
    [
        ("zip member over the limit, EICAR at its end", zip_of({"a.bin": OVERSIZE}), findings.ZIP_MEMBER_TOO_LARGE),
        ("bzip2 member over the limit", zip_of({"a.bin": OVERSIZE}, zipfile.ZIP_BZIP2), findings.ZIP_MEMBER_TOO_LARGE),
        ("office document with an oversize part", office_like(OVERSIZE), findings.ZIP_MEMBER_TOO_LARGE),
        (
            "zip in a zip, inner member over the limit",
            zip_of({"in.zip": zip_of({"a": OVERSIZE})}),
            findings.ZIP_MEMBER_TOO_LARGE,
        ),
        (
            "tar.gz holding the oversize zip",
            tar_gz_of("in.zip", zip_of({"a": OVERSIZE})),
            findings.ZIP_MEMBER_TOO_LARGE,
        ),
        (
            "oversize zip appended to other bytes",
            unique_bytes(4096) + zip_of({"a": OVERSIZE}),
            findings.ZIP_MEMBER_TOO_LARGE,
        ),
        (
            "zip without a central directory",
            without_directory(zip_of({"eicar.com": EICAR})),
            findings.NO_CENTRAL_DIRECTORY,
        ),
        (
            "entry the central directory does not list",
            with_hidden_entry(zip_of({"a": b"visible"}), zip_of({"h": EICAR})),
            findings.UNLISTED_ENTRY,
        ),
    ],
    ids=["oversize", "bzip2", "office", "zip-in-zip", "tar.gz", "appended", "no-directory", "hidden-entry"],
)
def test_what_clamd_did_not_read_is_unscannable(pipeline: Pipeline, case: str, body: bytes, signature: str) -> None:
    key = f"uploads/user-1/{case.split()[0]}-{len(body)}"
    version, execution = pipeline.upload(key, body)
    assert execution["status"] == "SUCCEEDED"
    record = assert_locked(pipeline, key, version, "UNSCANNABLE", signature)
    assert record["scanReason"], "the record says why"
    assert public_view(record)["reason"] == record["scanReason"], "and so does GET /files/{id}"


@pytest.mark.parametrize(
    ("case", "body"),
    [
        ("ZIP64-streamed member", zip_of({"eicar.com": EICAR}, zip64=True)),
        ("LZMA member", zip_of({"eicar.com": EICAR}, zipfile.ZIP_LZMA)),
        ("office document with EICAR inside", office_like(EICAR)),
    ],
    ids=["zip64-stream", "lzma", "office"],
)
def test_eicar_in_members_clamd_does_not_decompress_is_infected(pipeline: Pipeline, case: str, body: bytes) -> None:
    key = f"uploads/user-1/{case.split()[0].lower()}"
    version, _ = pipeline.upload(key, body)
    assert_locked(pipeline, key, version, "INFECTED", EICAR_FOUND)


@pytest.mark.parametrize(
    "body",
    [
        zip_of({"notes.txt": "宿題のメモ\n".encode() * 1000, "photo.bin": unique_bytes(200_000)}, zipfile.ZIP_STORED),
        zip_of({"notes.txt": "宿題のメモ\n".encode() * 1000, "photo.bin": unique_bytes(200_000)}),
        zip_of({"big.bin": b"\0" * (TEST_LIMITS.max_file - 1)}),
        zip_of({"streamed.bin": unique_bytes(50_000)}, zip64=True),
        zip_of({"packed.txt": b"lzma " * 10_000}, zipfile.ZIP_LZMA),
        office_like(unique_bytes(100_000)),
        tar_gz_of("homework.zip", zip_of({"a.txt": b"hello"})),
    ],
    ids=["stored", "deflated", "member-at-limit", "zip64-stream", "lzma", "office", "tar.gz-of-zip"],
)
def test_clean_archives_are_released_and_downloadable(pipeline: Pipeline, body: bytes) -> None:
    key = f"uploads/user-1/clean-{abs(hash(body))}"
    version, _ = pipeline.upload(key, body)
    assert pipeline.tags(key, version)["scan-status"] == "CLEAN"
    assert pipeline.download(key) == body


# Formats other than zip where clamd 1.4.6 answers OK for content it did not decode
# (docs/ARCHIVES.md): libarchive reads them here and streams every file into clamd.
SMALL_PAYLOAD = b"\0" * 4096 + EICAR


def encrypted_office(document: bytes) -> bytes:
    import msoffcrypto.format.ooxml

    encrypted = io.BytesIO()
    msoffcrypto.format.ooxml.OOXMLFile(io.BytesIO(document)).encrypt("manabi", encrypted)
    return encrypted.getvalue()


def word_97(encrypted: bool) -> bytes:
    """A Word 97 document's FIB: magic 0xA5EC, fEncrypted is bit 8 of the flags at 0x0A."""
    fib = struct.pack("<HHHHHH", 0xA5EC, 0x00C1, 0, 0, 0, 0x0100 if encrypted else 0)
    return ole2_document({"WordDocument": fib + bytes(4096), "1Table": bytes(4096)})


@pytest.mark.parametrize(
    ("body", "verdict", "signature"),
    [
        (libarchive_sample("7zip", None, {"a.bin": SMALL_PAYLOAD}, "compression=bzip2"), "INFECTED", EICAR_FOUND),
        (libarchive_sample("7zip", None, {"a.bin": SMALL_PAYLOAD}, "compression=deflate"), "INFECTED", EICAR_FOUND),
        (libarchive_sample("ustar", "zstd", {"a.bin": SMALL_PAYLOAD}), "INFECTED", EICAR_FOUND),
        (libarchive_sample("ustar", "lzip", {"a.bin": SMALL_PAYLOAD}), "INFECTED", EICAR_FOUND),
        (libarchive_sample("ustar", "compress", {"a.bin": SMALL_PAYLOAD}), "INFECTED", EICAR_FOUND),
        (libarchive_sample("iso9660", None, {"A.BIN": b"\0" * 65536 + EICAR}, "zisofs"), "INFECTED", EICAR_FOUND),
        (
            tool_sample(["gcab", "-c", "-z", "{archive}.cab", "{file}"], "big.bin", OVERSIZE),
            "UNSCANNABLE",
            findings.MEMBER_TOO_LARGE,
        ),
        (
            libarchive_sample("7zip", None, {"in.zip": zip_of({"a": OVERSIZE})}),
            "UNSCANNABLE",
            findings.ZIP_MEMBER_TOO_LARGE,
        ),
        (encrypted_office(office_like(EICAR)), "UNSCANNABLE", findings.ENCRYPTED_DOCUMENT),
        (word_97(encrypted=True), "UNSCANNABLE", findings.ENCRYPTED_DOCUMENT),
        (ole2_document({"Package": zip_of({"a": OVERSIZE})}), "UNSCANNABLE", findings.ZIP_MEMBER_TOO_LARGE),
        (
            tool_sample(["arj", "a", "-gmanabi", "{archive}", "{file}"], "a.bin", SMALL_PAYLOAD),
            "UNSCANNABLE",
            findings.ENCRYPTED,
        ),
    ],
    ids=[
        "7z-bzip2",
        "7z-deflate",
        "tar.zst",
        "tar.lz",
        "tar.Z",
        "iso-zisofs",
        "cab-mszip-oversize",
        "oversize-zip-in-7z",
        "encrypted-docx",
        "encrypted-doc",
        "oversize-zip-in-ole2",
        "garbled-arj",
    ],
)
def test_other_formats_clamd_does_not_fully_read_are_never_clean(
    pipeline: Pipeline, body: bytes, verdict: str, signature: str
) -> None:
    key = f"uploads/user-1/format-{len(body)}"
    version, _ = pipeline.upload(key, body)
    assert_locked(pipeline, key, version, verdict, signature)


@pytest.mark.parametrize(
    "body",
    [
        libarchive_sample("7zip", None, {"notes.txt": b"hello " * 1000}),
        libarchive_sample("ustar", "zstd", {"notes.txt": b"hello " * 1000}),
        tool_sample(["gcab", "-c", "-z", "{archive}.cab", "{file}"], "notes.txt", b"hello " * 1000),
        word_97(encrypted=False),
    ],
    ids=["7z", "tar.zst", "cab", "doc"],
)
def test_clean_files_in_those_formats_stay_clean(pipeline: Pipeline, body: bytes) -> None:
    key = f"uploads/user-1/format-clean-{len(body)}"
    version, _ = pipeline.upload(key, body)
    assert pipeline.tags(key, version)["scan-status"] == "CLEAN"
    assert pipeline.download(key) == body
