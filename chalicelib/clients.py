"""AWS clients, built lazily once per container (never at import time: that breaks moto).

On Lambda a container runs one function with its role's credentials in the environment, so
boto3's default session is that function's. Tests run every function in one process: they set
``current_session`` to the session of the function whose code runs (its role's credentials;
tests/support/iam.py), so each function calls AWS as its own role there too.
"""

from __future__ import annotations

from contextvars import ContextVar
from functools import cache
from typing import Any

import boto3

# The session clients come from; None (always, on Lambda): boto3's default session.
current_session: ContextVar[boto3.Session | None] = ContextVar("current_session", default=None)


def client(service: str) -> Any:
    return _client(current_session.get(), service)


def resource(service: str) -> Any:
    return _resource(current_session.get(), service)


@cache
def _client(session: boto3.Session | None, service: str) -> Any:
    return boto3.client(service) if session is None else session.client(service)


@cache
def _resource(session: boto3.Session | None, service: str) -> Any:
    return boto3.resource(service) if session is None else session.resource(service)


def forget() -> None:
    """Drop every client built so far (tests: the emulator and its sessions are gone)."""
    _client.cache_clear()
    _resource.cache_clear()
