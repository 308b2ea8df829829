"""Scan one S3 object version with clamd, streaming it without holding it in memory.

The object is streamed into clamd ``INSTREAM`` in chunks while a sha256 is computed. When its
first bytes say it is a container (zip, tar, gzip, bzip2, xz) it is also spooled to a temporary
file, and while clamd unpacks and scans it the archive audit reads the spooled copy
(``scanning.archives``); a zip appended to other bytes (its directory at the end) is
audited through ranged reads of the object instead. ``verdicts.decide`` turns clamd's reply and
the audit into the verdict.
"""

from __future__ import annotations

import hashlib
import io
import logging
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import IO, Any

from botocore.exceptions import ClientError

from chalicelib import tracing
from chalicelib.clamav.engine import Engine, EngineProvider
from chalicelib.clamav.errors import EngineCheckError
from chalicelib.definitions.errors import DefinitionsUnavailableError
from chalicelib.scanning.archives import (
    EOCD_SEARCH_BYTES,
    SNIFF_BYTES,
    ArchiveAudit,
    AuditLimits,
    AuditReport,
    Finding,
    has_end_record,
    sniff,
)
from chalicelib.scanning.errors import ObjectUnavailableError, StorageThrottledError
from chalicelib.scanning.verdicts import OBJECT_TOO_LARGE, ScanResult, Verdict, classify_reply, decide

logger = logging.getLogger(__name__)

CHUNK_BYTES = 1024 * 1024
_THROTTLING_CODES = {"SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded", "503"}


def _storage_error(error: ClientError, what: str) -> Exception:
    code = str(error.response.get("Error", {}).get("Code", ""))
    if code in _THROTTLING_CODES:
        return StorageThrottledError(f"S3 throttled {what}: {code}")
    return ObjectUnavailableError(f"cannot read {what}: {code}")


class ObjectStream:
    """The object's chunks on their way to clamd: hashed, counted, and spooled if a container."""

    def __init__(self, body: Any, chunk_bytes: int) -> None:
        self._body = body
        self._chunk_bytes = chunk_bytes
        self.digest = hashlib.sha256()
        self.streamed = 0
        self.kind: str | None = None
        self.spool: IO[bytes] | None = None
        self.tail = b""
        # For the trace: when the download began and ended (wall clock), time spent hashing.
        self.started_at = self.ended_at = 0.0
        self.hash_seconds = 0.0

    def chunks(self) -> Iterator[bytes]:
        first = True
        self.started_at = time.time()
        for chunk in self._body.iter_chunks(self._chunk_bytes):
            if first:
                first = False
                self.kind = sniff(chunk[:SNIFF_BYTES])
                if self.kind is not None:
                    self.spool = tempfile.TemporaryFile()
            hashing = time.monotonic()
            self.digest.update(chunk)
            self.hash_seconds += time.monotonic() - hashing
            self.streamed += len(chunk)
            if self.spool is not None:
                self.spool.write(chunk)
            else:
                self.tail = (self.tail + chunk)[-EOCD_SEARCH_BYTES:]
            yield chunk
        self.ended_at = time.time()

    def close(self) -> None:
        self._body.close()
        if self.spool is not None:
            self.spool.close()


class RangedObject(io.RawIOBase):
    """A seekable, read-only view of one object version through ranged GETs."""

    def __init__(self, s3_client: Any, bucket: str, key: str, version_id: str, size: int) -> None:
        self._s3, self._bucket, self._key, self._version = s3_client, bucket, key, version_id
        self._size = size
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer: Any) -> int:
        if self._position >= self._size or len(buffer) == 0:
            return 0
        end = min(self._size, self._position + len(buffer)) - 1
        try:
            response = self._s3.get_object(
                Bucket=self._bucket, Key=self._key, VersionId=self._version, Range=f"bytes={self._position}-{end}"
            )
        except ClientError as error:
            raise _storage_error(error, f"s3://{self._bucket}/{self._key} version {self._version}") from error
        data = response["Body"].read()
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)


