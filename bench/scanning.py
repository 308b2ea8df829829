"""The two sides being compared: the project's scanner (S3 object -> clamd INSTREAM) and ClamAV's CLIs."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.services import BUCKET, BenchmarkError
from chalicelib.config import ScannerSettings
from chalicelib.scanning.scanner import ObjectScanner
from chalicelib.scanning.verdicts import Verdict
from chalicelib.wiring import build_scanner

CLAMD_TIMEOUT_SECONDS = 600.0
MAX_DEFINITIONS_AGE_HOURS = 48.0


@dataclass(frozen=True)
class StoredObject:
    key: str
    version_id: str
    size: int


def project_scanner(s3: Any, clamd_address: str, database_dir: Path, max_scan_bytes: int) -> ObjectScanner:
    """The scanner exactly as the Lambda handler builds it, on the given S3 client."""
    settings = ScannerSettings(
        clamd_address=clamd_address,
        clamd_timeout_seconds=CLAMD_TIMEOUT_SECONDS,
        max_scan_bytes=max_scan_bytes,
        database_dir=str(database_dir),
        max_definitions_age_hours=MAX_DEFINITIONS_AGE_HOURS,
    )
    return build_scanner(settings, s3)


def put_object(s3: Any, key: str, body: bytes) -> StoredObject:
    version_id = str(s3.put_object(Bucket=BUCKET, Key=key, Body=body)["VersionId"])
    return StoredObject(key, version_id, len(body))


def delete_object(s3: Any, stored: StoredObject) -> None:
    s3.delete_object(Bucket=BUCKET, Key=stored.key, VersionId=stored.version_id)


def timed_scan(scanner: ObjectScanner, stored: StoredObject) -> float:
    """Seconds for one ``ObjectScanner.scan``; the object must come back CLEAN and complete."""
    started = time.perf_counter()
    result = scanner.scan(BUCKET, stored.key, stored.version_id)
    elapsed = time.perf_counter() - started
    if result.verdict is not Verdict.CLEAN or result.bytes != stored.size:
        raise BenchmarkError(f"scanner returned {result} for {stored}")
    return elapsed


def clamdscan_command(clamd_config: Path, path: Path) -> list[str]:
    return ["clamdscan", "--stream", "--no-summary", f"--config-file={clamd_config}", str(path)]


def clamscan_command(database_dir: Path, path: Path) -> list[str]:
    return ["clamscan", "--stdout", f"--database={database_dir}", str(path)]


def timed_command(command: list[str]) -> tuple[float, str]:
    """Seconds for one run of a ClamAV CLI that must report the file clean (exit code 0)."""
    started = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        raise BenchmarkError(f"{command[0]} exited {completed.returncode}: {completed.stdout}{completed.stderr}")
    return elapsed, completed.stdout
