"""A local HTTP mirror of ClamAV definitions, for tests and the local stage.

It serves the project's offline signature set with an ``index.json`` — what the definitions
updater's ``MirrorSource`` reads — so the local stage publishes its definitions through the very
same updater, store and manifest as stag and prod do with the official databases.
"""

from __future__ import annotations

import functools
import threading
from datetime import datetime
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from devstack.clamd import write_offline_database


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class DefinitionsMirror:
    """Serves ``directory`` on 127.0.0.1 from a background thread."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        handler = functools.partial(_QuietHandler, directory=str(directory))
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="definitions-mirror", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def release(self, built_at: datetime | None = None, extra_hashes: tuple[str, ...] = ()) -> str:
        """Put a new offline set on the mirror; return its version."""
        for old in self.directory.iterdir():
            old.unlink()
        return write_offline_database(self.directory, built_at, extra_hashes, manifest_name="index.json")

    def start(self) -> DefinitionsMirror:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> DefinitionsMirror:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
