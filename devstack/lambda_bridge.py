"""Run Lambda functions in-process under moto, which cannot run them without Docker.

moto's Step Functions executor invokes Lambda through the emulator's Invoke API. With
``lambda.use_docker = false`` that lands in ``LambdaSimpleBackend.invoke``, which runs no code.
This bridge routes invocations of registered functions to Python handlers instead, and
reports a raised exception the way Lambda does (``X-Amz-Function-Error`` plus
``{"errorType", "errorMessage"}``), so Retry/Catch on error names behave as on AWS.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from moto.awslambda_simple.models import LambdaSimpleBackend

logger = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], Any], Any]

MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}


def function_name(name_or_arn: str) -> str:
    """``arn:aws:lambda:r:a:function:name[:qualifier]`` or ``name[:qualifier]`` → ``name``."""
    if name_or_arn.startswith("arn:"):
        return name_or_arn.split(":")[6]
    return name_or_arn.split(":", 1)[0]


class LambdaBridge:
    """Maps function names to handlers while installed (a context manager)."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}
        self._original: Callable[..., Any] | None = None
        self._lock = threading.Lock()

    def register(self, name_or_arn: str, handler: Handler) -> None:
        self._handlers[function_name(name_or_arn)] = handler

    def invoke(self, name_or_arn: str, body: Any, response_headers: dict[str, str]) -> bytes | None:
        handler = self._handlers.get(function_name(name_or_arn))
        if handler is None:
            return None
        raw = body.decode("utf-8") if isinstance(body, bytes) else (body or "{}")
        try:
            result = handler(json.loads(raw or "{}"), None)
        except Exception as error:  # noqa: BLE001 - reported to the caller like Lambda does
            logger.info("%s raised %s: %s", function_name(name_or_arn), type(error).__name__, error)
            response_headers["x-amz-function-error"] = "Unhandled"
            result = {"errorType": type(error).__name__, "errorMessage": str(error)}
        return json.dumps(result).encode("utf-8")

    def install(self) -> LambdaBridge:
        with self._lock:
            if self._original is not None:
                return self
            original = LambdaSimpleBackend.invoke
            bridge = self

            def invoke(
                backend: LambdaSimpleBackend,
                name: str,
                qualifier: Any,
                body: Any,
                headers: Any,
                response_headers: dict[str, str],
            ) -> Any:
                routed = bridge.invoke(name, body, response_headers)
                if routed is None:
                    return original(backend, name, qualifier, body, headers, response_headers)
                return routed

            self._original = original
            LambdaSimpleBackend.invoke = invoke  # type: ignore[method-assign,assignment]
        return self

    def uninstall(self) -> None:
        with self._lock:
            if self._original is not None:
                LambdaSimpleBackend.invoke = self._original  # type: ignore[method-assign]
                self._original = None

    def __enter__(self) -> LambdaBridge:
        return self.install()

    def __exit__(self, *exc_info: object) -> None:
        self.uninstall()
