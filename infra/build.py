"""Build the one merge file `chalice package --merge-template` takes, and package a stage.

    python infra/build.py main    --stage prod   # -> build/prod/main.json (the main stack alone)
    python infra/build.py merge   --stage prod   # -> build/prod/merge.json
    python infra/build.py package --stage prod   # merge, then chalice package -> build/prod/package/sam.json
    python infra/build.py chalice-config --stage prod --stack-description main-stack.json
                                                 # `chalice deploy` path: main stack outputs -> .chalice/config.json
    python infra/build.py policies --stage prod [--bucket-suffix -123456789012]
                                                 # infra/policies/*.json -> .chalice/policy-*-prod.json
    python infra/build.py function-policies --stage prod
                                                 # each function's role and inline policies, from the
                                                 # packaged template (build/prod/package/sam.json)

The main stack's template is built from the parts in infra/main/ (``load_main_template``:
concatenated, each logical id in one part only); `main` writes it alone, for the `chalice deploy`
path. The merge file is that template with infra/app.yaml deep-merged onto it (see
``merge_parts``); its Stage parameter defaults to the stage packaged, since the Chalice half
(function settings, policy files) is stage-specific. The state machine's DefinitionS3Location is
rewritten relative to the file written, where `aws cloudformation package` resolves it.

The functions' IAM policies (.chalice/policy-*.json, which Chalice reads) are generated from
infra/policies/*.json for a stage and bucket suffix; `package` regenerates them first, so a
BUCKET_SUFFIX deployment names the suffixed buckets. The committed files are the suffix-free
ones (tests/infra checks). The API's CORS origin is baked into the API definition when Chalice
builds it: `package` builds with a placeholder origin and replaces it by the stage's web origin,
"https://{Stage}.{DomainName}", resolved by CloudFormation.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import string
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
POLICY_STAGES = ("local", *STAGES)
REGION = "ap-northeast-1"
CHALICE_DIR = ROOT / ".chalice"
CHALICE_CONFIG = CHALICE_DIR / "config.json"
POLICY_SOURCES = INFRA / "policies"
# infra/policies/{kind}.json -> .chalice/{file}; .chalice/config.json names the files per function.
POLICY_FILES = {
    "api": "policy-{stage}.json",
    "events": "policy-events-{stage}.json",
    "definitions": "policy-definitions-{stage}.json",
    "sweeper": "policy-sweeper-{stage}.json",
    "backup": "policy-backup-{stage}.json",
    "canary": "policy-canary-{stage}.json",
}
LOCAL_ACCOUNT = "123456789012"  # moto's account; deployed stages name no account ("*")
# The CORS origin Chalice writes into the API's preflight responses while packaging, replaced by
# the stage's web origin afterwards (the .invalid top-level domain never resolves).
PACKAGING_WEB_ORIGIN = "https://web-origin.manabiplus.invalid"
STAGE_WEB_ORIGIN = "https://${Stage}.${DomainName}"
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
    # Read when the app is imported: `chalice deploy` builds the authorizer and CORS from them.
    "USER_POOL_ARN": "UserPoolArn",
    "WEB_ORIGIN": "WebOrigin",
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


def write_policies(stage: str, bucket_suffix: str = "", directory: Path = CHALICE_DIR) -> list[Path]:
    """The functions' IAM policy files for ``stage`` (and the stacks' BucketSuffix) in ``directory``."""
    if stage not in POLICY_STAGES:
        raise SystemExit(f"stage must be one of {', '.join(POLICY_STAGES)}, not {stage!r}")
    values = {
        "stage": stage,
        "bucket_suffix": bucket_suffix,
        "account": LOCAL_ACCOUNT if stage == "local" else "*",
    }
    written = []
    for kind, name in POLICY_FILES.items():
        text = string.Template((POLICY_SOURCES / f"{kind}.json").read_text(encoding="utf-8")).substitute(values)
        json.loads(text)
        path = directory / name.format(stage=stage)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def _with_stage_web_origin(value: Any) -> Any:
    """Replace the packaging placeholder origin (quoted, as API Gateway wants header values)."""
    if isinstance(value, dict):
        return {key: _with_stage_web_origin(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_with_stage_web_origin(item) for item in value]
    if value == f"'{PACKAGING_WEB_ORIGIN}'":
        return {"Fn::Sub": f"'{STAGE_WEB_ORIGIN}'"}
    if isinstance(value, str) and PACKAGING_WEB_ORIGIN in value:
        raise SystemExit(f"the placeholder CORS origin appears where it cannot be replaced: {value!r}")
    return value


def package(stage: str, bucket_suffix: str = "") -> Path:
    """Run `chalice package` for ``stage`` with the merge file; returns the SAM template's path."""
    merge_file = write_merge_file(stage)
    write_policies(stage, bucket_suffix)
    out = package_dir(stage)
    chalice = Path(sys.executable).parent / "chalice"
    env = {
        **os.environ,
        "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", REGION),
        "WEB_ORIGIN": PACKAGING_WEB_ORIGIN,
    }
    env.pop("USER_POOL_ARN", None)  # the merge file names this stack's pool
    subprocess.run(
        [str(chalice), "package", "--stage", stage, "--merge-template", str(merge_file), str(out)],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    sam = out / "sam.json"
    template = _with_stage_web_origin(json.loads(sam.read_text(encoding="utf-8")))
    sam.write_text(json.dumps(template, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return sam


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


def function_policies(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every function and state machine of a (packaged) template -> its role's logical id, inline
    policy documents (unresolved: Fn::Sub and friends as written) and managed policy ARNs."""
    resources = template["Resources"]
    kinds = {"AWS::Serverless::Function", "AWS::Lambda::Function", "AWS::StepFunctions::StateMachine"}
    found = {}
    for logical_id, resource in resources.items():
        if resource["Type"] not in kinds:
            continue
        properties = resource["Properties"]
        role = properties.get("Role") or properties.get("RoleArn")
        if not (isinstance(role, dict) and "Fn::GetAtt" in role):
            raise SystemExit(f"{logical_id}: its role is not a role of this template ({role!r})")
        role_id = role["Fn::GetAtt"][0]
        role_properties = resources[role_id]["Properties"]
        found[logical_id] = {
            "role": role_id,
            "policies": {p["PolicyName"]: p["PolicyDocument"] for p in role_properties.get("Policies", [])},
            "managedPolicyArns": role_properties.get("ManagedPolicyArns", []),
        }
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "command", choices=["main", "merge", "package", "chalice-config", "policies", "function-policies"]
    )
    parser.add_argument("--stage", required=True, choices=POLICY_STAGES)
    parser.add_argument("--bucket-suffix", default="", help="package, policies: the stacks' BucketSuffix")
    parser.add_argument("--stack-description", type=Path, help="chalice-config: describe-stacks JSON of the main stack")
    arguments = parser.parse_args()
    if arguments.command == "policies":
        for path in write_policies(arguments.stage, arguments.bucket_suffix):
            print(path.relative_to(ROOT))
        return
    if arguments.stage not in STAGES:
        parser.error(f"{arguments.command} takes --stage {' or '.join(STAGES)}")
    if arguments.command == "function-policies":
        sam = package_dir(arguments.stage) / "sam.json"
        if not sam.exists():
            package(arguments.stage, arguments.bucket_suffix)
        template = json.loads(sam.read_text(encoding="utf-8"))
        print(json.dumps(function_policies(template), indent=2, ensure_ascii=False))
        return
    if arguments.command == "main":
        result = write_main_template(arguments.stage)
    elif arguments.command == "merge":
        result = write_merge_file(arguments.stage)
    elif arguments.command == "package":
        result = package(arguments.stage, arguments.bucket_suffix)
    else:
        if arguments.stack_description is None:
            parser.error("chalice-config needs --stack-description")
        result = write_chalice_config(arguments.stage, arguments.stack_description)
    print(result.relative_to(ROOT))


if __name__ == "__main__":
    main()
