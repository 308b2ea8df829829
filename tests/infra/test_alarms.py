"""Alarms that tell (issue #14): every alarm of the packaged template pages the alert topic and has
a runbook entry in docs/OPERATIONS.md (what it means, what to look at, what to run); every entry
names an alarm; and each thing that can go wrong in the pipeline has an alarm."""

from __future__ import annotations

import re
from typing import Any

import pytest

from devstack.templates import ROOT
from tests.infra.seed import STAGES, packaged

OPERATIONS = ROOT / "docs" / "OPERATIONS.md"


def alarms(stage: str) -> dict[str, dict[str, Any]]:
    """AlarmName (without the stage prefix) -> properties."""
    found = {}
    for resource in packaged(stage)["Resources"].values():
        if resource["Type"] == "AWS::CloudWatch::Alarm":
            properties = resource["Properties"]
            name = properties["AlarmName"]["Fn::Sub"].removeprefix("${Stage}-manabiplus-")
            found[name] = properties
    return found


def runbook() -> dict[str, str]:
    """``### name`` sections of docs/OPERATIONS.md -> their text."""
    text = OPERATIONS.read_text(encoding="utf-8")
    parts = re.split(r"^### (\S+)\s*$", text, flags=re.MULTILINE)
    return {parts[index]: parts[index + 1] for index in range(1, len(parts), 2)}


@pytest.mark.parametrize("stage", STAGES)
def test_every_alarm_pages_the_alert_topic_and_has_a_runbook_entry(stage: str) -> None:
    entries = runbook()
    for name, properties in alarms(stage).items():
        assert properties["AlarmActions"] == [{"Ref": "AlertTopic"}], name
        assert name in entries, f"docs/OPERATIONS.md has no '### {name}'"
        for part in ("**Means:**", "**Look at:**", "**Run:**"):
            assert part in entries[name], f"{name}: no {part}"
    assert set(entries) <= set(alarms(stage)), set(entries) - set(alarms(stage))


def metric_of(properties: dict[str, Any]) -> tuple[str, str]:
    return properties["Namespace"], properties["MetricName"]


@pytest.mark.parametrize("stage", STAGES)
def test_what_can_go_wrong_has_an_alarm(stage: str) -> None:
    watched = {metric_of(properties) for properties in alarms(stage).values()}
    for what, metric in {
        "infected found": ("ManabiPlus/Scan", "InfectedVerdicts"),
        "error rate": ("AWS/States", "ExecutionsFailed"),
        "pending age": ("AWS/States", "ExecutionTime"),
        "definitions age": ("ManabiPlus/Scan", "ScanRefusals"),
        "definitions update": ("AWS/Lambda", "Invocations"),
        "canary": ("ManabiPlus/Canary", "CanaryPassed"),
        "throttles": ("AWS/Lambda", "Throttles"),
        "start throttles": ("AWS/States", "ExecutionThrottled"),
        "event path failures": ("AWS/Lambda", "AsyncEventsDropped"),
    }.items():
        assert metric in watched, what


@pytest.mark.parametrize("stage", STAGES)
def test_the_canary_alarms_fire_when_it_fails_or_is_late(stage: str) -> None:
    found = alarms(stage)
    failed, late = found["canary-failed"], found["canary-late"]
    for properties in (failed, late):
        assert properties["Dimensions"] == [{"Name": "Stage", "Value": {"Ref": "Stage"}}]
        assert properties["Period"] == 3600  # the canary runs hourly (CANARY_SCHEDULE)
    assert (failed["Statistic"], failed["ComparisonOperator"], failed["Threshold"]) == (
        "Minimum",
        "LessThanThreshold",
        1,
    )
    # Late: no report at all for two hours counts as breaching.
    assert (late["Statistic"], late["TreatMissingData"], late["EvaluationPeriods"]) == ("SampleCount", "breaching", 2)


@pytest.mark.parametrize("stage", STAGES)
def test_the_log_metric_filters_match_what_the_scanner_logs(stage: str) -> None:
    import json
    import logging

    from chalicelib import logs

    filters = {
        resource["Properties"]["MetricTransformations"][0]["MetricName"]: resource["Properties"]["FilterPattern"]
        for resource in packaged(stage)["Resources"].values()
        if resource["Type"] == "AWS::Logs::MetricFilter"
    }
    assert filters["InfectedVerdicts"] == '{ $.verdict = "INFECTED" }'
    assert filters["ScanRefusals"] == '"refusing to scan"'
    formatter = logs.JsonLines()
    record = logging.LogRecord("chalicelib.functions.scanner", logging.INFO, __file__, 1, "scanned", (), None)
    with logs.bound(verdict="INFECTED"):
        assert json.loads(formatter.format(record))["verdict"] == "INFECTED"
    source = (ROOT / "chalicelib" / "scanning" / "scanner.py").read_text(encoding="utf-8")
    assert 'logger.error("refusing to scan' in source
