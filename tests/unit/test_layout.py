"""The house keeps its plan (issue #10): chalicelib is rooms (packages), with few loose modules
at its top and none too long to read in one sitting."""

from __future__ import annotations

from pathlib import Path

CHALICELIB = Path(__file__).resolve().parents[2] / "chalicelib"
MAX_TOP_LEVEL_MODULES = 6
MAX_LINES = 250


def test_chalicelib_has_few_top_level_modules() -> None:
    loose = sorted(path.name for path in CHALICELIB.glob("*.py") if path.name != "__init__.py")
    assert len(loose) <= MAX_TOP_LEVEL_MODULES, loose


def test_no_module_is_over_250_lines() -> None:
    long = {
        str(path.relative_to(CHALICELIB)): lines
        for path in CHALICELIB.rglob("*.py")
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}
