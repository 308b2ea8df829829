"""The scan pipeline under moto: real state machine file, real clamd, in-process scanner."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from chalice.test import Client
from moto import mock_aws

from app import app
from chalicelib.clamav.runtime import ScannerRuntime
from chalicelib.config import DefinitionsUpdateSettings, ScannerSettings
from chalicelib.functions.scanner import handle_scan
from chalicelib.scanning.scanner import ObjectScanner
from chalicelib.wiring import build_definitions_updater, build_runtime, build_scanner
from devstack.clamd import ClamdProcess
from devstack.definitions_mirror import DefinitionsMirror
from devstack.lambda_bridge import MOTO_CONFIG, LambdaBridge
from devstack.resources import MainStack, create_bucket, create_main_stack
from tests.support.limits import MIB
from tests.support.pipeline import REGION, AlertInbox, Pipeline, scanner_settings


@pytest.fixture
def aws() -> Iterator[boto3.Session]:
    with mock_aws(config=MOTO_CONFIG):  # type: ignore[arg-type]
        session = boto3.Session(region_name=REGION)
        yield session
        # moto runs executions in threads: one still running would publish its alerts into the
        # next test's emulator. Let them finish inside this test.
        drain_executions(session.client("stepfunctions", region_name=REGION))


def drain_executions(sfn: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    for machine in sfn.list_state_machines()["stateMachines"]:
        arn = machine["stateMachineArn"]
        while sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")["executions"]:
            if time.monotonic() > deadline:
                return
            time.sleep(0.05)


@pytest.fixture
def stack(aws: boto3.Session) -> MainStack:
    return create_main_stack(aws, stage="local", region=REGION)


@pytest.fixture
def bridge(aws: boto3.Session, stack: MainStack, clamd: ClamdProcess) -> Iterator[LambdaBridge]:
    """Scanner invocations from the state machine go to the real handler and the real clamd."""
    scanner = build_scanner(
        scanner_settings(clamd.address, str(clamd.database_dir)), aws.client("s3", region_name=REGION)
    )
    with LambdaBridge() as lambda_bridge:
        lambda_bridge.register(stack.scanner_function_arn, lambda event, context: handle_scan(event, scanner))
        yield lambda_bridge


@pytest.fixture
def pipeline(aws: boto3.Session, stack: MainStack, bridge: LambdaBridge) -> Iterator[Pipeline]:
    with Client(app, stage_name="local") as chalice:
        yield Pipeline(aws, stack, chalice)


@pytest.fixture
def alerts(aws: boto3.Session, stack: MainStack) -> AlertInbox:
    return AlertInbox(aws, stack.alert_topic_arn)


@pytest.fixture
def app_bucket(aws: boto3.Session, stack: MainStack) -> str:
    return create_bucket(aws.client("s3", region_name=REGION), stack.context, "AppBucket")


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[DefinitionsMirror]:
    with DefinitionsMirror(tmp_path / "mirror") as running:
        yield running


@pytest.fixture
def update(aws: boto3.Session, stack: MainStack, app_bucket: str, mirror: DefinitionsMirror) -> Any:
    settings = DefinitionsUpdateSettings(mirror.url, app_bucket, "clamav/", stack.alert_topic_arn)
    s3, sns = aws.client("s3", region_name=REGION), aws.client("sns", region_name=REGION)
    return lambda: build_definitions_updater(settings, s3, sns).run()


@pytest.fixture
def runtime_scanner(aws: boto3.Session, app_bucket: str, tmp_path: Path) -> Iterator[Any]:
    """Builds scanners that run their own clamd from the published definitions (as on Lambda)."""
    runtimes: list[ScannerRuntime] = []

    def build(hours: float = 48.0) -> ObjectScanner:
        settings = ScannerSettings(
            clamd_address="",
            clamd_timeout_seconds=30.0,
            max_scan_bytes=16 * MIB,
            database_dir="",
            max_definitions_age_hours=hours,
            definitions_bucket=app_bucket,
            clamd_workdir=str(tmp_path / "clamd"),
            definitions_check_seconds=0.0,
        )
        s3 = aws.client("s3", region_name=REGION)
        runtimes.append(build_runtime(settings, s3))
        return build_scanner(settings, s3, runtimes[-1])

    yield build
    for runtime in runtimes:
        runtime.stop()
