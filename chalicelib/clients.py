"""AWS clients, built lazily once per container (never at import time: that breaks moto)."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3


@cache
def client(service: str) -> Any:
    return boto3.client(service)


@cache
def resource(service: str) -> Any:
    return boto3.resource(service)
