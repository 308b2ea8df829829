"""Build the one merge file `chalice package --merge-template` takes, and package a stage.

    python infra/build.py main    --stage prod   # -> build/prod/main.json (the main stack alone)
    python infra/build.py merge   --stage prod   # -> build/prod/merge.json
    python infra/build.py package --stage prod   # merge, then chalice package -> build/prod/package/sam.json
    python infra/build.py chalice-config --stage prod --stack-description main-stack.json
                                                 # `chalice deploy` path: main stack outputs -> .chalice/config.json

The main stack's template is built from the parts in infra/main/ (``load_main_template``:
concatenated, each logical id in one part only); `main` writes it alone, for the `chalice deploy`
path. The merge file is that template with infra/app.yaml deep-merged onto it (see
``merge_parts``); its Stage parameter defaults to the stage packaged, since the Chalice half
(function settings, policy files) is stage-specific. The state machine's DefinitionS3Location is
rewritten relative to the file written, where `aws cloudformation package` resolves it.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devstack.templates import load_main_template, load_template  # noqa: E402

INFRA = ROOT / "infra"
BUILD = ROOT / "build"
APP_PART = INFRA / "app.yaml"
STAGES = ("stag", "prod")
REGION = "ap-northeast-1"
CHALICE_CONFIG = ROOT / ".chalice" / "config.json"
# Environment variables of the Chalice functions that come from the main stack: on the packaged
# path infra/app.yaml sets them with Ref; on the `chalice deploy` path from these outputs.
ENVIRONMENT_FROM_OUTPUTS = {
    "DATA_BUCKET": "DataBucketName",
    "FILES_TABLE": "FilesTableName",
    "PROFILES_TABLE": "ProfilesTableName",
    "APP_BUCKET": "AppBucketName",
    "SCAN_STATE_MACHINE_ARN": "ScanStateMachineArn",
    "ALERT_TOPIC_ARN": "AlertTopicArn",
    "ORIGIN_SECRET_ARN": "OriginSecretArn",
}


def merge_parts(base: Any, patch: Any) -> Any:
    """Deep-merge ``patch`` onto ``base``: dicts merge, anything else replaces, ``None`` deletes."""
    if not isinstance(base, dict) or not isinstance(patch, dict):
        return copy.deepcopy(patch)
    merged = copy.deepcopy(base)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        elif key in merged:
            merged[key] = merge_parts(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def package_dir(stage: str) -> Path:
    return BUILD / stage / "package"


def merge_template(stage: str) -> dict[str, Any]:
    """The merge file's content for ``stage``."""
    _check_stage(stage)
    template = merge_parts(load_main_template(relative_to=package_dir(stage)), load_template(APP_PART))
    template["Parameters"]["Stage"]["Default"] = stage
    return template


def _check_stage(stage: str) -> None:
    if stage not in STAGES:
        raise SystemExit(f"stage must be one of {', '.join(STAGES)}, not {stage!r}")


def write_main_template(stage: str) -> Path:
    """The main stack alone (`chalice deploy` path), merged from infra/main/: build/{stage}/main.json."""
    _check_stage(stage)
    path = BUILD / stage / "main.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    template = load_main_template(relative_to=path.parent)
    path.write_text(json.dumps(template, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def write_merge_file(stage: str) -> Path:
    path = BUILD / stage / "merge.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(merge_template(stage), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def package(stage: str) -> Path:
    """Run `chalice package` for ``stage`` with the merge file; returns the SAM template's path."""
    merge_file = write_merge_file(stage)
    out = package_dir(stage)
    chalice = Path(sys.executable).parent / "chalice"
    env = {**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", REGION)}
    subprocess.run(
        [str(chalice), "package", "--stage", stage, "--merge-template", str(merge_file), str(out)],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return out / "sam.json"


def write_chalice_config(stage: str, stack_description: Path, config_path: Path = CHALICE_CONFIG) -> Path:
    """Write the main stack's outputs (``aws cloudformation describe-stacks`` JSON) into the
    stage's environment variables in .chalice/config.json, for `chalice deploy`."""
    (stack,) = json.loads(stack_description.read_text(encoding="utf-8"))["Stacks"]
    outputs = {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}
    missing = sorted(set(ENVIRONMENT_FROM_OUTPUTS.values()) - set(outputs))
    if missing:
        raise SystemExit(f"{stack_description}: the main stack has no outputs {missing}; deploy it first")
    config = json.loads(config_path.read_text(encoding="utf-8"))
    variables = config["stages"][stage].setdefault("environment_variables", {})
    variables.update({name: outputs[key] for name, key in ENVIRONMENT_FROM_OUTPUTS.items()})
    config_path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return config_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["main", "merge", "package", "chalice-config"])
    parser.add_argument("--stage", required=True, choices=STAGES)
    parser.add_argument("--stack-description", type=Path, help="chalice-config: describe-stacks JSON of the main stack")
    arguments = parser.parse_args()
    if arguments.command == "main":
        result = write_main_template(arguments.stage)
    elif arguments.command == "merge":
        result = write_merge_file(arguments.stage)
    elif arguments.command == "package":
        result = package(arguments.stage)
    else:
        if arguments.stack_description is None:
            parser.error("chalice-config needs --stack-description")
        result = write_chalice_config(arguments.stage, arguments.stack_description)
    print(result.relative_to(ROOT))


if __name__ == "__main__":
    main()
