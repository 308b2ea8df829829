"""Static guarantees of statemachines/scan-object.asl.json, on top of the executions in
tests/functional: where CLEAN can come from, and that every path ends tagged."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.clamav.errors import ClamdTimeoutError, ClamdUnavailableError
from chalicelib.scanning.errors import ObjectUnavailableError, ScanRequestError, StorageThrottledError
from chalicelib.upkeep.sweeper import PERMANENT_ERRORS
from devstack.templates import (
    MAIN_TEMPLATE_DIR,
    STATE_MACHINE_DIR,
    TemplateContext,
    load_main_template,
    render_state_machine,
)

DEFINITION: dict[str, Any] = json.loads((STATE_MACHINE_DIR / "scan-object.asl.json").read_text())
STATES: dict[str, dict[str, Any]] = DEFINITION["States"]
TAG_RESOURCE = "arn:aws:states:::aws-sdk:s3:putObjectTagging"
TERMINAL_TAGGERS = {"Release", "Lock", "Unscannable", "TagError"}


def successors(state: dict[str, Any]) -> list[str]:
    following = [state["Next"]] if "Next" in state else []
    following += [choice["Next"] for choice in state.get("Choices", [])]
    following += [state["Default"]] if "Default" in state else []
    following += [catch["Next"] for catch in state.get("Catch", [])]
    return following


def paths(name: str, seen: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    assert name not in seen, f"cycle through {name}"
    following = successors(STATES[name])
    if not following:
        return [(*seen, name)]
    return [path for nxt in following for path in paths(nxt, (*seen, name))]


def status_written(state: dict[str, Any]) -> str:
    tag_set = state["Parameters"]["Tagging"]["TagSet"]
    return next(tag["Value"] for tag in tag_set if tag["Key"] == "scan-status")


def test_every_path_tags_the_version_pending_then_with_a_verdict() -> None:
    all_paths = paths(DEFINITION["StartAt"])
    assert len(all_paths) > 10
    for path in all_paths:
        assert path[0] == "MarkPending"
        assert TERMINAL_TAGGERS & set(path), f"path ends without a verdict tag: {path}"
        last = STATES[path[-1]]
        assert last["Type"] in {"Succeed", "Fail"} or last.get("End") is True, path
        if last["Type"] == "Succeed" or last.get("End"):  # a verdict that ended well was recorded
            assert {"RecordVerdict", "RecordInfected"} & set(path), f"path ends without a record: {path}"


def test_infected_is_recorded_as_every_other_verdict() -> None:
    """RecordInfected exists so the INFECTED path needs no Choice after the record (issue #14):
    it must write exactly what RecordVerdict writes, under the same condition."""
    for field in ("Resource", "Parameters", "ResultPath", "Retry"):
        assert STATES["RecordInfected"][field] == STATES["RecordVerdict"][field], field
    assert [c["ErrorEquals"] for c in STATES["RecordInfected"]["Catch"]] == [
        c["ErrorEquals"] for c in STATES["RecordVerdict"]["Catch"]
    ]
    assert STATES["Lock"]["Next"] == "RecordInfected" and STATES["RecordInfected"]["Next"] == "AlertInfected"


def test_clean_is_written_only_by_release_and_release_only_follows_an_ok_from_clamd() -> None:
    writers = {name: status_written(state) for name, state in STATES.items() if state.get("Resource") == TAG_RESOURCE}
    assert writers == {
        "MarkPending": "PENDING",
        "Release": "CLEAN",
        "Lock": "INFECTED",
        "Unscannable": "UNSCANNABLE",
        "TagError": "ERROR",
    }
    entries = [
        (name, rule)
        for name, state in STATES.items()
        for rule in [*state.get("Choices", []), *[{"Next": state.get("Next")}], *state.get("Catch", [])]
        if rule.get("Next") == "Release"
    ]
    assert entries == [("Verdict", {"Variable": "$.scan.verdict", "StringEquals": "CLEAN", "Next": "Release"})]


def test_unknown_verdicts_fall_to_the_error_path() -> None:
    assert STATES["Verdict"]["Default"] == "ScannerRefused"
    assert STATES["ScannerRefused"]["Next"] == "TagError"


@pytest.mark.parametrize("name", [name for name, state in STATES.items() if state["Type"] == "Task"])
def test_every_task_catches_everything(name: str) -> None:
    catches = STATES[name]["Catch"]
    assert catches[-1]["ErrorEquals"] == ["States.ALL"]


def test_only_transient_scanner_failures_are_retried() -> None:
    """The names are the exception classes' own: a rename breaks this test, not the retries."""
    (retry,) = STATES["Scan"]["Retry"]
    assert "States.ALL" not in retry["ErrorEquals"]
    assert {ClamdUnavailableError.__name__, StorageThrottledError.__name__} <= set(retry["ErrorEquals"])
    assert ClamdTimeoutError.__name__ not in retry["ErrorEquals"]
    for name in retry["ErrorEquals"]:
        assert name.startswith("Lambda.") or name in {ClamdUnavailableError.__name__, StorageThrottledError.__name__}


def test_the_sweeper_never_retries_what_cannot_pass() -> None:
    assert {ObjectUnavailableError.__name__, ScanRequestError.__name__} == PERMANENT_ERRORS


def test_the_template_substitutes_every_placeholder() -> None:
    context = TemplateContext(load_main_template(), {"Stage": "prod", "ScannerImageUri": "x"})
    context.refs.update(FilesTable="prod-manabiplus-files", AlertTopic="arn:aws:sns:ap-northeast-1:1:alerts")
    context.attributes[("ScannerFunction", "Arn")] = "arn:aws:lambda:ap-northeast-1:1:function:scanner"
    rendered = render_state_machine(MAIN_TEMPLATE_DIR, context, "ScanStateMachine")
    assert "${" not in rendered
    assert "prod-manabiplus-files" in rendered
