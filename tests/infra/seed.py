"""Read the stack templates as a given stage would deploy them, for the seed-conformance tests.

Parameters get the stage's values; a Ref or GetAtt of a resource resolves to a readable
placeholder ("<WebBucket>", "<LogBucket.DomainName>") so a test can check what points where;
``Ref AWS::NoValue`` drops the property, as CloudFormation does.
"""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache
from typing import Any

from devstack.templates import INFRA, ROOT, TemplateContext, TemplateError, load_main_template, load_template

STAGES = ("stag", "prod")
ENVIRONMENT = {"stag": "Staging", "prod": "Production"}
DOMAIN = "example.jp"
PARAMETERS = {
    "DomainName": DOMAIN,
    "ScannerImageUri": "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/scanner:1",
    "HostedZoneId": "Z0HOSTEDZONE",
    "CertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/cert",
    "WebAclArn": "arn:aws:wafv2:us-east-1:123456789012:global/webacl/acl/1",
}
_NO_VALUE = object()


class StageView(TemplateContext):
    """A template resolved for one stage, with placeholders for resources."""

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        try:
            return super()._ref(name)
        except TemplateError:
            if name in self.template.get("Resources", {}):
                return f"<{name}>"
            raise

    def _get_att(self, logical_id: str, attribute: str) -> str:
        if logical_id not in self.template.get("Resources", {}):
            raise TemplateError(f"GetAtt {logical_id}.{attribute}: no such resource")
        return f"<{logical_id}.{attribute}>"

    def resolve(self, value: Any) -> Any:
        resolved = super().resolve(value)
        if isinstance(resolved, dict):
            return {key: item for key, item in resolved.items() if item is not _NO_VALUE}
        if isinstance(resolved, list):
            return [item for item in resolved if item is not _NO_VALUE]
        return resolved

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {
            logical_id: self.properties(logical_id)
            for logical_id, resource in self.template["Resources"].items()
            if resource["Type"] == resource_type
        }


@cache
def _load(name: str) -> dict[str, Any]:
    if name == MAIN:
        return load_main_template()
    return load_template(INFRA / name)


# The main stack's template is merged from the parts in infra/main/ (devstack.templates); tests
# name it like the other stacks' files.
MAIN = "main.yaml"


def view(template: dict[str, Any] | str, stage: str) -> StageView:
    """``template`` is a file name under infra/ (``MAIN`` for the merged main template) or an
    already loaded template."""
    return StageView(template if isinstance(template, dict) else _load(template), {"Stage": stage, **PARAMETERS})


@cache
def packaged(stage: str) -> dict[str, Any]:
    """The template `make package STAGE=stage` produces (chalice package + the merge file)."""
    subprocess.run(
        [sys.executable, str(INFRA / "build.py"), "package", "--stage", stage],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return json.loads((ROOT / "build" / stage / "package" / "sam.json").read_text(encoding="utf-8"))


def tags(properties: dict[str, Any], key: str = "Tags") -> dict[str, str]:
    """Tags as a dict, whether the resource type takes a list of Key/Value or a map."""
    value = properties.get(key, {})
    if isinstance(value, dict):
        return {name: str(item) for name, item in value.items()}
    return {tag["Key"]: str(tag["Value"]) for tag in value}
