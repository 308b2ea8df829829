"""The scanner's warm clamd inside its Lambda container.

On a cold start it downloads the set the published manifest names, starts clamd and waits for
it. Warm invocations reuse it; at most every ``check_interval`` seconds the manifest is read
again and a new set is swapped in with ``RELOAD`` — no cold start. clamd is configured with
``ConcurrentDatabaseReload no``: a reload does not double its memory (the official databases need
> 1.2 GiB), and scans wait for the new engine instead of racing the old one.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from chalicelib.clamd import ClamdClient, ClamdError
from chalicelib.clamd_process import ClamdLimits, ClamdProcess
from chalicelib.definitions import DefinitionsUnavailableError
from chalicelib.definitions_store import DefinitionsStore, Manifest

logger = logging.getLogger(__name__)


class ScannerRuntime:
    def __init__(
        self,
        store: DefinitionsStore,
        workdir: Path,
        limits: ClamdLimits,
        check_interval: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._workdir = workdir
        self._limits = limits
        self._check_interval = check_interval
        self._clock = clock
        self._clamd: ClamdProcess | None = None
        self._loaded: Manifest | None = None
        self._checked_at = float("-inf")

    @property
    def database_dir(self) -> Path:
        return self._workdir / "db"

    @property
    def limits(self) -> ClamdLimits:
        return self._limits

    @property
    def address(self) -> str | None:
        return self._clamd.address if self._clamd else None

    @property
    def loaded_version(self) -> str | None:
        return self._loaded.version if self._loaded else None

    def client(self) -> ClamdClient:
        """A clamd with the current definitions, started or refreshed as needed.

        Raises ``DefinitionsUnavailableError`` when nothing is published or the set is broken;
        the scanner turns that into an ERROR verdict.
        """
        now = self._clock()
        if self._clamd is None or self._clamd.process is None or self._clamd.process.poll() is not None:
            self._cold_start()
            self._checked_at = now
        elif now - self._checked_at >= self._check_interval:
            self._checked_at = now
            self._refresh()
        assert self._clamd is not None
        return self._clamd.client()

    def _published(self) -> Manifest:
        manifest = self._store.current()
        if manifest is None:
            raise DefinitionsUnavailableError(
                f"no definitions published at s3://{self._store.bucket}/{self._store.manifest_key}"
            )
        return manifest

    def _cold_start(self) -> None:
        manifest = self._published()
        staging = self._workdir / "incoming"
        shutil.rmtree(staging, ignore_errors=True)
        self._store.download(manifest, staging)
        shutil.rmtree(self.database_dir, ignore_errors=True)
        staging.rename(self.database_dir)
        started = time.monotonic()
        try:
            self._clamd = ClamdProcess(
                workdir=self._workdir,
                database_dir=self.database_dir,
                limits=self._limits,
                extra_config={"ConcurrentDatabaseReload": "no"},
            ).start(ready_timeout=600)
        except RuntimeError as error:
            raise DefinitionsUnavailableError(
                f"clamd cannot start with definitions {manifest.version}: {error}"
            ) from error
        self._loaded = manifest
        logger.info("clamd ready with definitions %s in %.2fs", manifest.version, time.monotonic() - started)

    def _refresh(self) -> None:
        try:
            manifest = self._published()
        except (DefinitionsUnavailableError, OSError) as error:
            # Keep scanning with what is loaded; the freshness gate refuses it once it is too old.
            logger.error("cannot read the definitions manifest, keeping %s: %s", self.loaded_version, error)
            return
        if self._loaded is not None and manifest.version == self._loaded.version:
            return
        staging = self._workdir / "incoming"
        shutil.rmtree(staging, ignore_errors=True)
        self._store.download(manifest, staging)
        for old in self.database_dir.iterdir():
            old.unlink()
        for new in staging.iterdir():
            new.rename(self.database_dir / new.name)
        staging.rmdir()
        assert self._clamd is not None
        started = time.monotonic()
        try:
            self._clamd.client().reload()
            self._clamd.client().ping()  # answered once the reload has finished
        except ClamdError as error:
            logger.error("clamd failed to reload definitions %s: %s", manifest.version, error)
            self.stop()
            raise DefinitionsUnavailableError(f"clamd could not load definitions {manifest.version}") from error
        logger.info(
            "reloaded definitions %s (was %s) in %.2fs",
            manifest.version,
            self.loaded_version,
            time.monotonic() - started,
        )
        self._loaded = manifest

    def stop(self) -> None:
        if self._clamd is not None:
            self._clamd.stop()
        self._clamd = None
        self._loaded = None
