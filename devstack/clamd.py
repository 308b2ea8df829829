"""A private clamd for tests, the local stack and benchmarks, with an offline signature database.

No ClamAV database ships with Debian and the official mirrors are unreachable offline, so
the project generates its own: EICAR as a body signature (it matches inside archives and
other bytes too) and the ClamAV test file as a hash signature (one line detects all files
of Debian's ``clamav-testfiles``, once libclamav has unpacked them).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from chalicelib.clamd import ClamdClient, ClamdError

# The 68-byte EICAR test string, in two halves so that this source file is not itself a test virus.
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
EICAR_SIGNATURE = "Manabi.Test.EICAR"
CLAMAV_TEST_FILE_SIGNATURE = "Manabi.Test.ClamAV-Test-File"
# MD5 and size of clam.exe, the file inside every sample of Debian's clamav-testfiles.
CLAMAV_TEST_FILE_HASH = "aa15bcf478d165efd2065190eb473bcb:544"
# Names from databases that are not official CVDs get this suffix from libclamav.
UNOFFICIAL = ".UNOFFICIAL"

CLAMD_BINARY = shutil.which("clamd") or "/usr/sbin/clamd"
MIB = 1024 * 1024


def write_offline_database(database_dir: Path, built_at: datetime | None = None) -> str:
    """Write the offline signature set and its manifest; return the definitions version."""
    database_dir.mkdir(parents=True, exist_ok=True)
    files = {
        "manabi-offline.ndb": f"{EICAR_SIGNATURE}:0:*:{EICAR.hex()}\n",
        "manabi-offline.hdb": f"{CLAMAV_TEST_FILE_HASH}:{CLAMAV_TEST_FILE_SIGNATURE}\n",
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
    manifest = {"version": version, "built_at": built, "files": entries}
    (database_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return version


@dataclass
class ClamdLimits:
    """clamd's scan limits. ``stream_max`` must not exceed ``max_file``: a top-level input over
    MaxFileSize is otherwise skipped and reported OK."""

    stream_max: int = 64 * MIB
    max_file: int = 64 * MIB
    max_scan: int = 256 * MIB
    max_recursion: int = 17
    max_files: int = 1000

    def __post_init__(self) -> None:
        if self.stream_max > self.max_file:
            raise ValueError("StreamMaxLength must not exceed MaxFileSize, or oversize streams come back OK")


def render_config(workdir: Path, database_dir: Path, limits: ClamdLimits, extra: dict[str, str] | None = None) -> str:
    settings = {
        "Foreground": "yes",
        "LocalSocket": str(workdir / "clamd.sock"),
        "LocalSocketMode": "600",
        "FixStaleSocket": "yes",
        "DatabaseDirectory": str(database_dir),
        "TemporaryDirectory": str(workdir / "tmp"),
        "PidFile": str(workdir / "clamd.pid"),
        "LogFile": str(workdir / "clamd.log"),
        "LogTime": "yes",
        "MaxThreads": "4",
        "SelfCheck": "0",
        "StreamMaxLength": str(limits.stream_max),
        "MaxFileSize": str(limits.max_file),
        "MaxScanSize": str(limits.max_scan),
        "MaxRecursion": str(limits.max_recursion),
        "MaxFiles": str(limits.max_files),
        # ClamAV fails open without these: limit hits and encrypted archives come back OK.
        "AlertExceedsMax": "yes",
        "AlertEncrypted": "yes",
        "AlertEncryptedArchive": "yes",
        "AlertEncryptedDoc": "yes",
    }
    settings.update(extra or {})
    return "".join(f"{name} {value}\n" for name, value in settings.items())


@dataclass
class ClamdProcess:
    """clamd running in the foreground with a private config under ``workdir``."""

    workdir: Path
    database_dir: Path
    limits: ClamdLimits = field(default_factory=ClamdLimits)
    extra_config: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @property
    def socket_path(self) -> Path:
        return self.workdir / "clamd.sock"

    @property
    def address(self) -> str:
        return f"unix://{self.socket_path}"

    def client(self, timeout_seconds: float = 60.0) -> ClamdClient:
        return ClamdClient(self.address, timeout_seconds)

    def start(self, ready_timeout: float = 60.0) -> ClamdProcess:
        if not os.path.exists(CLAMD_BINARY):
            raise RuntimeError("clamd is not installed: run `make setup` (installs Debian's clamav-daemon)")
        (self.workdir / "tmp").mkdir(parents=True, exist_ok=True)
        config = self.workdir / "clamd.conf"
        config.write_text(render_config(self.workdir, self.database_dir, self.limits, self.extra_config))
        # To a file, not a pipe: clamd warns on stderr for every oversize stream, and a pipe
        # nobody reads fills up after ~64 KiB and stalls every scan.
        stderr_path = self.workdir / "clamd.stderr"
        with stderr_path.open("wb") as stderr:
            self.process = subprocess.Popen(
                [CLAMD_BINARY, f"--config-file={config}"], stdout=subprocess.DEVNULL, stderr=stderr
            )
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                stderr_text = stderr_path.read_text(errors="replace").strip()
                raise RuntimeError(f"clamd exited with {self.process.returncode}: {stderr_text}")
            try:
                if self.client(timeout_seconds=1.0).ping():
                    return self
            except ClamdError:
                pass
            time.sleep(0.01)
        self.stop()
        raise RuntimeError(f"clamd did not answer PING within {ready_timeout}s; see {self.workdir / 'clamd.log'}")

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout)

    def __enter__(self) -> ClamdProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def temporary_clamd(limits: ClamdLimits | None = None) -> ClamdProcess:
    """A clamd with the offline database in a fresh temporary directory (not yet started)."""
    workdir = Path(tempfile.mkdtemp(prefix="manabi-clamd-"))
    database_dir = workdir / "db"
    write_offline_database(database_dir)
    return ClamdProcess(workdir=workdir, database_dir=database_dir, limits=limits or ClamdLimits())
