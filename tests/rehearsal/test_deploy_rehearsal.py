"""The deploy rehearsal (issue #11): `make deploy` end to end with the real AWS CLI against the
emulator — moto's server on a free port, with the SAM transform and the few CloudFormation
behaviours moto lacks added (tests/rehearsal/emulator.py).

Every stack in order, each stack's outputs into the next one's parameters, the Chalice app
packaged and uploaded through the artifacts bucket, the main template through S3 (it is over
51,200 bytes), deletion protection switched on after the first create; then a second run that
changes nothing. Only the scanner image is not built (no image builder here): SKIP_IMAGE_BUILD.

What it proves and what it cannot: docs/DEPLOY.md, "The deploy rehearsal". In short: the
resource types moto does not implement are placeholders that create nothing (their list is
checked below, so a new one is noticed); IAM is not enforced; nothing is validated against
AWS's service rules beyond what moto and the CLI check.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from devstack.local import free_port
from devstack.templates import ROOT
from tests.infra.test_seed_deploy import stack_deploys
from tests.rehearsal.emulator import NOT_EMULATED_TYPES

CLI_REQUIREMENTS = ROOT / "requirements-awscli.txt"
DOMAIN = "rehearsal.example.jp"
IMAGE_TAG = "rehearsal"
REGIONS = {
    "zone": "us-east-1",
    "edge": "us-east-1",
    "dr": "ap-northeast-3",
    "bootstrap": "ap-northeast-1",
    "main": "ap-northeast-1",
}
REPORT = ROOT / "build" / "rehearsal" / "report.json"

# What the rehearsal stands in for instead of creating (stack part -> types); docs/DEPLOY.md
# lists the same. A type appearing or disappearing here is a change in what is rehearsed.
EXPECTED_PLACEHOLDERS = {
    "zone": set(),
    "edge": {
        "AWS::CertificateManager::Certificate",
        "AWS::KinesisFirehose::DeliveryStream",
        "AWS::Logs::LogStream",
        "AWS::ResourceGroups::Group",
        "AWS::WAFv2::LoggingConfiguration",
        "AWS::WAFv2::WebACL",
    },
    "dr": {"AWS::S3::BucketPolicy", "AWS::ResourceGroups::Group"},
    "bootstrap": {"AWS::S3::BucketPolicy"},
    "main": set(NOT_EMULATED_TYPES)
    - {
        "AWS::CertificateManager::Certificate",
        "AWS::KinesisFirehose::DeliveryStream",
        "AWS::Logs::LogStream",
        "AWS::WAFv2::LoggingConfiguration",
    },
}


@pytest.fixture(scope="module")
def aws_cli() -> Path:
    """The real AWS CLI (PyPI awscli) in its own venv under build/, cached by its requirements."""
    digest = hashlib.sha256(CLI_REQUIREMENTS.read_bytes()).hexdigest()[:12]
    venv = ROOT / "build" / f"awscli-{digest}"
    if not (venv / ".ready").exists():
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [
                str(venv / "bin" / "pip"),
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
                str(CLI_REQUIREMENTS),
            ],
            check=True,
            stderr=subprocess.DEVNULL,
        )
        (venv / ".ready").write_text(digest, encoding="utf-8")
    return venv / "bin"


class Rehearsal:
    """The emulator in a child process, and `make deploy` runs against it."""

    def __init__(self, cli: Path, workdir: Path) -> None:
        self.cli = cli
        self.workdir = workdir
        self.record = workdir / "not-emulated.jsonl"
        port = free_port()
        # "localhost", not 127.0.0.1: moto finds a template uploaded for `deploy --s3-bucket`
        # by parsing its URL, and reads a path-style URL only when its host says localhost.
        self.endpoint = f"http://localhost:{port}"
        self.log = (workdir / "emulator.log").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.rehearsal.emulator", "--port", str(port), "--record", str(self.record)],
            cwd=ROOT,
            env={**os.environ, "AWS_DEFAULT_REGION": "ap-northeast-1"},
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=1).close()  # noqa: S310 - loopback
                break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"the emulator did not start; see {workdir / 'emulator.log'}") from None
                time.sleep(0.2)
        config = workdir / "aws-config"
        config.write_text("[default]\nregion = ap-northeast-1\ns3 =\n  addressing_style = path\n", encoding="utf-8")
        clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        self.env = {
            **clean,
            "PATH": f"{cli}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "AWS_CONFIG_FILE": str(config),
            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
            "AWS_ACCESS_KEY_ID": "rehearsal",
            "AWS_SECRET_ACCESS_KEY": "rehearsal",
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_EC2_METADATA_DISABLED": "true",
            "DOMAIN_NAME": DOMAIN,
            "IMAGE_TAG": IMAGE_TAG,
            "ZONE_DELEGATED": "1",  # nobody can delegate a zone of the emulator
            "SKIP_IMAGE_BUILD": "1",  # no image builder here
        }

    def deploy(self, stage: str) -> tuple[subprocess.CompletedProcess[str], float]:
        started = time.monotonic()
        result = subprocess.run(
            ["make", "--no-print-directory", "deploy", f"STAGE={stage}"],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        seconds = time.monotonic() - started
        (self.workdir / f"deploy-{stage}-{int(started)}.log").write_text(
            result.stdout + result.stderr, encoding="utf-8"
        )
        return result, seconds

    def client(self, service: str, region: str = "ap-northeast-1") -> Any:
        return boto3.client(
            service,
            region_name=region,
            endpoint_url=self.endpoint,
            aws_access_key_id="rehearsal",
            aws_secret_access_key="rehearsal",
        )

    def stack(self, stage: str, part: str) -> dict[str, Any]:
        cloudformation = self.client("cloudformation", REGIONS[part])
        (stack,) = cloudformation.describe_stacks(StackName=f"{stage}-manabiplus-{part}")["Stacks"]
        return stack  # type: ignore[no-any-return]

    def placeholders(self) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        for line in self.record.read_text(encoding="utf-8").splitlines() if self.record.exists() else []:
            entry = json.loads(line)
            found.setdefault(entry["stack"].split("-manabiplus-")[1], set()).add(entry["type"])
        return found

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def outputs(stack: dict[str, Any]) -> dict[str, str]:
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


def parameters(stack: dict[str, Any]) -> dict[str, str]:
    return {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}


@pytest.fixture(scope="module")
def rehearsal(aws_cli: Path) -> Iterator[Rehearsal]:
    workdir = ROOT / "build" / "rehearsal"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    running = Rehearsal(aws_cli, workdir)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def first_run(rehearsal: Rehearsal) -> tuple[subprocess.CompletedProcess[str], float]:
    result, seconds = rehearsal.deploy("stag")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return result, seconds


def test_every_stack_is_deployed_in_order_with_the_real_cli(
    rehearsal: Rehearsal, first_run: tuple[subprocess.CompletedProcess[str], float]
) -> None:
    result, _ = first_run
    assert [stack for _, stack, _ in stack_deploys(result.stdout)] == [
        "stag-manabiplus-zone",
        "stag-manabiplus-edge",
        "stag-manabiplus-bootstrap",
        "stag-manabiplus-main",  # first create: deletion protection off
        "stag-manabiplus-main",  # then on
    ]
    assert "Successfully created/updated stack - stag-manabiplus-main" in result.stdout
    for part in ("zone", "edge", "bootstrap", "main"):
        assert rehearsal.stack("stag", part)["StackStatus"] in {"CREATE_COMPLETE", "UPDATE_COMPLETE"}, part


def test_each_stacks_outputs_reach_the_next_stacks_parameters(
    rehearsal: Rehearsal, first_run: tuple[subprocess.CompletedProcess[str], float]
) -> None:
    zone, edge = rehearsal.stack("stag", "zone"), rehearsal.stack("stag", "edge")
    bootstrap, main = rehearsal.stack("stag", "bootstrap"), rehearsal.stack("stag", "main")
    hosted_zones = rehearsal.client("route53", "us-east-1").list_hosted_zones()["HostedZones"]
    (created_zone,) = [z for z in hosted_zones if z["Name"].rstrip(".") == f"stag.{DOMAIN}"]
    assert outputs(zone)["HostedZoneId"] == created_zone["Id"].split("/")[-1]
    assert parameters(edge)["HostedZoneId"] == outputs(zone)["HostedZoneId"]
    main_parameters = parameters(main)
    assert main_parameters["HostedZoneId"] == outputs(zone)["HostedZoneId"]
    assert main_parameters["CertificateArn"] == outputs(edge)["CertificateArn"]
    assert main_parameters["WebAclArn"] == outputs(edge)["WebAclArn"]
    assert main_parameters["ScannerImageUri"] == f"{outputs(bootstrap)['ScannerRepositoryUri']}:{IMAGE_TAG}"
    assert main_parameters["TableDeletionProtection"] == "true"
    for needed in ("WebBucketName", "WebDistributionId", "WebOrigin", "ApiUrl", "UserPoolId", "UserPoolClientId"):
        assert needed in outputs(main), needed
    assert outputs(main)["WebOrigin"] == f"https://stag.{DOMAIN}"


def test_the_resources_moto_implements_exist_as_the_templates_name_them(
    rehearsal: Rehearsal, first_run: tuple[subprocess.CompletedProcess[str], float]
) -> None:
    s3 = rehearsal.client("s3")
    buckets = {bucket["Name"] for bucket in s3.list_buckets()["Buckets"]}
    for role in ("data", "web", "application", "backup", "log", "cloudtrail", "artifacts"):
        assert f"stag-manabiplus-{role}" in buckets, role
    # moto's bucket model keeps the name, encryption and tags only (versioning, CORS, lifecycle,
    # logging, replication are dropped): tests/infra checks those as data.
    encryption = s3.get_bucket_encryption(Bucket="stag-manabiplus-data")["ServerSideEncryptionConfiguration"]
    assert encryption["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    tables = rehearsal.client("dynamodb").list_tables()["TableNames"]
    assert {"stag-manabiplus-files", "stag-manabiplus-profiles"} <= set(tables)
    functions = {f["FunctionName"]: f for f in rehearsal.client("lambda").list_functions()["Functions"]}
    assert "stag-manabiplus-scanner" in functions
    assert functions["stag-manabiplus-scanner"]["MemorySize"] == 3072
    chalice = [name for name in functions if name.startswith("stag-manabiplus-main-")]
    assert len(chalice) == 6, sorted(functions)  # the API, the event handler, four schedules
    # The code is the deployment.zip `chalice package` built, uploaded by `cloudformation package`.
    package = (ROOT / "build" / "stag" / "package" / "deployment.zip").read_bytes()
    code_sha256 = base64.b64encode(hashlib.sha256(package).digest()).decode()
    for name in chalice:
        assert functions[name]["Runtime"] == "python3.11"
        assert functions[name]["CodeSha256"] == code_sha256, name
    state_machines = rehearsal.client("stepfunctions").list_state_machines()["stateMachines"]
    assert [m["name"] for m in state_machines] == ["stag-manabiplus-scan-object"]
    roles = {role["RoleName"] for role in rehearsal.client("iam").list_roles()["Roles"]}
    assert {"stag-manabiplus-scanner", "stag-manabiplus-scan-workflow"} <= roles
    topics = [t["TopicArn"] for t in rehearsal.client("sns").list_topics()["Topics"]]
    assert "arn:aws:sns:ap-northeast-1:123456789012:stag-manabiplus-alerts" in topics
    assert rehearsal.client("kms").list_keys()["Keys"]
    repositories = rehearsal.client("ecr").describe_repositories()["repositories"]
    assert [r["repositoryName"] for r in repositories] == ["stag-manabiplus-scanner"]
    zone_id = outputs(rehearsal.stack("stag", "zone"))["HostedZoneId"]
    records = rehearsal.client("route53", "us-east-1").list_resource_record_sets(HostedZoneId=zone_id)
    aliases = {(r["Name"].rstrip("."), r["Type"]) for r in records["ResourceRecordSets"] if "AliasTarget" in r}
    assert aliases == {(f"{host}stag.{DOMAIN}", kind) for host in ("", "api.") for kind in ("A", "AAAA")}
    rules = rehearsal.client("events").list_rules()["Rules"]
    assert len(rules) == 5  # upload events, definitions, sweeper, backup, scan canary
    groups = {g["logGroupName"] for g in rehearsal.client("logs").describe_log_groups()["logGroups"]}
    assert "/aws/lambda/stag-manabiplus-scanner" in groups
    uploaded = s3.list_objects_v2(Bucket="stag-manabiplus-artifacts")["Contents"]
    assert any(item["Key"].startswith("stag/app/") for item in uploaded)  # deployment.zip, state machine
    assert any(item["Key"].startswith("stag/templates/") for item in uploaded)  # the main template


def test_what_the_rehearsal_does_not_create_is_exactly_the_documented_list(
    rehearsal: Rehearsal, first_run: tuple[subprocess.CompletedProcess[str], float]
) -> None:
    found = rehearsal.placeholders()
    for part in ("zone", "edge", "bootstrap", "main"):
        assert found.get(part, set()) == EXPECTED_PLACEHOLDERS[part], part


def test_the_web_app_is_published_when_its_publisher_exists(
    rehearsal: Rehearsal, first_run: tuple[subprocess.CompletedProcess[str], float]
) -> None:
    result, _ = first_run
    published = rehearsal.client("s3").list_objects_v2(Bucket="stag-manabiplus-web").get("KeyCount", 0)
    if (ROOT / "infra" / "publish_web.py").exists():
        assert "infra/publish_web.py --stage stag" in result.stdout
        assert published > 0
    else:
        assert "publish_web.py" not in result.stdout
        assert published == 0


def test_a_second_run_changes_nothing(
    rehearsal: Rehearsal, first_run: tuple[subprocess.CompletedProcess[str], float]
) -> None:
    # The image the first run would have pushed, so that the tag check finds it this time.
    rehearsal.client("ecr").put_image(
        repositoryName="stag-manabiplus-scanner",
        imageTag=IMAGE_TAG,
        imageManifest=json.dumps(
            {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json"}
        ),
    )
    before = rehearsal.stack("stag", "main")
    result, seconds = rehearsal.deploy("stag")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    for part in ("zone", "edge", "bootstrap", "main"):
        assert f"No changes to deploy. Stack stag-manabiplus-{part} is up to date" in result.stdout, part
    assert "exists; not building it again" in result.stdout
    assert "Successfully created/updated stack" not in result.stdout
    after = rehearsal.stack("stag", "main")
    assert after.get("LastUpdatedTime") == before.get("LastUpdatedTime")
    REPORT.write_text(
        json.dumps({"firstRunSeconds": round(first_run[1], 1), "secondRunSeconds": round(seconds, 1)}, indent=2),
        encoding="utf-8",
    )


def test_production_adds_the_osaka_stack(
    rehearsal: Rehearsal, first_run: tuple[subprocess.CompletedProcess[str], float]
) -> None:
    result, _ = rehearsal.deploy("prod")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert [stack for _, stack, _ in stack_deploys(result.stdout)][:4] == [
        "prod-manabiplus-zone",
        "prod-manabiplus-edge",
        "prod-manabiplus-dr",
        "prod-manabiplus-bootstrap",
    ]
    osaka = {bucket["Name"] for bucket in rehearsal.client("s3", "ap-northeast-3").list_buckets()["Buckets"]}
    assert "dr-manabiplus-backup" in osaka  # (replication itself is one of the properties moto drops)
    main = rehearsal.stack("prod", "main")
    assert main["StackStatus"] in {"CREATE_COMPLETE", "UPDATE_COMPLETE"}
    assert rehearsal.placeholders().get("dr", set()) == EXPECTED_PLACEHOLDERS["dr"]
