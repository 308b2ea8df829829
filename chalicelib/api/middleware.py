"""HTTP middleware: the CloudFront origin check, JSON error shape, one log line per request
with its correlation ids (request id, user)."""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable
from typing import Any

from chalice import Response

from chalicelib import logs
from chalicelib.api.errors import INTERNAL_ERROR_MESSAGE, error_response, normalise_chalice_error
from chalicelib.config import ApiSettings
from chalicelib.wiring import get_api_settings

ORIGIN_HEADER = "x-origin-verify"
logger = logging.getLogger(__name__)


def _from_cloudfront(event: Any, settings: ApiSettings) -> bool:
    if not settings.require_origin_secret:
        return True
    presented = (event.headers or {}).get(ORIGIN_HEADER, "")
    return hmac.compare_digest(presented.encode(), settings.origin_secret.encode())


def handle(event: Any, get_response: Callable[[Any], Response]) -> Response:
    started = time.monotonic()
    context = event.context or {}
    user = ((context.get("authorizer") or {}).get("claims") or {}).get("sub")
    with logs.bound(requestId=context.get("requestId"), owner=user):
        try:
            if _from_cloudfront(event, get_api_settings()):
                response = normalise_chalice_error(get_response(event))
            else:
                response = error_response(
                    403, "origin_forbidden", "requests must come through the Manabi Plus CloudFront distribution"
                )
        except Exception:  # e.g. a missing setting: logged in full, answered in our shape
            logger.exception("request failed before its view answered")
            response = error_response(500, "internal_error", INTERNAL_ERROR_MESSAGE)
        logger.info(
            "%s %s %s in %.1f ms",
            event.method,
            context.get("resourcePath") or event.path,
            response.status_code,
            (time.monotonic() - started) * 1000,
        )
    return response
