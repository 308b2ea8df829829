"""The local stack refuses what API Gateway refuses (issue #13): ID tokens are verified against the
emulator's JWKS — signature, expiry, issuer, audience, token_use — over real HTTP, for the
`chalice local` that `make run` starts and for one started by hand as the design says."""

from __future__ import annotations

import base64
import gzip
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import jwt
import moto
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from devstack.local import free_port, launch

ROOT = Path(__file__).resolve().parents[2]
CHALICE = Path(sys.executable).with_name("chalice")
PASSWORD = "Manabi+2026"


class Stack:
    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.env = {**os.environ, "MANABI_STATE_DIR": str(state_dir)}
        self.process = launch(state_dir, self.env)
        self.info: dict[str, Any] = json.loads((state_dir / "stack.json").read_text())

    def cognito(self) -> Any:
        return boto3.client(
            "cognito-idp",
            region_name=self.info["region"],
            endpoint_url=self.info["emulator"],
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    def tokens(self, username: str, pool_id: str | None = None, client_id: str | None = None) -> dict[str, str]:
        cognito = self.cognito()
        pool_id, client_id = pool_id or self.info["userPoolId"], client_id or self.info["cliClientId"]
        email = [{"Name": "email", "Value": f"{username}@example.jp"}]
        cognito.sign_up(ClientId=client_id, Username=username, Password=PASSWORD, UserAttributes=email)
        cognito.admin_confirm_sign_up(UserPoolId=pool_id, Username=username)
        result = cognito.initiate_auth(
            ClientId=client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
        )
        return result["AuthenticationResult"]  # type: ignore[no-any-return]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            self.process.wait(60)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = Stack(tmp_path_factory.mktemp("auth-stack"))
    yield running
    running.stop()


def segment(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def claims_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})  # type: ignore[no-any-return]


def moto_signing_key() -> Any:
    """The emulator's own private key: a token it signs passes the signature check."""
    path = Path(moto.__file__).parent / "cognitoidp" / "resources" / "jwks-private.json.gz"
    return jwt.algorithms.RSAAlgorithm.from_jwk(gzip.decompress(path.read_bytes()).decode())


def status_of(api: str, token: str, path: str = "/files") -> tuple[int, dict[str, Any]]:
    response = requests.get(api + path, headers={"Authorization": token}, timeout=10)
    return response.status_code, response.json() if response.content else {}


def test_a_token_of_this_pool_is_accepted(stack: Stack) -> None:
    assert status_of(stack.info["api"], stack.tokens("valid")["IdToken"]) == (200, {"files": [], "cursor": None})


def test_what_api_gateway_refuses_the_local_stack_refuses(stack: Stack) -> None:
    good = stack.tokens("hanako")
    claims = claims_of(good["IdToken"])
    header, _, signature = good["IdToken"].split(".")
    now = int(time.time())

    other_pool = stack.cognito().create_user_pool(PoolName="another")["UserPool"]["Id"]
    other_client = stack.cognito().create_user_pool_client(
        UserPoolId=other_pool,
        ClientName="c",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    wrong_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    refused = {
        "alg none": f"{segment({'alg': 'none', 'typ': 'JWT'})}.{segment(claims)}.",
        "a wrong key": jwt.encode(claims, wrong_key, algorithm="RS256", headers={"kid": "dummy"}),
        "expired": jwt.encode(
            {**claims, "iat": now - 7200, "exp": now - 3600},
            moto_signing_key(),
            algorithm="RS256",
            headers={"kid": "dummy"},
        ),
        "another pool": stack.tokens("stranger", other_pool, other_client)["IdToken"],
        "another audience": jwt.encode(
            {**claims, "aud": "someone-elses-client"}, moto_signing_key(), algorithm="RS256", headers={"kid": "dummy"}
        ),
        "another issuer": jwt.encode(
            {**claims, "iss": claims["iss"].rsplit("/", 1)[0] + "/ap-northeast-1_other"},
            moto_signing_key(),
            algorithm="RS256",
            headers={"kid": "dummy"},
        ),
        "token_use access (right pool and audience)": jwt.encode(
            {**claims, "token_use": "access"}, moto_signing_key(), algorithm="RS256", headers={"kid": "dummy"}
        ),
        "forged admins group": f"{header}.{segment({**claims, 'cognito:groups': ['admins']})}.{signature}",
        "an access token": good["AccessToken"],
        "not a token": "hello",
        "no token": "",
    }
    # The control: the same claims signed with the emulator's key pass, so each refusal above is
    # for the one thing it changes.
    resigned = jwt.encode(claims, moto_signing_key(), algorithm="RS256", headers={"kid": "dummy"})
    assert status_of(stack.info["api"], resigned)[0] == 200
    for what, token in refused.items():
        status, body = status_of(stack.info["api"], token)
        assert (status, body.get("code")) == (401, "unauthenticated"), what
    status, body = status_of(stack.info["api"], refused["forged admins group"], "/admin/files?status=INFECTED")
    assert status == 401, body
    assert "expired" in status_of(stack.info["api"], refused["expired"])[1]["message"]


def serve_by_hand(env: dict[str, str], *options: str) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    process = subprocess.Popen(
        [str(CHALICE), "local", "--port", str(port), *options],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    return process, f"http://127.0.0.1:{port}"


def wait_for_health(process: subprocess.Popen[str], api: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            requests.get(api + "/health", timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise AssertionError(f"{api} never answered")


@pytest.mark.parametrize("options", [[], ["--stage", "local"]], ids=["chalice local", "chalice local --stage local"])
def test_chalice_local_by_hand_serves_the_running_stack(stack: Stack, options: list[str]) -> None:
    env = {key: value for key, value in stack.env.items() if not key.startswith("AWS_")}
    process, api = serve_by_hand(env, *options)
    try:
        wait_for_health(process, api)
        token = stack.tokens(f"byhand{len(options)}")["IdToken"]
        status, body = status_of(api, token)
        assert (status, body) == (200, {"files": [], "cursor": None})
        created = requests.post(
            api + "/files", json={"name": "a.txt", "size": 1}, headers={"Authorization": token}, timeout=10
        )
        assert created.status_code == 201, created.text
        # The web app may call it: its origin is the one the API allows, as for the stack's own.
        origin = stack.info["web"].rstrip("/")
        listed = requests.get(api + "/files", headers={"Authorization": token, "Origin": origin}, timeout=10)
        assert listed.headers.get("Access-Control-Allow-Origin") == origin
        forged = f"{segment({'alg': 'none'})}.{segment({**claims_of(token), 'sub': 'someone'})}."
        assert status_of(api, forged)[0] == 401
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(10)


@pytest.mark.parametrize("options", [[], ["--no-autoreload"]], ids=["reloading", "no-autoreload"])
def test_chalice_local_without_a_stack_says_to_run_make_run(tmp_path: Path, options: list[str]) -> None:
    env = {**os.environ, "MANABI_STATE_DIR": str(tmp_path)}
    process, _ = serve_by_hand(env, *options)
    try:
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "make run" in lines[0], stderr
    if options:  # (Chalice's reloading parent always exits 0, whatever its worker did)
        assert process.returncode == 1
