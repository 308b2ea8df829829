"""The published ClamAV definitions set: files under ``clamav/{version}/`` in the application
bucket, and ``clamav/manifest.json`` naming the current set (written last, so a reader never
sees a half-published set)."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.definitions.errors import DefinitionsUnavailableError
from chalicelib.definitions.manifest import MANIFEST_NAME, DefinitionFile, Manifest
from chalicelib.timestamps import now


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


class DefinitionsStore:
    """Reads and writes the published set in S3."""

    def __init__(self, s3_client: Any, bucket: str, prefix: str = "clamav/") -> None:
        self._s3 = s3_client
        self.bucket = bucket
        self.prefix = prefix

    @property
    def manifest_key(self) -> str:
        return f"{self.prefix}{MANIFEST_NAME}"

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
        final = replace(manifest, files=published, published_at=now())
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
        (directory / MANIFEST_NAME).write_text(manifest.to_json(), encoding="utf-8")


def verify(manifest: Manifest, directory: Path) -> None:
    """``directory`` holds exactly the manifest's files, each with its size and sha256."""
    expected = {entry.name for entry in manifest.files} | {MANIFEST_NAME}
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
