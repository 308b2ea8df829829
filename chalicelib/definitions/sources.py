"""Where definitions come from: fetch a complete, checked set into a directory and describe it.

- ``official``: ClamAV's own private-mirror tool, ``cvdupdate``, downloads main/daily/bytecode
  CVDs from the official mirror. Each CVD's header carries an MD5 of its body, checked here
  (truncated or corrupted downloads fail); clamd checks the digital signature when it loads them.
- ``http(s)://…``: a mirror serving ``index.json`` (version, built_at, files with size and
  sha256) next to the files. Tests and the local stage use one for the offline signatures.

A failed or partial fetch raises ``DefinitionsUpdateError``; nothing is published from it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from chalicelib.definitions.errors import DefinitionsUpdateError
from chalicelib.definitions.manifest import DefinitionFile, Manifest
from chalicelib.definitions.store import sha256_of
from chalicelib.timestamps import iso, parse

CVD_HEADER_BYTES = 512
OFFICIAL_DATABASES = ("main", "daily", "bytecode")
# One signature per non-empty line (ClamAV's signature writing guide).
LINE_DATABASES = {".ndb", ".hdb", ".hsb", ".ldb", ".mdb", ".msb"}
# clamd does not load every signature of the official CVDs (PUA signatures are off by default,
# some need a newer engine), so it may report a little less than their headers add up to.
OFFICIAL_MIN_SIGNATURE_RATIO = 0.9


class DefinitionsSource(Protocol):
    @property
    def name(self) -> str: ...

    def fetch(self, directory: Path) -> Manifest:
        """Download a complete, checked set into ``directory`` and describe it."""


def _download(url: str, target: Path, timeout: float = 120) -> None:
    if not url.startswith(("http://", "https://")):
        raise DefinitionsUpdateError(f"refusing to fetch {url!r}: only http(s) mirrors are supported")
    with urllib.request.urlopen(url, timeout=timeout) as response, target.open("wb") as out:  # noqa: S310
        shutil.copyfileobj(response, out, 1024 * 1024)


@dataclass(frozen=True)
class MirrorSource:
    """A plain HTTP mirror with an ``index.json``."""

    base_url: str

    @property
    def name(self) -> str:
        return self.base_url

    def fetch(self, directory: Path) -> Manifest:
        base = self.base_url.rstrip("/")
        try:
            _download(f"{base}/index.json", directory / "index.json")
            index = json.loads((directory / "index.json").read_text(encoding="utf-8"))
            files = [DefinitionFile(entry["name"], int(entry["size"]), entry["sha256"]) for entry in index["files"]]
            parse(index["built_at"])
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise DefinitionsUpdateError(f"mirror {base} has no usable index.json: {error}") from error
        for entry in files:
            if "/" in entry.name or entry.name.startswith("."):
                raise DefinitionsUpdateError(f"mirror {base} names an unsafe file {entry.name!r}")
            try:
                _download(f"{base}/{entry.name}", directory / entry.name)
            except OSError as error:
                raise DefinitionsUpdateError(f"cannot download {entry.name} from {base}: {error}") from error
            actual_size, actual_sha = (directory / entry.name).stat().st_size, sha256_of(directory / entry.name)
            if (actual_size, actual_sha) != (entry.size, entry.sha256):
                raise DefinitionsUpdateError(
                    f"{entry.name} from {base} is {actual_size} bytes with sha256 {actual_sha[:12]}…, "
                    f"the index says {entry.size} bytes with sha256 {entry.sha256[:12]}…"
                )
        return Manifest(str(index["version"]), str(index["built_at"]), files, source=base)


def read_cvd_header(path: Path) -> dict[str, Any]:
    """Parse and check a CVD: ``ClamAV-VDB:time:version:sigs:flevel:md5:dsig:builder:stime``."""
    with path.open("rb") as cvd:
        header = cvd.read(CVD_HEADER_BYTES).decode("ascii", errors="replace").rstrip("\0 ")
        digest = hashlib.md5(usedforsecurity=False)
        while chunk := cvd.read(1024 * 1024):
            digest.update(chunk)
    fields = header.split(":")
    if len(fields) < 9 or fields[0] != "ClamAV-VDB":
        raise DefinitionsUpdateError(f"{path.name} is not a CVD file")
    if digest.hexdigest() != fields[5]:
        raise DefinitionsUpdateError(f"{path.name} is corrupt or truncated: its body does not match the header MD5")
    return {"version": int(fields[2]), "signatures": int(fields[3]), "built": int(fields[8])}


@dataclass(frozen=True)
class CvdUpdateSource:
    """The official databases through ``cvdupdate`` (``pip install cvdupdate``)."""

    workdir: Path
    name: str = "official"

    def fetch(self, directory: Path) -> Manifest:
        try:
            from cvdupdate.cvdupdate import CVDUpdate
        except ImportError as error:
            raise DefinitionsUpdateError("cvdupdate is not installed in this function") from error
        updater = CVDUpdate(
            config=str(self.workdir / "config.json"), db_dir=str(directory), log_dir=str(self.workdir / "logs")
        )
        errors = updater.db_update()
        if errors:
            raise DefinitionsUpdateError(f"cvdupdate reported {errors} error(s); see its log")
        files, headers = [], {}
        for database in OFFICIAL_DATABASES:
            path = directory / f"{database}.cvd"
            if not path.is_file():
                raise DefinitionsUpdateError(f"cvdupdate did not produce {path.name}")
            headers[database] = read_cvd_header(path)
            files.append(DefinitionFile(path.name, path.stat().st_size, sha256_of(path)))
        daily = headers["daily"]
        return Manifest(
            f"daily-{daily['version']}",
            iso(datetime.fromtimestamp(daily["built"], UTC)),
            files,
            source="https://database.clamav.net",
        )


def count_signatures(manifest: Manifest, directory: Path) -> Manifest:
    """The manifest with the signature counts the engine check holds clamd to."""
    total, exact = 0, True
    for entry in manifest.files:
        path = directory / entry.name
        if path.suffix == ".cvd":
            total += int(read_cvd_header(path)["signatures"])
            exact = False
        elif path.suffix in LINE_DATABASES:
            with path.open("rb") as lines:
                total += sum(1 for line in lines if line.strip())
        else:
            raise DefinitionsUpdateError(
                f"{entry.name}: unsupported database file type (clamd's count could not be checked)"
            )
    if total == 0:
        raise DefinitionsUpdateError("the definitions set holds no signatures")
    minimum = total if exact else int(total * OFFICIAL_MIN_SIGNATURE_RATIO)
    return manifest.with_counts(total, minimum)


def source_for(setting: str, workdir: Path) -> DefinitionsSource:
    if setting == "official":
        return CvdUpdateSource(workdir)
    if setting.startswith(("http://", "https://")):
        return MirrorSource(setting)
    raise DefinitionsUpdateError(f"DEFINITIONS_SOURCE must be 'official' or an http(s) mirror URL, got {setting!r}")
