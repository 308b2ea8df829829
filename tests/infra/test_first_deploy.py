"""Issue #11: what a first real deployment hits that cfn-lint and checkov do not see.

Each test names the AWS rule it stands for (docs/DEPLOY.md, "What a first deployment hits").
The SAM transform is run with aws-sam-translator (the open-source implementation of
AWS::Serverless-2016-10-31) on the packaged template, as `aws cloudformation package` leaves it.
"""

from __future__ import annotations

import copy
import json
import os
import re
import sys
import zipfile
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from devstack.templates import INFRA, ROOT, load_template
from tests.infra.seed import DOMAIN, MAIN, STAGES, packaged, view
from tests.infra.test_seed_deploy import deploy, stack_deploys

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "infra"))
import build

TEMPLATE_BODY_LIMIT = 51_200  # bytes: `aws cloudformation deploy` without --s3-bucket refuses more
LAMBDA_ZIP_LIMIT = 50 * 1024 * 1024  # zipped, direct upload; 250 MB unzipped with layers
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024
STACK_FILES = ["zone.yaml", "bootstrap.yaml", "edge.yaml", "dr.yaml"]


def statements_of(document: dict[str, Any]) -> list[dict[str, Any]]:
    found = document["Statement"]
    return found if isinstance(found, list) else [found]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@cache
def transformed(stage: str) -> dict[str, Any]:
    """The packaged template after the SAM transform, as CloudFormation would expand it."""
    from samtranslator.translator.transform import transform

    template = copy.deepcopy(packaged(stage))
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://artifacts/app/deployment.zip"  # as `package` leaves it

    class NoManagedPolicies:
        def load(self) -> dict[str, str]:
            return {}

    os.environ.setdefault("AWS_DEFAULT_REGION", "ap-northeast-1")
    return transform(template, {"Stage": stage}, NoManagedPolicies())  # type: ignore[no-any-return]


def chalice_policy(stage: str, role: str) -> list[dict[str, Any]]:
    """The statements of one Chalice function role in the packaged template."""
    properties = packaged(stage)["Resources"][role]["Properties"]
    return [s for policy in properties["Policies"] for s in statements_of(policy["PolicyDocument"])]


# ------------------------------------------------------------------ template size
@pytest.mark.parametrize("stage", STAGES)
def test_the_main_stack_is_deployed_through_the_artifacts_bucket(stage: str) -> None:
    body = (ROOT / "build" / stage / "package" / "sam.json").read_bytes()
    assert len(body) > TEMPLATE_BODY_LIMIT  # why: the CLI would refuse it inline
    result = deploy(stage, DRY_RUN="1", DOMAIN_NAME="manabi.example.jp")
    assert result.returncode == 0, result.stderr
    main_deploys = [line for line in result.stdout.splitlines() if f"--stack-name {stage}-manabiplus-main" in line]
    assert main_deploys
    for line in main_deploys:
        assert re.search(rf"--s3-bucket \\?<{stage}-manabiplus-bootstrap\.ArtifactsBucketName\\?>", line)


@pytest.mark.parametrize("file", STACK_FILES)
def test_the_other_stacks_fit_inline(file: str) -> None:
    assert (INFRA / file).stat().st_size < TEMPLATE_BODY_LIMIT


# ------------------------------------------------------------------ cvdupdate in the artifact
def test_the_function_package_carries_cvdupdate_within_lambdas_limits() -> None:
    requirements = (ROOT / "requirements.txt").read_text(encoding="utf-8")
    assert re.search(r"^cvdupdate==[\d.]+$", requirements, re.MULTILINE)
    packaged("stag")
    archive = ROOT / "build" / "stag" / "package" / "deployment.zip"
    with zipfile.ZipFile(archive) as package:
        names = package.namelist()
        unzipped = sum(info.file_size for info in package.infolist())
    assert "cvdupdate/cvdupdate.py" in names
    assert archive.stat().st_size < LAMBDA_ZIP_LIMIT
    assert unzipped < LAMBDA_UNZIPPED_LIMIT


