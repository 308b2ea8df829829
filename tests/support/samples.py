"""Test inputs built at run time (no malware-looking bytes are stored in the repository)."""

from __future__ import annotations

import io
import os
import struct
import subprocess
import tempfile
import zipfile
from pathlib import Path

CLAMAV_TESTFILES = Path("/usr/share/clamav-testfiles")


def zipped(name: str, payload: bytes) -> bytes:
    """A deflated zip: a stored one would expose the payload's bytes to a plain body match."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, payload)
    return buffer.getvalue()


def nested_zip(payload: bytes, depth: int) -> bytes:
    data = zipped("payload.bin", payload)
    for level in range(1, depth):
        data = zipped(f"level-{level}.zip", data)
    return data


def encrypted_zip(payload: bytes, password: str = "manabi") -> bytes:
    """A ZipCrypto-encrypted archive, made with Info-ZIP's zip (installed by `make setup`)."""
    with tempfile.TemporaryDirectory() as workdir:
        source = Path(workdir, "secret.txt")
        source.write_bytes(payload)
        target = Path(workdir, "secret.zip")
        subprocess.run(["zip", "-q", "-j", "-P", password, str(target), str(source)], check=True)
        return target.read_bytes()


def unique_bytes(size: int) -> bytes:
    return os.urandom(size)


def libarchive_sample(format_name: str, filter_name: str | None, members: dict[str, bytes], options: str = "") -> bytes:
    """An archive written by libarchive (7z, tar.zst, ISO 9660 with zisofs, …)."""
    import libarchive

    with tempfile.TemporaryDirectory() as workdir:
        target = Path(workdir, "sample")
        extra = {"options": options} if options else {}
        with libarchive.file_writer(str(target), format_name, filter_name, **extra) as archive:
            for name, content in members.items():
                archive.add_file_from_memory(name, len(content), content)
        return target.read_bytes()


def tool_sample(command: list[str], name: str, content: bytes) -> bytes:
    """An archive made by a command-line tool (`gcab`, `arj`) from one file called ``name``;
    ``{archive}`` and ``{file}`` in ``command`` are replaced by the paths."""
    with tempfile.TemporaryDirectory() as workdir:
        source, target = Path(workdir, name), Path(workdir, "archive")
        source.write_bytes(content)
        arguments = [part.format(archive=target, file=source.name) for part in command]
        subprocess.run(arguments, cwd=workdir, check=True, capture_output=True)
        produced = [path for path in Path(workdir).iterdir() if path.name.startswith("archive")]
        return produced[0].read_bytes()


def ole2_document(streams: dict[str, bytes]) -> bytes:
    """A minimal compound file (OLE2, version 3): one FAT sector, streams of at least 4 KiB
    stored in regular sectors, all of them children of the root."""
    sector, free, end_of_chain, fat_sector = 512, 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD
    padded = {name: data.ljust(4096, b"\0") for name, data in streams.items()}
    fat = [fat_sector]
    starts = []
    body = b""
    for data in padded.values():
        count = -(-len(data) // sector)
        starts.append(len(fat))
        fat += [len(fat) + index + 1 for index in range(count - 1)] + [end_of_chain]
        body += data.ljust(count * sector, b"\0")
    entries = [("Root Entry", 5, end_of_chain, 0, 1 if padded else free)]
    for index, (name, data) in enumerate(padded.items()):
        right = index + 2 if index + 2 <= len(padded) else free
        entries.append((name, 2, starts[index], len(data), free, right))  # type: ignore[arg-type]
    directory_start = len(fat)
    directory = b""
    for entry in entries:
        name, kind, start, size = entry[:4]
        child = entry[4] if kind == 5 else free
        right = entry[5] if kind == 2 else free  # type: ignore[misc]
        encoded = (name + "\0").encode("utf-16-le")
        directory += (
            encoded.ljust(64, b"\0")
            + struct.pack("<HBBIII", len(encoded), kind, 1, free, right, child)
            + bytes(16 + 4 + 16)
            + struct.pack("<IQ", start, size)
        )
    directory = directory.ljust(-(-len(directory) // sector) * sector, b"\0")
    directory_sectors = len(directory) // sector
    fat += [directory_start + index + 1 for index in range(directory_sectors - 1)] + [end_of_chain]
    if len(fat) > sector // 4:
        raise ValueError("this writer keeps everything in one FAT sector (about 60 KiB)")
    header = (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
        + bytes(16)
        + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
        + bytes(6)
        + struct.pack("<IIIIIIIII", 0, 1, directory_start, 0, 4096, end_of_chain, 0, end_of_chain, 0)
        + struct.pack("<I", 0)
        + struct.pack("<108I", *([free] * 108))
    )
    fat_bytes = struct.pack(f"<{len(fat)}I", *fat).ljust(sector, b"\xff")
    return header + fat_bytes + body + directory
