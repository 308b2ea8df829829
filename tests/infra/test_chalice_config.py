"""The Chalice stages and their least-privilege policies stay in step with each other."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

CHALICE = Path(__file__).resolve().parents[2] / ".chalice"
CONFIG = json.loads((CHALICE / "config.json").read_text())
STAGES = ("local", "stag", "prod")


def test_stages_exist_with_their_own_policy_file() -> None:
    assert set(CONFIG["stages"]) == set(STAGES)
    assert CONFIG["autogen_policy"] is False
    for stage in STAGES:
        assert CONFIG["stages"][stage]["iam_policy_file"] == f"policy-{stage}.json"


@pytest.mark.parametrize("stage", STAGES)
def test_names_follow_the_stage(stage: str) -> None:
    env = CONFIG["stages"][stage]["environment_variables"]
    for name in ("DATA_BUCKET", "FILES_TABLE", "PROFILES_TABLE", "APP_BUCKET", "BACKUP_BUCKET"):
        assert env[name].startswith(f"{stage}-manabiplus-")


def test_deployed_stages_only_accept_requests_through_cloudfront() -> None:
    for stage in ("stag", "prod"):
        assert CONFIG["stages"][stage]["environment_variables"]["REQUIRE_ORIGIN_SECRET"] == "true"


POLICY_KINDS = (
    "policy-{}.json",
    "policy-events-{}.json",
    "policy-definitions-{}.json",
    "policy-sweeper-{}.json",
    "policy-backup-{}.json",
    "policy-canary-{}.json",
)


def policy_files(stage: str) -> list[Path]:
    return [CHALICE / kind.format(stage) for kind in POLICY_KINDS]


@pytest.mark.parametrize("kind", POLICY_KINDS)
def test_policies_differ_only_by_stage_and_account(kind: str) -> None:
    def normalised(stage: str) -> str:
        text = (CHALICE / kind.format(stage)).read_text()
        return text.replace(f"{stage}-manabiplus", "STAGE-manabiplus").replace("123456789012", "*")

    assert normalised("local") == normalised("stag") == normalised("prod")


def test_each_function_has_its_own_least_privilege_policy() -> None:
    for stage in STAGES:
        functions = CONFIG["stages"][stage]["lambda_functions"]
        assert functions["on_object_created"]["iam_policy_file"] == f"policy-events-{stage}.json"
        assert functions["update_definitions"]["iam_policy_file"] == f"policy-definitions-{stage}.json"
        assert functions["sweep_stuck_uploads"]["iam_policy_file"] == f"policy-sweeper-{stage}.json"
        assert functions["backup_data"]["iam_policy_file"] == f"policy-backup-{stage}.json"
        assert functions["scan_canary"]["iam_policy_file"] == f"policy-canary-{stage}.json"
    only_writer = [
        path.name
        for path in CHALICE.glob("policy-*.json")
        if "s3:PutObject" in path.read_text()
        and "-manabiplus-application/clamav/" in path.read_text()
        and any(
            "s3:PutObject" in statement["Action"] and "application/clamav/" in str(statement["Resource"])
            for statement in json.loads(path.read_text())["Statement"]
        )
    ]
    assert sorted(only_writer) == sorted(f"policy-definitions-{stage}.json" for stage in STAGES)


def test_no_policy_grants_wildcard_actions() -> None:
    for stage in STAGES:
        for statement in (s for path in policy_files(stage) for s in json.loads(path.read_text())["Statement"]):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert not any(action.endswith(":*") or action == "*" for action in actions)


def test_functions_keep_the_seeds_small_defaults_unless_they_need_more() -> None:
    # R-LMB-02: 128 MB and 3 s; the API may wait up to 10 s (multi-version deletes, bulk rescans;
    # API Gateway allows 29 s), the definitions updater downloads ~230 MB of CVDs.
    assert (CONFIG["lambda_memory_size"], CONFIG["lambda_timeout"]) == (128, 3)
    for stage in STAGES:
        functions = CONFIG["stages"][stage]["lambda_functions"]
        assert functions["api_handler"] == {"lambda_timeout": 10}
        assert "lambda_timeout" not in functions["on_object_created"]
        assert (
            functions["update_definitions"]["lambda_timeout"],
            functions["update_definitions"]["lambda_memory_size"],
        ) == (900, 1024)
