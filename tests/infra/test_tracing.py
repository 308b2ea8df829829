"""X-Ray end to end (issue #14): active tracing on every function and on the state machine, each
role allowed to send its segments, and the SDK in the code every function runs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from devstack.templates import ROOT
from tests.infra.seed import STAGES, packaged

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "infra"))
import build

FUNCTION_TYPES = {"AWS::Serverless::Function", "AWS::Lambda::Function"}


def allows_put_trace_segments(entry: dict[str, Any]) -> bool:
    if any(arn for arn in entry["managedPolicyArns"] if "AWSXRayDaemonWriteAccess" in str(arn)):
        return True
    for document in entry["policies"].values():
        statements = document["Statement"] if isinstance(document["Statement"], list) else [document["Statement"]]
        for statement in statements:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if statement["Effect"] == "Allow" and "xray:PutTraceSegments" in actions:
                return True
    return False


@pytest.mark.parametrize("stage", STAGES)
def test_every_function_and_the_state_machine_trace_actively(stage: str) -> None:
    resources = packaged(stage)["Resources"]
    functions = {name: r for name, r in resources.items() if r["Type"] in FUNCTION_TYPES}
    assert len(functions) >= 6
    for name, resource in functions.items():
        properties = resource["Properties"]
        mode = properties.get("Tracing") or properties.get("TracingConfig", {}).get("Mode")
        assert mode == "Active", name
    (machine,) = [r for r in resources.values() if r["Type"] == "AWS::StepFunctions::StateMachine"]
    assert machine["Properties"]["TracingConfiguration"] == {"Enabled": True}


@pytest.mark.parametrize("stage", STAGES)
def test_every_role_may_send_its_segments(stage: str) -> None:
    for name, entry in build.function_policies(packaged(stage)).items():
        assert allows_put_trace_segments(entry), name


def test_every_entry_point_patches_the_aws_sdk() -> None:
    """app.py loads every Chalice function; the scanner image runs chalicelib/functions/scanner.py."""
    for entry_point in ("app.py", "chalicelib/functions/scanner.py"):
        assert "tracing.configure()" in (ROOT / entry_point).read_text(encoding="utf-8"), entry_point
    assert any(line.startswith("aws-xray-sdk==") for line in (ROOT / "requirements.txt").read_text().splitlines())


def test_the_sdk_is_patched_once_imported(monkeypatch: pytest.MonkeyPatch) -> None:
    import botocore.client

    import app  # noqa: F401 - importing the app configures tracing

    assert getattr(botocore.client, "_xray_enabled", False)
