"""Read the CloudFormation templates in ``infra/`` so tests and the local stack build their
resources from them: a renamed table key or bucket breaks a test, not production.

``resolve`` evaluates the few intrinsic functions the emulated resources and the
seed-conformance tests need (``Ref``, ``Fn::Sub``, ``Fn::GetAtt``, ``Fn::If``, ``Fn::Equals``,
``Fn::Not``, ``Fn::Join``, ``Fn::Split``, ``Fn::Select``, ``Fn::FindInMap``) for given parameters.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
INFRA = ROOT / "infra"
STATE_MACHINE_DIR = ROOT / "statemachines"
# The main stack's template is built from these parts, in this order (infra/build.py writes the
# merged file for the deploy tools). Each part may hold any top-level section; a key that two
# parts define is an error, except AWSTemplateFormatVersion and Description (first one wins).
MAIN_PARTS_DIR = INFRA / "main"
MAIN_PARTS = ("stack", "data-lock", "storage", "identity", "edge-origin", "scan-workflow", "operations")
# Relative file references in the merged main template (the state machine's DefinitionS3Location)
# are relative to this directory unless the caller asks for another one.
MAIN_TEMPLATE_DIR = INFRA
_MERGED_SECTIONS = ("Parameters", "Conditions", "Mappings", "Resources", "Outputs")

_SUB_VARIABLE = re.compile(r"\$\{([^}!]+)\}")


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that turns CloudFormation short tags into their long form."""


def _construct_tag(loader: _CfnLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if tag_suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:
        raise yaml.constructor.ConstructorError(None, None, f"unexpected node for !{tag_suffix}", node.start_mark)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path | str) -> dict[str, Any]:
    text = Path(path).read_text(encoding="utf-8")
    return yaml.load(text, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass


def load_main_template(relative_to: Path = MAIN_TEMPLATE_DIR) -> dict[str, Any]:
    """The main stack's template, merged from ``infra/main/*.yaml`` (``MAIN_PARTS``).

    ``DefinitionS3Location`` paths are rewritten from relative-to-their-part to relative to
    ``relative_to``, where the merged template is written (or, by default, ``infra/``).
    """
    merged: dict[str, Any] = {}
    owner: dict[tuple[str, str], str] = {}
    for part in MAIN_PARTS:
        path = MAIN_PARTS_DIR / f"{part}.yaml"
        template = load_template(path)
        for section, value in template.items():
            if section not in _MERGED_SECTIONS:
                merged.setdefault(section, value)
                continue
            target = merged.setdefault(section, {})
            for key, item in value.items():
                if (section, key) in owner:
                    raise TemplateError(f"{section}.{key} is defined in {owner[section, key]} and {part}.yaml")
                owner[section, key] = f"{part}.yaml"
                if section == "Resources":
                    item = _relocate(item, path.parent, relative_to)
                target[key] = item
    unknown = sorted({path.stem for path in MAIN_PARTS_DIR.glob("*.yaml")} - set(MAIN_PARTS))
    if unknown:
        raise TemplateError(f"infra/main/ has parts that MAIN_PARTS does not list: {unknown}")
    return merged


def _relocate(resource: dict[str, Any], part_dir: Path, relative_to: Path) -> dict[str, Any]:
    properties = resource.get("Properties", {})
    location = properties.get("DefinitionS3Location")
    if isinstance(location, str) and not location.startswith("s3://"):
        target = (part_dir / location).resolve()
        properties["DefinitionS3Location"] = os.path.relpath(target, relative_to.resolve())
    return resource


class TemplateError(ValueError):
    """The template uses something this evaluator does not know."""


@dataclass
class TemplateContext:
    """Parameter values and the physical ids/attributes of resources already created."""

    template: dict[str, Any]
    parameters: dict[str, str]
    region: str = "ap-northeast-1"
    account_id: str = "123456789012"
    refs: dict[str, str] = field(default_factory=dict)
    attributes: dict[tuple[str, str], str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, spec in self.template.get("Parameters", {}).items():
            if name not in self.parameters and "Default" in spec:
                self.parameters[name] = str(spec["Default"])

    def resource(self, logical_id: str) -> dict[str, Any]:
        try:
            return self.template["Resources"][logical_id]  # type: ignore[no-any-return]
        except KeyError:
            raise TemplateError(f"template has no resource {logical_id}") from None

    def properties(self, logical_id: str) -> dict[str, Any]:
        return self.resolve(self.resource(logical_id).get("Properties", {}))  # type: ignore[no-any-return]

    def _pseudo(self, name: str) -> str | None:
        return {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": "manabiplus-local",
        }.get(name)

    def _ref(self, name: str) -> str:
        value = self._pseudo(name)
        if value is None:
            value = self.parameters.get(name, self.refs.get(name))
        if value is None:
            raise TemplateError(f"Ref {name}: not a parameter or a created resource")
        return value

    def _get_att(self, logical_id: str, attribute: str) -> str:
        try:
            return self.attributes[(logical_id, attribute)]
        except KeyError:
            raise TemplateError(f"GetAtt {logical_id}.{attribute}: resource not created") from None

    def _condition(self, name: str) -> bool:
        return bool(self.resolve(self.template["Conditions"][name]))

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((function, argument),) = value.items()
            if function == "Ref":
                return self._ref(argument)
            if function == "Fn::GetAtt":
                return self._get_att(*argument)
            if function == "Fn::Sub":
                return self._sub(argument)
            if function == "Fn::If":
                condition, when_true, when_false = argument
                return self.resolve(when_true if self._condition(condition) else when_false)
            if function == "Fn::Equals":
                left, right = self.resolve(argument)
                return left == right
            if function == "Fn::Not":
                (condition,) = self.resolve(argument)
                return not condition
            if function == "Fn::FindInMap":
                mapping, top_key, second_key = self.resolve(argument)
                return self.template["Mappings"][mapping][top_key][second_key]
            if function == "Fn::Split":
                separator, text = self.resolve(argument)
                return text.split(separator)
            if function == "Fn::Select":
                index, items = self.resolve(argument)
                return items[int(index)]
            if function == "Fn::Join":
                separator, items = argument
                return separator.join(str(item) for item in self.resolve(items))
            if function.startswith("Fn::") or function == "Condition":
                raise TemplateError(f"{function} is not supported by the local evaluator")
        return {key: self.resolve(item) for key, item in value.items()}

    def _sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else (argument[0], argument[1])
        resolved = {name: self.resolve(item) for name, item in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in resolved:
                return str(resolved[name])
            if "." in name:
                return self._get_att(*name.split(".", 1))
            return self._ref(name)

        return _SUB_VARIABLE.sub(replace, text)


def render_state_machine(template_dir: Path, context: TemplateContext, logical_id: str) -> str:
    """The state machine definition with its DefinitionSubstitutions applied, as CloudFormation does.
    ``template_dir``: where the template's relative DefinitionS3Location starts."""
    resource = context.resource(logical_id)
    location = resource["Properties"]["DefinitionS3Location"]
    definition_path = (template_dir / location).resolve()
    text = definition_path.read_text(encoding="utf-8")
    substitutions = context.resolve(resource["Properties"].get("DefinitionSubstitutions", {}))
    missing = sorted(set(_SUB_VARIABLE.findall(text)) - set(substitutions))
    if missing:
        raise TemplateError(f"{definition_path.name} uses {missing} but {logical_id} does not substitute them")
    rendered = _SUB_VARIABLE.sub(lambda match: str(substitutions[match.group(1)]), text)
    json.loads(rendered)
    return rendered
