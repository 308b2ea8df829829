"""What one canary run found, step by step: returned by the function, printed by ``manabi canary``,
and summed up in the ``CanaryPassed`` metric."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Step:
    name: str
    ok: bool | None  # None: skipped
    detail: str
    seconds: float


@dataclass
class CanaryReport:
    run: str
    stage: str
    steps: list[Step] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return bool(self.steps) and all(step.ok is not False for step in self.steps)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "stage": self.stage,
            "passed": self.passed,
            "seconds": round(self.seconds, 3),
            "steps": [asdict(step) for step in self.steps],
        }
