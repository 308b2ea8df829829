"""The published ClamAV definitions set: files under ``clamav/{version}/`` in the application
bucket, and ``clamav/manifest.json`` naming the current set (written last, so a reader never
sees a half-published set)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.definitions import MANIFEST_NAME, DefinitionsUnavailableError, parse_timestamp

MANIFEST = MANIFEST_NAME


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
            parse_timestamp(data["built_at"])
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

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"


class DefinitionsStore:
    """Reads and writes the published set in S3."""

    def __init__(self, s3_client: Any, bucket: str, prefix: str = "clamav/") -> None:
        self._s3 = s3_client
        self.bucket = bucket
        self.prefix = prefix

    @property
    def manifest_key(self) -> str:
        return f"{self.prefix}{MANIFEST}"

    def current(self) -> Manifest | None:
        try:
            body = self._s3.get_object(Bucket=self.bucket, Key=self.manifest_key)["Body"].read()
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
                return None
            raise
        return Manifest.from_json(body)

    def publish(self, manifest: Manifest, directory: Path) -> Manifest:
        """Upload every file of a verified set, then the manifest that makes it current."""
        published = []
        for entry in manifest.files:
            key = f"{self.prefix}{manifest.version}/{entry.name}"
            self._s3.upload_file(
                str(directory / entry.name), self.bucket, key, ExtraArgs={"ChecksumAlgorithm": "SHA256"}
            )
            published.append(DefinitionFile(entry.name, entry.size, entry.sha256, key))
        final = replace(manifest, files=published, published_at=iso(datetime.now(UTC)))
        self._s3.put_object(
            Bucket=self.bucket, Key=self.manifest_key, Body=final.to_json().encode(), ContentType="application/json"
        )
        return final

    def download(self, manifest: Manifest, directory: Path) -> None:
        """Fetch every file the manifest names into ``directory`` (new or empty), checking each."""
        directory.mkdir(parents=True, exist_ok=True)
        for entry in manifest.files:
            try:
                self._s3.download_file(self.bucket, entry.key, str(directory / entry.name))
            except ClientError as error:
                raise DefinitionsUnavailableError(f"cannot download {entry.key}: {error}") from error
        verify(manifest, directory)
        (directory / MANIFEST).write_text(manifest.to_json(), encoding="utf-8")


def verify(manifest: Manifest, directory: Path) -> None:
    """``directory`` holds exactly the manifest's files, each with its size and sha256."""
    expected = {entry.name for entry in manifest.files} | {MANIFEST}
    present = {path.name for path in directory.iterdir()} if directory.is_dir() else set()
    if present - expected:
        raise DefinitionsUnavailableError(
            f"{directory} holds files the manifest does not name: {sorted(present - expected)}"
        )
    for entry in manifest.files:
        target = directory / entry.name
        if not target.is_file():
            raise DefinitionsUnavailableError(f"{entry.name} of definitions {manifest.version} is missing")
        if target.stat().st_size != entry.size or sha256_of(target) != entry.sha256:
            raise DefinitionsUnavailableError(
                f"{entry.name} of definitions {manifest.version} does not match the manifest (size or sha256)"
            )
