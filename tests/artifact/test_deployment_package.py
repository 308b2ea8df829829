"""The artifact, not the checkout (issue #11): the deployment.zip `chalice package` builds is
unpacked into a clean directory and run by a Python that has only what the Lambda runtime has
(boto3 and botocore, tests/artifact/lambda-runtime.txt) — every handler imported, and invoked
against the emulator (moto's server) with the environment the packaged template gives it.

A dependency missing from requirements.txt (cvdupdate!), or a module only the development venv
has (moto, pytest, PyYAML, ...), fails here. What this does not show: Lambda's own bootstrap
and sandbox, IAM (the emulator does not enforce it here), and the scanner image (built from the
same requirements.txt and chalicelib/, but with Debian's Python; only its handler's import is
checked, from the zip's copy of chalicelib/).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from devstack.definitions_mirror import DefinitionsMirror
from devstack.local import free_port
from devstack.resources import create_bucket, create_main_stack, create_user_pool
from devstack.templates import INFRA, ROOT, TemplateContext
from tests.infra.seed import packaged

HERE = Path(__file__).resolve().parent
RUNTIME_REQUIREMENTS = HERE / "lambda-runtime.txt"
REGION = "ap-northeast-1"
STAGE = "stag"
DOMAIN = "example.jp"
ORIGIN_SECRET = "s" * 48
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "artifact", "AWS_SECRET_ACCESS_KEY": "artifact"}  # the emulator accepts any key

# Runs inside the runtime venv, in the unpacked package, like Lambda's bootstrap: the task root
# first on sys.path, then the runtime's own packages; no PYTHONPATH, no user site (-I).
RUNNER = r"""
import importlib, json, sys, types
task_root, handler, payload = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.insert(0, task_root)
module_name, function_name = handler.rsplit(".", 1)
function = getattr(importlib.import_module(module_name), function_name)
if payload == "--import-only":
    print(json.dumps({"imported": handler}))
    sys.exit(0)
context = types.SimpleNamespace(
    function_name="artifact-test", function_version="$LATEST", memory_limit_in_mb=128,
    invoked_function_arn="arn:aws:lambda:ap-northeast-1:123456789012:function:artifact-test",
    aws_request_id="00000000-0000-0000-0000-000000000000", log_group_name="/aws/lambda/artifact-test",
    log_stream_name="artifact", get_remaining_time_in_millis=lambda: 30000,
)
print(json.dumps(function(json.loads(payload), context), default=str))
"""


def scanner_handler() -> str:
    """The scanner's handler, from the one place it is written: the image's CMD."""
    dockerfile = (INFRA / "scanner" / "Dockerfile").read_text(encoding="utf-8")
    (handler,) = re.findall(r'^CMD \["([\w.]+)"\]$', dockerfile, re.MULTILINE)
    return handler


@pytest.fixture(scope="module")
def runtime_python() -> Path:
    """A venv with only the Lambda runtime's SDK, cached under build/ by its requirements."""
    digest = hashlib.sha256(RUNTIME_REQUIREMENTS.read_bytes()).hexdigest()[:12]
    venv = ROOT / "build" / f"lambda-runtime-{digest}"
    python = venv / "bin" / "python"
    if not (venv / ".ready").exists():
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
                str(RUNTIME_REQUIREMENTS),
            ],
            check=True,
            stderr=subprocess.DEVNULL,
        )
        (venv / ".ready").write_text(digest, encoding="utf-8")
    return python


@pytest.fixture(scope="module")
def task_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """deployment.zip as `chalice package --stage stag` built it, unpacked."""
    packaged(STAGE)
    root = tmp_path_factory.mktemp("task")
    with zipfile.ZipFile(ROOT / "build" / STAGE / "package" / "deployment.zip") as archive:
        archive.extractall(root)
    return root


