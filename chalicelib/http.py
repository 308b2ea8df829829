"""HTTP middleware: the CloudFront origin check, JSON error shape, one structured log line."""

from __future__ import annotations

import hmac
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from chalice import Response

from chalicelib.config import ApiSettings
from chalicelib.errors import error_response, normalise_chalice_error

ORIGIN_HEADER = "x-origin-verify"
logger = logging.getLogger("manabiplus.http")


def _from_cloudfront(event: Any, settings: ApiSettings) -> bool:
    if not settings.require_origin_secret:
        return True
    presented = (event.headers or {}).get(ORIGIN_HEADER, "")
    return hmac.compare_digest(presented.encode(), settings.origin_secret.encode())


def handle(event: Any, get_response: Callable[[Any], Response]) -> Response:
    started = time.monotonic()
    settings = ApiSettings.from_env()
    if _from_cloudfront(event, settings):
        response = normalise_chalice_error(get_response(event))
    else:
        response = error_response(
            403, "origin_forbidden", "requests must come through the Manabi Plus CloudFront distribution"
        )
    context = event.context or {}
    logger.info(
        json.dumps(
            {
                "message": "request",
                "requestId": context.get("requestId"),
                "method": event.method,
                "path": context.get("resourcePath") or event.path,
                "status": response.status_code,
                "durationMs": round((time.monotonic() - started) * 1000, 1),
                "user": ((context.get("authorizer") or {}).get("claims") or {}).get("sub"),
            },
            ensure_ascii=False,
        )
    )
    return response
