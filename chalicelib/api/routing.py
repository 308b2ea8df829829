"""The one helper every route goes through: the Cognito authorizer, CORS for the web origin,
and errors as JSON ``{"code", "message"}`` with the right status."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from chalice import Blueprint

from chalicelib.api.auth import Caller, authorizer, caller_of, cors, require_admin
from chalicelib.api.errors import NotFoundError, json_errors
from chalicelib.files.ids import is_file_id
from chalicelib.files.records import is_owner_sub

View = TypeVar("View", bound=Callable[..., Any])


def route(blueprint: Blueprint, path: str, methods: list[str]) -> Callable[[View], View]:
    def register(view: View) -> View:
        blueprint.route(path, methods=methods, authorizer=authorizer, cors=cors)(json_errors(view))
        return view

    return register


def caller(blueprint: Blueprint, admin: bool = False) -> Caller:
    """Who sent the current request (and, with ``admin``, refuse anyone outside ``admins``)."""
    who = caller_of(blueprint.current_request)
    if admin:
        require_admin(who)
    return who


def query(blueprint: Blueprint) -> Mapping[str, str]:
    return blueprint.current_request.query_params or {}


def checked_id(raw: str) -> str:
    """A path's file id: anything that is not one of ours is simply not found."""
    if not is_file_id(raw):
        raise NotFoundError(f"no file {raw}")
    return raw


def checked_owner(raw: str) -> str:
    """A path's user sub: anything that cannot be one is simply not found."""
    if not is_owner_sub(raw):
        raise NotFoundError("no such user")
    return raw
