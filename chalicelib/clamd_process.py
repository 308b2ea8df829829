"""clamd as a child process with a private configuration (sockets and temp files under one
work directory, ``Foreground yes``). Used by the scanner runtime in its Lambda container, and by
the local stack, the tests and the benchmarks."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from chalicelib.clamd import ClamdClient, ClamdError

CLAMD_BINARY = shutil.which("clamd") or "/usr/sbin/clamd"
MIB = 1024 * 1024


def terminate(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``timeout`` seconds."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout)


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
        if self.process is not None:
            terminate(self.process, timeout)

    def __enter__(self) -> ClamdProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
