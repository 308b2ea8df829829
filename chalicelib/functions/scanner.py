"""Entry point of the scanner Lambda (a container image with clamd; see infra/scanner/).

The state machine invokes it with ``{"bucket", "key", "versionId", "declaredSize", "execution"}``
(``declaredSize``: what the file record declared, or null) and receives
``{verdict, signature, engine, definitions, sha256, bytes, seconds, reason}``. Exceptions
propagate: their class name is the error the state machine retries or catches.
"""

from __future__ import annotations

import logging
from typing import Any

from chalicelib import logs, tracing
from chalicelib.scanning.errors import ScanRequestError
from chalicelib.scanning.scanner import ObjectScanner
from chalicelib.scanning.verdicts import held_to_declared_size
from chalicelib.wiring import get_scanner

logger = logging.getLogger(__name__)
logs.configure()  # the image runs this module without app.py
tracing.configure()


def handle_scan(event: dict[str, Any], scanner: ObjectScanner) -> dict[str, Any]:
    try:
        bucket, key, version_id = (str(event[name]) for name in ("bucket", "key", "versionId"))
    except KeyError as missing:
        raise ScanRequestError(f"scan request is missing {missing}") from None
    if not (bucket and key and version_id):
        raise ScanRequestError("scan request needs a bucket, a key and a versionId")
    declared = event.get("declaredSize")
    if declared is not None and (isinstance(declared, bool) or not isinstance(declared, int)):
        raise ScanRequestError(f"scan request has a declaredSize that is not a number of bytes: {declared!r}")
    with logs.bound(function="scanner", key=key, versionId=version_id, execution=event.get("execution")):
        result = held_to_declared_size(scanner.scan(bucket, key, version_id), declared)
    # ``verdict`` is a field of its own: the scanner's log metric filters count INFECTED and
    # ERROR verdicts (infra/main/operations.yaml, docs/OPERATIONS.md).
    with logs.bound(
        function="scanner",
        key=key,
        versionId=version_id,
        execution=event.get("execution"),
        verdict=result.verdict.value,
    ):
        logger.info(
            "scanned s3://%s/%s (%s): %s %s in %.3fs",
            bucket,
            key,
            version_id,
            result.verdict.value,
            result.signature,
            result.seconds,
        )
    return result.to_payload()


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_scan(event, get_scanner())
