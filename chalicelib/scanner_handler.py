"""Entry point of the scanner Lambda (a container image with clamd; see infra/scanner/).

The state machine invokes it with ``{"bucket", "key", "versionId"}`` and receives
``{verdict, signature, engine, definitions, sha256, bytes, seconds, reason}``. Exceptions
propagate: their class name is the error the state machine retries or catches.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3

from chalicelib.clamd import ClamdClient
from chalicelib.clamd_process import ClamdLimits
from chalicelib.config import ScannerSettings
from chalicelib.definitions_store import DefinitionsStore
from chalicelib.scanner import ObjectScanner
from chalicelib.scanner_runtime import EngineProvider, ExternalEngine, ScannerRuntime

logger = logging.getLogger(__name__)

_scanner: ObjectScanner | None = None


class ScanRequestError(ValueError):
    """The invocation payload does not name an object version."""


def build_runtime(settings: ScannerSettings, s3_client: Any) -> ScannerRuntime:
    """The warm clamd of a scanner container, fed from the published definitions."""
    return ScannerRuntime(
        DefinitionsStore(s3_client, settings.definitions_bucket, settings.definitions_prefix),
        workdir=Path(settings.clamd_workdir),
        limits=ClamdLimits.for_scan_limit(settings.max_scan_bytes),
        check_interval=settings.definitions_check_seconds,
    )


def build_scanner(settings: ScannerSettings, s3_client: Any, runtime: ScannerRuntime | None = None) -> ObjectScanner:
    """With ``DEFINITIONS_BUCKET`` the scanner runs its own clamd (``runtime``); otherwise it uses
    the clamd at ``CLAMD_ADDRESS``, which must run with ``ClamdLimits.for_scan_limit``'s limits."""
    provider: EngineProvider
    if settings.definitions_bucket:
        provider = (runtime or build_runtime(settings, s3_client)).engine
    else:
        client = ClamdClient(settings.clamd_address, settings.clamd_timeout_seconds)
        provider = ExternalEngine(
            client,
            settings.database_dir,
            ClamdLimits.for_scan_limit(settings.max_scan_bytes),
            settings.definitions_check_seconds,
        )
    return ObjectScanner(
        s3_client=s3_client,
        engine=provider,
        max_scan_bytes=settings.max_scan_bytes,
        max_definitions_age=timedelta(hours=settings.max_definitions_age_hours),
    )


def get_scanner() -> ObjectScanner:
    """The container's scanner, built on first use and kept for warm invocations."""
    global _scanner
    if _scanner is None:
        _scanner = build_scanner(ScannerSettings.from_env(), boto3.client("s3"))
    return _scanner


def handle_scan(event: dict[str, Any], scanner: ObjectScanner) -> dict[str, Any]:
    try:
        bucket, key, version_id = (str(event[name]) for name in ("bucket", "key", "versionId"))
    except KeyError as missing:
        raise ScanRequestError(f"scan request is missing {missing}") from None
    if not (bucket and key and version_id):
        raise ScanRequestError("scan request needs a bucket, a key and a versionId")
    result = scanner.scan(bucket, key, version_id)
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
