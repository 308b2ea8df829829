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

from chalicelib import archive_audit
from chalicelib.errors import ForbiddenError
from devstack.clamd import EICAR, EICAR_SIGNATURE, UNOFFICIAL
from tests.conftest import TEST_LIMITS
from tests.functional.conftest import Pipeline
from tests.functional.samples import unique_bytes

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
            "[Content_Types].xml": b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/"/>',
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
    with pytest.raises(ForbiddenError):
        pipeline.download(key)
    return record


@pytest.mark.parametrize(
    ("case", "body", "signature"),
    [
        ("zip member over the limit, EICAR at its end", zip_of({"a.bin": OVERSIZE}), archive_audit.MEMBER_TOO_LARGE),
        ("bzip2 member over the limit", zip_of({"a.bin": OVERSIZE}, zipfile.ZIP_BZIP2), archive_audit.MEMBER_TOO_LARGE),
        ("office document with an oversize part", office_like(OVERSIZE), archive_audit.MEMBER_TOO_LARGE),
        (
            "zip in a zip, inner member over the limit",
            zip_of({"in.zip": zip_of({"a": OVERSIZE})}),
            archive_audit.MEMBER_TOO_LARGE,
        ),
        (
            "tar.gz holding the oversize zip",
            tar_gz_of("in.zip", zip_of({"a": OVERSIZE})),
            archive_audit.MEMBER_TOO_LARGE,
        ),
        (
            "oversize zip appended to other bytes",
            unique_bytes(4096) + zip_of({"a": OVERSIZE}),
            archive_audit.MEMBER_TOO_LARGE,
        ),
        (
            "zip without a central directory",
            without_directory(zip_of({"eicar.com": EICAR})),
            archive_audit.NO_CENTRAL_DIRECTORY,
        ),
        (
            "entry the central directory does not list",
            with_hidden_entry(zip_of({"a": b"visible"}), zip_of({"h": EICAR})),
            archive_audit.UNLISTED_ENTRY,
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
