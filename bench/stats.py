"""Small summaries of repeated measurements."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

MIB = 1024 * 1024


@dataclass
class Timing:
    """Wall-clock samples of one method, in seconds."""

    samples: list[float] = field(default_factory=list)

    def add(self, seconds: float) -> None:
        self.samples.append(seconds)

    @property
    def min(self) -> float:
        return min(self.samples)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    def summary(self) -> dict[str, float | int | list[float]]:
        return {"n": len(self.samples), "min_s": self.min, "median_s": self.median, "samples_s": self.samples}


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def mib(size: int) -> float:
    return size / MIB


def human_size(size: int) -> str:
    if size >= 1024 * MIB and size % (1024 * MIB) == 0:
        return f"{size // (1024 * MIB)} GiB"
    if size >= MIB:
        return f"{size // MIB} MiB"
    return f"{size // 1024} KiB"
