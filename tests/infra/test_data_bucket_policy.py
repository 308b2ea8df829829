"""The data bucket lock, checked statement by statement as data.

moto ignores policy Conditions, so this policy cannot be exercised in the emulator; these
tests pin down each statement exactly as ARCHITECTURE.md ("Data bucket policy") says.
"""

from __future__ import annotations

from typing import Any

import pytest

from devstack.templates import TemplateContext, load_main_template

TAGGING = {
    "s3:PutObjectTagging",
    "s3:PutObjectVersionTagging",
    "s3:DeleteObjectTagging",
    "s3:DeleteObjectVersionTagging",
}
SCANNER_ROLE = "arn:aws:iam::123456789012:role/prod-manabiplus-scanner"
WORKFLOW_ROLE = "arn:aws:iam::123456789012:role/prod-manabiplus-scan-workflow"
BUCKET_ARN = "arn:aws:s3:::prod-manabiplus-data"


@pytest.fixture(scope="module")
def statements() -> dict[str, dict[str, Any]]:
    context = TemplateContext(load_main_template(), {"Stage": "prod", "ScannerImageUri": "x"})
    context.refs["DataBucket"] = "prod-manabiplus-data"
    context.attributes.update(
        {
            ("DataBucket", "Arn"): BUCKET_ARN,
            ("ScannerRole", "Arn"): SCANNER_ROLE,
            ("ScanStateMachineRole", "Arn"): WORKFLOW_ROLE,
        }
    )
    policy = context.properties("DataBucketPolicy")
    assert policy["Bucket"] == "prod-manabiplus-data"
    return {statement["Sid"]: statement for statement in policy["PolicyDocument"]["Statement"]}


def actions(statement: dict[str, Any]) -> set[str]:
    value = statement["Action"]
    return {value} if isinstance(value, str) else set(value)


def test_every_statement_is_a_deny_for_everyone(statements: dict[str, dict[str, Any]]) -> None:
    assert set(statements) == {
        "DenyInsecureTransport",
        "DenyReadUnlessClean",
        "DenyScanTagChangesOutsideWorkflow",
        "DenyAnyTagChangeOnInfected",
        "DenyUploadsCarryingScanTags",
        "DenyCopiesIntoBucket",
    }
    for statement in statements.values():
        assert statement["Effect"] == "Deny"
        assert statement["Principal"] == "*"


def test_requests_without_tls_are_denied(statements: dict[str, dict[str, Any]]) -> None:
    statement = statements["DenyInsecureTransport"]
    assert actions(statement) == {"s3:*"}
    assert statement["Resource"] == [BUCKET_ARN, f"{BUCKET_ARN}/*"]
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_reads_are_denied_unless_clean_for_everyone_but_the_scanner(statements: dict[str, dict[str, Any]]) -> None:
    statement = statements["DenyReadUnlessClean"]
    assert actions(statement) == {"s3:GetObject", "s3:GetObjectVersion"}
    assert statement["Resource"] == f"{BUCKET_ARN}/*"
    # StringNotEquals matches a missing tag too, so an untagged (new) object is unreadable.
    assert statement["Condition"] == {
        "StringNotEquals": {"s3:ExistingObjectTag/scan-status": "CLEAN"},
        "ArnNotEquals": {"aws:PrincipalArn": SCANNER_ROLE},
    }


def test_only_the_workflow_may_change_tags(statements: dict[str, dict[str, Any]]) -> None:
    statement = statements["DenyScanTagChangesOutsideWorkflow"]
    assert actions(statement) == TAGGING
    assert statement["Resource"] == f"{BUCKET_ARN}/*"
    assert statement["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": WORKFLOW_ROLE}}


def test_nobody_may_change_the_tags_of_an_infected_object(statements: dict[str, dict[str, Any]]) -> None:
    statement = statements["DenyAnyTagChangeOnInfected"]
    assert actions(statement) == TAGGING
    assert statement["Condition"] == {"StringEquals": {"s3:ExistingObjectTag/scan-status": "INFECTED"}}


def test_uploads_cannot_arrive_already_tagged_or_copied(statements: dict[str, dict[str, Any]]) -> None:
    tagged = statements["DenyUploadsCarryingScanTags"]
    assert actions(tagged) == {"s3:PutObject"}
    assert tagged["Condition"] == {
        "ForAnyValue:StringLike": {"s3:RequestObjectTagKeys": "scan-*"},
        "ArnNotEquals": {"aws:PrincipalArn": SCANNER_ROLE},
    }
    copied = statements["DenyCopiesIntoBucket"]
    assert actions(copied) == {"s3:PutObject"}
    assert copied["Condition"] == {
        "Null": {"s3:x-amz-copy-source": "false"},
        "ArnNotEquals": {"aws:PrincipalArn": SCANNER_ROLE},
    }


def test_nothing_denies_deleting_objects(statements: dict[str, dict[str, Any]]) -> None:
    for sid, statement in statements.items():
        if sid == "DenyInsecureTransport":
            continue
        assert not actions(statement) & {"s3:DeleteObject", "s3:DeleteObjectVersion", "s3:*"}


def test_the_data_bucket_is_versioned_private_and_announces_uploads() -> None:
    context = TemplateContext(load_main_template(), {"Stage": "stag", "ScannerImageUri": "x", "DomainName": "a.jp"})
    bucket = context.properties("DataBucket")
    assert bucket["BucketName"] == "stag-manabiplus-data"
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["NotificationConfiguration"] == {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    rule = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
