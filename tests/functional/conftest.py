"""The scan pipeline under moto: real state machine file, real clamd, in-process scanner.

Every test with the emulator runs each function's code as that function's IAM role, with
exactly its policy from the packaged template (``iam``, tests/support/iam.py): a denied call or
a function calling with someone else's credentials fails the test.
"""

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
from tests.infra.seed import packaged
from tests.support.api import Api
from tests.support.iam import PACKAGED_STAGE, IamHarness, enforced
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


@pytest.fixture(autouse=True)
def iam(request: pytest.FixtureRequest) -> Iterator[IamHarness | None]:
    """With the emulator: the stack and every function's role, enforced (tests/support/iam.py).
    Denials fail the test unless it takes them (``iam.take_denials()``)."""
    if "aws" not in request.fixturenames:
        yield None
        return
    aws, stack = request.getfixturevalue("aws"), request.getfixturevalue("stack")
    with enforced(aws, stack, packaged(PACKAGED_STAGE)) as harness:
        yield harness
        assert harness.errors == [], harness.errors
        assert [str(denial) for denial in harness.denials] == []


@pytest.fixture
def api(aws: boto3.Session, stack: MainStack) -> Iterator[Api]:
    """The REST API through Chalice's test client, on the local stage's resources (as the API
    function's role: tests/support/iam.py)."""
    with Client(app, stage_name="local") as client:
        yield Api(client)


@pytest.fixture
def bridge(stack: MainStack, clamd: ClamdProcess, iam: IamHarness) -> Iterator[LambdaBridge]:
    """Scanner invocations from the state machine go to the real handler and the real clamd."""
    scanner = build_scanner(scanner_settings(clamd.address, str(clamd.database_dir)), iam.client("scanner", "s3"))
    with LambdaBridge() as lambda_bridge:
        lambda_bridge.register(
            stack.scanner_function_arn, iam.handler("scanner", lambda event, context: handle_scan(event, scanner))
        )
        yield lambda_bridge


@pytest.fixture
def pipeline(aws: boto3.Session, stack: MainStack, bridge: LambdaBridge, iam: IamHarness) -> Iterator[Pipeline]:
    with Client(app, stage_name="local") as chalice:
        yield Pipeline(aws, stack, chalice, api_s3=iam.client("api_handler", "s3"))


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
def update(stack: MainStack, app_bucket: str, mirror: DefinitionsMirror, iam: IamHarness) -> Any:
    """The definitions updater, as its function's role."""
    settings = DefinitionsUpdateSettings(mirror.url, app_bucket, "clamav/", stack.alert_topic_arn)
    s3, sns = iam.client("update_definitions", "s3"), iam.client("update_definitions", "sns")

    def run() -> Any:
        with iam.running("update_definitions"):
            return build_definitions_updater(settings, s3, sns).run()

    return run


@pytest.fixture
def runtime_scanner(app_bucket: str, tmp_path: Path, iam: IamHarness) -> Iterator[Any]:
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
        s3 = iam.client("scanner", "s3")
        runtimes.append(build_runtime(settings, s3))
        return build_scanner(settings, s3, runtimes[-1])

    yield build
    for runtime in runtimes:
        runtime.stop()
