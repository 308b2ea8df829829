"""The bucket locks evaluated WITH their conditions, on the packaged template (issue #11).

moto ignores bucket policy conditions (every condition counts as matched), so the emulator can
neither prove nor break the lock. Here a condition-aware evaluator — principalmapper 1.1.5's
``local_policy_simulation``, which evaluates String/Arn/Bool/Null operators, negated operators
on missing keys and ForAnyValue — decides every combination of object tag × principal ×
action × TLS against the table in ARCHITECTURE.md ("Data bucket policy"), and the application
bucket's clamav/ write lock. A mutation test drops each condition block in turn and requires the
table to notice.

What this does not show: S3's own evaluation (only AWS can), identity policies (these tests
judge the bucket policy's explicit denies and its allows), and request details S3 fills in
(which keys are present in which request; the contexts below follow the S3 documentation).
"""

from __future__ import annotations

import collections
import collections.abc
import copy
import itertools
from functools import cache
from typing import Any

import pytest

from devstack.templates import TemplateContext
from tests.infra.seed import STAGES, packaged

# principalmapper 1.1.5 imports collections.Mapping, gone since Python 3.10.
collections.Mapping = collections.abc.Mapping  # type: ignore[attr-defined]
collections.MutableMapping = collections.abc.MutableMapping  # type: ignore[attr-defined]
from principalmapper.common import Node  # noqa: E402
from principalmapper.querying.local_policy_simulation import (  # noqa: E402
    ResourcePolicyEvalResult,
    resource_policy_authorization,
)

ACCOUNT = "123456789012"
OTHER_ACCOUNT = "999999999999"
STACK = "{stage}-manabiplus-main"
TAGS = (None, "PENDING", "CLEAN", "INFECTED", "UNSCANNABLE", "ERROR")
TAGGING = (
    "s3:PutObjectTagging",
    "s3:PutObjectVersionTagging",
    "s3:DeleteObjectTagging",
    "s3:DeleteObjectVersionTagging",
)
# Request kinds: (IAM action, extra request context).
REQUESTS: dict[str, tuple[str, dict[str, Any]]] = {
    "get": ("s3:GetObject", {}),
    "get-version": ("s3:GetObjectVersion", {}),
    **{action.removeprefix("s3:"): (action, {"s3:RequestObjectTagKeys": ["scan-status"]}) for action in TAGGING},
    "put": ("s3:PutObject", {}),
    "put-with-scan-tags": ("s3:PutObject", {"s3:RequestObjectTagKeys": ["scan-status"]}),
    "put-with-other-tags": ("s3:PutObject", {"s3:RequestObjectTagKeys": ["course"]}),
    "copy": ("s3:PutObject", {"s3:x-amz-copy-source": "/{bucket}/uploads/other/file?versionId=1"}),
    "delete": ("s3:DeleteObject", {}),
    "delete-version": ("s3:DeleteObjectVersion", {}),
}


