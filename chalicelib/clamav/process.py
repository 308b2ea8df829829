"""clamd as a child process with a private configuration (sockets and temp files under one
work directory, ``Foreground yes``). Used by the scanner runtime in its Lambda container, and by
the local stack, the tests and the benchmarks."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from chalicelib.clamav.client import ClamdClient
from chalicelib.clamav.errors import ClamdError, ClamdTimeoutError

CLAMD_BINARY = shutil.which("clamd") or "/usr/sbin/clamd"
MIB = 1024 * 1024
# clamd's log lines once a database is in use (ClamAV 1.4): at start, and after RELOAD.
_LOADED = re.compile(rb"(?:Loaded (\d+) signatures\.|Database correctly reloaded \((\d+) signatures\))")


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


# What the scanner's clamd may spend on one object (docs/PERFORMANCE.md, "The official-size database").
SCAN_TIME_BUDGET_MS = 600_000


@dataclass
class ClamdLimits:
    """clamd's scan limits. ``stream_max`` must not exceed ``max_file``: a top-level input over
    MaxFileSize is otherwise skipped and reported OK."""

    stream_max: int = 64 * MIB
    max_file: int = 64 * MIB
    max_scan: int = 256 * MIB
    max_recursion: int = 17
    max_files: int = 1000
    max_scan_time_ms: int = 120_000  # clamd's own default

    def __post_init__(self) -> None:
        if self.stream_max > self.max_file:
            raise ValueError("StreamMaxLength must not exceed MaxFileSize, or oversize streams come back OK")

    @classmethod
    def for_scan_limit(cls, max_scan_bytes: int) -> ClamdLimits:
        """The limits that go with the scanner's ``MAX_SCAN_BYTES``: an object, and every member of
        an archive, may be that large; an archive's content twice that. Time to scan it: with the
        official-size database clamd reads about 2 MiB/s (1 GiB: ~512 s), and the Scan state
        gives up at 900 s, which must leave room for a cold start."""
        return cls(
            stream_max=max_scan_bytes,
            max_file=max_scan_bytes,
            max_scan=2 * max_scan_bytes,
            max_scan_time_ms=SCAN_TIME_BUDGET_MS,
        )


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
        # Unlimited: the engine check reads the loaded signature count from this log.
        "LogFileMaxSize": "0",
        "MaxThreads": "4",
        "SelfCheck": "0",
        "StreamMaxLength": str(limits.stream_max),
        "MaxFileSize": str(limits.max_file),
        "MaxScanSize": str(limits.max_scan),
        "MaxRecursion": str(limits.max_recursion),
        "MaxFiles": str(limits.max_files),
        "MaxScanTime": str(limits.max_scan_time_ms),  # past it: Heuristics.Limits.Exceeded (UNSCANNABLE)
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
    signatures: int | None = None

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
        log_start = self.log_size()
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
                    self.signatures = self.loaded_signatures(log_start)
                    return self
            except ClamdError:
                pass
            time.sleep(0.01)
        self.stop()
        raise RuntimeError(f"clamd did not answer PING within {ready_timeout}s; see {self.workdir / 'clamd.log'}")

    @property
    def log_path(self) -> Path:
        return self.workdir / "clamd.log"

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except FileNotFoundError:
            return 0

    def loaded_signatures(self, since: int = 0) -> int | None:
        """The signature count clamd last logged after byte ``since`` of its log, if any."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(since)
                text = log.read()
        except FileNotFoundError:
            return None
        counts = [int(start or reload) for start, reload in _LOADED.findall(text)]
        return counts[-1] if counts else None

    def reload(self, timeout: float = 600.0) -> int:
        """RELOAD and wait until clamd logs the new database; return its signature count."""
        since = self.log_size()
        self.client().reload()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise ClamdError(f"clamd exited while reloading; see {self.log_path}")
            # A connection wakes clamd's main loop, which runs the reload (without one it waits
            # for its idle timeout); PING is answered once the new engine is active. A large
            # database keeps clamd silent for longer than one PING's timeout (the official-size
            # one: 45–93 s): that is the reload still running, waited out until the deadline.
            try:
                self.client(timeout_seconds=max(1.0, deadline - time.monotonic())).ping()
            except ClamdTimeoutError:
                continue
            count = self.loaded_signatures(since)
            if count is not None:
                self.signatures = count
                return count
            time.sleep(0.02)
        raise ClamdError(f"clamd did not finish reloading within {timeout}s; see {self.log_path}")

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is not None:
            terminate(self.process, timeout)

    def __enter__(self) -> ClamdProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
