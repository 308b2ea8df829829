"""`manabi trace` says why: the scanner's reason for UNSCANNABLE, and a failure's cause."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from manabi_cli.api import steps_of

START = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)


def entered(name: str, second: int) -> dict[str, Any]:
    return {
        "type": "TaskStateEntered",
        "timestamp": START + timedelta(seconds=second),
        "stateEnteredEventDetails": {"name": name},
    }


def exited(name: str, second: int, output: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "TaskStateExited",
        "timestamp": START + timedelta(seconds=second),
        "stateExitedEventDetails": {"name": name, "output": json.dumps(output)},
    }


def test_an_unscannable_scan_shows_what_could_not_be_read() -> None:
    scan = {"verdict": "UNSCANNABLE", "signature": "Manabi.Limits.ZipMemberTooLarge", "reason": "a.bin is too large"}
    steps = steps_of([entered("Scan", 0), exited("Scan", 1, {"scan": scan})])
    assert steps[0]["detail"] == "UNSCANNABLE Manabi.Limits.ZipMemberTooLarge: a.bin is too large"
    assert steps[0]["seconds"] == 1.0


def test_a_failed_task_shows_its_cause() -> None:
    failed = {
        "type": "TaskFailed",
        "timestamp": START + timedelta(seconds=2),
        "taskFailedEventDetails": {
            "error": "ClamdUnavailableError",
            "cause": "cannot connect to clamd at /tmp/clamd/clamd.sock",
        },
    }
    steps = steps_of([entered("Scan", 0), failed])
    assert steps[0]["detail"] == "failed: ClamdUnavailableError: cannot connect to clamd at /tmp/clamd/clamd.sock"
