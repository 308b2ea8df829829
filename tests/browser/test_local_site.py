"""How the local stack serves the site (devstack/web.py): config.json from the running stack,
static files, the local sign-up confirmation, and CORS naming the site's origin on the API and
on the data bucket."""

from __future__ import annotations

import json
import re
from pathlib import Path

import requests

from devstack.web import is_fresh, source_digest
from tests.browser.conftest import Stack


def test_config_json_comes_from_the_running_stack(stack: Stack) -> None:
    config = requests.get(f"{stack.web}/config.json", timeout=10).json()

    assert config == {
        "stage": "local",
        "apiUrl": stack.info["api"],
        "region": "ap-northeast-1",
        "userPoolId": stack.info["userPoolId"],
        "userPoolClientId": stack.info["webClientId"],
        "cognitoEndpoint": stack.info["emulator"] + "/",
        "localSignUpConfirmUrl": f"{stack.web}/local/confirm-sign-up",
        "authFlow": "USER_PASSWORD_AUTH",
    }
    assert json.loads((stack.state_dir / "web-config.json").read_text()) == config


def test_serves_the_build_with_cache_headers_and_nothing_outside_it(stack: Stack) -> None:
    index = requests.get(stack.web, timeout=10)
    assert index.status_code == 200 and index.headers["Cache-Control"] == "no-cache"
    assert '<html lang="ja">' in index.text
    asset = re.search(r'src="\./(assets/[^"]+\.js)"', index.text)
    assert asset, index.text
    script = requests.get(f"{stack.web}/{asset.group(1)}", timeout=10)
    assert script.status_code == 200
    assert script.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert script.headers["X-Content-Type-Options"] == "nosniff"
    for outside in ("/../devstack/web.py", "/%2e%2e/package.json", "/nothing-here.txt"):
        assert requests.get(stack.web + outside, timeout=10).status_code == 404, outside


def test_local_confirmation_needs_a_known_username(stack: Stack) -> None:
    url = f"{stack.web}/local/confirm-sign-up"
    assert requests.post(url, json={}, timeout=10).status_code == 400
    assert requests.post(url, json={"username": "nobody-here"}, timeout=10).status_code == 404


def preflight(url: str, origin: str, headers: str = "") -> requests.Response:
    request_headers = {"Origin": origin, "Access-Control-Request-Method": "POST"}
    if headers:
        request_headers["Access-Control-Request-Headers"] = headers
    return requests.options(url, headers=request_headers, timeout=10)


def test_the_api_allows_the_sites_origin(stack: Stack) -> None:
    answer = preflight(f"{stack.info['api']}/files", stack.web, "authorization,content-type")

    assert answer.status_code == 200
    assert answer.headers["Access-Control-Allow-Origin"] == stack.web


def test_the_data_bucket_cors_rule_names_the_site_and_refuses_others(stack: Stack) -> None:
    rules = stack.aws("s3").get_bucket_cors(Bucket=stack.info["dataBucket"])["CORSRules"]
    assert [(rule["AllowedOrigins"], rule["AllowedMethods"]) for rule in rules] == [([stack.web], ["POST"])]

    bucket_url = f"{stack.info['emulator']}/{stack.info['dataBucket']}"
    assert preflight(bucket_url, stack.web).headers.get("Access-Control-Allow-Origin") == stack.web
    assert preflight(bucket_url, "http://127.0.0.1:1").status_code == 403


def test_a_changed_source_means_a_new_build(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.ts").write_text("console.log(1)\n")
    (tmp_path / "index.html").write_text("<html></html>\n")
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "index.html").write_text("built\n")
    (dist / ".source.sha256").write_text(source_digest(tmp_path) + "\n")
    assert is_fresh(tmp_path)

    (tmp_path / "src" / "main.ts").write_text("console.log(2)\n")

    assert not is_fresh(tmp_path)
