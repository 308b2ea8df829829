"""The scan pipeline as the functional tests drive it: one upload through the real event
handler and the real state machine file (run by moto), and what came of it."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import boto3
import requests
from chalice.test import Client

from chalicelib.config import ScannerSettings
from chalicelib.files.repository import FilesRepo
from chalicelib.files.service import FileService
from chalicelib.timestamps import now
from devstack.resources import MainStack
from tests.support.limits import TEST_LIMITS

EVENTS = Path(__file__).resolve().parent.parent / "events"
REGION = "ap-northeast-1"


def object_created_event(bucket: str, key: str, version_id: str, size: int, sequencer: str) -> dict[str, Any]:
    """An EventBridge event as S3 sends it, key URL-encoded like every S3 notification."""
    event = json.loads((EVENTS / "object-created.json").read_text())
    event["resources"] = [f"arn:aws:s3:::{bucket}"]
    event["detail"]["bucket"]["name"] = bucket
    event["detail"]["object"].update(key=quote_plus(key, safe="/"), size=size, sequencer=sequencer)
    event["detail"]["object"]["version-id"] = version_id
    return event


class Pipeline:
    """Drives one upload through the real event handler and state machine."""

    def __init__(self, session: boto3.Session, stack: MainStack, chalice: Client, api_s3: Any = None) -> None:
        self.stack = stack
        self.chalice = chalice
        self.s3 = session.client("s3", region_name=REGION)
        self._api_s3 = api_s3 or self.s3  # the API function's: it signs the download URLs
        self.sfn = session.client("stepfunctions", region_name=REGION)
        self.table = session.resource("dynamodb", region_name=REGION).Table(stack.files_table)
        self._sequence = 0x617F08299329D189

    def register(self, key: str, size: int = 0) -> str:
        """Create the file record the API writes before handing out an upload URL (``size``: the
        declared size; a version of another size is not judged CLEAN)."""
        owner, file_id = key.split("/")[1:3]
        self.table.put_item(
            Item={
                "fileId": file_id,
                "ownerSub": owner,
                "objectKey": key,
                "scanStatus": "PENDING_UPLOAD",
                "name": file_id,
                "size": size,
                "contentType": "application/octet-stream",
                "createdAt": now(),
            }
        )
        return file_id

    def download(self, key: str) -> bytes:
        """What a learner gets through the API's download route (raises ``ApiError`` if refused)."""
        owner, file_id = key.split("/")[1:3]
        files = FileService(FilesRepo(self.table), self._api_s3, self.stack.data_bucket, "uploads/", 1 << 30)
        response = requests.get(files.download(owner, file_id)["url"], timeout=10)
        response.raise_for_status()
        return response.content

    def put(self, key: str, body: bytes) -> str:
        return str(self.s3.put_object(Bucket=self.stack.data_bucket, Key=key, Body=body)["VersionId"])

    def deliver(self, key: str, version_id: str, size: int = 0, sequencer: str | None = None) -> str | None:
        if sequencer is None:
            self._sequence += 1
            sequencer = f"{self._sequence:X}"
        event = object_created_event(self.stack.data_bucket, key, version_id, size, sequencer)
        response = self.chalice.lambda_.invoke("on_object_created", event)
        return response.payload["execution"]  # type: ignore[no-any-return]

    def wait(self, execution_arn: str, timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            execution = self.sfn.describe_execution(executionArn=execution_arn)
            if execution["status"] != "RUNNING":
                return execution  # type: ignore[no-any-return]
            time.sleep(0.05)
        raise AssertionError(f"execution {execution_arn} still running after {timeout}s")

    def tags(self, key: str, version_id: str) -> dict[str, str]:
        tag_set = self.s3.get_object_tagging(Bucket=self.stack.data_bucket, Key=key, VersionId=version_id)["TagSet"]
        return {tag["Key"]: tag["Value"] for tag in tag_set}

    def record(self, file_id: str, owner: str = "user-1") -> dict[str, Any]:
        key = {"ownerSub": owner, "fileId": file_id}
        return self.table.get_item(Key=key, ConsistentRead=True)["Item"]  # type: ignore[no-any-return]

    def record_of(self, key: str) -> dict[str, Any]:
        """The record of an upload key ``uploads/{owner}/{fileId}``."""
        owner, file_id = key.split("/")[1:3]
        return self.record(file_id, owner)

    def upload(self, key: str, body: bytes) -> tuple[str, dict[str, Any]]:
        """Register, put and deliver one upload; wait for its scan. Returns (versionId, execution)."""
        self.register(key, len(body))
        version_id = self.put(key, body)
        execution_arn = self.deliver(key, version_id, len(body))
        assert execution_arn, "the upload handler did not start a scan"
        return version_id, self.wait(execution_arn)

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        return self.sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]  # type: ignore[no-any-return]


class AlertInbox:
    """An SQS queue subscribed to the alert topic."""

    def __init__(self, session: boto3.Session, topic_arn: str) -> None:
        sqs = session.client("sqs", region_name=REGION)
        self._sqs = sqs
        self._url = sqs.create_queue(QueueName="alerts")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=self._url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        session.client("sns", region_name=REGION).subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)

    def messages(self) -> list[dict[str, Any]]:
        received = self._sqs.receive_message(QueueUrl=self._url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        return [json.loads(message["Body"]) for message in received.get("Messages", [])]


def scanner_settings(clamd_address: str, database_dir: str) -> ScannerSettings:
    return ScannerSettings(
        clamd_address=clamd_address,
        clamd_timeout_seconds=30.0,
        max_scan_bytes=TEST_LIMITS.stream_max,
        database_dir=database_dir,
        max_definitions_age_hours=48.0,
    )


def put(aws: boto3.Session, bucket: str, key: str, body: bytes) -> str:
    return str(aws.client("s3", region_name=REGION).put_object(Bucket=bucket, Key=key, Body=body)["VersionId"])


def clamd_pids() -> set[int]:
    return {
        int(pid)
        for pid in os.listdir("/proc")
        if pid.isdigit()
        and Path(f"/proc/{pid}/comm").exists()
        and Path(f"/proc/{pid}/comm").read_text().strip() == "clamd"
    }
