"""Only the definitions updater may write the ClamAV definitions the scanners load (issue #6)."""

from __future__ import annotations

from devstack.templates import TemplateContext, load_main_template


def test_only_the_updater_role_writes_under_clamav() -> None:
    context = TemplateContext(load_main_template(), {"Stage": "prod", "ScannerImageUri": "x"})
    context.refs["AppBucket"] = "prod-manabiplus-application"
    context.attributes[("AppBucket", "Arn")] = "arn:aws:s3:::prod-manabiplus-application"
    statements = {s["Sid"]: s for s in context.properties("AppBucketPolicy")["PolicyDocument"]["Statement"]}
    deny = statements["OnlyTheUpdaterWritesDefinitions"]
    assert (deny["Effect"], deny["Principal"]) == ("Deny", "*")
    assert "s3:PutObject" in deny["Action"] and "s3:DeleteObject" in deny["Action"]
    assert deny["Resource"] == "arn:aws:s3:::prod-manabiplus-application/clamav/*"
    # The exact role `chalice deploy` creates; the packaged stack names its own updater role
    # (tests/infra/test_first_deploy.py::test_only_the_updaters_own_role_writes_definitions).
    assert deny["Condition"] == {
        "ArnNotEquals": {"aws:PrincipalArn": "arn:aws:iam::123456789012:role/manabiplus-prod-update_definitions"}
    }
