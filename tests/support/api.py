"""The REST API as the functional tests call it: Chalice's test client with Cognito-shaped tokens."""

from __future__ import annotations

import base64
import json
from typing import Any

import requests
from chalice.test import Client

ALICE, BOB, ADMIN = "sub-alice", "sub-bob", "sub-admin"


def token(sub: str, groups: list[str] | None = None) -> str:
    """An ID token as Cognito issues it (Chalice's test gateway reads the claims, API Gateway
    verifies the signature on AWS; the local stack verifies it too, see tests/e2e)."""

    def segment(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    claims: dict[str, Any] = {
        "sub": sub,
        "cognito:username": sub.removeprefix("sub-"),
        "token_use": "id",
        "email": f"{sub.removeprefix('sub-')}@example.jp",
    }
    if groups:
        claims["cognito:groups"] = groups
    return f"{segment({'alg': 'RS256', 'kid': 'test'})}.{segment(claims)}.signature"


class Api:
    def __init__(self, client: Client) -> None:
        self.client = client

    def call(
        self,
        method: str,
        path: str,
        user: str | None = ALICE,
        body: Any = None,
        raw: str | bytes | None = None,
        groups: list[str] | None = None,
    ) -> Any:
        headers = {"Content-Type": "application/json"}
        if user:
            headers["Authorization"] = token(user, groups)
        payload = raw if raw is not None else (json.dumps(body) if body is not None else None)
        response = getattr(self.client.http, method.lower())(path, headers=headers, body=payload)
        response.json = json.loads(response.body) if response.body else None
        return response


def upload_via_presigned_post(created: dict[str, Any], content: bytes) -> requests.Response:
    """What a browser does with the upload form (moto intercepts requests' traffic)."""
    upload = created["upload"]
    return requests.post(upload["url"], data=upload["fields"], files={"file": ("f", content)}, timeout=10)


def create(api: Api, name: str = "notes.txt", size: int = 5, user: str = ALICE) -> str:
    response = api.call("POST", "/files", user=user, body={"name": name, "size": size, "contentType": "text/plain"})
    assert response.status_code == 201, response.json
    return str(response.json["file"]["id"])