# ------------------------------------------------------------------ 403 instead of 404
def unconditional_list(statements: list[dict[str, Any]], bucket_arn: str) -> bool:
    return any(
        s["Effect"] == "Allow"
        and "s3:ListBucket" in as_list(s["Action"])
        and bucket_arn in as_list(s["Resource"])
        and "Condition" not in s
        for s in statements
    )


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize(
    ("role", "bucket"),
    [
        ("ApiHandlerRole", "application"),  # GET /admin/definitions reads clamav/manifest.json
        ("UpdateDefinitionsRole", "application"),  # the first run finds no manifest
        ("BackupDataRole", "backup"),  # HEAD of a backup that does not exist yet
    ],
)
def test_functions_that_expect_a_404_may_list_the_bucket(stage: str, role: str, bucket: str) -> None:
    assert unconditional_list(chalice_policy(stage, role), f"arn:aws:s3:::{stage}-manabiplus-{bucket}")


@pytest.mark.parametrize("stage", STAGES)
def test_the_scanner_may_list_the_application_bucket(stage: str) -> None:
    (policy,) = view(MAIN, stage).properties("ScannerRole")["Policies"]
    assert unconditional_list(statements_of(policy["PolicyDocument"]), f"arn:aws:s3:::{stage}-manabiplus-application")


# ------------------------------------------------------------------ CORS
@pytest.mark.parametrize("stage", STAGES)
def test_the_api_allows_the_stages_web_origin_and_no_other(stage: str) -> None:
    template = packaged(stage)
    text = json.dumps(template)
    assert "127.0.0.1" not in text
    origins = {
        json.dumps(value)
        for path in template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["paths"].values()
        for method in path.values()
        for response in method.get("x-amazon-apigateway-integration", {}).get("responses", {}).values()
        for header, value in response.get("responseParameters", {}).items()
        if header.endswith("Access-Control-Allow-Origin")
    }
    assert origins == {json.dumps({"Fn::Sub": "'https://${Stage}.${DomainName}'"})}
    variables = view(template, stage).properties("APIHandler")["Environment"]["Variables"]
    assert variables["WEB_ORIGIN"] == f"https://{stage}.{DOMAIN}"


@pytest.mark.parametrize("stage", STAGES)
def test_the_browser_may_post_uploads_and_get_downloads_from_the_web_origin(stage: str) -> None:
    (rule,) = view(MAIN, stage).properties("DataBucket")["CorsConfiguration"]["CorsRules"]
    assert rule["AllowedOrigins"] == [f"https://{stage}.{DOMAIN}"]
    assert set(rule["AllowedMethods"]) == {"POST", "GET", "HEAD"}
    assert {"ETag", "x-amz-version-id"} <= set(rule["ExposedHeaders"])
    assert rule["AllowedHeaders"]


def test_chalice_deploy_builds_the_authorizer_and_cors_from_the_stack() -> None:
    assert build.ENVIRONMENT_FROM_OUTPUTS["USER_POOL_ARN"] == "UserPoolArn"
    assert build.ENVIRONMENT_FROM_OUTPUTS["WEB_ORIGIN"] == "WebOrigin"
    assert "WebOrigin" in view(MAIN, "prod").template["Outputs"]


# ------------------------------------------------------------------ zone delegation is its own phase
def test_the_zone_is_created_and_delegated_before_the_certificate_is_requested() -> None:
    result = deploy("stag", DRY_RUN="1", DOMAIN_NAME="manabi.example.jp")
    assert result.returncode == 0, result.stderr
    stacks = [stack for _, stack, _ in stack_deploys(result.stdout)]
    assert stacks[:2] == ["stag-manabiplus-zone", "stag-manabiplus-edge"]
    after_zone = result.stdout.split("--stack-name stag-manabiplus-zone", 1)[1]
    between = after_zone.split("--stack-name stag-manabiplus-edge")[0]
    assert "delegat" in between.lower()
    zone = load_template(INFRA / "zone.yaml")["Resources"]
    edge = load_template(INFRA / "edge.yaml")
    assert {r["Type"] for r in zone.values()} >= {"AWS::Route53::HostedZone"}
    assert "AWS::Route53::HostedZone" not in {r["Type"] for r in edge["Resources"].values()}
    assert edge["Parameters"]["HostedZoneId"]["Type"] == "AWS::Route53::HostedZone::Id"


# ------------------------------------------------------------------ a failed first create leaves nothing behind
def all_templates(stage: str) -> dict[str, dict[str, Any]]:
    found = {file: load_template(INFRA / file) for file in STACK_FILES}
    found["packaged"] = packaged(stage)
    return found


