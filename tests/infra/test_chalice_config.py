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
    for name in ("DATA_BUCKET", "FILES_TABLE", "PROFILES_TABLE", "APP_BUCKET"):
        assert env[name].startswith(f"{stage}-manabiplus-")


def test_deployed_stages_only_accept_requests_through_cloudfront() -> None:
    for stage in ("stag", "prod"):
        assert CONFIG["stages"][stage]["environment_variables"]["REQUIRE_ORIGIN_SECRET"] == "true"


def test_policies_differ_only_by_stage_and_account() -> None:
    def normalised(stage: str) -> str:
        text = (CHALICE / f"policy-{stage}.json").read_text()
        return text.replace(f"{stage}-manabiplus", "STAGE-manabiplus").replace("123456789012", "*")

    assert normalised("local") == normalised("stag") == normalised("prod")


def test_no_policy_grants_wildcard_actions() -> None:
    for stage in STAGES:
        for statement in json.loads((CHALICE / f"policy-{stage}.json").read_text())["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert not any(action.endswith(":*") or action == "*" for action in actions)
