"""INFO lines from every domain package reach the output under Lambda's default logging: the
Python runtime leaves the root logger at WARNING, which drops INFO from ``getLogger(__name__)``
loggers unless the project sets its own level (issue #10)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ["api", "files", "scanning", "clamav", "definitions", "upkeep", "functions", "profiles"]

LAMBDA_LIKE = """
import logging, sys
# What Lambda's Python runtime does before importing the handler: a handler on the root
# logger, and the root level at WARNING.
logging.basicConfig(stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")
logging.getLogger().setLevel(logging.WARNING)
import {entry}
for package in {packages!r}:
    logging.getLogger(f"chalicelib.{{package}}.module").info("hello from %s", package)
"""
BOUND = """
from chalicelib import logs
with logs.bound(requestId="req-1", fileId="F1", versionId=None):
    logging.getLogger("chalicelib.scanning.scanner").info("scanned")
"""


def run(entry: str, extra: str = "") -> tuple[list[dict[str, object]], str]:
    code = LAMBDA_LIKE.format(entry=entry, packages=PACKAGES) + extra
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()], result.stderr


def test_every_package_logs_info_as_json_lines() -> None:
    lines, stderr = run("app")
    assert [line["message"] for line in lines] == [f"hello from {package}" for package in PACKAGES]
    for line in lines:
        assert line["level"] == "INFO" and str(line["time"]).endswith("Z")
    assert "hello from" not in stderr, "each line once: not also through the root handler"


def test_lines_carry_the_bound_correlation_ids() -> None:
    lines, _ = run("app", BOUND)
    assert lines[-1]["message"] == "scanned"
    assert (lines[-1]["requestId"], lines[-1]["fileId"]) == ("req-1", "F1")
    assert "versionId" not in lines[-1], "empty ids are left out"


def test_the_scanner_image_entry_point_configures_logging_too() -> None:
    lines, _ = run("chalicelib.functions.scanner")
    assert len(lines) == len(PACKAGES)


def test_the_level_comes_from_configuration() -> None:
    code = "import os; os.environ['LOG_LEVEL'] = 'WARNING'\n" + LAMBDA_LIKE.format(entry="app", packages=PACKAGES)
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout == ""


SCANNED = """
import time
from chalicelib.functions.scanner import handle_scan
from chalicelib.scanning.verdicts import ScanResult, Verdict

class Scanner:
    def scan(self, bucket, key, version_id):
        return ScanResult.of(Verdict.INFECTED, "Eicar-Sig", "ClamAV 1.4.6", "db-1", "ab", 68, time.monotonic(), "")

handle_scan({"bucket": "b", "key": "uploads/u/f", "versionId": "v1", "execution": "e1"}, Scanner())
"""


def test_the_scanners_verdict_is_a_field_the_log_metric_filters_match() -> None:
    """infra/main/operations.yaml counts `{ $.verdict = "INFECTED" }` in the scanner's log."""
    run = subprocess.run([sys.executable, "-c", SCANNED], cwd=ROOT, capture_output=True, text=True, check=True)
    lines = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    scanned = [line for line in lines if line["message"].startswith("scanned ")]
    assert scanned and scanned[0]["verdict"] == "INFECTED" and scanned[0]["execution"] == "e1"
