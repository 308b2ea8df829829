"""The local stack's own AWS requests reach moto in this process, not over loopback HTTP.

Everything in the stack's process — the upload handler, the scanner, the scheduled functions,
moto's Step Functions executor and the event path's queue poller — calls the emulator that runs
in the same process. Over HTTP each of those requests costs the sender urllib3 and http.client,
and moto's server werkzeug and Flask, all under the process's one GIL (docs/PERFORMANCE.md, "The
CPU left per upload"). ``InProcessDispatch`` answers them the way moto's own in-process mock
(``mock_aws``) does: botocore's ``before-send`` hook hands the signed request to moto's request
router (``botocore_stubber.process_request``), which calls the same response handler moto's
server would have called, against the same backends. Only the transport changes.

What is routed: requests to the emulator's own endpoint (``127.0.0.1:port`` or
``localhost:port``) that carry a SigV4 signature; the signature's credential scope names the
service and region, which is how moto's server picks the backend for such a request too.
Everything else — the API process, the learners' browsers, the CLI, unsigned requests, other
endpoints — still goes over HTTP.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import Counter
from typing import Any
from urllib.parse import urlsplit, urlunsplit

logger = logging.getLogger("devstack.in_process")

# Authorization: AWS4-HMAC-SHA256 Credential=<key>/<date>/<region>/<service>/aws4_request, …
CREDENTIAL_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/(?P<region>[a-z0-9-]+)/(?P<service>[a-z0-9-]+)/aws4_request")


class InProcessDispatch:
    """A ``before-send`` handler for every botocore session this process creates while installed.

    ``routed`` counts the requests answered in-process, per service (the tests read it)."""

    def __init__(self, endpoint: str) -> None:
        parts = urlsplit(endpoint)
        if not parts.port:
            raise ValueError(f"the emulator endpoint needs a port: {endpoint}")
        self._netlocs = {f"127.0.0.1:{parts.port}", f"localhost:{parts.port}"}
        self._installed = False
        self._lock = threading.Lock()
        self.routed: Counter[str] = Counter()

    def install(self) -> InProcessDispatch:
        import boto3
        from botocore import handlers

        with self._lock:
            if not self._installed:
                handlers.BUILTIN_HANDLERS.append(("before-send", self))
                # Sessions register the built-in handlers when they are created: a new default
                # session for the clients made from now on (earlier clients keep using HTTP).
                boto3.DEFAULT_SESSION = None
                self._installed = True
        return self

    def uninstall(self) -> None:
        from botocore import handlers

        with self._lock:
            if self._installed:
                handlers.BUILTIN_HANDLERS.remove(("before-send", self))
                self._installed = False

    def __enter__(self) -> InProcessDispatch:
        return self.install()

    def __exit__(self, *exc_info: object) -> None:
        self.uninstall()

    def __call__(self, request: Any, **kwargs: Any) -> Any:
        if not self._installed:
            return None  # sessions made while installed keep the handler after uninstall
        parts = urlsplit(request.url)
        authorization = request.headers.get("Authorization") or ""
        if isinstance(authorization, bytes):
            authorization = authorization.decode("ascii", "replace")
        scope = CREDENTIAL_SCOPE.search(authorization)
        if parts.netloc not in self._netlocs or scope is None:
            return None  # not for this emulator, or unsigned: over HTTP as before
        return self._answer(request, parts, scope["service"], scope["region"])

    def _answer(self, request: Any, parts: Any, service: str, region: str) -> Any:
        from botocore.awsrequest import AWSPreparedRequest, AWSResponse
        from moto.core.botocore_stubber import MockRawResponse
        from moto.core.models import botocore_stubber

        # The AWS host moto's router matches the service by; paths (S3's path-style bucket and
        # key, SQS queue URLs) and query strings stay as they are.
        url = urlunsplit(("https", f"{service}.{region}.amazonaws.com", parts.path, parts.query, ""))
        routed = AWSPreparedRequest(
            method=request.method,
            url=url,
            headers=request.headers,
            body=request.body,
            stream_output=request.stream_output,
        )
        try:
            answer = botocore_stubber.process_request(routed)
        except Exception:
            logger.exception("the emulator failed on %s %s", request.method, url)
            answer = (500, {}, b"")
        if answer is None:
            return None  # moto has no route for it: let its server answer (or not) over HTTP
        with self._lock:
            self.routed[service] += 1
        status, headers, body = answer
        return AWSResponse(request.url, status, headers, MockRawResponse(body))
