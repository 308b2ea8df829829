"""Only the definitions updater may write the ClamAV definitions the scanners load (issue #6)."""

from __future__ import annotations

from devstack.templates import TemplateContext, load_main_template


def test_only_the_updater_role_writes_under_clamav() -> None:
    context = TemplateContext(load_main_template(), {"Stage": "prod", "ScannerImageUri": "x"})
    context.refs["AppBucket"] = "prod-manabiplus-app"
    context.attributes[("AppBucket", "Arn")] = "arn:aws:s3:::prod-manabiplus-app"
    statements = {s["Sid"]: s for s in context.properties("AppBucketPolicy")["PolicyDocument"]["Statement"]}
    deny = statements["OnlyTheUpdaterWritesDefinitions"]
    assert (deny["Effect"], deny["Principal"]) == ("Deny", "*")
    assert "s3:PutObject" in deny["Action"] and "s3:DeleteObject" in deny["Action"]
    assert deny["Resource"] == "arn:aws:s3:::prod-manabiplus-app/clamav/*"
    assert deny["Condition"] == {
        "ArnNotLike": {
            "aws:PrincipalArn": [
                "arn:aws:iam::123456789012:role/*-UpdateDefinitionsRole-*",
                "arn:aws:iam::123456789012:role/manabiplus-prod-update_definitions",
            ]
        }
    }
