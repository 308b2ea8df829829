"""What one benchmark run measures, and the shared state its steps use."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.stats import MIB
from devstack.clamd import ClamdLimits

KIB = 1024
GIB = 1024 * MIB
# Every clamd of the benchmark: unique random content, and no clean cache to flatter repeats.
NO_CLEAN_CACHE = {"DisableCache": "yes"}


@dataclass(frozen=True)
class Plan:
    """Sizes and repetitions. ``FULL`` is what ``make bench`` runs; ``QUICK`` only smoke-tests the code."""

    name: str
    sizes: tuple[tuple[int, int], ...]  # (object bytes, repetitions)
    zip_sizes: tuple[tuple[int, int], ...]  # zips of 10 MiB random members: (zip bytes, repetitions)
    small_files: int
    small_file_bytes: int
    synthetic_signatures: int
    clamd_ready_runs: int
    memory_object_bytes: int

    @property
    def largest_size(self) -> int:
        return max(size for size, _ in (*self.sizes, *self.zip_sizes))

    @property
    def throughput_limits(self) -> ClamdLimits:
        limit = 2 * self.largest_size
        return ClamdLimits(stream_max=limit, max_file=limit, max_scan=2 * limit)

    @property
    def memory_limits(self) -> ClamdLimits:
        limit = self.memory_object_bytes + 76 * MIB  # 1100 MiB for the 1 GiB object
        return ClamdLimits(stream_max=limit, max_file=limit, max_scan=2 * limit)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "sizes": [{"bytes": size, "repetitions": reps} for size, reps in self.sizes],
            "zip_sizes": [{"bytes": size, "repetitions": reps} for size, reps in self.zip_sizes],
            "small_files": self.small_files,
            "small_file_bytes": self.small_file_bytes,
            "synthetic_signatures": self.synthetic_signatures,
            "clamd_ready_runs": self.clamd_ready_runs,
            "memory_object_bytes": self.memory_object_bytes,
        }


FULL = Plan(
    name="full",
    sizes=((4 * KIB, 15), (1 * MIB, 15), (16 * MIB, 15), (100 * MIB, 9)),
    zip_sizes=((100 * MIB, 9),),
    small_files=50,
    small_file_bytes=4 * KIB,
    synthetic_signatures=1_000_000,
    clamd_ready_runs=3,
    memory_object_bytes=1 * GIB,
)

QUICK = Plan(
    name="quick",
    sizes=((4 * KIB, 3), (1 * MIB, 3), (16 * MIB, 2)),
    zip_sizes=((16 * MIB, 2),),
    small_files=5,
    small_file_bytes=4 * KIB,
    synthetic_signatures=100_000,
    clamd_ready_runs=1,
    memory_object_bytes=128 * MIB,
)


@dataclass(frozen=True)
class Workspace:
    """Shared by every step: a private temporary directory and an S3 client on the moto server."""

    workdir: Path
    s3: Any
    endpoint: str
