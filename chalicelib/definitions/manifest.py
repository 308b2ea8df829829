"""The definitions set: one model (``Manifest``) and one parser (``Manifest.from_json``) for the
manifest the updater publishes, the scanner downloads and the admin route shows; and
``Definitions``, which set judged an object and whether it is fresh enough to trust."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from chalicelib.definitions.errors import DefinitionsUnavailableError
from chalicelib.timestamps import parse

MANIFEST_NAME = "manifest.json"


@dataclass(frozen=True)
class DefinitionFile:
    name: str
    size: int
    sha256: str
    key: str = ""


@dataclass(frozen=True)
class Manifest:
    """A definitions set. ``signatures`` is how many signatures its files hold; a clamd that
    loaded it must report between ``min_signatures`` and that (clamd skips a few official
    signatures, e.g. PUA ones, so for official sets the minimum is a little lower)."""

    version: str
    built_at: str
    files: list[DefinitionFile]
    source: str = ""
    published_at: str = ""
    signatures: int = 0
    min_signatures: int = 0

    @classmethod
    def from_json(cls, text: str | bytes) -> Manifest:
        try:
            data = json.loads(text)
            parse(data["built_at"])
            files = [DefinitionFile(**entry) for entry in data["files"]]
            signatures, min_signatures = int(data["signatures"]), int(data["min_signatures"])
        except (ValueError, KeyError, TypeError) as error:
            raise DefinitionsUnavailableError(f"the definitions manifest is unreadable: {error}") from error
        if not files:
            raise DefinitionsUnavailableError("the definitions manifest names no files")
        if not 0 < min_signatures <= signatures:
            raise DefinitionsUnavailableError(
                f"the definitions manifest gives no usable signature count ({min_signatures}–{signatures})"
            )
        return cls(
            data["version"],
            data["built_at"],
            files,
            data.get("source", ""),
            data.get("published_at", ""),
            signatures,
            min_signatures,
        )

    def with_counts(self, signatures: int, min_signatures: int) -> Manifest:
        return replace(self, signatures=signatures, min_signatures=min_signatures)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"


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


def read_definitions(database_dir: str | Path, clamd_version: str) -> Definitions:
    """Identify the loaded definitions from the manifest, else from clamd's ``VERSION`` reply."""
    manifest_path = Path(database_dir) / MANIFEST_NAME
    if manifest_path.is_file():
        manifest = Manifest.from_json(manifest_path.read_bytes())
        return Definitions(version=manifest.version, built_at=parse(manifest.built_at))
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
