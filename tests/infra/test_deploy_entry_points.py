"""How deploying starts when something is missing (issue #13): one clear line, never a traceback,
never a silent placeholder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from chalicelib.functions.cli_hooks import chalice_command

ROOT = Path(__file__).resolve().parents[2]
CHALICE = Path(sys.executable).with_name("chalice")


def without_aws(tmp_path: Path, **env: str) -> dict[str, str]:
    """No credentials anywhere: no variables, no files, no instance metadata."""
    clean = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    return {
        **clean,
        "HOME": str(tmp_path),
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_DEFAULT_REGION": "ap-northeast-1",
        **env,
    }


def test_chalice_deploy_without_credentials_says_so_in_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(CHALICE), "deploy", "--stage", "stag"],
        cwd=ROOT,
        env=without_aws(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr[-3000:]
    assert "credentials" in lines[0] and "make deploy" in lines[0]


def test_the_app_is_left_alone_outside_the_chalice_cli() -> None:
    assert "AWS_CHALICE_CLI_MODE" not in os.environ
    assert chalice_command() is None


def test_a_dry_run_without_a_domain_says_it_uses_a_placeholder(tmp_path: Path) -> None:
    result = subprocess.run(
        ["bash", str(ROOT / "infra" / "deploy.sh"), "stag"],
        cwd=ROOT,
        env=without_aws(tmp_path, DRY_RUN="1"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "DOMAIN_NAME is not set" in result.stderr and "example.jp" in result.stderr
