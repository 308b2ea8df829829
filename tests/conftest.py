"""Fixtures shared by every test layer."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

# Before anything builds a boto3 client: no real credentials or endpoints, ever.
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION="ap-northeast-1",
)
os.environ.pop("AWS_PROFILE", None)

from chalicelib import wiring
from devstack.clamd import ClamdProcess, temporary_clamd
from tests.support.limits import TEST_LIMITS


@pytest.fixture(autouse=True)
def fresh_services() -> Iterator[None]:
    """Each test builds its services anew from its own environment, as a new container would."""
    wiring.reset()
    yield
    wiring.reset()


@pytest.fixture(scope="session")
def clamd() -> Iterator[ClamdProcess]:
    """A real clamd (Debian's clamav-daemon) with the project's offline signature database."""
    process = temporary_clamd(TEST_LIMITS).start()
    yield process
    process.stop()
