"""Driving the local stack as a person does from another terminal."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def make_stop(state_dir: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`make stop` for the stack of ``state_dir``: what it printed and how it exited."""
    return subprocess.run(
        [sys.executable, "-m", "devstack.local", "stop", "--state-dir", str(state_dir)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
