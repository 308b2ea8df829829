"""Step 2: one ``clamscan`` process per file (DB loaded every time) versus the scanner on a loaded clamd.

Both sides use the same database: 1,000,000 synthetic MD5 signatures plus the project's
offline signatures. ``clamscan --stdout --database=DIR FILE`` is what the best-known
open-source Lambda scanners run for every object.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.plan import NO_CLEAN_CACHE, Plan, Workspace
from bench.scanning import StoredObject, clamscan_command, project_scanner, put_object, timed_command, timed_scan
from bench.services import BenchmarkError, proc_status_kib
from bench.stats import Timing
from bench.synthetic_db import SYNTHETIC_SEED, write_synthetic_hdb
from devstack.clamd import ClamdLimits, ClamdProcess, write_offline_database

SPEEDUP_TARGET = 30.0
_KNOWN_SIGNATURES = re.compile(r"^Known viruses: (\d+)$", re.MULTILINE)


@dataclass
class PerFileResult:
    files: int
    file_bytes: int
    synthetic_signatures: int
    database_seconds: float
    clamscan: Timing = field(default_factory=Timing)
    scanner: Timing = field(default_factory=Timing)
    clamd_ready: Timing = field(default_factory=Timing)
    clamd_ready_rss_kib: list[int] = field(default_factory=list)
    loaded_signatures: set[int] = field(default_factory=set)
    clamd_config: str = ""
    clamscan_command: str = ""

    @property
    def speedup(self) -> float:
        return sum(self.clamscan.samples) / sum(self.scanner.samples)

    def to_json(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "file_bytes": self.file_bytes,
            "synthetic_signatures": self.synthetic_signatures,
            "synthetic_seed": SYNTHETIC_SEED,
            "signatures_loaded_by_clamscan": sorted(self.loaded_signatures),
            "database_generation_seconds": self.database_seconds,
            "clamscan_per_file": {"total_s": sum(self.clamscan.samples), **self.clamscan.summary()},
            "scanner": {"total_s": sum(self.scanner.samples), **self.scanner.summary()},
            "speedup": self.speedup,
            "target": f"speedup >= {SPEEDUP_TARGET}",
            "target_met": self.speedup >= SPEEDUP_TARGET,
            "clamd_ready": self.clamd_ready.summary(),
            "clamd_ready_rss_kib": self.clamd_ready_rss_kib,
            "clamd_config": self.clamd_config,
            "clamscan_command": self.clamscan_command,
        }


def build_database(database_dir: Path, signatures: int) -> float:
    started = time.perf_counter()
    write_offline_database(database_dir)
    write_synthetic_hdb(database_dir, signatures)
    return time.perf_counter() - started


def write_small_files(workspace: Workspace, plan: Plan) -> list[tuple[Path, StoredObject]]:
    """The same random bytes twice: a file on disk for clamscan, an object version for the scanner."""
    directory = workspace.workdir / "small-files"
    directory.mkdir()
    files = []
    for number in range(plan.small_files):
        body = os.urandom(plan.small_file_bytes)
        path = directory / f"file-{number:03d}.bin"
        path.write_bytes(body)
        files.append((path, put_object(workspace.s3, f"small/{number:03d}", body)))
    return files


def timed_start(clamd: ClamdProcess, result: PerFileResult) -> None:
    started = time.perf_counter()
    clamd.start(ready_timeout=300)
    result.clamd_ready.add(time.perf_counter() - started)
    if clamd.process is not None:
        result.clamd_ready_rss_kib.append(proc_status_kib(clamd.process.pid)["VmRSS"])


def measure_scanner(
    workspace: Workspace, plan: Plan, database_dir: Path, objects: list[StoredObject], result: PerFileResult
) -> None:
    for run in range(plan.clamd_ready_runs):
        clamd = ClamdProcess(
            workspace.workdir / f"clamd-synthetic-{run}", database_dir, ClamdLimits(), dict(NO_CLEAN_CACHE)
        )
        try:
            timed_start(clamd, result)
            result.clamd_config = (clamd.workdir / "clamd.conf").read_text()
            if run == plan.clamd_ready_runs - 1:
                scanner = project_scanner(workspace.s3, clamd.address, database_dir, clamd.limits.stream_max)
                for stored in objects:
                    result.scanner.add(timed_scan(scanner, stored))
        finally:
            clamd.stop()


def measure_clamscan(database_dir: Path, paths: list[Path], result: PerFileResult) -> None:
    for path in paths:
        seconds, output = timed_command(clamscan_command(database_dir, path))
        result.clamscan.add(seconds)
        known = _KNOWN_SIGNATURES.search(output)
        if known is None:
            raise BenchmarkError(f"clamscan printed no signature count: {output}")
        result.loaded_signatures.add(int(known.group(1)))
    result.clamscan_command = " ".join(clamscan_command(database_dir, Path("<file>")))


def run_per_file(workspace: Workspace, plan: Plan) -> PerFileResult:
    database_dir = workspace.workdir / "db-synthetic"
    seconds = build_database(database_dir, plan.synthetic_signatures)
    result = PerFileResult(plan.small_files, plan.small_file_bytes, plan.synthetic_signatures, seconds)
    files = write_small_files(workspace, plan)
    measure_scanner(workspace, plan, database_dir, [stored for _, stored in files], result)
    measure_clamscan(database_dir, [path for path, _ in files], result)
    return result
