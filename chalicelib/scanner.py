"""Scan one S3 object version with clamd, streaming it without holding it in memory."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.clamd import ClamdClient
from chalicelib.definitions import DefinitionsUnavailableError, read_definitions
from chalicelib.verdicts import OBJECT_TOO_LARGE, ScanResult, Verdict, classify_reply

logger = logging.getLogger(__name__)

CHUNK_BYTES = 1024 * 1024
_THROTTLING_CODES = {"SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded", "503"}


class ObjectUnavailableError(Exception):
    """The object version to scan does not exist (any more) or cannot be read."""


class StorageThrottledError(Exception):
    """S3 asked us to slow down (transient: retry later)."""


class ObjectScanner:
    """Scans object versions of one S3 client with the clamd that ``clamd()`` provides.

    ``scan`` returns a verdict for everything clamd could judge; it raises for failures the
    workflow should retry (``ClamdUnavailableError``, ``StorageThrottledError``) or turn into
    an ERROR verdict (everything else). It never returns CLEAN unless clamd said ``OK``.
    """

    def __init__(
        self,
        s3_client: Any,
        clamd: Callable[[], ClamdClient],
        database_dir: str,
        max_scan_bytes: int,
        max_definitions_age: timedelta,
        chunk_bytes: int = CHUNK_BYTES,
    ) -> None:
        self._s3 = s3_client
        self._clamd = clamd
        self._database_dir = database_dir
        self._max_scan_bytes = max_scan_bytes
        self._max_definitions_age = max_definitions_age
        self._chunk_bytes = chunk_bytes

    def scan(self, bucket: str, key: str, version_id: str) -> ScanResult:
        started = time.monotonic()
        try:
            clamd = self._clamd()
        except DefinitionsUnavailableError as refusal:
            logger.error("refusing to scan s3://%s/%s (%s): %s", bucket, key, version_id, refusal)
            return self._result(Verdict.ERROR, "", "", "", "", 0, started, str(refusal))
        engine = clamd.version()
        try:
            definitions = read_definitions(self._database_dir, engine)
            definitions.require_fresh(self._max_definitions_age)
        except DefinitionsUnavailableError as refusal:
            logger.error("refusing to scan s3://%s/%s (%s): %s", bucket, key, version_id, refusal)
            return self._result(Verdict.ERROR, "", engine, "", "", 0, started, str(refusal))

        response = self._get_object(bucket, key, version_id)
        size = int(response["ContentLength"])
        body = response["Body"]
        if size > self._max_scan_bytes:
            body.close()
            reason = f"{size} bytes is over the scan limit of {self._max_scan_bytes} bytes"
            return self._result(
                Verdict.UNSCANNABLE, OBJECT_TOO_LARGE, engine, definitions.version, "", 0, started, reason
            )

        digest = hashlib.sha256()
        streamed = 0

        def hashed_chunks() -> Iterator[bytes]:
            nonlocal streamed
            for chunk in body.iter_chunks(self._chunk_bytes):
                digest.update(chunk)
                streamed += len(chunk)
                yield chunk

        try:
            reply = clamd.instream(hashed_chunks())
        finally:
            body.close()  # also when clamd was unreachable and no chunk was read
        finding = classify_reply(reply)
        if finding.verdict is Verdict.CLEAN and streamed != size:
            # A short read must never pass as a clean scan of the whole object.
            raise ObjectUnavailableError(f"read {streamed} of {size} bytes of s3://{bucket}/{key} ({version_id})")
        return self._result(
            finding.verdict, finding.signature, engine, definitions.version, digest.hexdigest(), streamed, started
        )

    def _get_object(self, bucket: str, key: str, version_id: str) -> dict[str, Any]:
        try:
            return self._s3.get_object(Bucket=bucket, Key=key, VersionId=version_id)  # type: ignore[no-any-return]
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code in _THROTTLING_CODES:
                raise StorageThrottledError(f"S3 throttled GetObject: {code}") from error
            raise ObjectUnavailableError(f"cannot read s3://{bucket}/{key} version {version_id}: {code}") from error

    @staticmethod
    def _result(
        verdict: Verdict,
        signature: str,
        engine: str,
        definitions: str,
        sha256: str,
        size: int,
        started: float,
        reason: str = "",
    ) -> ScanResult:
        return ScanResult(
            verdict=verdict,
            signature=signature,
            engine=engine,
            definitions=definitions,
            sha256=sha256,
            bytes=size,
            seconds=round(time.monotonic() - started, 6),
            reason=reason,
        )
