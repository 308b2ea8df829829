"""The main stack's template is merged from infra/main/*.yaml (issue #10): every part is listed,
no logical id is defined twice, and what the deploy tools read is that merged template."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

import devstack.templates as templates
from devstack.templates import MAIN_PARTS, MAIN_PARTS_DIR, TemplateError, load_main_template, load_template

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "infra"))
import build


def test_every_part_is_merged_and_each_resource_has_one_home() -> None:
    assert sorted(path.stem for path in MAIN_PARTS_DIR.glob("*.yaml")) == sorted(MAIN_PARTS)
    merged = load_main_template()
    homes = {
        logical_id: part
        for part in MAIN_PARTS
        for logical_id in load_template(MAIN_PARTS_DIR / f"{part}.yaml").get("Resources", {})
    }
    assert set(homes) == set(merged["Resources"])
    assert not (templates.INFRA / "main.yaml").exists()  # one source, not two


def test_a_logical_id_defined_in_two_parts_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for part in MAIN_PARTS:
        shutil.copy(MAIN_PARTS_DIR / f"{part}.yaml", tmp_path)
    text = (tmp_path / "identity.yaml").read_text(encoding="utf-8")
    (tmp_path / "identity.yaml").write_text(
        text.replace("Resources:\n", "Resources:\n  FilesTable:\n    Type: AWS::DynamoDB::Table\n", 1),
        encoding="utf-8",
    )
    monkeypatch.setattr(templates, "MAIN_PARTS_DIR", tmp_path)
    with pytest.raises(TemplateError, match=r"Resources\.FilesTable is defined in storage\.yaml and identity"):
        load_main_template()


def test_an_unlisted_part_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for part in MAIN_PARTS:
        shutil.copy(MAIN_PARTS_DIR / f"{part}.yaml", tmp_path)
    (tmp_path / "forgotten.yaml").write_text("Resources: {}\n", encoding="utf-8")
    monkeypatch.setattr(templates, "MAIN_PARTS_DIR", tmp_path)
    with pytest.raises(TemplateError, match="forgotten"):
        load_main_template()


@pytest.mark.parametrize("stage", ["stag", "prod"])
def test_the_written_main_template_finds_the_state_machine_from_where_it_lies(stage: str) -> None:
    path = build.write_main_template(stage)
    template = json.loads(path.read_text(encoding="utf-8"))
    location = template["Resources"]["ScanStateMachine"]["Properties"]["DefinitionS3Location"]
    assert (path.parent / location).resolve() == build.ROOT / "statemachines" / "scan-object.asl.json"
    expected = load_main_template(relative_to=path.parent)
    assert template == json.loads(json.dumps(expected))
