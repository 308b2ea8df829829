"""R-DDB, R-COG, R-SEC-03, R-NET-01, R-LOG-02, R-LOG-04, R-IAM, R-GEN-03, R-LMB-02 and the scanner
image: the main stack (and, for tags and retention, every stack)."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from chalicelib.clamav.process import render_config
from chalicelib.config import ScannerSettings
from chalicelib.wiring import build_runtime
from devstack.templates import INFRA, TemplateContext
from tests.infra.seed import DOMAIN, ENVIRONMENT, PARAMETERS, STAGES, tags, view

STACK_FILES = ["zone.yaml", "bootstrap.yaml", "edge.yaml", "dr.yaml", "main.yaml"]
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
CLOUDFRONT_ZONE = "Z2FDTNDATAQYW2"
# Resource types that take tags, and the property that holds them (R-GEN-03).
TAG_PROPERTY = {
    "AWS::S3::Bucket": "Tags",
    "AWS::DynamoDB::Table": "Tags",
    "AWS::KMS::Key": "Tags",
    "AWS::SNS::Topic": "Tags",
    "AWS::IAM::Role": "Tags",
    "AWS::Lambda::Function": "Tags",
    "AWS::StepFunctions::StateMachine": "Tags",
    "AWS::Logs::LogGroup": "Tags",
    "AWS::CloudFront::Distribution": "Tags",
    "AWS::CloudTrail::Trail": "Tags",
    "AWS::Cognito::UserPool": "UserPoolTags",
    "AWS::Route53::HostedZone": "HostedZoneTags",
    "AWS::CertificateManager::Certificate": "Tags",
    "AWS::WAFv2::WebACL": "Tags",
    "AWS::KinesisFirehose::DeliveryStream": "Tags",
    "AWS::ECR::Repository": "Tags",
    "AWS::ResourceGroups::Group": "Tags",
    "AWS::Serverless::Function": "Tags",
    "AWS::Serverless::Api": "Tags",
    "AWS::CloudWatch::Alarm": "Tags",
    "AWS::SecretsManager::Secret": "Tags",
}


def main(stage: str) -> Any:
    return view("main.yaml", stage)


# ------------------------------------------------------------------ R-GEN-03
@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("file", STACK_FILES)
def test_every_taggable_resource_carries_project_and_environment(stage: str, file: str) -> None:
    assert_tagged(view(file, stage), stage)


def assert_tagged(stack: Any, stage: str) -> None:
    checked = 0
    for logical_id, resource in stack.template["Resources"].items():
        if resource["Type"] not in TAG_PROPERTY or (resource.get("Condition") == "IsProd" and stage != "prod"):
            continue
        found = tags(stack.properties(logical_id), TAG_PROPERTY[resource["Type"]])
        assert found.get("Project") == "Manabi Plus", logical_id
        assert found.get("Environment") == ENVIRONMENT[stage], logical_id
        checked += 1
    assert checked >= 2


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("file", ["edge.yaml", "dr.yaml", "main.yaml"])
def test_each_region_has_the_tag_based_resource_group(stage: str, file: str) -> None:
    (group,) = view(file, stage).of_type("AWS::ResourceGroups::Group").values()
    query = group["ResourceQuery"]
    assert query["Type"] == "TAG_FILTERS_1_0"
    assert query["Query"]["TagFilters"] == [
        {"Key": "Project", "Values": ["Manabi Plus"]},
        {"Key": "Environment", "Values": [ENVIRONMENT[stage]]},
    ]


# ------------------------------------------------------------------ R-DDB, R-BAK-01
@pytest.mark.parametrize("stage", STAGES)
def test_the_files_table_is_provisioned_5_5_with_pitr_and_no_index(stage: str) -> None:
    table = main(stage).properties("FilesTable")
    assert table["TableName"] == f"{stage}-manabiplus-files"
    assert table["BillingMode"] == "PROVISIONED"
    assert table["ProvisionedThroughput"] == {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
    assert "GlobalSecondaryIndexes" not in table and "LocalSecondaryIndexes" not in table
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    # R-DDB-04: the default (AWS owned) key; DynamoDB always encrypts at rest.
    assert table["SSESpecification"] == {"SSEEnabled": False}


@pytest.mark.parametrize("stage", STAGES)
def test_reads_and_writes_scale_between_5_and_100_at_70_percent(stage: str) -> None:
    stack = main(stage)
    targets = stack.of_type("AWS::ApplicationAutoScaling::ScalableTarget")
    # Every table, reads and writes (tests/infra/test_first_deploy.py checks each table has both).
    assert {(t["ResourceId"], t["ScalableDimension"]) for t in targets.values()} == {
        (f"table/<{table}>", f"dynamodb:table:{unit}CapacityUnits")
        for table in ("FilesTable", "ProfilesTable")
        for unit in ("Read", "Write")
    }
    for target in targets.values():
        assert (target["MinCapacity"], target["MaxCapacity"]) == (5, 100)
    policies = stack.of_type("AWS::ApplicationAutoScaling::ScalingPolicy")
    assert {p["ScalingTargetId"].strip("<>") for p in policies.values()} == set(targets)
    metrics = set()
    for policy in policies.values():
        assert policy["PolicyType"] == "TargetTrackingScaling"
        config = policy["TargetTrackingScalingPolicyConfiguration"]
        assert (config["TargetValue"], config["ScaleInCooldown"], config["ScaleOutCooldown"]) == (70, 60, 60)
        metrics.add(config["PredefinedMetricSpecification"]["PredefinedMetricType"])
    assert metrics == {"DynamoDBReadCapacityUtilization", "DynamoDBWriteCapacityUtilization"}


@pytest.mark.parametrize("stage", STAGES)
def test_the_table_is_exported_daily_to_the_backup_bucket(stage: str) -> None:
    schedule = main(stage).properties("FilesTableDailyExport")
    assert schedule["ScheduleExpression"] == "cron(0 3 * * ? *)"  # daily (R-BAK-02)
    assert schedule["ScheduleExpressionTimezone"] == "Asia/Tokyo"
    target = schedule["Target"]
    assert target["Arn"] == "arn:aws:scheduler:::aws-sdk:dynamodb:exportTableToPointInTime"
    request = json.loads(target["Input"])
    assert request["TableArn"] == "<FilesTable.Arn>"
    assert request["S3Bucket"] == "<BackupBucket>"  # replicated to Osaka in prod
    assert request["S3Prefix"].startswith("dynamodb/")
    statements = main(stage).properties("FilesTableExportRole")["Policies"][0]["PolicyDocument"]["Statement"]
    assert {
        "Action": "dynamodb:ExportTableToPointInTime",
        "Effect": "Allow",
        "Resource": "<FilesTable.Arn>",
    } in statements


# ------------------------------------------------------------------ R-COG
@pytest.mark.parametrize("stage", STAGES)
def test_the_user_pool_is_exactly_the_seeds(stage: str) -> None:
    pool = main(stage).properties("UserPool")
    password = pool["Policies"]["PasswordPolicy"]
    assert {k: v for k, v in password.items() if k != "MinimumLength"} == {
        "RequireNumbers": True,
        "RequireSymbols": True,
        "RequireUppercase": True,
        "RequireLowercase": True,
        "TemporaryPasswordValidityDays": 7,
    }
    (email,) = pool["Schema"]
    assert (email["Name"], email["Required"]) == ("email", True)
    assert pool["AutoVerifiedAttributes"] == ["email"]
    assert pool["AliasAttributes"] == ["email", "phone_number", "preferred_username"]
    assert pool["VerificationMessageTemplate"] == {
        "DefaultEmailOption": "CONFIRM_WITH_CODE",
        "EmailMessage": "検証コードは {####} です。",
        "EmailSubject": "検証コード",
        "SmsMessage": "検証コードは {####} です。",
    }
    assert pool["SmsAuthenticationMessage"] == "検証コードは {####} です。"
    assert pool["EmailConfiguration"] == {"EmailSendingAccount": "COGNITO_DEFAULT"}
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is False
    assert pool["UsernameConfiguration"] == {"CaseSensitive": False}


# ------------------------------------------------------------------ R-SEC-03, R-NET-01
def distributions(stage: str, merged: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    stack = view(merged, stage) if merged else main(stage)
    return {
        logical_id: props["DistributionConfig"]
        for logical_id, props in stack.of_type("AWS::CloudFront::Distribution").items()
    }


@pytest.mark.parametrize("stage", STAGES)
def test_both_distributions_share_the_seeds_settings(stage: str) -> None:
    found = distributions(stage)
    assert set(found) == {"WebDistribution", "ApiDistribution"}
    prefixes = {"WebDistribution": "cf-website/", "ApiDistribution": "cf-api/"}
    for logical_id, config in found.items():
        assert config["WebACLId"] == PARAMETERS["WebAclArn"]
        assert config["ViewerCertificate"] == {
            "AcmCertificateArn": PARAMETERS["CertificateArn"],
            "SslSupportMethod": "sni-only",
            "MinimumProtocolVersion": "TLSv1.2_2021",
        }
        assert config["PriceClass"] == "PriceClass_All"
        assert config["HttpVersion"] == "http2"
        assert config["IPV6Enabled"] is True
        assert config["Logging"] == {
            "Bucket": "<LogBucket.DomainName>",
            "Prefix": prefixes[logical_id],
            "IncludeCookies": False,
        }
        (origin,) = config["Origins"]
        assert (origin["ConnectionAttempts"], origin["ConnectionTimeout"]) == (3, 10)
        assert "OriginShield" not in origin
        assert config["DefaultCacheBehavior"]["Compress"] is False
        assert not config.get("CacheBehaviors")


@pytest.mark.parametrize("stage", STAGES)
def test_the_web_distribution_serves_the_private_bucket_over_https(stage: str) -> None:
    web = distributions(stage)["WebDistribution"]
    assert web["Aliases"] == [f"{stage}.{DOMAIN}"]
    assert web["DefaultRootObject"] == "index.html"
    (origin,) = web["Origins"]
    assert origin["DomainName"] == "<WebBucket.RegionalDomainName>"
    assert origin["OriginAccessControlId"] == "<WebOriginAccessControl.Id>"
    behavior = web["DefaultCacheBehavior"]
    assert behavior["ViewerProtocolPolicy"] == "redirect-to-https"
    assert behavior["AllowedMethods"] == ["GET", "HEAD"]
    assert behavior["CachePolicyId"] == CACHING_OPTIMIZED


@pytest.mark.parametrize("stage", STAGES)
def test_the_api_distribution_is_https_only_all_methods_never_cached(stage: str) -> None:
    api = distributions(stage)["ApiDistribution"]
    assert api["Aliases"] == [f"api.{stage}.{DOMAIN}"]
    behavior = api["DefaultCacheBehavior"]
    assert behavior["ViewerProtocolPolicy"] == "https-only"
    assert sorted(behavior["AllowedMethods"]) == ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"]
    assert behavior["CachePolicyId"] == CACHING_DISABLED
    (origin,) = api["Origins"]
    assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    assert origin["OriginPath"] == "/api"


SECRET_HEADER = "{{resolve:secretsmanager:<OriginVerifySecret>:SecretString}}"


@pytest.mark.parametrize("stage", STAGES)
def test_the_api_admits_only_requests_carrying_cloudfronts_secret_header(stage: str) -> None:
    stack = main(stage)
    stack.parameters["ApiOriginDomain"] = "abc123.execute-api.ap-northeast-1.amazonaws.com"
    (origin,) = distributions(stage)["ApiDistribution"]["Origins"]
    assert origin["OriginCustomHeaders"] == [{"HeaderName": "x-origin-verify", "HeaderValue": SECRET_HEADER}]
    acl = stack.properties("ApiOriginWebAcl")
    assert acl["Scope"] == "REGIONAL"
    assert acl["DefaultAction"] == {"Block": {}}
    (rule,) = acl["Rules"]
    assert rule["Action"] == {"Allow": {}}
    match = rule["Statement"]["ByteMatchStatement"]
    assert match["FieldToMatch"] == {"SingleHeader": {"Name": "x-origin-verify"}}
    assert (match["PositionalConstraint"], match["SearchString"]) == ("EXACTLY", SECRET_HEADER)
    association = stack.properties("ApiOriginWebAclAssociation")
    assert association["ResourceArn"] == "arn:aws:apigateway:ap-northeast-1::/restapis/abc123/stages/api"
    assert association["WebACLArn"] == "<ApiOriginWebAcl.Arn>"


@pytest.mark.parametrize("stage", STAGES)
def test_both_sites_have_alias_records_for_ipv4_and_ipv6(stage: str) -> None:
    records = main(stage).of_type("AWS::Route53::RecordSet").values()
    found = {(r["Name"], r["Type"], r["AliasTarget"]["DNSName"]) for r in records}
    assert found == {
        (f"{stage}.{DOMAIN}", "A", "<WebDistribution.DomainName>"),
        (f"{stage}.{DOMAIN}", "AAAA", "<WebDistribution.DomainName>"),
        (f"api.{stage}.{DOMAIN}", "A", "<ApiDistribution.DomainName>"),
        (f"api.{stage}.{DOMAIN}", "AAAA", "<ApiDistribution.DomainName>"),
    }
    for record in records:
        assert record["HostedZoneId"] == PARAMETERS["HostedZoneId"]
        assert record["AliasTarget"]["HostedZoneId"] == CLOUDFRONT_ZONE


# ------------------------------------------------------------------ R-LOG-02, R-LOG-04
@pytest.mark.parametrize("stage", STAGES)
def test_cloudtrail_records_management_events_of_every_region(stage: str) -> None:
    (trail,) = main(stage).of_type("AWS::CloudTrail::Trail").values()
    assert trail["S3BucketName"] == "<CloudTrailBucket>"
    assert trail["IsLogging"] is True
    assert trail["IsMultiRegionTrail"] is True
    assert trail["IncludeGlobalServiceEvents"] is True
    assert trail["EnableLogFileValidation"] is True
    assert trail["EventSelectors"] == [{"ReadWriteType": "All", "IncludeManagementEvents": True}]


@pytest.mark.parametrize("file", STACK_FILES)
def test_every_log_group_keeps_25_months(file: str) -> None:
    for logical_id, group in view(file, "prod").of_type("AWS::Logs::LogGroup").items():
        assert group["RetentionInDays"] == 1096, (file, logical_id)


@pytest.mark.parametrize("stage", STAGES)
def test_the_scan_workflow_and_scanner_log_to_their_own_groups(stage: str) -> None:
    stack = main(stage)
    groups = stack.of_type("AWS::Logs::LogGroup")
    assert groups["ScannerLogGroup"]["LogGroupName"] == f"/aws/lambda/{stage}-manabiplus-scanner"
    assert stack.properties("ScannerFunction")["FunctionName"] == f"{stage}-manabiplus-scanner"
    logging = stack.properties("ScanStateMachine")["LoggingConfiguration"]
    assert logging["Destinations"] == [{"CloudWatchLogsLogGroup": {"LogGroupArn": "<ScanStateMachineLogGroup.Arn>"}}]
    assert logging["Level"] in {"ERROR", "ALL"}


# ------------------------------------------------------------------ R-IAM
def managed(stage: str, group: dict[str, Any]) -> set[str]:
    return {arn.rsplit("/", 1)[1] for arn in group.get("ManagedPolicyArns", [])}


@pytest.mark.parametrize("stage", STAGES)
def test_the_seeds_four_groups_exist_with_their_duties(stage: str) -> None:
    groups = {
        g["GroupName"].removeprefix(f"{stage}-manabiplus-"): g for g in main(stage).of_type("AWS::IAM::Group").values()
    }
    assert set(groups) == {"cfn-admins", "operators", "backup-operators", "app-developers"}
    assert managed(stage, groups["cfn-admins"]) == {
        "AmazonS3FullAccess",
        "AmazonDynamoDBFullAccess",
        "AmazonAPIGatewayAdministrator",
        "AmazonCognitoPowerUser",
        "AWSWAFFullAccess",
        "AmazonRoute53FullAccess",
        "AWSCloudFormationFullAccess",
        "AWSLambda_FullAccess",
        "IAMFullAccess",
    }
    assert managed(stage, groups["operators"]) == {"CloudWatchLogsReadOnlyAccess"}
    assert managed(stage, groups["app-developers"]) == {
        "AmazonCognitoPowerUser",
        "AmazonS3ReadOnlyAccess",
        "AWSLambda_FullAccess",
    }

    def actions(group: dict[str, Any]) -> set[str]:
        return {
            action
            for policy in group.get("Policies", [])
            for statement in policy["PolicyDocument"]["Statement"]
            for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
        }

    # Operators back up and restore data storage; backup operators only back it up.
    assert {"s3:GetObject", "s3:PutObject"} <= actions(groups["operators"])
    assert {"s3:GetObject", "s3:PutObject"} <= actions(groups["backup-operators"])
    backup_writes = [
        statement["Resource"]
        for policy in groups["backup-operators"]["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
        if "s3:PutObject" in statement["Action"]
    ]
    assert backup_writes == [f"arn:aws:s3:::{stage}-manabiplus-backup/*"]


@pytest.mark.parametrize("stage", STAGES)
def test_api_gateway_logs_through_its_account_role(stage: str) -> None:
    stack = main(stage)
    assert stack.properties("ApiGatewayAccount")["CloudWatchRoleArn"] == "<ApiGatewayCloudWatchRole.Arn>"
    role = stack.properties("ApiGatewayCloudWatchRole")
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "apigateway.amazonaws.com"}


@pytest.mark.parametrize("stage", STAGES)
def test_autoscaling_uses_the_dynamodb_service_linked_role(stage: str) -> None:
    for target in main(stage).of_type("AWS::ApplicationAutoScaling::ScalableTarget").values():
        assert target["RoleARN"].endswith("/AWSServiceRoleForApplicationAutoScaling_DynamoDBTable")


# ------------------------------------------------------------------ R-MON-02
@pytest.mark.parametrize("stage", STAGES)
def test_scan_pipeline_failures_alarm_to_the_alert_topic(stage: str) -> None:
    alarms = main(stage).of_type("AWS::CloudWatch::Alarm")
    watched = {
        (a["Namespace"], a["MetricName"], a["Dimensions"][0]["Value"] if a.get("Dimensions") else None)
        for a in alarms.values()
    }
    assert {
        ("AWS/States", "ExecutionsFailed", "<ScanStateMachine>"),
        ("AWS/States", "ExecutionsTimedOut", "<ScanStateMachine>"),
        ("AWS/Lambda", "Errors", "<ScannerFunction>"),
    } <= watched
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == ["<AlertTopic>"]
        # Only our own pipeline's resources (issue #14 added the canary, verdict and throttle alarms).
        assert {d["Value"] for d in alarm.get("Dimensions", [])} <= {"<ScanStateMachine>", "<ScannerFunction>", stage}
    # Seed 5.2.4: no threshold alarms on the managed services themselves.
    assert {a["Namespace"] for a in alarms.values()} <= {
        "AWS/States",
        "AWS/Lambda",
        "ManabiPlus/Scan",
        "ManabiPlus/Canary",
    }


# ------------------------------------------------------------------ alerts, scanner (R-LMB-02)
@pytest.mark.parametrize("stage", STAGES)
def test_the_alert_topic_is_encrypted_with_a_rotating_project_key(stage: str) -> None:
    stack = main(stage)
    assert stack.properties("AlertTopic")["KmsMasterKeyId"] == "<AlertKey>"
    assert stack.properties("AlertKey")["EnableKeyRotation"] is True


@pytest.mark.parametrize("stage", STAGES)
def test_the_scanner_is_an_image_function_with_room_for_clamav(stage: str) -> None:
    scanner = main(stage).properties("ScannerFunction")
    assert scanner["PackageType"] == "Image"
    assert scanner["Code"] == {"ImageUri": PARAMETERS["ScannerImageUri"]}
    assert int(scanner["MemorySize"]) >= 3008  # the ScannerMemorySize parameter (3072 by default)
    assert scanner["Timeout"] == 900
    assert scanner["TracingConfig"] == {"Mode": "Active"}


def test_the_scanner_image_runs_the_chalicelib_handler() -> None:
    # The base image and its packages: tests/infra/test_first_deploy.py.
    dockerfile = (INFRA / "scanner" / "Dockerfile").read_text(encoding="utf-8")
    (command,) = re.findall(r'^CMD \["([\w.]+)"\]$', dockerfile, re.MULTILINE)
    module, function = command.rsplit(".", 1)
    assert callable(getattr(importlib.import_module(module), function))
    # The runtime in the image renders clamd's config itself, from the function's settings.
    variables = main("prod").properties("ScannerFunction")["Environment"]["Variables"]
    assert variables["DEFINITIONS_BUCKET"] == "<AppBucket>"  # the seed view renders a Ref as <LogicalId>
    assert variables["CLAMD_WORKDIR"].startswith("/tmp/")
    settings = ScannerSettings.from_env({name: str(value) for name, value in variables.items()})
    runtime = build_runtime(settings, s3_client=None)
    config = render_config(Path(settings.clamd_workdir), runtime.database_dir, runtime.limits)
    rendered = dict(line.split(" ", 1) for line in config.splitlines())
    for fail_closed in ("AlertExceedsMax", "AlertEncrypted", "AlertEncryptedArchive", "AlertEncryptedDoc"):
        assert rendered[fail_closed] == "yes"
    assert int(rendered["StreamMaxLength"]) == int(rendered["MaxFileSize"]) == settings.max_scan_bytes


def test_the_template_evaluator_knows_not_and_find_in_map() -> None:
    template = {"Mappings": {"CloudFront": {"Policies": {"CachingDisabled": "id"}}}, "Resources": {}}
    context = TemplateContext(template, {"Stage": "prod"})
    assert context.resolve({"Fn::FindInMap": ["CloudFront", "Policies", "CachingDisabled"]}) == "id"
    assert context.resolve({"Fn::Not": [{"Fn::Equals": [{"Ref": "Stage"}, "prod"]}]}) is False
    assert context.resolve({"Fn::Not": [{"Fn::Equals": [{"Ref": "Stage"}, "stag"]}]}) is True

    assert context.resolve({"Fn::Select": [1, {"Fn::Split": [".", "a.b.c"]}]}) == "b"
