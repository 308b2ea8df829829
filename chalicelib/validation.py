"""Strict request-body validation: wrong types, unknown fields and bad values are 400s."""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

from chalicelib.errors import InvalidRequestError

_CONTENT_TYPE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9!#$&^_.+-]{0,63}/[a-zA-Z0-9][a-zA-Z0-9!#$&^_.+-]{0,63}$")


def json_object(raw_body: bytes | str | None, allowed: set[str], required: set[str]) -> dict[str, Any]:
    """Parse a JSON object body; reject malformed JSON, non-objects, unknown and missing fields."""
    if not raw_body:
        raise InvalidRequestError("request body must be a JSON object", code="invalid_json")
    try:
        body = json.loads(raw_body)
    except (ValueError, UnicodeDecodeError) as error:
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


def positive_int(body: dict[str, Any], field: str, maximum: int) -> int:
    value = body[field]
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid(field, "must be an integer number of bytes")
    if value <= 0:
        raise _invalid(field, "must be greater than 0")
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
    if not isinstance(value, str) or not _CONTENT_TYPE.match(value):
        raise _invalid(field, "must be a media type such as application/pdf")
    return value.lower()


def choice(body: dict[str, Any], field: str, allowed: tuple[str, ...]) -> str:
    value = body[field]
    if value not in allowed:
        raise _invalid(field, f"must be one of {', '.join(allowed)}")
    return str(value)


def page_limit(raw: str | None, default: int = 20, maximum: int = 100) -> int:
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise _invalid("limit", f"must be an integer from 1 to {maximum}")
    return int(raw)
