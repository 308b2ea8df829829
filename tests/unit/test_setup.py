"""`make run` installs only what the local stack needs, and says what it is doing (issue #13).

scripts/setup.sh runs against a fake Python whose venv's pip behaves like pip (silent with
--quiet), so nothing is installed and nothing is downloaded."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

FAKE_PYTHON = """#!/usr/bin/env bash
echo "$0 $*" >> "$CALLS"
if [ "$1 $2" = "-m venv" ]; then
  mkdir -p "$3/bin"
  cp "$0" "$3/bin/python"
  cat > "$3/bin/pip" <<'PIP'
#!/usr/bin/env bash
echo "pip $*" >> "$CALLS"
case " $* " in *" --quiet "*) exit 0 ;; esac
echo "Collecting hypothesis==6.170.17"
echo "  Downloading hypothesis-6.170.17-py3-none-any.whl (500 kB)"
echo "Successfully installed hypothesis-6.170.17"
PIP
  chmod +x "$3/bin/pip"
fi
"""


def setup(tmp_path: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    fake = tmp_path / "python"
    fake.write_text(FAKE_PYTHON)
    fake.chmod(0o755)
    env = {
        **os.environ,
        "PYTHON": str(fake),
        "VENV": str(tmp_path / "venv"),
        "CHECKOV_VENV": str(tmp_path / "venv-checkov"),
        "CALLS": str(tmp_path / "calls"),
    }
    return subprocess.run(
        ["bash", "scripts/setup.sh", *arguments], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_make_run_does_not_build_the_checkov_environment(tmp_path: Path) -> None:
    result = setup(tmp_path)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "venv-checkov").exists()
    assert "requirements-checkov" not in (tmp_path / "calls").read_text()


def test_make_lint_does(tmp_path: Path) -> None:
    result = setup(tmp_path, "lint")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "venv-checkov" / "bin" / "pip").exists()


def test_a_first_setup_says_what_it_installs_as_it_goes(tmp_path: Path) -> None:
    result = setup(tmp_path)
    said = result.stdout + result.stderr
    assert "first run only" in said
    assert "Collecting hypothesis==6.170.17" in said, said


def test_the_makefile_uses_the_lint_setup_for_lint_only() -> None:
    makefile = (ROOT / "Makefile").read_text()
    rules = {line.split(":")[0]: line for line in makefile.splitlines() if ":" in line and not line.startswith("\t")}
    assert "setup-lint" in rules["lint"] and "setup-lint" not in rules["run"]
