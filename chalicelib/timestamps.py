"""One format for every stored time: ISO 8601, UTC, milliseconds, ``Z`` (``2026-12-01T18:00:00.000Z``).

It is also what Step Functions writes for ``$$.State.EnteredTime``. Times are compared as
datetimes (``parse``), never as strings: the emulator writes another format.
"""

from __future__ import annotations

from datetime import UTC, datetime


def iso(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def now() -> str:
    return iso(datetime.now(UTC))


def parse(value: str) -> datetime:
    """Any ISO 8601 time (``Z`` or an offset; none means UTC)."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
