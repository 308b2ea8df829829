"""Test inputs built at run time (no malware-looking bytes are stored in the repository)."""

from __future__ import annotations

import io
import os
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
