"""A private clamd for tests, the local stack and benchmarks, with an offline signature database.

No ClamAV database ships with Debian and the official mirrors are unreachable offline, so
the project generates its own: EICAR as a body signature (it matches inside archives and
other bytes too) and the ClamAV test file as a hash signature (one line detects all files
of Debian's ``clamav-testfiles``, once libclamav has unpacked them).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from chalicelib.clamav.canaries import EICAR
from chalicelib.clamav.process import CLAMD_BINARY, MIB, ClamdLimits, ClamdProcess, render_config

__all__ = [
    "CLAMD_BINARY",
    "EICAR",
    "MIB",
    "ClamdLimits",
    "ClamdProcess",
    "render_config",
    "temporary_clamd",
    "write_offline_database",
]

EICAR_SIGNATURE = "Manabi.Test.EICAR"
CLAMAV_TEST_FILE_SIGNATURE = "Manabi.Test.ClamAV-Test-File"
# MD5 and size of clam.exe, the file inside every sample of Debian's clamav-testfiles.
CLAMAV_TEST_FILE_HASH = "aa15bcf478d165efd2065190eb473bcb:544"
# Names from databases that are not official CVDs get this suffix from libclamav.
UNOFFICIAL = ".UNOFFICIAL"


def hash_signature(content: bytes, name: str) -> str:
    """An ``.hdb`` line that detects exactly ``content`` (what ``sigtool --md5`` prints)."""
    return f"{hashlib.md5(content, usedforsecurity=False).hexdigest()}:{len(content)}:{name}"


def write_offline_database(
    database_dir: Path,
    built_at: datetime | None = None,
    extra_hashes: tuple[str, ...] = (),
    manifest_name: str = "manifest.json",
) -> str:
    """Write the offline signature set and its manifest; return the definitions version.

    ``extra_hashes`` adds ``.hdb`` lines (see ``hash_signature``), as a new definitions release
    would. The version is derived from the content, so a different set has a different version.
    A mirror uses ``manifest_name="index.json"``.
    """
    database_dir.mkdir(parents=True, exist_ok=True)
    hashes = [f"{CLAMAV_TEST_FILE_HASH}:{CLAMAV_TEST_FILE_SIGNATURE}", *extra_hashes]
    files = {
        "manabi-offline.ndb": f"{EICAR_SIGNATURE}:0:*:{EICAR.hex()}\n",
        "manabi-offline.hdb": "".join(f"{line}\n" for line in hashes),
    }
    entries: list[dict[str, str | int]] = []
    digests = []
    for name, text in files.items():
        data = text.encode("ascii")
        (database_dir / name).write_bytes(data)
        digests.append(hashlib.sha256(data).hexdigest())
        entries.append({"name": name, "size": len(data), "sha256": digests[-1]})
    content_digest = hashlib.sha256("".join(digests).encode()).hexdigest()
    version = f"manabi-offline-{content_digest[:12]}"
    built = (built_at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    signatures = 1 + len(hashes)  # one body signature, and a hash signature per line
    manifest = {
        "version": version,
        "built_at": built,
        "files": entries,
        "signatures": signatures,
        "min_signatures": signatures,
    }
    (database_dir / manifest_name).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return version


def temporary_clamd(limits: ClamdLimits | None = None) -> ClamdProcess:
    """A clamd with the offline database in a fresh temporary directory (not yet started)."""
    workdir = Path(tempfile.mkdtemp(prefix="manabi-clamd-"))
    database_dir = workdir / "db"
    write_offline_database(database_dir)
    return ClamdProcess(workdir=workdir, database_dir=database_dir, limits=limits or ClamdLimits())
