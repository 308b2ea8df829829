"""What each verdict's execution costs in Step Functions Standard transitions (issue #14): only
the states an operator needs in the console — pending, scan, lock or release — and the record
updates the learner sees; nothing that earns nothing (bench/cost.py prices them)."""

from __future__ import annotations

from devstack.clamd import EICAR
from tests.support.pipeline import Pipeline
from tests.support.samples import encrypted_zip


def states_of(pipeline: Pipeline, arn: str) -> list[str]:
    return [
        event["stateEnteredEventDetails"]["name"]
        for event in pipeline.history(arn)
        if event["type"].endswith("StateEntered")
    ]


def test_a_clean_upload_enters_six_states(pipeline: Pipeline) -> None:
    version, execution = pipeline.upload("uploads/user-1/clean", b"homework\n")
    assert execution["status"] == "SUCCEEDED"
    assert states_of(pipeline, execution["executionArn"]) == [
        "MarkPending", "RecordPending", "Scan", "Verdict", "Release", "RecordVerdict",
    ]  # fmt: skip
    assert pipeline.tags("uploads/user-1/clean", version)["scan-status"] == "CLEAN"
    assert pipeline.record_of("uploads/user-1/clean")["scanStatus"] == "CLEAN"


def test_an_infected_upload_is_recorded_then_alerted_in_seven_states(pipeline: Pipeline, alerts: object) -> None:
    _version, execution = pipeline.upload("uploads/user-1/eicar", EICAR)
    assert execution["status"] == "SUCCEEDED"
    assert states_of(pipeline, execution["executionArn"]) == [
        "MarkPending", "RecordPending", "Scan", "Verdict", "Lock", "RecordInfected", "AlertInfected",
    ]  # fmt: skip
    assert pipeline.record_of("uploads/user-1/eicar")["scanStatus"] == "INFECTED"
    assert alerts.messages()  # type: ignore[attr-defined]


def test_an_unscannable_upload_enters_six_states(pipeline: Pipeline) -> None:
    _version, execution = pipeline.upload("uploads/user-1/locked", encrypted_zip(b"secret"))
    assert states_of(pipeline, execution["executionArn"])[-2:] == ["Unscannable", "RecordVerdict"]
    assert len(states_of(pipeline, execution["executionArn"])) == 6


def test_a_verdict_for_a_record_gone_still_ends_tagged(pipeline: Pipeline) -> None:
    key = "uploads/user-1/orphan"
    version = pipeline.put(key, EICAR)  # no record: the API never created one (or it was replaced)
    arn = pipeline.deliver(key, version, len(EICAR))
    assert arn
    execution = pipeline.wait(arn)
    assert execution["status"] == "SUCCEEDED"
    assert pipeline.tags(key, version)["scan-status"] == "INFECTED"
    assert states_of(pipeline, arn)[-2:] == ["RecordInfected", "AlertInfected"]  # alerted all the same
