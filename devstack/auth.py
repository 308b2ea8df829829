"""The local API verifies Cognito ID tokens as API Gateway's Cognito authorizer does.

``chalice local`` decodes the token's claims without checking anything: any token passes (alg
``none``, another key, expired, another pool, ``cognito:groups: ["admins"]`` written in by
hand). Here the local gateway's authorizer first verifies the RS256 signature against the
emulator's JWKS (``/<pool-id>/.well-known/jwks.json`` on the moto server), the expiry, the
issuer (this pool), the audience (this pool's app clients) and ``token_use`` (``id``), and
answers 401 otherwise; only then does Chalice read the claims.

Local only: PyJWT is a dev requirement; on AWS, API Gateway verifies the token before Lambda runs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import jwt
from chalice import CognitoUserPoolAuthorizer
from chalice import local as chalice_local


class TokenRejectedError(Exception):
    """The token is not one this user pool issued, valid now, as an ID token."""


@dataclass(frozen=True)
class UserPoolTokens:
    """What an ID token of one user pool must satisfy."""

    issuer: str
    jwks_url: str
    audiences: tuple[str, ...]

    @classmethod
    def of_pool(cls, emulator: str, region: str, pool_id: str, client_ids: list[str]) -> UserPoolTokens:
        return cls(
            issuer=f"https://cognito-idp.{region}.amazonaws.com/{pool_id}",
            jwks_url=f"{emulator.rstrip('/')}/{pool_id}/.well-known/jwks.json",
            audiences=tuple(client_ids),
        )

    def to_json(self) -> str:
        return json.dumps({"issuer": self.issuer, "jwksUrl": self.jwks_url, "audiences": list(self.audiences)})

    @classmethod
    def from_json(cls, raw: str) -> UserPoolTokens:
        data = json.loads(raw)
        return cls(str(data["issuer"]), str(data["jwksUrl"]), tuple(str(client) for client in data["audiences"]))


class TokenVerifier:
    def __init__(self, pool: UserPoolTokens) -> None:
        self.pool = pool
        self._keys = jwt.PyJWKClient(pool.jwks_url, cache_keys=True, timeout=5)

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims, or ``TokenRejectedError`` saying why not."""
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") != "RS256":
                raise TokenRejectedError(f"signed with {header.get('alg')!r}, not RS256")
            key = self._keys.get_signing_key(str(header.get("kid")))
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                audience=list(self.pool.audiences),
                issuer=self.pool.issuer,
                options={"require": ["exp", "iat", "iss", "aud", "sub", "token_use"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenRejectedError("The incoming token has expired") from None
        except (jwt.PyJWTError, ValueError) as error:
            raise TokenRejectedError(f"{type(error).__name__}: {error}") from None
        if claims.get("token_use") != "id":
            raise TokenRejectedError(f"a {claims.get('token_use')!r} token, not an ID token")
        return claims


def _unauthorized(lambda_context: Any, reason: str) -> chalice_local.NotAuthorizedError:
    body = {"code": "unauthenticated", "message": f"the ID token was refused: {reason}"}
    headers = {"x-amzn-RequestId": lambda_context.aws_request_id, "x-amzn-ErrorType": "UnauthorizedException"}
    return chalice_local.NotAuthorizedError(headers, json.dumps(body).encode())


class VerifyingAuthorizer(chalice_local.LocalGatewayAuthorizer):
    """``chalice local``'s authorizer, with API Gateway's checks of Cognito ID tokens first."""

    verifier: TokenVerifier | None = None

    def authorize(self, raw_path: str, lambda_event: Any, lambda_context: Any) -> Any:
        route = self._route_for_event(lambda_event)
        if route is not None and isinstance(route.authorizer, CognitoUserPoolAuthorizer):
            assert self.verifier is not None, "install() a verifier first"
            token = (lambda_event.get("headers") or {}).get("authorization")
            if not token:
                raise _unauthorized(lambda_context, "no Authorization header")
            try:
                self.verifier.verify(token)
            except TokenRejectedError as rejected:
                raise _unauthorized(lambda_context, str(rejected)) from None
        return super().authorize(raw_path, lambda_event, lambda_context)


def install(verifier: TokenVerifier) -> None:
    """From now on every gateway ``chalice local`` builds (one per connection) verifies tokens."""
    VerifyingAuthorizer.verifier = verifier
    chalice_local.LocalGatewayAuthorizer = VerifyingAuthorizer  # type: ignore[misc]


AUTH_VARIABLE = "MANABI_LOCAL_AUTH"


def auth_environment(info: dict[str, Any]) -> dict[str, str]:
    """The variable ``devstack/local.py`` gives the ``chalice local`` it starts."""
    pool = UserPoolTokens.of_pool(
        info["emulator"], info["region"], info["userPoolId"], [info["webClientId"], info["cliClientId"]]
    )
    return {AUTH_VARIABLE: pool.to_json()}
