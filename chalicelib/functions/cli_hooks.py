"""What app.py does when the Chalice CLI, not Lambda, imports it.

The CLI sets ``AWS_CHALICE_CLI_MODE=true`` (Chalice's documented way to tell) and imports app.py
inside the command that needs it, so click's current context names the command (or, for the
auto-reloading worker of ``chalice local``, ``CHALICE_WORKER`` is set):
- ``chalice local`` serves the local stack's API with API Gateway's token checks, or refuses
  to start in one line when no local stack is running (``devstack/chalice_local.py``, which is
  not deployed and never imported on Lambda);
- ``chalice deploy`` without AWS credentials stops in one line instead of an 86-line traceback.
Anywhere else (Lambda, tests, ``chalice package``) this does nothing.
"""

from __future__ import annotations

import os
import sys


def chalice_command() -> str | None:
    """The Chalice CLI command importing the app (``local``, ``deploy``, …), else None."""
    if os.environ.get("AWS_CHALICE_CLI_MODE") != "true":
        return None
    try:
        import click
    except ImportError:  # not the Chalice CLI after all
        return None
    context = click.get_current_context(silent=True)
    if context is not None:
        return context.info_name
    # `chalice local`'s auto-reloading worker (CHALICE_WORKER) builds its server in a thread,
    # outside click's context.
    return "local" if os.environ.get("CHALICE_WORKER") else None


def require_credentials(profile: str | None) -> None:
    import boto3
    from botocore.exceptions import BotoCoreError

    try:
        credentials = boto3.Session(profile_name=profile).get_credentials()
    except BotoCoreError as error:
        credentials, problem = None, str(error)
    else:
        problem = "no AWS credentials were found"
    if credentials is None:
        print(
            f"chalice deploy: {problem}: configure them (aws configure, AWS_PROFILE, aws sso login) and retry, "
            "or run `make deploy STAGE=stag DRY_RUN=1` to see every step of a deployment (docs/DEPLOY.md)",
            file=sys.stderr,
        )
        raise SystemExit(1)


def attach() -> None:
    command = chalice_command()
    if command == "local":
        from devstack.chalice_local import attach as serve_the_local_stack

        serve_the_local_stack()
    elif command == "deploy":
        import click

        require_credentials(click.get_current_context().params.get("profile"))