@pytest.mark.parametrize("stage", STAGES)
def test_nothing_is_kept_when_a_first_create_rolls_back(stage: str) -> None:
    for file, template in all_templates(stage).items():
        for logical_id, resource in template["Resources"].items():
            assert resource.get("DeletionPolicy") != "Retain", (file, logical_id)


def test_tables_are_protected_from_deletion_only_after_the_first_create() -> None:
    result = deploy("prod", DRY_RUN="1", DOMAIN_NAME="manabi.example.jp")
    main_deploys = [line for line in result.stdout.splitlines() if "--stack-name prod-manabiplus-main" in line]
    assert [("TableDeletionProtection=false" in line, "TableDeletionProtection=true" in line) for line in main_deploys][
        -1
    ] == (False, True)
    tables = view(MAIN, "prod").of_type("AWS::DynamoDB::Table")
    for table in tables.values():
        assert table["DeletionProtectionEnabled"] == "true"  # the parameter's default


# ------------------------------------------------------------------ image tags are immutable
def test_an_existing_image_tag_is_not_pushed_again() -> None:
    result = deploy("stag", DRY_RUN="1", DOMAIN_NAME="manabi.example.jp")
    lines = result.stdout.splitlines()
    check = next(i for i, line in enumerate(lines) if "aws ecr describe-images" in line)
    build_line = next(i for i, line in enumerate(lines) if "docker build" in line)
    assert check < build_line
    assert "--provenance=false" in lines[build_line]


# ------------------------------------------------------------------ the scanner image
DOCKERFILE = INFRA / "scanner" / "Dockerfile"


def setup_packages() -> list[str]:
    """What scripts/setup.sh installs for the scanner (the tests' tools are listed apart)."""
    text = (ROOT / "scripts" / "setup.sh").read_text(encoding="utf-8")
    (listed,) = re.findall(r"^SCANNER_PACKAGES=\(([^)]*)\)", text, re.MULTILINE)
    return listed.split()


def image_packages() -> list[str]:
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    (command,) = re.findall(r"apt-get install [^&]*", text)
    return [word for word in command.split()[2:] if not word.startswith("-")]


def test_the_scanner_image_runs_debians_clamav_like_the_local_stack() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    (base,) = re.findall(r"^FROM (\S+)", text, re.MULTILINE)
    assert re.fullmatch(r"(public\.ecr\.aws/docker/library/)?python:3\.11(\.\d+)?-slim-bookworm(@sha256:\w+)?", base)
    assert "yum" not in text and "epel" not in text.lower()
    assert {"clamav", "clamav-daemon"} <= set(image_packages()) == set(setup_packages())
    assert re.search(r"awslambdaric==[\d.]+", text)
    assert re.search(r'^ENTRYPOINT \["python", "-m", "awslambdaric"\]$', text, re.MULTILINE)


# ------------------------------------------------------------------ Lambda memory quota
@pytest.mark.parametrize("stage", STAGES)
def test_the_scanners_memory_is_a_parameter_that_fits_a_new_account(stage: str) -> None:
    stack = view(MAIN, stage)
    parameter = stack.template["Parameters"]["ScannerMemorySize"]
    assert parameter["MinValue"] == 3008 and parameter["MaxValue"] == 10240
    assert stack.template["Resources"]["ScannerFunction"]["Properties"]["MemorySize"] == {"Ref": "ScannerMemorySize"}
    result = deploy(stage, DRY_RUN="1", DOMAIN_NAME="manabi.example.jp", SCANNER_MEMORY_MB="3008")
    assert "ScannerMemorySize=3008" in result.stdout
    assert "aws lambda get-account-settings" in result.stdout


# ------------------------------------------------------------------ BUCKET_SUFFIX reaches the function policies
@pytest.mark.parametrize("stage", STAGES)
def test_function_policies_follow_the_bucket_suffix(stage: str, tmp_path: Path) -> None:
    written = build.write_policies(stage, "-123456789012", tmp_path)
    assert written
    for path in written:
        for statement in json.loads(path.read_text(encoding="utf-8"))["Statement"]:
            for resource in as_list(statement["Resource"]):
                match = re.match(r"arn:aws:s3:::([^/]+)", resource)
                if match:
                    assert match.group(1).endswith("-123456789012"), (path.name, resource)
    result = deploy(stage, DRY_RUN="1", DOMAIN_NAME="manabi.example.jp", BUCKET_SUFFIX="-123456789012")
    assert f"infra/build.py package --stage {stage} --bucket-suffix -123456789012" in result.stdout


