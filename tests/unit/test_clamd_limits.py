"""clamd's scan-time limit fits the scanner's sizes (issue #14: with the official-size database
clamd scans about 2 MiB/s, and its default MaxScanTime of 120 s turned objects over ~250 MiB
UNSCANNABLE although MAX_SCAN_BYTES allows 1 GiB)."""

from __future__ import annotations

import json
from pathlib import Path

from chalicelib.clamav.process import ClamdLimits, render_config
from chalicelib.config import DEFAULT_MAX_SCAN_BYTES

ROOT = Path(__file__).resolve().parents[2]
MIB = 1024 * 1024
OFFICIAL_DB_MIB_PER_SECOND = 2.0  # docs/PERFORMANCE.md, "The official-size database"


def rendered(limits: ClamdLimits) -> dict[str, str]:
    text = render_config(Path("/w"), Path("/w/db"), limits)
    return dict(line.split(" ", 1) for line in text.splitlines())


def test_the_scanner_gives_clamd_time_for_its_largest_object() -> None:
    seconds = int(rendered(ClamdLimits.for_scan_limit(DEFAULT_MAX_SCAN_BYTES))["MaxScanTime"]) / 1000
    assert seconds >= DEFAULT_MAX_SCAN_BYTES / MIB / OFFICIAL_DB_MIB_PER_SECOND


def test_the_scan_time_limit_ends_before_the_workflow_gives_up() -> None:
    """A scan past MaxScanTime is UNSCANNABLE (clamd says why); one past the Scan state's timeout
    is only an ERROR. Leave room for a cold start (download, verify, ~25-60 s of loading)."""
    states = json.loads((ROOT / "statemachines" / "scan-object.asl.json").read_text())["States"]
    seconds = int(rendered(ClamdLimits.for_scan_limit(DEFAULT_MAX_SCAN_BYTES))["MaxScanTime"]) / 1000
    assert seconds + 120 <= states["Scan"]["TimeoutSeconds"]
