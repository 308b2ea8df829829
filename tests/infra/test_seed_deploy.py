"""`make deploy` (infra/deploy.sh): the stacks' Regions and order (R-GEN-04), the dry run, the
refusal without credentials; and what no template may contain (R-GEN-05, R-GEN-06)."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from devstack.templates import INFRA, ROOT
from tests.infra.seed import STAGES, packaged, view

SCRIPT = INFRA / "deploy.sh"


def deploy(stage: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    isolated = {
        "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    return subprocess.run(
        ["bash", str(SCRIPT), stage],
        cwd=ROOT,
        env={**clean, **isolated, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def stack_deploys(output: str) -> list[tuple[str, str, str]]:
    """(region, stack, template) of every `aws cloudformation deploy` printed, in order."""
    pattern = r"^\+ aws cloudformation deploy --region (\S+) --stack-name (\S+) --template-file (\S+)"
    return re.findall(pattern, output, re.MULTILINE)


def test_a_prod_dry_run_prints_edge_dr_then_main_in_their_regions() -> None:
    result = deploy("prod", DRY_RUN="1", DOMAIN_NAME="manabi.example.jp")
    assert result.returncode == 0, result.stderr
    # The main stack twice on a first create: deletion protection comes on in the second pass.
    assert stack_deploys(result.stdout) == [
        ("us-east-1", "prod-manabiplus-zone", "infra/zone.yaml"),
        ("us-east-1", "prod-manabiplus-edge", "infra/edge.yaml"),
        ("ap-northeast-3", "prod-manabiplus-dr", "infra/dr.yaml"),
        ("ap-northeast-1", "prod-manabiplus-bootstrap", "infra/bootstrap.yaml"),
        ("ap-northeast-1", "prod-manabiplus-main", "build/prod/package/packaged.yaml"),
        ("ap-northeast-1", "prod-manabiplus-main", "build/prod/package/packaged.yaml"),
    ]
    assert "+ docker push" in result.stdout
    assert "infra/build.py package --stage prod" in result.stdout


def test_staging_has_no_osaka_stack() -> None:
    result = deploy("stag", DRY_RUN="1", DOMAIN_NAME="manabi.example.jp")
    assert result.returncode == 0, result.stderr
    assert [stack for _, stack, _ in stack_deploys(result.stdout)] == [
        "stag-manabiplus-zone",
        "stag-manabiplus-edge",
        "stag-manabiplus-bootstrap",
        "stag-manabiplus-main",
        "stag-manabiplus-main",
    ]


def test_the_chalice_deploy_path_writes_outputs_deploys_and_fronts_the_api() -> None:
    result = deploy("prod", DRY_RUN="1", DOMAIN_NAME="manabi.example.jp", DEPLOY_PATH="chalice")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    steps = [
        next(i for i, line in enumerate(lines) if needle in line)
        for needle in (
            "--stack-name prod-manabiplus-main --template-file build/prod/main.packaged.yaml",
            "infra/build.py chalice-config --stage prod",
            "chalice deploy --stage prod",
            "aws apigateway update-stage",
            "execute-api.ap-northeast-1.amazonaws.com",
        )
    ]
    assert steps == sorted(steps)
    update = next(line for line in lines if "aws apigateway update-stage" in line)
    assert "tracingEnabled" in update and "dataTrace" in update and "metrics/enabled" in update


def test_without_credentials_it_stops_with_a_clear_message() -> None:
    result = deploy("prod", DOMAIN_NAME="manabi.example.jp")
    assert result.returncode != 0
    assert "no usable AWS credentials" in result.stderr or "AWS CLI (aws) is not installed" in result.stderr
    assert "DRY_RUN=1" in result.stderr or "not installed" in result.stderr
    assert not stack_deploys(result.stdout)


def test_it_refuses_unknown_stages() -> None:
    assert deploy("local", DRY_RUN="1").returncode == 2


@pytest.mark.parametrize("file", ["zone.yaml", "bootstrap.yaml", "edge.yaml", "dr.yaml", "main.yaml"])
def test_no_template_declares_networks_or_servers(file: str) -> None:
    types = {resource["Type"] for resource in view(file, "prod").template["Resources"].values()}
    assert not {t for t in types if t.startswith(("AWS::EC2::", "AWS::AutoScaling::", "AWS::ECS::", "AWS::RDS::"))}


@pytest.mark.parametrize("stage", STAGES)
def test_chalice_functions_run_python_3_11_with_small_defaults(stage: str) -> None:
    resources = packaged(stage)["Resources"]
    for function in ("APIHandler", "OnObjectCreated"):
        properties = resources[function]["Properties"]
        assert properties["Runtime"] == "python3.11"  # R-LMB-01: the project's Python
        assert properties["MemorySize"] == 128  # R-LMB-02
        assert "VpcConfig" not in properties
