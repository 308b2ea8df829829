"""Identifiers that sort by creation time (ULID layout: 48-bit milliseconds + 80 random bits)."""

from __future__ import annotations

import secrets
import time

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, index = divmod(value, 32)
        chars.append(_CROCKFORD[index])
    return "".join(reversed(chars))


def new_file_id(now_ms: int | None = None) -> str:
    """26 characters of ``[0-9A-Z]``; later ids sort after earlier ones (to the millisecond)."""
    milliseconds = int(time.time() * 1000) if now_ms is None else now_ms
    return _encode(milliseconds, 10) + _encode(secrets.randbits(80), 16)


def is_file_id(value: str) -> bool:
    return len(value) == 26 and all(char in _CROCKFORD for char in value)
