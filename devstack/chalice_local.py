"""What ``chalice local`` needs to serve Manabi Plus: the local stack's resources and API Gateway's
token checks. app.py calls ``attach()`` when the Chalice CLI imports it for ``chalice local``
(``chalicelib/functions/cli_hooks.py``); nothing here runs on Lambda.

- Started by ``make run`` (``devstack/local.py``), the environment names everything already,
  ``MANABI_LOCAL_AUTH`` included: only the token checks are installed.
- Started by hand (``chalice local``, with or without ``--stage local``) while ``make run`` is
  running, it serves the same API against that stack: emulator endpoint, region, resource
  names and user pool come from the stack's ``stack.json`` (``MANABI_STATE_DIR``, default
  ``.local/``), with the same token checks.
- With no local stack running it refuses to start, in one line that names ``make run``.
- Either way its connections send at once (``send_without_delay``), not after the client's
  delayed ACK.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import Any

from devstack.auth import AUTH_VARIABLE, TokenVerifier, UserPoolTokens, auth_environment, install
from devstack.state import DEFAULT_STATE_DIR, LOCAL_MAX_BYTES, alive, read_info, stage_environment

NO_STACK = (
    "chalice local: no local stack is running: start it with `make run` (it serves this API on "
    "http://127.0.0.1:8000 itself); a second `chalice local --port 8001` then serves the same stack"
)


def stack_environment(info: dict[str, Any]) -> dict[str, str]:
    """Everything the API reads, for a ``chalice local`` started by hand against a running stack."""

    return {
        **stage_environment(),
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",  # the emulator accepts any key
        "AWS_DEFAULT_REGION": info["region"],
        "AWS_ENDPOINT_URL": info["emulator"],
        "DATA_BUCKET": info["dataBucket"],
        "FILES_TABLE": info["filesTable"],
        "APP_BUCKET": info["appBucket"],
        "BACKUP_BUCKET": info["backupBucket"],
        "SCAN_STATE_MACHINE_ARN": info["stateMachineArn"],
        "ALERT_TOPIC_ARN": info["alertTopicArn"],
        "MAX_UPLOAD_BYTES": str(LOCAL_MAX_BYTES),
        "WEB_ORIGIN": info["web"].rstrip("/"),  # the stack's web app may call this API too
        **auth_environment(info),
    }


def running_stack() -> dict[str, Any] | None:
    info = read_info(Path(os.environ.get("MANABI_STATE_DIR") or DEFAULT_STATE_DIR))
    return info if info and alive(int(info.get("pid", 0))) else None


def send_without_delay() -> None:
    """``chalice local`` writes a response's headers and body in two sends; with Nagle's algorithm
    the body then waits for the client's delayed ACK of the headers, ~40 ms on Linux, on every
    request (tests/unit/test_local_servers.py). ``TCP_NODELAY`` on each connection sends it at once."""
    from chalice.local import ChaliceRequestHandler

    ChaliceRequestHandler.disable_nagle_algorithm = True


def attach() -> None:
    send_without_delay()
    if AUTH_VARIABLE not in os.environ:
        info = running_stack()
        if info is None:
            print(NO_STACK, file=sys.stderr, flush=True)
            if threading.current_thread() is not threading.main_thread():
                os._exit(1)  # the auto-reloading worker builds its server in a thread: end the process
            raise SystemExit(1)
        os.environ.update(stack_environment(info))
        os.environ.pop("AWS_PROFILE", None)
    install(TokenVerifier(UserPoolTokens.from_json(os.environ[AUTH_VARIABLE])))
