"""``manabi canary`` against the local stack: the scheduled canary's code, run here against the
emulator (the local stack's own scheduler runs it hourly too). Its presigned POSTs go over HTTP
to the emulator, whose S3 → EventBridge → SQS path reaches the local stack's upload handler."""

from __future__ import annotations

import sys
from typing import Any

from manabi_cli.api import ROOT, Target


def run_local_canary(target: Target) -> dict[str, Any]:
    # The local stack runs from the checkout; so does its canary (the CLI package ships only
    # manabi_cli).
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from chalicelib.config import CanarySettings
    from chalicelib.wiring import build_canary

    stack = target.local_stack()
    settings = CanarySettings(
        data_bucket=stack["dataBucket"],
        files_table=stack["filesTable"],
        stage="local",
        verdict_timeout_seconds=120.0,
        expect_access_denied=False,  # the emulator does not enforce bucket policies
    )
    table = target.aws("dynamodb", resource=True).Table(settings.files_table)
    canary = build_canary(settings, target.aws("s3"), table, target.aws("cloudwatch"))
    return canary.run().to_dict()