def test_the_committed_policy_files_are_the_generated_ones(tmp_path: Path) -> None:
    for stage in ("local", *STAGES):
        for path in build.write_policies(stage, "", tmp_path):
            assert path.read_text(encoding="utf-8") == (ROOT / ".chalice" / path.name).read_text(encoding="utf-8")


# ------------------------------------------------------------------ the API's CLI client and Bot Control
def test_production_bot_control_lets_the_cli_reach_the_api_only() -> None:
    (acl,) = view("edge.yaml", "prod").of_type("AWS::WAFv2::WebACL").values()
    rules = {rule["Name"]: rule for rule in acl["Rules"]}
    group = rules["AWS-AWSManagedRulesBotControlRuleSet"]["Statement"]["ManagedRuleGroupStatement"]
    overridden = {o["Name"]: o["ActionToUse"] for o in group["RuleActionOverrides"]}
    assert overridden == {"CategoryHttpLibrary": {"Count": {}}, "SignalNonBrowserUserAgent": {"Count": {}}}
    (relabel,) = [rule for rule in acl["Rules"] if rule["Priority"] > 6]
    assert relabel["Action"] == {"Block": {}}
    text = json.dumps(relabel["Statement"])
    assert "awswaf:managed:aws:bot-control:bot:category:http_library" in text
    assert "awswaf:managed:aws:bot-control:signal:non_browser_user_agent" in text
    assert f"api.prod.{DOMAIN}" in text


# ------------------------------------------------------------------ SAM's extra "Stage" stage
@pytest.mark.parametrize("stage", STAGES)
def test_sam_creates_only_the_api_stage(stage: str) -> None:
    resources = transformed(stage)["Resources"]
    stages = [r["Properties"].get("StageName") for r in resources.values() if r["Type"] == "AWS::ApiGateway::Stage"]
    deployments = [
        r["Properties"].get("StageName") for r in resources.values() if r["Type"] == "AWS::ApiGateway::Deployment"
    ]
    assert stages == ["api"]
    assert deployments == [None]  # a Deployment with a StageName creates that stage too
    # The origin WebACL's association waits for the stage under the name SAM gives it.
    assert resources[resources["ApiOriginWebAclAssociation"]["DependsOn"]]["Type"] == "AWS::ApiGateway::Stage"


# ------------------------------------------------------------------ IAM
def group(stage: str, name: str) -> dict[str, Any]:
    groups = view(MAIN, stage).of_type("AWS::IAM::Group")
    return next(g for g in groups.values() if g["GroupName"] == f"{stage}-manabiplus-{name}")


def inline(group_properties: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for p in group_properties.get("Policies", []) for s in statements_of(p["PolicyDocument"])]


@pytest.mark.parametrize("stage", STAGES)
def test_app_developers_cannot_borrow_or_replace_the_scanner(stage: str) -> None:
    denies = [s for s in inline(group(stage, "app-developers")) if s["Effect"] == "Deny"]
    passing = [s for s in denies if "iam:PassRole" in as_list(s["Action"])]
    assert any("<ScannerRole.Arn>" in as_list(s["Resource"]) for s in passing)
    changing = {a for s in denies if "<ScannerFunction.Arn>" in as_list(s["Resource"]) for a in as_list(s["Action"])}
    assert {"lambda:UpdateFunctionCode", "lambda:UpdateFunctionConfiguration"} <= changing


@pytest.mark.parametrize("stage", STAGES)
def test_operators_may_run_the_documented_restores(stage: str) -> None:
    allowed = {
        (action, resource)
        for s in inline(group(stage, "operators"))
        if s["Effect"] == "Allow"
        for action in as_list(s["Action"])
        for resource in as_list(s["Resource"])
    }
    table = f"arn:aws:dynamodb:ap-northeast-1:123456789012:table/{stage}-manabiplus-files"
    osaka = view("dr.yaml", stage).properties("DrBackupBucket")["BucketName"]  # stag has its own name
    for needed in [
        ("dynamodb:RestoreTableToPointInTime", table),
        ("dynamodb:ImportTable", f"{table}*"),
        ("dynamodb:GetItem", table),
        ("dynamodb:UpdateItem", table),
        ("s3:GetObject", f"arn:aws:s3:::{osaka}/*"),
        ("s3:ListBucket", f"arn:aws:s3:::{osaka}"),
        ("s3:GetObject", f"arn:aws:s3:::{stage}-manabiplus-log/*"),
        ("s3:GetObject", f"arn:aws:s3:::{stage}-manabiplus-cloudtrail/*"),
    ]:
        assert needed in allowed, needed