def role(stage: str, name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/{name.format(stage=stage)}"


def principals(stage: str) -> dict[str, str | None]:
    """Who asks: an ARN, or None for an anonymous caller."""
    stack = STACK.format(stage=stage)
    return {
        "api": role(stage, f"{stack}-ApiHandlerRole-1ABCDEFGHIJK"),
        "scanner": role(stage, "{stage}-manabiplus-scanner"),
        "workflow": role(stage, "{stage}-manabiplus-scan-workflow"),
        "backup": role(stage, f"{stack}-BackupDataRole-1ABCDEFGHIJK"),
        "updater": role(stage, f"{stack}-UpdateDefinitionsRole-1ABCDEFGHIJK"),
        "operator": f"arn:aws:iam::{ACCOUNT}:user/operator-hanako",
        "anonymous": None,
        "another-account": f"arn:aws:iam::{OTHER_ACCOUNT}:role/{stage}-manabiplus-scanner",  # same name, other account
    }


@cache
def bucket_policies(stage: str) -> dict[str, dict[str, Any]]:
    """The packaged template's bucket policies, resolved with the names CloudFormation gives."""
    template = packaged(stage)
    context = TemplateContext(template, {"Stage": stage, "DomainName": "example.jp"}, account_id=ACCOUNT)
    for logical_id, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::S3::Bucket":
            name = context.resolve(properties["BucketName"])
            context.refs[logical_id] = name
            context.attributes[(logical_id, "Arn")] = f"arn:aws:s3:::{name}"
        elif resource["Type"] == "AWS::IAM::Role":
            name = context.resolve(properties["RoleName"]) if "RoleName" in properties else None
            arn = role(stage, name) if name else role(stage, f"{STACK.format(stage=stage)}-{logical_id}-1ABCDEFGHIJK")
            context.attributes[(logical_id, "Arn")] = arn
    return {
        logical_id: {"bucket": context.refs[context.resource(logical_id)["Properties"]["Bucket"]["Ref"]]}
        | context.properties(logical_id)["PolicyDocument"]
        for logical_id in ("DataBucketPolicy", "AppBucketPolicy")
    }


def node(arn: str) -> Node:
    trust = {"Version": "2012-10-17", "Statement": []} if ":role/" in arn else None
    return Node(arn, "AIDAEXAMPLE", [], [], trust, None, 0, False, False, None, False, None)


def decide(
    policy: dict[str, Any], principal: str | None, action: str, key: str, context: dict[str, Any]
) -> ResourcePolicyEvalResult:
    request = dict(context)
    if principal is not None:
        request["aws:PrincipalArn"] = principal
        request["aws:PrincipalAccount"] = principal.split(":")[4]
    caller: Node | str = node(principal) if principal else "anonymous"
    resource = f"arn:aws:s3:::{policy['bucket']}/{key}"
    return resource_policy_authorization(caller, ACCOUNT, policy, action, resource, request)


# ------------------------------------------------------------------ the expected tables
def data_lock_denies(who: str, request: str, tag: str | None, tls: bool) -> bool:
    """ARCHITECTURE.md, "Data bucket policy" — does the lock deny this request?"""
    if not tls:
        return True
    if request in {"get", "get-version"}:
        return who != "scanner" and tag != "CLEAN"
    if request.removeprefix("s3:") in {a.removeprefix("s3:") for a in TAGGING}:
        return tag == "INFECTED" or who != "workflow"
    if request in {"put-with-scan-tags", "copy"}:
        return who != "scanner"
    return False  # plain uploads, uploads with other tags, deletes (R-AV-04)


def data_lock_table(stage: str, policy: dict[str, Any]) -> dict[tuple[str, str, str | None, bool], bool]:
    table = {}
    for (who, arn), (request, (action, extra)), tag, tls in itertools.product(
        principals(stage).items(), REQUESTS.items(), TAGS, (True, False)
    ):
        context = {
            key: value.format(bucket=policy["bucket"]) if isinstance(value, str) else value
            for key, value in extra.items()
        }
        context["aws:SecureTransport"] = "true" if tls else "false"
        if tag is not None and action != "s3:PutObject":  # a new upload has no existing tags
            context["s3:ExistingObjectTag/scan-status"] = tag
        result = decide(policy, arn, action, "uploads/sub-1/file-1", context)
        table[(who, request, tag, tls)] = result == ResourcePolicyEvalResult.DENY_MATCH
    return table


def data_lock_expected(stage: str) -> dict[tuple[str, str, str | None, bool], bool]:
    return {
        (who, request, tag, tls): data_lock_denies(who, request, tag, tls)
        for who, request, tag, tls in itertools.product(principals(stage), REQUESTS, TAGS, (True, False))
    }


def mismatches(found: dict[Any, bool], expected: dict[Any, bool]) -> list[str]:
    return [
        f"{key}: lock {'denies' if found[key] else 'does not deny'}" for key in expected if found[key] != expected[key]
    ]


@pytest.mark.parametrize("stage", STAGES)
def test_the_data_bucket_lock_decides_every_request_as_the_architecture_says(stage: str) -> None:
    policy = bucket_policies(stage)["DataBucketPolicy"]
    table = data_lock_table(stage, policy)
    assert len(table) == 8 * 12 * 6 * 2
    assert not mismatches(table, data_lock_expected(stage))


@pytest.mark.parametrize("stage", STAGES)
def test_the_data_bucket_policy_lets_no_one_in_by_itself(stage: str) -> None:
    """Every statement denies: anonymous callers and other accounts never find an Allow."""
    policy = bucket_policies(stage)["DataBucketPolicy"]
    for who in ("anonymous", "another-account"):
        for request, (action, _extra) in REQUESTS.items():
            context = {"aws:SecureTransport": "true", "s3:ExistingObjectTag/scan-status": "CLEAN"}
            result = decide(policy, principals(stage)[who], action, "uploads/sub-1/file-1", context)
            assert result in {ResourcePolicyEvalResult.NO_MATCH, ResourcePolicyEvalResult.DENY_MATCH}, (who, request)


def conditions(policy: dict[str, Any]) -> list[tuple[int, str]]:
    return [
        (index, block)
        for index, statement in enumerate(policy["Statement"])
        for block in statement.get("Condition", {})
    ]


@pytest.mark.parametrize("stage", STAGES)
def test_dropping_any_condition_of_the_data_lock_is_noticed(stage: str) -> None:
    policy = bucket_policies(stage)["DataBucketPolicy"]
    expected = data_lock_expected(stage)
    found = conditions(policy)
    assert len(found) >= 9  # TLS, read (2), tagging, infected, scan tags (2), copies (2)
    for index, block in found:
        mutated = copy.deepcopy(policy)
        del mutated["Statement"][index]["Condition"][block]
        if not mutated["Statement"][index]["Condition"]:
            del mutated["Statement"][index]["Condition"]
        assert mismatches(data_lock_table(stage, mutated), expected), (mutated["Statement"][index]["Sid"], block)


# ------------------------------------------------------------------ the clamav/ write lock
DEFINITION_WRITES = ("s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObjectTagging")


def app_lock_table(stage: str, policy: dict[str, Any]) -> dict[tuple[str, str, str, bool], bool]:
    table = {}
    for (who, arn), action, key, tls in itertools.product(
        principals(stage).items(),
        (*DEFINITION_WRITES, "s3:GetObject"),
        ("clamav/manifest.json", "clamav/daily-27512/daily.cvd", "site/config.json"),
        (True, False),
    ):
        context = {"aws:SecureTransport": "true" if tls else "false"}
        result = decide(policy, arn, action, key, context)
        table[(who, action, key, tls)] = result == ResourcePolicyEvalResult.DENY_MATCH
    return table


def app_lock_expected(stage: str) -> dict[tuple[str, str, str, bool], bool]:
    return {
        (who, action, key, tls): (not tls)
        or (key.startswith("clamav/") and action in DEFINITION_WRITES and who != "updater")
        for who, action, key, tls in itertools.product(
            principals(stage),
            (*DEFINITION_WRITES, "s3:GetObject"),
            ("clamav/manifest.json", "clamav/daily-27512/daily.cvd", "site/config.json"),
            (True, False),
        )
    }


@pytest.mark.parametrize("stage", STAGES)
def test_only_the_updater_writes_definitions_and_every_function_may_read_them(stage: str) -> None:
    policy = bucket_policies(stage)["AppBucketPolicy"]
    assert not mismatches(app_lock_table(stage, policy), app_lock_expected(stage))


@pytest.mark.parametrize("stage", STAGES)
def test_a_role_named_like_the_updater_elsewhere_is_locked_out(stage: str) -> None:
    """The lock names one role exactly: a look-alike name in this account is not the updater."""
    policy = bucket_policies(stage)["AppBucketPolicy"]
    impostor = role(stage, "someone-UpdateDefinitionsRole-mine")
    result = decide(policy, impostor, "s3:PutObject", "clamav/manifest.json", {"aws:SecureTransport": "true"})
    assert result == ResourcePolicyEvalResult.DENY_MATCH


@pytest.mark.parametrize("stage", STAGES)
def test_dropping_any_condition_of_the_definitions_lock_is_noticed(stage: str) -> None:
    policy = bucket_policies(stage)["AppBucketPolicy"]
    expected = app_lock_expected(stage)
    for index, block in conditions(policy):
        mutated = copy.deepcopy(policy)
        del mutated["Statement"][index]["Condition"][block]
        if not mutated["Statement"][index]["Condition"]:
            del mutated["Statement"][index]["Condition"]
        assert mismatches(app_lock_table(stage, mutated), expected), (mutated["Statement"][index]["Sid"], block)
