"""X-Ray traces: the AWS SDK patched in every function, and subsegments for the domain steps.

``configure()`` runs once per container (``app.py`` for the Chalice functions, the scanner image's
entry point for the scanner): it patches botocore, so every AWS call is a subsegment and carries
the trace header to the service it calls. On Lambda, active tracing (``"xray": true`` in
``.chalice/config.json``; ``TracingConfig: Active`` on the scanner; tracing on the state machine)
opens the invocation's segment; the upload handler passes its trace header to
``StartExecution``, Step Functions continues that trace through every state, and the ``Scan``
task's invocation carries it into the scanner: one upload, one trace.

``step(name)`` wraps a domain step (``download and hash``, ``clamd INSTREAM``, ``archive
accounting``, ``record update``, ``engine ready``) in a subsegment, and ``span`` records one whose
start and end were measured (the download is interleaved with INSTREAM). Outside a trace (the
local stack, tests, tools) both do nothing: no segment, no error, no log line.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

logger = logging.getLogger(__name__)

try:
    from aws_xray_sdk.core import patch, xray_recorder
except ImportError:  # pragma: no cover - the packages and the image install it (requirements.txt)
    xray_recorder = None
    patch = None

_configured = False
_lock = threading.Lock()

# The domain steps' subsegment names (the X-Ray console and the tests use these).
ENGINE_READY = "engine ready"
DOWNLOAD_AND_HASH = "download and hash"
CLAMD_INSTREAM = "clamd INSTREAM"
ARCHIVE_ACCOUNTING = "archive accounting"
RECORD_UPDATE = "record update"


def configure() -> bool:
    """Patch the AWS SDK once per process; False when the X-Ray SDK is not installed."""
    global _configured
    if xray_recorder is None or patch is None:
        return False
    with _lock:
        if not _configured:
            # Outside Lambda there is no segment unless someone opens one: stay quiet then
            # (the SDK would log "No segment found" for every AWS call).
            xray_recorder.configure(context_missing=os.environ.get("AWS_XRAY_CONTEXT_MISSING", "IGNORE_ERROR"))
            if not os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
                logging.getLogger("aws_xray_sdk").setLevel(logging.ERROR)
            patch(["botocore"])
            _configured = True
    return True


def _active() -> Any:
    """The open segment or subsegment of this thread, or None."""
    if xray_recorder is None:
        return None
    try:
        entity = xray_recorder.get_trace_entity()
    except Exception:  # noqa: BLE001 - context_missing=RUNTIME_ERROR: no trace here
        return None
    return entity if entity is not None and getattr(entity, "sampled", False) else None


@contextmanager
def step(name: str, **annotations: str | int | float | bool) -> Iterator[Any]:
    """A subsegment around one domain step, annotated; yields it (None outside a trace)."""
    if _active() is None:
        yield None
        return
    subsegment = xray_recorder.begin_subsegment(name)
    try:
        for key, value in annotations.items():
            subsegment.put_annotation(key, value)
        yield subsegment
    except Exception as error:
        subsegment.add_exception(error, [])
        raise
    finally:
        xray_recorder.end_subsegment()


def span(name: str, start: float, end: float, **metadata: Any) -> None:
    """Record a step measured elsewhere (``time.time()`` values) as a subsegment of the open one."""
    if _active() is None:
        return
    subsegment = xray_recorder.begin_subsegment(name)
    subsegment.start_time = start
    for key, value in metadata.items():
        subsegment.put_metadata(key, value)
    xray_recorder.end_subsegment(end_time=end)


def annotate(**annotations: str | int | float | bool) -> None:
    """Annotate the open subsegment (searchable in the X-Ray console: ``annotation.verdict``)."""
    entity = _active()
    if entity is not None:
        for key, value in annotations.items():
            entity.put_annotation(key, value)


def trace_header() -> str | None:
    """``Root=…;Parent=…;Sampled=1`` of the open entity, for ``StartExecution(traceHeader=…)``."""
    entity = _active()
    if entity is None:
        return None
    segment = entity.parent_segment if getattr(entity, "type", "") == "subsegment" else entity
    return f"Root={segment.trace_id};Parent={entity.id};Sampled=1"
