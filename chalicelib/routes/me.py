"""/me: the signed-in learner's profile."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.auth import authorizer, caller_of, cors
from chalicelib.config import ApiSettings
from chalicelib.errors import json_errors
from chalicelib.services import profile_service

me_api = Blueprint(__name__)


@me_api.route("/me", methods=["GET"], authorizer=authorizer, cors=cors)
@json_errors
def get_me() -> dict[str, Any]:
    caller = caller_of(me_api.current_request)
    return profile_service(ApiSettings.from_env()).get_or_create(caller.sub, caller.email, caller.username)


@me_api.route("/me", methods=["PUT"], authorizer=authorizer, cors=cors)
@json_errors
def put_me() -> dict[str, Any]:
    caller = caller_of(me_api.current_request)
    service = profile_service(ApiSettings.from_env())
    return service.update(caller.sub, caller.email, caller.username, me_api.current_request.raw_body)
