"""Where the CLI keeps its sign-in, per API URL (``$MANABI_HOME``, default ``~/.config/manabi``)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Session:
    path: Path

    @classmethod
    def default(cls) -> Session:
        home = Path(os.environ.get("MANABI_HOME", Path.home() / ".config" / "manabi"))
        return cls(home / "session.json")

    def _all(self) -> dict[str, Any]:
        if not self.path.is_file():
            return {}
        return json.loads(self.path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]

    def load(self, api_url: str) -> dict[str, Any] | None:
        return self._all().get(api_url)

    def save(self, api_url: str, tokens: dict[str, Any]) -> None:
        sessions = {**self._all(), api_url: tokens}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.touch(mode=0o600, exist_ok=True)
        self.path.write_text(json.dumps(sessions, indent=2), encoding="utf-8")
