"""The scanner's warm clamd inside its Lambda container (and in the local stack).

On a cold start it downloads the set the published manifest names into a new directory,
verifies every file, points the ``db`` link at it in one rename, starts clamd and checks the
engine (``clamav.canaries``) before the first scan is accepted. Warm invocations reuse
it; at most every ``check_interval`` seconds the manifest is read again and a new set is swapped
in the same way and loaded with ``RELOAD`` — no cold start — and checked again. clamd runs with
``ConcurrentDatabaseReload no``: a reload does not double its memory (the official databases need
> 1.2 GiB), and scans wait for the new engine instead of racing the old one.

Starts, reloads and restarts are serialised (a thread lock and a file lock on the work
directory), and there is one path that (re)starts clamd: ``engine()`` finds it missing or dead
and starts it fresh. When the engine check fails the runtime stops clamd and forgets the set,
so the next call starts clean.
"""

from __future__ import annotations

import fcntl
import logging
import os
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from chalicelib.clamav.client import ClamdClient
from chalicelib.clamav.engine import Engine, definitions_of, verify_engine
from chalicelib.clamav.errors import ClamdError, EngineCheckError
from chalicelib.clamav.process import ClamdLimits, ClamdProcess
from chalicelib.definitions.errors import DefinitionsUnavailableError
from chalicelib.definitions.manifest import Manifest
from chalicelib.definitions.store import DefinitionsStore, verify

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
        self._lock = threading.Lock()
        self._clamd: ClamdProcess | None = None
        self._loaded: Manifest | None = None
        self._checked_at = float("-inf")

    @property
    def database_dir(self) -> Path:
        """A symbolic link to the verified set clamd uses (replaced in one rename)."""
        return self._workdir / "db"

    @property
    def limits(self) -> ClamdLimits:
        return self._limits

    @property
    def address(self) -> str | None:
        return self._clamd.address if self._clamd else None

    @property
    def pid(self) -> int | None:
        return self._clamd.process.pid if self._clamd and self._clamd.process else None

    @property
    def loaded_version(self) -> str | None:
        return self._loaded.version if self._loaded else None

    def engine(self) -> Engine:
        """A checked clamd with the current definitions, started, restarted or reloaded as needed.

        Raises ``DefinitionsUnavailableError`` when nothing usable is published and
        ``EngineCheckError`` when clamd did not prove itself; the scanner turns either into an
        ERROR verdict with the reason.
        """
        with self._lock, self._exclusive():
            now = self._clock()
            if self._clamd is None or self._loaded is None or not self._clamd.alive():
                if self._clamd is not None:
                    logger.error("clamd is not running (exit %s); starting it again", self._exit_code())
                self._start()
                self._checked_at = now
            elif now - self._checked_at >= self._check_interval:
                self._checked_at = now
                self._refresh()
            assert self._clamd is not None and self._loaded is not None
            return Engine(self._clamd.client(), definitions_of(self._loaded), self._limits)

    # Kept for callers that only need the client (the local stack's warm-up).
    def client(self) -> ClamdClient:
        return self.engine().client

    def stop(self) -> None:
        with self._lock:
            self._stop()

    # -- internals (called with the locks held) -----------------------------------------------

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """Also serialise other processes that share this work directory."""
        self._workdir.mkdir(parents=True, exist_ok=True)
        with (self._workdir / "runtime.lock").open("a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)

    def _exit_code(self) -> int | None:
        process = self._clamd.process if self._clamd else None
        return process.poll() if process else None

    def _published(self) -> Manifest:
        manifest = self._store.current()
        if manifest is None:
            raise DefinitionsUnavailableError(
                f"no definitions published at s3://{self._store.bucket}/{self._store.manifest_key}"
            )
        return manifest

    def _install(self, manifest: Manifest) -> None:
        """Make ``db`` point at a verified copy of ``manifest``'s set; reuse a verified one."""
        current = self.database_dir.resolve() if self.database_dir.is_symlink() else None
        if current is not None and current.name.startswith(f"db-{manifest.version}-"):
            try:
                verify(manifest, current)
                return
            except DefinitionsUnavailableError as damage:
                logger.error("the definitions on disk are damaged, downloading them again: %s", damage)
        target = self._workdir / f"db-{manifest.version}-{secrets.token_hex(4)}"
        try:
            self._store.download(manifest, target)
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise
        link = self._workdir / f".db-{secrets.token_hex(4)}"
        link.symlink_to(target.name)
        os.replace(link, self.database_dir)

    def _remove_unused_sets(self) -> None:
        in_use = self.database_dir.resolve().name if self.database_dir.is_symlink() else None
        for path in self._workdir.glob("db-*"):
            if path.name != in_use:
                shutil.rmtree(path, ignore_errors=True)

    def _start(self) -> None:
        self._stop()
        manifest = self._published()
        self._install(manifest)
        started = time.monotonic()
        try:
            self._clamd = ClamdProcess(
                workdir=self._workdir,
                database_dir=self.database_dir,
                limits=self._limits,
                # A non-concurrent reload waits until every idle scan thread has timed out: with
                # clamd's default IdleTimeout (30 s) each reload would stall scans for 30 s.
                extra_config={"ConcurrentDatabaseReload": "no", "IdleTimeout": "2"},
            ).start(ready_timeout=600)
        except RuntimeError as error:
            self._stop()
            raise DefinitionsUnavailableError(
                f"clamd cannot start with definitions {manifest.version}: {error}"
            ) from error
        self._check(manifest, self._clamd.signatures)
        self._loaded = manifest
        self._remove_unused_sets()
        logger.info(
            "clamd ready with definitions %s (%s signatures) in %.2fs",
            manifest.version,
            self._clamd.signatures,
            time.monotonic() - started,
        )

    def _refresh(self) -> None:
        try:
            manifest = self._published()
        except (DefinitionsUnavailableError, OSError) as error:
            # Keep scanning with what is loaded; the freshness gate refuses it once it is too old.
            logger.error("cannot read the definitions manifest, keeping %s: %s", self.loaded_version, error)
            return
        if self._loaded is not None and manifest.version == self._loaded.version:
            return
        previous = self.loaded_version
        self._install(manifest)
        assert self._clamd is not None
        started = time.monotonic()
        try:
            loaded = self._clamd.reload()
        except ClamdError as error:
            self._stop()
            raise DefinitionsUnavailableError(
                f"clamd could not load definitions {manifest.version}: {error}"
            ) from error
        self._check(manifest, loaded)
        self._loaded = manifest
        self._remove_unused_sets()
        logger.info(
            "reloaded definitions %s (was %s, %d signatures) in %.2fs",
            manifest.version,
            previous,
            loaded,
            time.monotonic() - started,
        )

    def _check(self, manifest: Manifest, loaded_signatures: int | None) -> None:
        assert self._clamd is not None
        try:
            verify_engine(self._clamd.client(), manifest, loaded_signatures)
        except (EngineCheckError, ClamdError) as error:
            self._stop()
            logger.error("clamd failed its engine check with definitions %s: %s", manifest.version, error)
            if isinstance(error, EngineCheckError):
                raise
            raise EngineCheckError(f"engine check could not run: {error}") from error

    def _stop(self) -> None:
        if self._clamd is not None:
            self._clamd.stop()
        self._clamd = None
        self._loaded = None
