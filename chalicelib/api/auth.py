"""Who is calling: the Cognito user pool authorizer and the caller's claims."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

from chalice import CognitoUserPoolAuthorizer, CORSConfig

from chalicelib.api.errors import ApiError, ForbiddenError

ADMIN_GROUP = "admins"
# Read at import time because Chalice builds the API definition from it. The packaged template
# replaces it with the stack's pool (infra merge); `chalice deploy` needs USER_POOL_ARN exported.
LOCAL_USER_POOL_ARN = "arn:aws:cognito-idp:ap-northeast-1:123456789012:userpool/ap-northeast-1_local"

authorizer = CognitoUserPoolAuthorizer(
    "ManabiUsers", provider_arns=[os.environ.get("USER_POOL_ARN", LOCAL_USER_POOL_ARN)]
)
# Only the web distribution's origin may call the API from a browser (issue #4). Like the pool
# ARN, API Gateway bakes it in when the API is deployed, so it is read at import time.
LOCAL_WEB_ORIGIN = "http://127.0.0.1:8000"
cors = CORSConfig(
    allow_origin=os.environ.get("WEB_ORIGIN", LOCAL_WEB_ORIGIN),
    allow_headers=["Authorization", "Content-Type"],
    max_age=600,
)


class UnauthenticatedError(ApiError):
    status = 401
    code = "unauthenticated"


@dataclass(frozen=True)
class Caller:
    sub: str
    email: str | None
    username: str | None
    groups: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return ADMIN_GROUP in self.groups


def _groups(raw: Any) -> frozenset[str]:
    """API Gateway passes claims as strings (``"[admins, teachers]"`` or ``"admins"``); chalice
    local passes the decoded JSON list. Accept both."""
    if isinstance(raw, list):
        return frozenset(str(group) for group in raw)
    if isinstance(raw, str):
        return frozenset(group for group in re.split(r"[\[\],\s]+", raw) if group)
    return frozenset()


def caller_of(request: Any) -> Caller:
    claims = ((request.context or {}).get("authorizer") or {}).get("claims") or {}
    sub = claims.get("sub")
    if not sub:
        raise UnauthenticatedError("sign in first: no Cognito identity on this request")
    return Caller(
        sub=str(sub),
        email=claims.get("email"),
        username=claims.get("cognito:username"),
        groups=_groups(claims.get("cognito:groups")),
    )


def require_admin(caller: Caller) -> None:
    if not caller.is_admin:
        raise ForbiddenError(f"this needs membership of the Cognito group '{ADMIN_GROUP}'", code="admin_only")
