"""A clamd whose answers count: the engine a scan uses, and how it earned that.

``Engine`` is what the scanner gets: a client, the definitions it loaded, its limits. Two
providers make one: ``runtime.ScannerRuntime`` (clamd run here from the published definitions,
as in the Lambda container and the local stack) and ``ExternalEngine`` (a clamd someone else runs).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from chalicelib.clamav.canaries import Expected, check_canaries, check_engine
from chalicelib.clamav.client import ClamdClient
from chalicelib.clamav.errors import ClamdError, ClamdUnavailableError, EngineCheckError
from chalicelib.clamav.process import ClamdLimits
from chalicelib.definitions.manifest import Definitions, Manifest, read_definitions
from chalicelib.timestamps import parse


@dataclass(frozen=True)
class Engine:
    """A clamd that passed its engine check, the definitions it loaded and the limits it runs with."""

    client: ClamdClient
    definitions: Definitions
    limits: ClamdLimits


EngineProvider = Callable[[], Engine]


def definitions_of(manifest: Manifest) -> Definitions:
    return Definitions(version=manifest.version, built_at=parse(manifest.built_at))


def verify_engine(client: ClamdClient, manifest: Manifest, loaded_signatures: int | None) -> None:
    """Raise ``EngineCheckError`` unless ``client`` loaded ``manifest`` and detects the canaries."""
    expected = Expected(manifest.version, manifest.min_signatures, manifest.signatures)
    check_engine(expected, loaded_signatures, client.version(), lambda content: client.instream([content]))


class ExternalEngine:
    """A clamd someone else runs (tests, tools: ``CLAMD_ADDRESS``), with its database directory.

    Its signature count cannot be read, but its answers count only while it detects the canary
    set, checked on first use and again every ``check_interval`` seconds.
    """

    def __init__(
        self,
        client: ClamdClient,
        database_dir: str,
        limits: ClamdLimits,
        check_interval: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._database_dir = database_dir
        self._limits = limits
        self._check_interval = check_interval
        self._clock = clock
        self._checked_at: float | None = None
        self._lock = threading.Lock()

    def __call__(self) -> Engine:
        with self._lock:
            now = self._clock()
            if self._checked_at is None or now - self._checked_at >= self._check_interval:
                try:
                    check_canaries(lambda content: self._client.instream([content]))
                except ClamdError as error:
                    if isinstance(error, ClamdUnavailableError):
                        raise
                    raise EngineCheckError(f"engine check could not run: {error}") from error
                self._checked_at = now
        definitions = read_definitions(self._database_dir, self._client.version())
        return Engine(self._client, definitions, self._limits)