SERVICE_PREFIX = {
    "ApiGateway": "apigateway",
    "ApplicationAutoScaling": "application-autoscaling",
    "CertificateManager": "acm",
    "CloudFront": "cloudfront",
    "CloudTrail": "cloudtrail",
    "CloudWatch": "cloudwatch",
    "Cognito": "cognito-idp",
    "DynamoDB": "dynamodb",
    "ECR": "ecr",
    "Events": "events",
    "IAM": "iam",
    "KMS": "kms",
    "KinesisFirehose": "firehose",
    "Lambda": "lambda",
    "Logs": "logs",
    "ResourceGroups": "resource-groups",
    "Route53": "route53",
    "S3": "s3",
    "SNS": "sns",
    "Scheduler": "scheduler",
    "SecretsManager": "secretsmanager",
    "StepFunctions": "states",
    "WAFv2": "wafv2",
}
# What the seed's managed policies cover, by service prefix (AWS managed policy documents).
MANAGED_COVERS = {
    "AmazonS3FullAccess": {"s3"},
    "AmazonDynamoDBFullAccess": {"dynamodb", "application-autoscaling"},
    "AmazonAPIGatewayAdministrator": {"apigateway"},
    "AmazonCognitoPowerUser": {"cognito-idp"},
    "AWSWAFFullAccess": {"wafv2"},
    "AmazonRoute53FullAccess": {"route53"},
    "AWSCloudFormationFullAccess": {"cloudformation"},
    "AWSLambda_FullAccess": {"lambda"},
    "IAMFullAccess": {"iam"},
}


@pytest.mark.parametrize("stage", STAGES)
def test_cloudformation_administrators_can_run_make_deploy(stage: str) -> None:
    admins = group(stage, "cfn-admins")
    covered = {
        prefix
        for arn in admins.get("ManagedPolicyArns", [])
        for prefix in MANAGED_COVERS.get(arn.rsplit("/", 1)[1], set())
    }
    covered |= {
        action.split(":")[0]
        for s in inline(admins)
        if s["Effect"] == "Allow"
        for action in as_list(s["Action"])
        if action.endswith(":*")
    }
    needed = {"cloudformation", "sts"} - {"sts"}  # sts:GetCallerIdentity needs no permission
    for template in [*all_templates(stage).values(), transformed(stage)]:
        for resource in template["Resources"].values():
            service = resource["Type"].split("::")[1]
            if service != "Serverless":
                needed.add(SERVICE_PREFIX[service])
    assert not needed - covered
    assert len(admins.get("ManagedPolicyArns", [])) <= 10  # IAM: at most 10 managed policies per group


@pytest.mark.parametrize("stage", STAGES)
def test_cloudwatch_may_use_the_alert_key_only_for_this_accounts_alarms(stage: str) -> None:
    key = view(MAIN, stage).properties("AlertKey")
    (statement,) = [s for s in key["KeyPolicy"]["Statement"] if s["Sid"] == "CloudWatchAlarmsPublish"]
    assert statement["Condition"]["StringEquals"]["aws:SourceAccount"] == "123456789012"
    alarms = "arn:aws:cloudwatch:ap-northeast-1:123456789012:alarm:*"
    assert statement["Condition"]["ArnLike"]["aws:SourceArn"] == alarms


@pytest.mark.parametrize("stage", STAGES)
def test_only_the_updaters_own_role_writes_definitions(stage: str) -> None:
    main_lock = next(
        s
        for s in view(MAIN, stage).properties("AppBucketPolicy")["PolicyDocument"]["Statement"]
        if s["Sid"] == "OnlyTheUpdaterWritesDefinitions"
    )
    assert main_lock["Condition"] == {
        "ArnNotEquals": {"aws:PrincipalArn": f"arn:aws:iam::123456789012:role/manabiplus-{stage}-update_definitions"}
    }
    merged = view(packaged(stage), stage)
    packaged_lock = next(
        s
        for s in merged.properties("AppBucketPolicy")["PolicyDocument"]["Statement"]
        if s["Sid"] == "OnlyTheUpdaterWritesDefinitions"
    )
    assert packaged_lock["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": "<UpdateDefinitionsRole.Arn>"}}
    main_statements = view(MAIN, stage).properties("AppBucketPolicy")["PolicyDocument"]["Statement"]
    packaged_statements = merged.properties("AppBucketPolicy")["PolicyDocument"]["Statement"]
    lock = "OnlyTheUpdaterWritesDefinitions"
    assert [s for s in main_statements if s["Sid"] != lock] == [s for s in packaged_statements if s["Sid"] != lock]
    assert [s["Sid"] for s in main_statements] == [s["Sid"] for s in packaged_statements]


