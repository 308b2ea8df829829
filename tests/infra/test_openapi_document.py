"""docs/openapi.json is the document Chalice generates from the app, kept current."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_published_openapi_matches_the_app() -> None:
    chalice = Path(sys.executable).with_name("chalice")
    env = {**os.environ, "AWS_DEFAULT_REGION": "ap-northeast-1"}
    env.pop("USER_POOL_ARN", None)
    env.pop("WEB_ORIGIN", None)
    generated = subprocess.run(
        [str(chalice), "generate-models", "--stage", "prod"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    published = (ROOT / "docs" / "openapi.json").read_text()
    assert json.loads(generated) == json.loads(published), "regenerate docs/openapi.json (see docs/API.md)"
    assert {"/files", "/files/{file_id}", "/files/{file_id}/download", "/me", "/health"} <= set(
        json.loads(published)["paths"]
    )
