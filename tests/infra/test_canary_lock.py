"""The scan canary's INFECTED object cannot be read by a non-scanner principal — the canary's own
role — evaluated with the bucket policy's conditions (principalmapper, as
tests/infra/test_bucket_locks_evaluated.py does; moto would ignore the conditions). At run time
on AWS the canary expects S3's AccessDenied for the same request; the emulator cannot show it.
And the canary's role reaches only canary/ objects and records."""

from __future__ import annotations

import json

import pytest

from devstack.templates import ROOT
from tests.infra.seed import STAGES
from tests.infra.test_bucket_locks_evaluated import (  # first: it makes principalmapper importable
    STACK,
    ResourcePolicyEvalResult,
    bucket_policies,
    decide,
    role,
)

KEY = "canary/run-20261201T000000Z-abcdef/01JCANARYFILE"


def canary_role(stage: str) -> str:
    return role(stage, f"{STACK.format(stage=stage)}-ScanCanaryRole-1ABCDEFGHIJK")


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("tag", ["INFECTED", "PENDING", "ERROR", "UNSCANNABLE", None])
@pytest.mark.parametrize("action", ["s3:GetObject", "s3:GetObjectVersion"])  # HeadObject needs s3:GetObject
def test_the_canary_role_is_denied_a_canary_object_that_is_not_clean(stage: str, tag: str | None, action: str) -> None:
    policy = bucket_policies(stage)["DataBucketPolicy"]
    context = {"aws:SecureTransport": "true"}
    if tag is not None:
        context["s3:ExistingObjectTag/scan-status"] = tag
    assert decide(policy, canary_role(stage), action, KEY, context) == ResourcePolicyEvalResult.DENY_MATCH


@pytest.mark.parametrize("stage", STAGES)
def test_the_canary_role_may_read_its_clean_object(stage: str) -> None:
    policy = bucket_policies(stage)["DataBucketPolicy"]
    context = {"aws:SecureTransport": "true", "s3:ExistingObjectTag/scan-status": "CLEAN"}
    assert decide(policy, canary_role(stage), "s3:GetObject", KEY, context) != ResourcePolicyEvalResult.DENY_MATCH


@pytest.mark.parametrize("stage", STAGES)
def test_the_canary_policy_reaches_only_canary_objects_and_records(stage: str) -> None:
    document = json.loads((ROOT / ".chalice" / f"policy-canary-{stage}.json").read_text(encoding="utf-8"))
    for statement in document["Statement"]:
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if any(action.startswith("s3:") for action in actions):
            for resource in resources:
                assert resource.endswith("/canary/*") or statement["Condition"]["StringLike"]["s3:prefix"] == "canary/*"
        if any(action.startswith("dynamodb:") for action in actions):
            assert statement["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["run-*"]}}
        if "cloudwatch:PutMetricData" in actions:
            assert statement["Condition"] == {"StringEquals": {"cloudwatch:namespace": "ManabiPlus/Canary"}}
        assert not any(action.endswith("*") and ":" not in action[:-1] for action in actions)
