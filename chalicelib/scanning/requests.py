"""A scan request (the state machine's input), from an S3 "Object Created" event or a file record,
and exactly one execution per object version and trigger."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import asdict, dataclass, replace
from typing import Any
from urllib.parse import unquote_plus

from chalicelib import tracing
from chalicelib.scanning.errors import UploadEventError

logger = logging.getLogger(__name__)

_NAME_UNSAFE = re.compile(r"[^0-9A-Za-z_-]+")
_SEQUENCER_WIDTH = 32
EXECUTION_NAME_MAX = 80


@dataclass(frozen=True)
class ScanRequest:
    """One object version to scan; the state machine's input."""

    bucket: str
    key: str
    versionId: str
    sequencer: str
    fileId: str
    ownerSub: str
    trigger: str = "upload"
    # The size the file record declared (and the POST policy pinned): a version of another size
    # is not judged CLEAN. None when there is no record for the key.
    declaredSize: int | None = None

    @classmethod
    def for_record(
        cls, bucket: str, record: dict[str, Any], version_id: str, trigger: str, sequencer: str = ""
    ) -> ScanRequest:
        """Scan one version of a file record's object (rescans, the sweeper)."""
        return cls(
            bucket=bucket,
            key=record["objectKey"],
            versionId=version_id,
            sequencer=normalise_sequencer(sequencer),
            fileId=record["fileId"],
            ownerSub=record["ownerSub"],
            trigger=trigger,
            declaredSize=declared_size(record),
        )

    def declaring(self, record: dict[str, Any] | None) -> ScanRequest:
        """This request with the size the file record declared (when it is this key's record)."""
        if record is None or record.get("objectKey") != self.key:
            return self
        return replace(self, declaredSize=declared_size(record))

    def execution_name(self) -> str:
        """Deterministic, so a duplicated event cannot start a second scan of one version.

        Readable part first (the console lists names), then a digest of everything that
        identifies the version. Step Functions allows 80 characters of ``[0-9A-Za-z_-]``.
        """
        identity = "\0".join((self.bucket, self.key, self.versionId, self.sequencer, self.trigger))
        digest = hashlib.sha256(identity.encode("utf-8")).hexdigest()[:32]
        readable = _NAME_UNSAFE.sub("-", self.fileId).strip("-")[: EXECUTION_NAME_MAX - len(digest) - 1]
        return f"{readable}-{digest}" if readable else digest

    def to_input(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)


def declared_size(record: dict[str, Any]) -> int | None:
    size = record.get("size")
    return None if size is None else int(size)


def normalise_sequencer(sequencer: str) -> str:
    """S3 sequencers of one key compare as hex strings once padded to one width.

    Upper-cased and right-padded with zeros (as S3's documentation says to compare them), so
    DynamoDB can order them with a plain string comparison.
    """
    return sequencer.strip().upper().ljust(_SEQUENCER_WIDTH, "0")


def parse_object_created(
    event: dict[str, Any], data_bucket: str, upload_prefix: str, canary_prefix: str | None = None
) -> ScanRequest | None:
    """The scan request for an EventBridge ``Object Created`` event, or None to ignore it.

    Keys in S3 event notifications are URL-encoded (``red flower.jpg`` arrives as
    ``red+flower.jpg``), hence ``unquote_plus``. Objects outside ``{prefix}{sub}/{fileId}`` are
    not scanned: they stay untagged, which the bucket policy treats as unreadable. The scan
    canary's objects (``{canary_prefix}{run}/{fileId}``) are scanned exactly like uploads.
    """
    if event.get("source") != "aws.s3" or event.get("detail-type") != "Object Created":
        raise UploadEventError(f"not an S3 Object Created event: {event.get('source')}/{event.get('detail-type')}")
    detail = event.get("detail") or {}
    bucket = (detail.get("bucket") or {}).get("name", "")
    obj = detail.get("object") or {}
    raw_key, version_id = obj.get("key", ""), obj.get("version-id", "")
    if bucket != data_bucket:
        logger.warning("ignoring object in bucket %r: only %r is scanned", bucket, data_bucket)
        return None
    if not raw_key or not version_id:
        raise UploadEventError(f"event for s3://{bucket} has no object key or version id (is versioning on?)")
    key = unquote_plus(raw_key)
    owner_sub, file_id = _owner_and_file(key, upload_prefix)
    if not file_id and canary_prefix:
        owner_sub, file_id = _owner_and_file(key, canary_prefix)
    if not file_id:
        logger.warning("ignoring s3://%s/%s: not an upload key (%s{sub}/{fileId})", bucket, key, upload_prefix)
        return None
    return ScanRequest(
        bucket=bucket,
        key=key,
        versionId=version_id,
        sequencer=normalise_sequencer(obj.get("sequencer", "")),
        fileId=file_id,
        ownerSub=owner_sub,
    )


def _owner_and_file(key: str, upload_prefix: str) -> tuple[str, str]:
    if not key.startswith(upload_prefix):
        return "", ""
    parts = key[len(upload_prefix) :].split("/")
    if len(parts) != 2 or not all(parts):
        return "", ""
    return parts[0], parts[1]


class ScanStarter:
    """Starts the scan workflow; a second start for the same version is a no-op."""

    def __init__(self, sfn_client: Any, state_machine_arn: str) -> None:
        self._sfn = sfn_client
        self._state_machine_arn = state_machine_arn

    def start(self, request: ScanRequest) -> str | None:
        """Return the new execution's ARN, or None when this version was already handled."""
        name = request.execution_name()
        arguments = {"stateMachineArn": self._state_machine_arn, "name": name, "input": request.to_input()}
        header = tracing.trace_header()
        if header:  # one trace from the upload event through the workflow into the scanner
            arguments["traceHeader"] = header
        try:
            response = self._sfn.start_execution(**arguments)
        except self._sfn.exceptions.ExecutionAlreadyExists:
            logger.info("scan %s already started for s3://%s/%s", name, request.bucket, request.key)
            return None
        logger.info("started scan %s for s3://%s/%s (%s)", name, request.bucket, request.key, request.versionId)
        return str(response["executionArn"])