class ObjectScanner:
    """Scans object versions of one S3 client with the engine that ``engine()`` provides.

    ``scan`` returns a verdict for everything it could judge; it raises for failures the
    workflow should retry (``ClamdUnavailableError``, ``StorageThrottledError``) or turn into
    an ERROR verdict (everything else). It never returns CLEAN unless clamd said ``OK`` and the
    archive audit accounted for every container in the object.
    """

    def __init__(
        self,
        s3_client: Any,
        engine: EngineProvider,
        max_scan_bytes: int,
        max_definitions_age: timedelta,
        chunk_bytes: int = CHUNK_BYTES,
    ) -> None:
        self._s3 = s3_client
        self._engine = engine
        self._max_scan_bytes = max_scan_bytes
        self._max_definitions_age = max_definitions_age
        self._chunk_bytes = chunk_bytes

    def scan(self, bucket: str, key: str, version_id: str) -> ScanResult:
        with tracing.step("scan", bucket=bucket) as traced:
            result = self._scan(bucket, key, version_id)
            if traced is not None:
                traced.put_annotation("verdict", result.verdict.value)
                traced.put_annotation("bytes", result.bytes)
            return result

    def _scan(self, bucket: str, key: str, version_id: str) -> ScanResult:
        started = time.monotonic()
        where = f"s3://{bucket}/{key} ({version_id})"
        try:
            with tracing.step(tracing.ENGINE_READY):
                engine = self._engine()
            engine.definitions.require_fresh(self._max_definitions_age)
        except (DefinitionsUnavailableError, EngineCheckError) as refusal:
            logger.error("refusing to scan %s: %s", where, refusal)
            return ScanResult.refused(str(refusal), started)
        definitions = engine.definitions.version
        engine_version = engine.client.version()

        response = self._get_object(bucket, key, version_id)
        size = int(response["ContentLength"])
        if size > self._max_scan_bytes:
            response["Body"].close()
            reason = f"{size} bytes is over the scan limit of {self._max_scan_bytes} bytes"
            return ScanResult.of(
                Verdict.UNSCANNABLE, OBJECT_TOO_LARGE, engine_version, definitions, "", 0, started, reason
            )

        stream = ObjectStream(response["Body"], self._chunk_bytes)
        audit: list[AuditReport] = []
        try:
            with tracing.step(tracing.CLAMD_INSTREAM):
                # The audit runs while clamd unpacks and scans: both only start once the last byte is sent.
                reply = engine.client.instream(
                    stream.chunks(), lambda: audit.append(self._audit(stream, engine, bucket, key, version_id, size))
                )
                tracing.span(
                    tracing.DOWNLOAD_AND_HASH,
                    stream.started_at,
                    stream.ended_at or time.time(),
                    bytes=stream.streamed,
                    hashSeconds=round(stream.hash_seconds, 6),
                )
        finally:
            stream.close()  # also when clamd was unreachable and no chunk was read
        if stream.streamed != size:
            # A short read must never pass as a scan of the whole object.
            raise ObjectUnavailableError(f"read {stream.streamed} of {size} bytes of {where}")
        verdict, signature, reason = decide(classify_reply(reply), audit[0] if audit else None)
        if reason:
            logger.warning("%s is %s: %s", where, verdict.value, reason)
        return ScanResult.of(
            verdict, signature, engine_version, definitions, stream.digest.hexdigest(), stream.streamed, started, reason
        )

    def _audit(
        self, stream: ObjectStream, engine: Engine, bucket: str, key: str, version_id: str, size: int
    ) -> AuditReport:
        limits = engine.limits
        audit = ArchiveAudit(
            AuditLimits(limits.max_file, limits.max_scan, limits.max_files, limits.max_recursion),
            lambda chunks: _member_finding(engine.client.instream(chunks)),
        )
        if stream.spool is not None and stream.kind is not None:
            stream.spool.flush()
            with tracing.step(tracing.ARCHIVE_ACCOUNTING, kind=stream.kind):
                return audit.run(stream.spool, stream.kind)
        if has_end_record(stream.tail):
            ranged = io.BufferedReader(RangedObject(self._s3, bucket, key, version_id, size), CHUNK_BYTES)
            with tracing.step(tracing.ARCHIVE_ACCOUNTING, kind="zip", ranged=True):
                return audit.run(ranged, "zip")
        return AuditReport()

    def _get_object(self, bucket: str, key: str, version_id: str) -> dict[str, Any]:
        try:
            return self._s3.get_object(Bucket=bucket, Key=key, VersionId=version_id)  # type: ignore[no-any-return]
        except ClientError as error:
            raise _storage_error(error, f"s3://{bucket}/{key} version {version_id}") from error


def _member_finding(reply: str) -> Finding | None:
    """A member the audit streamed into clamd by itself: None when clamd said OK."""
    finding = classify_reply(reply)
    if finding.verdict is Verdict.CLEAN:
        return None
    return Finding(
        finding.signature,
        f"an archive member is {finding.verdict.value}: {finding.signature}",
        infected=finding.verdict is Verdict.INFECTED,
    )
