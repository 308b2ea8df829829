"""A file record as stored and as shown: the public view, page cursors, download names."""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from chalicelib import untrusted_json
from chalicelib.files.errors import InvalidCursorError
from chalicelib.files.ids import is_file_id
from chalicelib.scanning.verdicts import Verdict

# A cursor is the key of the last record of a page: exactly these two strings.
CURSOR_KEY = ("ownerSub", "fileId")
MAX_CURSOR_CHARS = 512
# What a Cognito user sub can look like (a UUID; the tests use readable ones): the partition key.
_OWNER_SUB = re.compile(r"[0-9A-Za-z_.:-]{1,128}")


def is_owner_sub(value: object) -> bool:
    return isinstance(value, str) and _OWNER_SUB.fullmatch(value) is not None


def plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def encode_cursor(last_key: dict[str, Any] | None) -> str | None:
    if not last_key:
        return None
    key = {name: plain(last_key[name]) for name in CURSOR_KEY}
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


def decode_cursor(cursor: str | None, owner_sub: str | None = None) -> dict[str, str] | None:
    """The start key a cursor stands for; anything this API did not hand out (to this owner,
    when ``owner_sub`` is given) is refused before it reaches DynamoDB."""
    if not cursor:
        return None
    refusal = InvalidCursorError("cursor is not one this API returned")
    if len(cursor) > MAX_CURSOR_CHARS:
        raise refusal
    try:
        key = untrusted_json.loads(base64.urlsafe_b64decode(cursor.encode()), max_depth=1)
    except (ValueError, binascii.Error):
        raise refusal from None
    if not (
        isinstance(key, dict)
        and sorted(key) == sorted(CURSOR_KEY)
        and is_owner_sub(key["ownerSub"])
        and isinstance(key["fileId"], str)
        and is_file_id(key["fileId"])
        and (owner_sub is None or key["ownerSub"] == owner_sub)
    ):
        raise refusal
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