# ------------------------------------------------------------------ seed
@pytest.mark.parametrize("stage", STAGES)
def test_the_application_bucket_has_the_seeds_name(stage: str) -> None:
    assert view(MAIN, stage).properties("AppBucket")["BucketName"] == f"{stage}-manabiplus-application"


@pytest.mark.parametrize("stage", STAGES)
def test_every_table_scales_reads_and_writes_between_5_and_100(stage: str) -> None:
    stack = view(MAIN, stage)
    targets = stack.of_type("AWS::ApplicationAutoScaling::ScalableTarget").values()
    for table in stack.of_type("AWS::DynamoDB::Table"):
        dimensions = {t["ScalableDimension"] for t in targets if t["ResourceId"] == f"table/<{table}>"}
        assert dimensions == {"dynamodb:table:ReadCapacityUnits", "dynamodb:table:WriteCapacityUnits"}, table


# ------------------------------------------------------------------ outputs the web deploy reads
@pytest.mark.parametrize("stage", STAGES)
def test_the_stack_tells_the_web_deploy_what_it_needs(stage: str) -> None:
    merged = view(packaged(stage), stage)
    outputs = {name: merged.resolve(output["Value"]) for name, output in merged.template["Outputs"].items()}
    assert outputs["WebBucketName"] == "<WebBucket>"
    assert outputs["WebDistributionId"] == "<WebDistribution>"
    assert outputs["WebOrigin"] == f"https://{stage}.{DOMAIN}"
    assert outputs["ApiUrl"] == f"https://api.{stage}.{DOMAIN}"
    assert outputs["UserPoolId"] == "<UserPool>"
    assert outputs["UserPoolClientId"] == "<UserPoolClient>"


def test_the_web_app_is_published_after_the_app_when_its_publisher_exists(tmp_path: Path) -> None:
    publisher = INFRA / "publish_web.py"
    created = not publisher.exists()
    if created:
        publisher.write_text("# placeholder written by the test\n", encoding="utf-8")
    try:
        result = deploy("stag", DRY_RUN="1", DOMAIN_NAME="manabi.example.jp")
    finally:
        if created:
            publisher.unlink()
    lines = result.stdout.splitlines()
    main = max(i for i, line in enumerate(lines) if "--stack-name stag-manabiplus-main" in line)
    publish = next(i for i, line in enumerate(lines) if "infra/publish_web.py" in line)
    assert publish > main
    assert "--stage stag --stack stag-manabiplus-main --region ap-northeast-1" in lines[publish]
    if created:
        without = deploy("stag", DRY_RUN="1", DOMAIN_NAME="manabi.example.jp")
        assert "publish_web.py" not in without.stdout


# ------------------------------------------------------------------ which policy each function gets
@pytest.mark.parametrize("stage", STAGES)
def test_every_function_has_its_own_role_and_the_chalice_ones_carry_their_policy_file(stage: str) -> None:
    found = build.function_policies(packaged(stage))
    assert set(found) == {
        "APIHandler",
        "OnObjectCreated",
        "UpdateDefinitions",
        "SweepStuckUploads",
        "BackupData",
        "ScanCanary",
        "ScannerFunction",
        "ScanStateMachine",
    }
    assert len({entry["role"] for entry in found.values()}) == len(found)  # one role each
    files = {
        "APIHandler": "policy-{}.json",
        "OnObjectCreated": "policy-events-{}.json",
        "UpdateDefinitions": "policy-definitions-{}.json",
        "SweepStuckUploads": "policy-sweeper-{}.json",
        "BackupData": "policy-backup-{}.json",
        "ScanCanary": "policy-canary-{}.json",
    }
    for function, name in files.items():
        (document,) = found[function]["policies"].values()
        assert document == json.loads((ROOT / ".chalice" / name.format(stage)).read_text(encoding="utf-8")), function
