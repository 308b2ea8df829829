"""Strict request-body validation: wrong types, unknown fields and bad values are 400s."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from chalicelib import untrusted_json
from chalicelib.api.errors import InvalidRequestError
from chalicelib.profiles.service import EDITABLE, GRADE_LEVELS, LOCALES, TIME_ZONES

# Matched in full (``fullmatch``): ``$`` alone would let a trailing newline through.
_CONTENT_TYPE = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9!#$&^_.+-]{0,63}/[a-zA-Z0-9][a-zA-Z0-9!#$&^_.+-]{0,63}")
# ASCII digits only: str.isdigit() also accepts "²" and "５", which int() then refuses or reads.
_PAGE_LIMIT = re.compile(r"[0-9]{1,4}")


def json_object(raw_body: bytes | str | None, allowed: set[str], required: set[str]) -> dict[str, Any]:
    """Parse a JSON object body; reject malformed JSON, non-objects, unknown and missing fields."""
    if not raw_body:
        raise InvalidRequestError("request body must be a JSON object", code="invalid_json")
    try:
        body = untrusted_json.loads(raw_body)
    except untrusted_json.JsonDepthError as error:
        raise InvalidRequestError(f"request body is {error}", code="invalid_json") from None
    except ValueError as error:  # UnicodeDecodeError included
        raise InvalidRequestError(f"request body is not valid JSON: {error}", code="invalid_json") from None
    if not isinstance(body, dict):
        raise InvalidRequestError("request body must be a JSON object", code="invalid_json")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise InvalidRequestError(f"unknown field(s): {', '.join(unknown)}", code="unknown_field", fields=unknown)
    missing = sorted(required - set(body))
    if missing:
        raise InvalidRequestError(f"missing field(s): {', '.join(missing)}", code="missing_field", fields=missing)
    return body


def _invalid(field: str, message: str) -> InvalidRequestError:
    return InvalidRequestError(f"{field}: {message}", code="invalid_field", field=field)


def text(body: dict[str, Any], field: str, max_length: int, min_length: int = 1) -> str:
    value = body[field]
    if not isinstance(value, str):
        raise _invalid(field, "must be a string")
    value = unicodedata.normalize("NFC", value).strip()
    if not min_length <= len(value) <= max_length:
        raise _invalid(field, f"must be {min_length} to {max_length} characters")
    if any(unicodedata.category(char) in {"Cc", "Cf", "Cs", "Co", "Cn"} for char in value):
        raise _invalid(field, "must not contain control or invisible characters")
    return value


def file_name(body: dict[str, Any], field: str = "name") -> str:
    value = text(body, field, max_length=255)
    if "/" in value or "\\" in value:
        raise _invalid(field, "must not contain path separators")
    if value in {".", ".."}:
        raise _invalid(field, "is not a file name")
    return value


def byte_count(body: dict[str, Any], field: str, maximum: int) -> int:
    """A size in bytes: 0 (an empty file) up to ``maximum``."""
    value = body[field]
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid(field, "must be an integer number of bytes")
    if value < 0:
        raise _invalid(field, "must not be negative")
    if value > maximum:
        raise InvalidRequestError(
            f"{field}: {value} bytes is over the upload limit of {maximum} bytes",
            code="too_large",
            field=field,
            limit=maximum,
        )
    return value


def content_type(body: dict[str, Any], field: str = "contentType") -> str:
    value = body.get(field, "application/octet-stream")
    if not isinstance(value, str) or not _CONTENT_TYPE.fullmatch(value):
        raise _invalid(field, "must be a media type such as application/pdf")
    return value.lower()


def choice(body: dict[str, Any], field: str, allowed: tuple[str, ...]) -> str:
    value = body[field]
    if not isinstance(value, str) or value not in allowed:
        raise _invalid(field, f"must be one of {', '.join(allowed)}")
    return value


def page_limit(raw: str | None, default: int = 20, maximum: int = 100) -> int:
    if raw is None:
        return default
    if not _PAGE_LIMIT.fullmatch(raw) or not 1 <= int(raw) <= maximum:
        raise _invalid("limit", f"must be an integer from 1 to {maximum}")
    return int(raw)


def profile_changes(raw_body: bytes | str | None) -> dict[str, Any]:
    """The fields of a ``PUT /me`` body, each checked."""
    body = json_object(raw_body, allowed=EDITABLE, required=set())
    if not body:
        raise InvalidRequestError(
            "nothing to update: send at least one of " + ", ".join(sorted(EDITABLE)), code="missing_field"
        )
    changes: dict[str, Any] = {}
    if "displayName" in body:
        changes["displayName"] = text(body, "displayName", max_length=50)
    if "locale" in body:
        changes["locale"] = choice(body, "locale", LOCALES)
    if "timeZone" in body:
        if not isinstance(body["timeZone"], str) or body["timeZone"] not in TIME_ZONES:
            raise _invalid("timeZone", "must be an IANA time zone such as Asia/Tokyo")
        changes["timeZone"] = body["timeZone"]
    if "gradeLevel" in body:
        changes["gradeLevel"] = None if body["gradeLevel"] is None else choice(body, "gradeLevel", GRADE_LEVELS)
    return changes


def upload_request(raw_body: bytes | str | None, max_upload_bytes: int) -> dict[str, Any]:
    """The fields of a ``POST /files`` body, each checked: ``name``, ``size``, ``content_type``."""
    body = json_object(raw_body, allowed={"name", "size", "contentType"}, required={"name", "size"})
    return {
        "name": file_name(body),
        "size": byte_count(body, "size", max_upload_bytes),
        "content_type": content_type(body),
    }


def rescan_request(raw_body: bytes | str | None) -> str:
    """The definitions version of a ``POST /admin/rescans`` body."""
    body = json_object(raw_body, allowed={"notScannedWith"}, required={"notScannedWith"})
    return text(body, "notScannedWith", max_length=128)
