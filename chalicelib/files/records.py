"""A file record as stored and as shown: the public view, page cursors, download names."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from chalicelib.files.errors import InvalidCursorError
from chalicelib.scanning.verdicts import Verdict


def plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def encode_cursor(last_key: dict[str, Any] | None) -> str | None:
    if not last_key:
        return None
    return base64.urlsafe_b64encode(json.dumps(last_key, default=plain).encode()).decode()


def decode_cursor(cursor: str | None, owner_sub: str | None = None) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, binascii.Error):
        raise InvalidCursorError("cursor is not one this API returned") from None
    if not isinstance(key, dict) or (owner_sub is not None and key.get("ownerSub") != owner_sub):
        raise InvalidCursorError("cursor is not one this API returned")
    return key


def public_view(record: dict[str, Any]) -> dict[str, Any]:
    """What a learner (or an admin) sees of a file record."""
    status = record["scanStatus"]
    view: dict[str, Any] = {
        "id": record["fileId"],
        "name": record["name"],
        "size": plain(record["size"]),
        "contentType": record["contentType"],
        "createdAt": record["createdAt"],
        "scanStatus": status,
    }
    if record.get("scannedAt"):
        view["scannedAt"] = record["scannedAt"]
        view["definitions"] = record.get("definitions") or None
    if status in {Verdict.INFECTED.value, Verdict.UNSCANNABLE.value}:
        view["signature"] = record.get("signature")
    # Why a file was refused: what could not be read, or why scanning failed (and whether it is
    # being retried automatically).
    if status == Verdict.UNSCANNABLE.value and record.get("scanReason"):
        view["reason"] = record["scanReason"]
    if status == Verdict.ERROR.value:
        view["reason"] = record.get("scanError") or "scanning failed"
        view["automaticRescans"] = plain(record.get("autoRescans", 0))
    if status in {Verdict.CLEAN.value, Verdict.INFECTED.value} and record.get("sha256"):
        view["sha256"] = record["sha256"]
    return view


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    cursor: str | None


def content_disposition(name: str) -> str:
    """``attachment`` with an ASCII fallback and the exact UTF-8 name (RFC 6266 / 5987)."""
    fallback = "".join(char if 32 <= ord(char) < 127 and char not in '"\\' else "_" for char in name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
