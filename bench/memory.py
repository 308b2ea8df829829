"""Step 3: peak RSS growth of the scanner while it scans a 1 GiB object, in a child process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from boto3.s3.transfer import TransferConfig

from bench.plan import NO_CLEAN_CACHE, Plan, Workspace
from bench.scanning import StoredObject, put_object
from bench.services import BUCKET, BenchmarkError, proc_status_kib
from bench.stats import MIB
from devstack.clamd import ClamdProcess

GROWTH_TARGET_MIB = 64
PROJECT_ROOT = Path(__file__).resolve().parent.parent
_WRITE_BYTES = 16 * MIB
_UPLOAD = TransferConfig(multipart_threshold=64 * MIB, multipart_chunksize=64 * MIB, max_concurrency=2)


@dataclass
class MemoryResult:
    object_bytes: int
    upload_seconds: float
    child: dict[str, Any]
    clamd_idle_kib: dict[str, int]
    clamd_after_kib: dict[str, int]
    clamd_config: str

    @property
    def growth_mib(self) -> float:
        return float(self.child["peak_growth_kib"]) / 1024

    def to_json(self) -> dict[str, Any]:
        return {
            "object_bytes": self.object_bytes,
            "upload_seconds": self.upload_seconds,
            "scanner_process": self.child,
            "peak_growth_mib": self.growth_mib,
            "target": f"peak growth <= {GROWTH_TARGET_MIB} MiB",
            "target_met": self.growth_mib <= GROWTH_TARGET_MIB,
            "clamd_idle_kib": self.clamd_idle_kib,
            "clamd_after_scan_kib": self.clamd_after_kib,
            "clamd_config": self.clamd_config,
        }


def upload_large_object(workspace: Workspace, key: str, size: int) -> tuple[StoredObject, float]:
    """Write ``size`` random bytes to a temporary file, then stream it to S3 as a multipart upload."""
    path = workspace.workdir / "large-object.bin"
    with path.open("wb") as file:
        for offset in range(0, size, _WRITE_BYTES):
            file.write(os.urandom(min(_WRITE_BYTES, size - offset)))
    started = time.perf_counter()
    try:
        with path.open("rb") as file:
            workspace.s3.upload_fileobj(file, BUCKET, key, Config=_UPLOAD)
    finally:
        path.unlink()
    seconds = time.perf_counter() - started
    version_id = str(workspace.s3.head_object(Bucket=BUCKET, Key=key)["VersionId"])
    return StoredObject(key, version_id, size), seconds


def run_child(request: dict[str, Any]) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.memory_probe", json.dumps(request)]
    completed = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=1800, check=False)
    if completed.returncode != 0:
        raise BenchmarkError(f"memory probe exited {completed.returncode}: {completed.stderr.strip()}")
    return json.loads(completed.stdout)  # type: ignore[no-any-return]


def run_memory(workspace: Workspace, plan: Plan, database_dir: Path) -> MemoryResult:
    target, upload_seconds = upload_large_object(workspace, "memory/large", plan.memory_object_bytes)
    warmup = put_object(workspace.s3, "memory/warmup", os.urandom(4096))
    limits = plan.memory_limits
    clamd = ClamdProcess(workspace.workdir / "clamd-memory", database_dir, limits, dict(NO_CLEAN_CACHE))
    with clamd:
        pid = clamd.process.pid if clamd.process else 0
        idle = proc_status_kib(pid)
        request = {
            "endpoint": workspace.endpoint,
            "clamd_address": clamd.address,
            "database_dir": str(database_dir),
            "max_scan_bytes": limits.stream_max,
            "warmup": asdict(warmup),
            "target": asdict(target),
        }
        child = run_child(request)
        after = proc_status_kib(pid)
        config = (clamd.workdir / "clamd.conf").read_text()
    return MemoryResult(plan.memory_object_bytes, upload_seconds, child, idle, after, config)
