import json
import re
from pathlib import Path
from typing import Any

import pytest

from chalicelib.scanning.errors import UploadEventError
from chalicelib.scanning.requests import (
    EXECUTION_NAME_MAX,
    ScanRequest,
    ScanStarter,
    normalise_sequencer,
    parse_object_created,
)

EVENT = json.loads((Path(__file__).resolve().parent.parent / "events" / "object-created.json").read_text())
BUCKET = "local-manabiplus-data"


def event_for(key: str, **object_fields: Any) -> dict[str, Any]:
    event = json.loads(json.dumps(EVENT))
    event["detail"]["object"]["key"] = key
    event["detail"]["object"].update(object_fields)
    return event


@pytest.mark.parametrize(
    ("encoded", "decoded"),
    [
        ("uploads/u1/red+flower.jpg", "uploads/u1/red flower.jpg"),
        ("uploads/u1/c%2B%2B+notes.txt", "uploads/u1/c++ notes.txt"),
        ("uploads/u1/%E5%AE%BF%E9%A1%8C.pdf", "uploads/u1/宿題.pdf"),
        ("uploads%2Fu1%2Ffile-1", "uploads/u1/file-1"),
    ],
)
def test_keys_are_url_decoded_like_s3_notifications(encoded: str, decoded: str) -> None:
    request = parse_object_created(event_for(encoded), BUCKET, "uploads/")
    assert request is not None
    assert request.key == decoded
    assert (request.ownerSub, request.fileId) == ("u1", decoded.rsplit("/", 1)[1])


@pytest.mark.parametrize("key", ["other/u1/file", "uploads/file", "uploads/u1/", "uploads//file", "uploads/u1/a/b"])
def test_keys_outside_the_upload_layout_are_ignored(key: str) -> None:
    assert parse_object_created(event_for(key), BUCKET, "uploads/") is None


def test_other_buckets_are_ignored() -> None:
    event = event_for("uploads/u1/f")
    event["detail"]["bucket"]["name"] = "someone-elses-bucket"
    assert parse_object_created(event, BUCKET, "uploads/") is None


def test_an_unversioned_object_is_an_error_not_a_silent_skip() -> None:
    event = event_for("uploads/u1/f")
    del event["detail"]["object"]["version-id"]
    with pytest.raises(UploadEventError, match="versioning"):
        parse_object_created(event, BUCKET, "uploads/")


def test_other_event_types_are_rejected() -> None:
    with pytest.raises(UploadEventError):
        parse_object_created({**EVENT, "detail-type": "Object Deleted"}, BUCKET, "uploads/")


def request(**overrides: str) -> ScanRequest:
    fields = {
        "bucket": BUCKET,
        "key": "uploads/u1/f1",
        "versionId": "v1",
        "sequencer": "A",
        "fileId": "f1",
        "ownerSub": "u1",
    }
    return ScanRequest(**{**fields, **overrides})


def test_execution_names_are_deterministic_and_valid() -> None:
    long_japanese = request(fileId="宿題 " * 40 + ".pdf", key="uploads/u1/" + "宿題 " * 40 + ".pdf")
    for scan in (request(), long_japanese, request(fileId="../../etc")):
        name = scan.execution_name()
        assert name == scan.execution_name()
        assert len(name) <= EXECUTION_NAME_MAX
        assert re.fullmatch(r"[0-9A-Za-z_-]+", name)


def test_execution_names_differ_per_version_sequencer_and_trigger() -> None:
    variants = (request(), request(versionId="v2"), request(sequencer="B"), request(trigger="rescan-1"))
    assert len({variant.execution_name() for variant in variants}) == 4


def test_sequencers_of_different_lengths_order_as_s3_documents() -> None:
    earlier, later = normalise_sequencer("617f08299329d189"), normalise_sequencer("617f08299329d18a00")
    assert earlier < later
    assert normalise_sequencer("0055AED6DCD90281E5") > normalise_sequencer("0055AED6DCD90281E4FF")


class FakeStepFunctions:
    class exceptions:
        class ExecutionAlreadyExists(Exception):
            pass

    def __init__(self) -> None:
        self.names: list[str] = []

    def start_execution(self, stateMachineArn: str, name: str, input: str) -> dict[str, str]:
        if name in self.names:
            raise self.exceptions.ExecutionAlreadyExists(name)
        self.names.append(name)
        assert json.loads(input)["versionId"] == "v1"
        return {"executionArn": f"{stateMachineArn}:{name}"}


def test_a_duplicated_event_starts_nothing_the_second_time() -> None:
    sfn = FakeStepFunctions()
    starter = ScanStarter(sfn, "arn:aws:states:ap-northeast-1:123456789012:stateMachine:scan")
    assert starter.start(request()) is not None
    assert starter.start(request()) is None
    assert len(sfn.names) == 1
