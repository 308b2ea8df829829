"""Every setting a person can give the local stack or the CLI is in the README (issue #13)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Set by `make run` for the chalice local it starts; nobody sets it by hand.
INTERNAL = {"MANABI_LOCAL_AUTH"}


def test_every_manabi_variable_is_documented() -> None:
    sources = [*(ROOT / "devstack").glob("*.py"), *(ROOT / "manabi_cli").glob("*.py"), ROOT / "Makefile"]
    used = {name for path in sources for name in re.findall(r"MANABI_[A-Z_]+", path.read_text())}
    readme = (ROOT / "README.md").read_text()
    assert used - INTERNAL, "the local stack and the CLI read MANABI_* variables"
    assert sorted(name for name in used - INTERNAL if f"`{name}`" not in readme) == []
