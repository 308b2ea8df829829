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

from devstack.clamd import ClamdLimits, ClamdProcess, temporary_clamd

MIB = 1024 * 1024
# Small limits keep the oversize cases cheap; the scanner's limit equals StreamMaxLength.
TEST_LIMITS = ClamdLimits(stream_max=16 * MIB, max_file=16 * MIB, max_scan=64 * MIB, max_recursion=17, max_files=1000)


@pytest.fixture(scope="session")
def clamd() -> Iterator[ClamdProcess]:
    """A real clamd (Debian's clamav-daemon) with the project's offline signature database."""
    process = temporary_clamd(TEST_LIMITS).start()
    yield process
    process.stop()
