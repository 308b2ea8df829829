"""/me: the signed-in learner's profile."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api import validation
from chalicelib.api.routing import caller, route
from chalicelib.wiring import get_profile_service

me_api = Blueprint(__name__)


@route(me_api, "/me", ["GET"])
def get_me() -> dict[str, Any]:
    who = caller(me_api)
    return get_profile_service().get_or_create(who.sub, who.email, who.username)


@route(me_api, "/me", ["PUT"])
def put_me() -> dict[str, Any]:
    who = caller(me_api)
    changes = validation.profile_changes(me_api.current_request.raw_body)
    return get_profile_service().update(who.sub, who.email, who.username, changes)
