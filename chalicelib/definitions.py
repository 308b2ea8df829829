"""Which ClamAV definitions judged an object, and whether they are fresh enough to trust.

The definitions set is described by ``manifest.json`` in clamd's database directory
(written by whoever published the set: the offline generator now, the daily updater later).
Without a manifest, the version and build date clamd reports for official databases are used.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

MANIFEST_NAME = "manifest.json"


class DefinitionsUnavailableError(Exception):
    """The definitions in use are missing, unidentifiable or too old to trust."""


@dataclass(frozen=True)
class Definitions:
    version: str
    built_at: datetime

    def age(self, now: datetime) -> timedelta:
        return now - self.built_at

    def require_fresh(self, max_age: timedelta, now: datetime | None = None) -> None:
        now = now or datetime.now(UTC)
        age = self.age(now)
        if age > max_age:
            hours = age.total_seconds() / 3600
            raise DefinitionsUnavailableError(
                f"definitions {self.version} are {hours:.1f} h old (limit {max_age.total_seconds() / 3600:.0f} h)"
            )


def parse_timestamp(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def read_definitions(database_dir: str | Path, clamd_version: str) -> Definitions:
    """Identify the loaded definitions from the manifest, else from clamd's ``VERSION`` reply."""
    manifest_path = Path(database_dir) / MANIFEST_NAME
    if manifest_path.is_file():
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            return Definitions(version=str(manifest["version"]), built_at=parse_timestamp(manifest["built_at"]))
        except (ValueError, KeyError, TypeError) as error:
            raise DefinitionsUnavailableError(f"{manifest_path} is unreadable: {error}") from error
    # "ClamAV 1.4.6/27512/Sun Nov 29 08:27:02 2026" when official databases are loaded.
    parts = clamd_version.split("/", 2)
    if len(parts) == 3:
        try:
            built_at = parsedate_to_datetime(parts[2] + " +0000")
        except (TypeError, ValueError):
            built_at = None
        if built_at is not None:
            return Definitions(version=f"daily-{parts[1]}", built_at=built_at)
    raise DefinitionsUnavailableError(
        f"cannot tell which definitions clamd uses: no {MANIFEST_NAME} in {database_dir} "
        f"and clamd reports {clamd_version!r}"
    )
