"""Step 1: per-object scan time of the project's scanner versus ``clamdscan --stream`` of the same bytes.

Plain random objects, and zips of 10 MiB random members (deflated): for a zip the scanner also
spools the object and runs the archive audit while clamd unpacks it (chalicelib/archives), so
its ratio is what the audit costs.
"""

from __future__ import annotations

import io
import os
import statistics
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.plan import NO_CLEAN_CACHE, Plan, Workspace
from bench.scanning import (
    StoredObject,
    clamdscan_command,
    delete_object,
    project_scanner,
    put_object,
    timed_command,
    timed_scan,
)
from bench.stats import MIB, Timing, human_size, mib
from chalicelib.scanning.scanner import ObjectScanner
from devstack.clamd import ClamdProcess

RATIO_TARGET = 1.25
RATIO_TARGET_FROM_BYTES = 16 * MIB


MEMBER_BYTES = 10 * MIB


def random_object(size: int) -> bytes:
    return os.urandom(size)


def random_zip(size: int) -> bytes:
    """About ``size`` bytes of zip: 10 MiB random members, deflated (incompressible, as photos are)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for index in range(max(1, size // MEMBER_BYTES)):
            archive.writestr(f"photo-{index:03}.jpg", os.urandom(min(MEMBER_BYTES, size)))
    return buffer.getvalue()


@dataclass
class SizeResult:
    size: int
    kind: str = "random"
    scanner: Timing = field(default_factory=Timing)
    clamdscan: Timing = field(default_factory=Timing)

    @property
    def label(self) -> str:
        return human_size(self.size) + (" zip" if self.kind == "zip" else "")

    @property
    def ratio(self) -> float:
        """Scanner median over clamdscan median (the target's definition)."""
        return self.scanner.median / self.clamdscan.median

    @property
    def paired_ratio(self) -> float:
        """Median of per-repetition ratios: both methods scanned the same bytes, back to back."""
        pairs = zip(self.scanner.samples, self.clamdscan.samples, strict=True)
        return statistics.median(scanner / clamdscan for scanner, clamdscan in pairs)

    @property
    def target_applies(self) -> bool:
        return self.size >= RATIO_TARGET_FROM_BYTES

    def to_json(self) -> dict[str, Any]:
        return {
            "bytes": self.size,
            "kind": self.kind,
            "scanner": self.scanner.summary(),
            "clamdscan_stream": self.clamdscan.summary(),
            "ratio_of_medians": self.ratio,
            "median_of_paired_ratios": self.paired_ratio,
            "scanner_mib_per_s_at_median": mib(self.size) / self.scanner.median,
            "clamdscan_mib_per_s_at_median": mib(self.size) / self.clamdscan.median,
            "target": f"ratio <= {RATIO_TARGET}" if self.target_applies else None,
            "target_met": self.ratio <= RATIO_TARGET if self.target_applies else None,
        }


@dataclass
class ThroughputResult:
    sizes: list[SizeResult]
    clamd_config: str
    clamdscan_command: str

    def to_json(self) -> dict[str, Any]:
        return {
            "sizes": [size.to_json() for size in self.sizes],
            "clamd_config": self.clamd_config,
            "clamdscan_command": self.clamdscan_command,
        }


def measure_size(
    workspace: Workspace,
    scanner: ObjectScanner,
    clamd_config: Path,
    size: int,
    reps: int,
    make: Callable[[int], bytes] = random_object,
    kind: str = "random",
) -> SizeResult:
    """``reps`` rounds of fresh random content, scanned once by each method (order alternating)."""
    result = SizeResult(size, kind)
    path = workspace.workdir / "throughput-object.bin"
    for rep in range(reps):
        body = make(size)
        path.write_bytes(body)
        stored = put_object(workspace.s3, f"throughput/{size}", body)
        del body
        try:
            _scan_both(result, scanner, stored, clamdscan_command(clamd_config, path), scanner_first=rep % 2 == 0)
        finally:
            delete_object(workspace.s3, stored)
    path.unlink()
    return result


def _scan_both(
    result: SizeResult, scanner: ObjectScanner, stored: StoredObject, command: list[str], scanner_first: bool
) -> None:
    if scanner_first:
        result.scanner.add(timed_scan(scanner, stored))
        result.clamdscan.add(timed_command(command)[0])
    else:
        result.clamdscan.add(timed_command(command)[0])
        result.scanner.add(timed_scan(scanner, stored))


def run_throughput(workspace: Workspace, plan: Plan, database_dir: Path) -> ThroughputResult:
    limits = plan.throughput_limits
    clamd = ClamdProcess(workspace.workdir / "clamd-throughput", database_dir, limits, dict(NO_CLEAN_CACHE))
    with clamd:
        config = clamd.workdir / "clamd.conf"
        scanner = project_scanner(workspace.s3, clamd.address, database_dir, limits.stream_max)
        measure_size(workspace, scanner, config, 1 * MIB, reps=2)  # warm-up, discarded
        sizes = [measure_size(workspace, scanner, config, size, reps) for size, reps in plan.sizes]
        sizes += [
            measure_size(workspace, scanner, config, size, reps, random_zip, "zip") for size, reps in plan.zip_sizes
        ]
        command = " ".join(clamdscan_command(config, Path("<file>")))
        return ThroughputResult(sizes, config.read_text(), command)