class Emulator:
    """moto's server in a child process, and clients of it for this test process."""

    def __init__(self, port: int) -> None:
        self.endpoint = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=1).close()  # noqa: S310 - loopback
                break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    raise RuntimeError("moto's server did not start") from None
                time.sleep(0.1)

    def client(self, service: str, region_name: str = REGION, **_: Any) -> Any:
        return boto3.client(
            service,
            region_name=region_name,
            endpoint_url=self.endpoint,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def resource(self, service: str, region_name: str = REGION) -> Any:
        return boto3.resource(
            service,
            region_name=region_name,
            endpoint_url=self.endpoint,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    server = Emulator(free_port())
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def stack(emulator: Emulator) -> TemplateContext:
    """The stag stack's resources the functions touch, created in the emulator from the templates;
    returns a context of the packaged template that resolves to them."""
    main = create_main_stack(emulator, stage=STAGE, region=REGION)
    for bucket in ("AppBucket", "BackupBucket"):
        create_bucket(emulator.client("s3"), main.context, bucket)
    create_user_pool(emulator.client("cognito-idp"), main.context)
    secret = emulator.client("secretsmanager").create_secret(
        Name=f"{STAGE}-manabiplus-origin-verify", SecretString=ORIGIN_SECRET
    )
    context = TemplateContext(packaged(STAGE), {"Stage": STAGE, "DomainName": DOMAIN})
    context.refs.update(main.context.refs)
    context.attributes.update(main.context.attributes)
    context.refs["OriginVerifySecret"] = secret["ARN"]
    return context


def environment(stack: TemplateContext, function: str, emulator: Emulator, **overrides: str) -> dict[str, str]:
    """The function's environment as the packaged template sets it, pointed at the emulator."""
    variables = stack.resolve(stack.resource(function)["Properties"].get("Environment", {}).get("Variables", {}))
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        **CREDENTIALS,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ENDPOINT_URL": emulator.endpoint,
        "AWS_LAMBDA_FUNCTION_NAME": function,
        **{name: str(value) for name, value in variables.items()},
        **overrides,
    }


def invoke(python: Path, root: Path, handler: str, payload: Any, env: dict[str, str]) -> Any:
    argument = payload if isinstance(payload, str) else json.dumps(payload)
    result = subprocess.run(
        [str(python), "-I", "-c", RUNNER, str(root), handler, argument],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"{handler}:\n{result.stderr[-3000:]}"
    return json.loads(result.stdout.strip().splitlines()[-1])


def handlers() -> dict[str, str]:
    """Logical id -> handler of every function in the packaged template."""
    return {
        logical_id: resource["Properties"]["Handler"]
        for logical_id, resource in packaged(STAGE)["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


# ------------------------------------------------------------------ every handler imports
def test_the_runtime_venv_has_only_the_sdk(runtime_python: Path) -> None:
    listed = subprocess.run(
        [str(runtime_python), "-m", "pip", "list", "--format=json", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        check=True,
    )
    names = {package["name"].lower() for package in json.loads(listed.stdout)}
    assert names - {"pip", "setuptools"} == {
        "boto3",
        "botocore",
        "jmespath",
        "python-dateutil",
        "s3transfer",
        "six",
        "urllib3",
    }


@pytest.mark.parametrize("function", sorted(handlers()))
def test_every_handler_in_the_package_imports_with_only_the_runtimes_sdk(
    runtime_python: Path, task_root: Path, function: str, stack: TemplateContext, emulator: Emulator
) -> None:
    env = environment(stack, function, emulator)
    assert invoke(runtime_python, task_root, handlers()[function], "--import-only", env) == {
        "imported": handlers()[function]
    }


def test_the_scanner_handler_imports_from_the_packaged_chalicelib(runtime_python: Path, task_root: Path) -> None:
    env = {"PATH": os.environ.get("PATH", ""), **CREDENTIALS, "AWS_DEFAULT_REGION": REGION}
    assert invoke(runtime_python, task_root, scanner_handler(), "--import-only", env)["imported"] == scanner_handler()


def test_the_official_definitions_source_is_in_the_package(runtime_python: Path, task_root: Path) -> None:
    """DEFINITIONS_SOURCE=official imports cvdupdate when it runs; without it every update fails."""
    env = {"PATH": os.environ.get("PATH", ""), **CREDENTIALS, "AWS_DEFAULT_REGION": REGION}
    assert invoke(runtime_python, task_root, "cvdupdate.cvdupdate.CVDUpdate", "--import-only", env)


# ------------------------------------------------------------------ and runs against the emulator
def api_event(method: str, path: str, claims: dict[str, str] | None = None, body: Any = None) -> dict[str, Any]:
    """An API Gateway (REST, proxy) event as the API distribution delivers it."""
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": {
            "Host": f"api.{STAGE}.{DOMAIN}",
            "Origin": f"https://{STAGE}.{DOMAIN}",
            "Content-Type": "application/json",
            "x-origin-verify": ORIGIN_SECRET,
        },
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": path,
            "httpMethod": method,
            "path": f"/api{path}",
            "stage": "api",
            "requestId": str(uuid.uuid4()),
            "identity": {"sourceIp": "192.0.2.10"},
            "authorizer": {"claims": claims} if claims else None,
        },
        "body": json.dumps(body) if body is not None else None,
        "isBase64Encoded": False,
    }


def test_the_api_answers_with_the_stages_cors_origin(
    runtime_python: Path, task_root: Path, stack: TemplateContext, emulator: Emulator
) -> None:
    env = environment(stack, "APIHandler", emulator)
    response = invoke(runtime_python, task_root, "app.app", api_event("GET", "/health"), env)
    assert response["statusCode"] == 200, response
    headers = {name.lower(): value for name, value in response["headers"].items()}
    assert headers["access-control-allow-origin"] == f"https://{STAGE}.{DOMAIN}"


def test_the_api_reads_and_writes_the_stacks_table_and_bucket(
    runtime_python: Path, task_root: Path, stack: TemplateContext, emulator: Emulator
) -> None:
    env = environment(stack, "APIHandler", emulator)
    claims = {"sub": "artifact-learner", "email": "hanako@example.jp", "cognito:username": "hanako"}
    me = invoke(runtime_python, task_root, "app.app", api_event("GET", "/me", claims), env)
    assert me["statusCode"] == 200, me
    profiles = emulator.resource("dynamodb").Table(env["PROFILES_TABLE"])
    assert profiles.get_item(Key={"userSub": "artifact-learner"}).get("Item")
    upload = invoke(
        runtime_python,
        task_root,
        "app.app",
        api_event("POST", "/files", claims, {"name": "宿題.txt", "size": 12, "contentType": "text/plain"}),
        env,
    )
    assert upload["statusCode"] in {200, 201}, upload
    assert env["DATA_BUCKET"] in upload["body"]


def test_an_upload_event_starts_a_scan(
    runtime_python: Path, task_root: Path, stack: TemplateContext, emulator: Emulator
) -> None:
    env = environment(stack, "OnObjectCreated", emulator)
    event = json.loads((ROOT / "tests" / "events" / "object-created.json").read_text(encoding="utf-8"))
    event["resources"] = [f"arn:aws:s3:::{env['DATA_BUCKET']}"]
    event["detail"]["bucket"]["name"] = env["DATA_BUCKET"]
    invoke(runtime_python, task_root, handlers()["OnObjectCreated"], event, env)
    executions = emulator.client("stepfunctions").list_executions(stateMachineArn=env["SCAN_STATE_MACHINE_ARN"])
    assert executions["executions"]


def scheduled_event() -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-12-01T18:00:00Z",
        "region": REGION,
        "resources": ["arn:aws:events:ap-northeast-1:123456789012:rule/artifact"],
        "detail": {},
    }


def test_the_definitions_updater_publishes_from_a_mirror(
    runtime_python: Path,
    task_root: Path,
    stack: TemplateContext,
    emulator: Emulator,
    tmp_path: Path,
) -> None:
    mirror = DefinitionsMirror(tmp_path / "mirror").start()
    try:
        mirror.release()
        env = environment(stack, "UpdateDefinitions", emulator, DEFINITIONS_SOURCE=mirror.url)
        invoke(runtime_python, task_root, handlers()["UpdateDefinitions"], scheduled_event(), env)
    finally:
        mirror.stop()
    manifest = emulator.client("s3").get_object(Bucket=env["APP_BUCKET"], Key="clamav/manifest.json")
    assert json.loads(manifest["Body"].read())["version"]


@pytest.mark.parametrize("function", ["SweepStuckUploads", "BackupData"])
def test_the_scheduled_jobs_run(
    runtime_python: Path, task_root: Path, stack: TemplateContext, emulator: Emulator, function: str
) -> None:
    env = environment(stack, function, emulator)
    result = invoke(runtime_python, task_root, handlers()[function], scheduled_event(), env)
    assert isinstance(result, dict)


def test_the_canary_uploads_and_reports_from_the_package(
    runtime_python: Path, task_root: Path, stack: TemplateContext, emulator: Emulator
) -> None:
    """The canary's presigned POST, record and metric work with only the runtime's SDK. No scanner
    runs here, so no verdict comes: the report fails, and says so, and the metric says 0."""
    env = environment(stack, "ScanCanary", emulator, CANARY_VERDICT_TIMEOUT_SECONDS="2")
    report = invoke(runtime_python, task_root, handlers()["ScanCanary"], scheduled_event(), env)
    steps = {step["name"]: step for step in report["steps"]}
    assert steps["upload EICAR and a clean file (presigned POST)"]["ok"] is True, report
    assert report["passed"] is False
    assert steps["delete both objects and records"]["ok"] is True, report
    metrics = emulator.client("cloudwatch").list_metrics(Namespace="ManabiPlus/Canary")["Metrics"]
    assert {metric["MetricName"] for metric in metrics} >= {"CanaryPassed"}


def test_the_tracing_sdk_is_in_the_package(runtime_python: Path, task_root: Path) -> None:
    """aws-xray-sdk is imported lazily (tracing.configure): its absence would only silence traces."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
    assert invoke(runtime_python, task_root, "aws_xray_sdk.core.patch_all", "--import-only", env)
