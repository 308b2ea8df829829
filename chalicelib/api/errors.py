"""API errors: JSON ``{"code", "message"}`` with the right status, whatever went wrong."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from chalice import Response

from chalicelib.files.errors import (
    FilesError,
    InvalidCursorError,
    NoSuchFileError,
    NotCleanError,
    NotUploadedError,
    RescanInProgressError,
    ScanPendingError,
    VerdictFinalError,
)

logger = logging.getLogger(__name__)

View = TypeVar("View", bound=Callable[..., Any])
INTERNAL_ERROR_MESSAGE = "internal error; the request id in the logs identifies it"


class ApiError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or type(self).code
        self.details = details

    def response(self) -> Response:
        return error_response(self.status, self.code, self.message, **self.details)


class InvalidRequestError(ApiError):
    status = 400
    code = "invalid_request"


class ForbiddenError(ApiError):
    status = 403
    code = "forbidden"


class NotFoundError(ApiError):
    status = 404
    code = "not_found"


class ConflictError(ApiError):
    status = 409
    code = "conflict"


def error_response(status: int, code: str, message: str, **details: Any) -> Response:
    return Response(
        body={"code": code, "message": message, **details},
        status_code=status,
        headers={"Content-Type": "application/json"},
    )


# A domain refusal's HTTP status; its code and details go into the body as they are.
_STATUS_OF: dict[type[FilesError], int] = {
    NoSuchFileError: 404,
    InvalidCursorError: 400,
    ScanPendingError: 409,
    NotCleanError: 403,
    VerdictFinalError: 409,
    NotUploadedError: 409,
    RescanInProgressError: 409,
}


def json_errors(view: View) -> View:
    """Turn ``ApiError`` and the domain's refusals raised by a view into their JSON responses
    (Chalice catches exceptions before middleware can see them, so views carry this decorator)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except ApiError as error:
            return error.response()
        except FilesError as refusal:
            return error_response(_STATUS_OF[type(refusal)], refusal.code, refusal.message, **refusal.details)

    return wrapper  # type: ignore[return-value]


_CHALICE_CODES = {
    400: "invalid_request",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    500: "internal_error",
}


def normalise_chalice_error(response: Response) -> Response:
    """Chalice answers its own errors as ``{"Code", "Message"}``; rewrite them in our shape."""
    body = response.body
    if isinstance(body, (bytes, str)):
        try:
            body = json.loads(body)
        except ValueError:
            return response
    if not (isinstance(body, dict) and set(body) == {"Code", "Message"}):
        return response
    status = response.status_code
    message = INTERNAL_ERROR_MESSAGE if status >= 500 else str(body["Message"])
    return error_response(status, _CHALICE_CODES.get(status, "error"), message)
