"""Scheduled functions invoked as EventBridge invokes them: a scheduled event, and only that
function's environment (the services are rebuilt from it, as in a new Lambda container)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from chalicelib import wiring
from devstack.schedules import scheduled_event
from tests.support import iam


@contextmanager
def environment(variables: Mapping[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    wiring.reset()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        wiring.reset()


def run_scheduled(handler: Any, variables: Mapping[str, str]) -> Any:
    """The function runs as its own IAM role when the test enforces IAM (tests/support/iam.py)."""
    name = handler.func.__name__
    with environment(variables), iam.running(name):
        return handler(scheduled_event(name, datetime.now(UTC)), None)
