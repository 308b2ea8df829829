"""Each entry point takes the event AWS really sends (tests/events/), not only what the test
clients build."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib.functions.scanner import handle_scan
from chalicelib.scanning.errors import ScanRequestError
from tests.support.schedules import environment

EVENTS = Path(__file__).resolve().parents[1] / "events"


def event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())  # type: ignore[no-any-return]


class Context:
    """The parts of Lambda's context object Chalice reads."""

    function_name = "manabiplus-prod-api_handler"
    aws_request_id = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"


def local_stage_environment() -> dict[str, str]:
    config = json.loads((EVENTS.parents[1] / ".chalice" / "config.json").read_text())
    return {**config.get("environment_variables", {}), **config["stages"]["local"]["environment_variables"]}


def test_the_api_answers_an_api_gateway_proxy_event() -> None:
    from app import app

    with environment(local_stage_environment()):
        response = app(event("api-request.json"), Context())
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"status": "ok"}


class RecordingScanner:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []

    def scan(self, bucket: str, key: str, version_id: str) -> Any:
        from chalicelib.scanning.verdicts import ScanResult, Verdict

        self.calls.append((bucket, key, version_id))
        return ScanResult(Verdict.CLEAN, "", "ClamAV 1.4.6", "daily-27512", "0" * 64, 5, 0.01)


def test_the_scanner_takes_the_state_machines_payload() -> None:
    scanner = RecordingScanner()
    payload = handle_scan(event("scan-request.json"), scanner)  # type: ignore[arg-type]
    request = event("scan-request.json")
    assert scanner.calls == [(request["bucket"], request["key"], request["versionId"])]
    assert payload["verdict"] == "CLEAN" and set(payload) >= {"signature", "definitions", "sha256", "reason"}


@pytest.mark.parametrize("missing", ["bucket", "key", "versionId"])
def test_a_payload_without_an_object_version_is_refused(missing: str) -> None:
    request = {name: value for name, value in event("scan-request.json").items() if name != missing}
    with pytest.raises(ScanRequestError, match=missing):
        handle_scan(request, RecordingScanner())  # type: ignore[arg-type]
