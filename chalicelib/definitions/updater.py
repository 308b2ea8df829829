"""The daily definitions update (R-AV-05): fetch a set from the source, count its signatures,
publish it. A failed or partial fetch never touches the published set: it alerts, then raises
``DefinitionsUpdateError``."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

from chalicelib.definitions.errors import DefinitionsUnavailableError, DefinitionsUpdateError
from chalicelib.definitions.sources import DefinitionsSource, count_signatures
from chalicelib.definitions.store import DefinitionsStore

logger = logging.getLogger(__name__)


class DefinitionsUpdater:
    def __init__(self, source: DefinitionsSource, store: DefinitionsStore, alert: Any) -> None:
        self._source = source
        self._store = store
        self._alert = alert

    def run(self) -> dict[str, Any]:
        """Publish the source's current set; report what happened. Raises after alerting on failure."""
        with tempfile.TemporaryDirectory(prefix="manabi-definitions-") as scratch:
            directory = Path(scratch) / "db"
            directory.mkdir()
            try:
                fetched = count_signatures(self._source.fetch(directory), directory)
                current = self._store.current()
                if current is not None and current.version == fetched.version:
                    logger.info("definitions %s already published", fetched.version)
                    return {"published": False, "version": fetched.version}
                manifest = self._store.publish(fetched, directory)
            except (DefinitionsUpdateError, DefinitionsUnavailableError, OSError) as error:
                message = (
                    f"ClamAV definitions from {self._source.name} were not published: {error}. "
                    "The definitions in use are unchanged."
                )
                logger.error(message)
                self._alert("Manabi Plus: definitions update failed", message)
                raise DefinitionsUpdateError(message) from error
        logger.info("published definitions %s (%d files)", manifest.version, len(manifest.files))
        return {"published": True, "version": manifest.version, "files": [entry.name for entry in manifest.files]}
