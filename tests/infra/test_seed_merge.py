"""`make package`: the Chalice SAM template merged with the infrastructure (infra/build.py).

These tests run `chalice package` for both stages (a few seconds) and check what the merge
must fix or add: R-LOG-01 API settings, R-SEC-04 edge endpoint, the known Chalice packaging
gaps (ARCHITECTURE.md, "Stacks and deploy"), the upload handler's wiring, and that the
`chalice deploy` path gets the same settings from the main stack's outputs.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.infra.seed import ENVIRONMENT, STAGES, packaged, view
from tests.infra.test_seed_main import assert_tagged, distributions

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "infra"))
import build


@pytest.fixture(scope="module", params=STAGES)
def stage(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def merged(stage: str) -> dict[str, Any]:
    return packaged(stage)


def properties(merged: dict[str, Any], stage: str, logical_id: str) -> dict[str, Any]:
    return view(merged, stage).properties(logical_id)  # type: ignore[no-any-return]


def test_the_merge_keeps_every_infrastructure_resource_and_chalices(merged: dict[str, Any]) -> None:
    infra = set(view("main.yaml", "prod").template["Resources"])
    chalice = {"RestAPI", "APIHandler", "ApiHandlerRole", "OnObjectCreated", "OnObjectCreatedRole"}
    assert infra | chalice <= set(merged["Resources"])
    assert merged["Transform"] == "AWS::Serverless-2016-10-31"
    assert "ApiOriginDomain" not in merged["Parameters"]
    assert "HasApiOrigin" not in merged.get("Conditions", {})
    for resource in merged["Resources"].values():
        assert resource.get("Condition") in {None, "IsProd"}


def test_the_packaged_stage_is_the_default_stage(merged: dict[str, Any], stage: str) -> None:
    assert merged["Parameters"]["Stage"]["Default"] == stage
    assert merged["Parameters"]["Stage"]["AllowedValues"] == ["stag", "prod"]


def test_the_rest_api_is_edge_traced_and_logged_without_request_data(merged: dict[str, Any], stage: str) -> None:
    api = properties(merged, stage, "RestAPI")
    assert api["EndpointConfiguration"] == "EDGE"  # R-SEC-04
    assert api["TracingEnabled"] is True  # Chalice gap: "xray": true does not reach the stage
    assert api["AccessLogSetting"]["DestinationArn"] == "<ApiAccessLogGroup.Arn>"
    assert json.loads(api["AccessLogSetting"]["Format"].replace("\n", ""))["requestId"] == "$context.requestId"
    assert api["MethodSettings"] == [
        {
            "ResourcePath": "/*",
            "HttpMethod": "*",
            "LoggingLevel": "INFO",
            "DataTraceEnabled": False,  # R-LOG-01: no full request/response logging
            "MetricsEnabled": stage == "prod",  # R-MON-03: detailed metrics in prod
        }
    ]


def test_chalices_log_groups_have_a_valid_name_and_25_months(merged: dict[str, Any], stage: str) -> None:
    stack = view(merged, stage)
    groups = stack.of_type("AWS::Logs::LogGroup")
    # chalice issue 2079: Chalice names the group after "${ApiHandler}", which does not exist.
    assert merged["Resources"]["ApiHandlerLogGroup"]["Properties"]["LogGroupName"] == {
        "Fn::Sub": "/aws/lambda/${APIHandler}"
    }
    assert groups["ApiHandlerLogGroup"]["LogGroupName"] == "/aws/lambda/<APIHandler>"
    assert groups["OnObjectCreatedLogGroup"]["LogGroupName"] == "/aws/lambda/<OnObjectCreated>"
    assert groups["ApiExecutionLogGroup"]["LogGroupName"] == "API-Gateway-Execution-Logs_<RestAPI>/api"
    for logical_id, group in groups.items():
        assert group["RetentionInDays"] == 1096, logical_id


def test_the_upload_handler_only_hears_this_stages_data_bucket(merged: dict[str, Any], stage: str) -> None:
    handler = properties(merged, stage, "OnObjectCreated")
    assert handler["Events"]["OnObjectCreatedEvent"]["Properties"]["Pattern"] == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": ["<DataBucket>"]}},
    }


@pytest.mark.parametrize("function", ["OnObjectCreated", "APIHandler"])
def test_functions_get_their_resources_from_the_stack(merged: dict[str, Any], stage: str, function: str) -> None:
    variables = properties(merged, stage, function)["Environment"]["Variables"]
    assert variables["DATA_BUCKET"] == "<DataBucket>"
    assert variables["FILES_TABLE"] == "<FilesTable>"
    assert variables["SCAN_STATE_MACHINE_ARN"] == "<ScanStateMachine>"


@pytest.mark.parametrize("role", ["ApiHandlerRole", "OnObjectCreatedRole"])
def test_chalice_roles_may_write_traces(merged: dict[str, Any], stage: str, role: str) -> None:
    # With autogen_policy false Chalice adds no X-Ray permissions: the policy files must.
    actions = {
        action
        for policy in properties(merged, stage, role)["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
        if statement["Effect"] == "Allow"
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    }
    assert {"xray:PutTraceSegments", "xray:PutTelemetryRecords"} <= actions


def test_the_api_distribution_fronts_this_rest_api(merged: dict[str, Any], stage: str) -> None:
    api = distributions(stage, merged)["ApiDistribution"]
    (origin,) = api["Origins"]
    assert origin["DomainName"] == "<RestAPI>.execute-api.ap-northeast-1.amazonaws.com"
    assert origin["OriginPath"] == "/api"
    assert origin["ConnectionAttempts"] == 3


def test_the_origin_acl_guards_this_rest_apis_stage(merged: dict[str, Any], stage: str) -> None:
    association = merged["Resources"]["ApiOriginWebAclAssociation"]
    assert association["DependsOn"] == "RestAPIapiStage"  # the stage SAM generates for "api"
    assert properties(merged, stage, "ApiOriginWebAclAssociation")["ResourceArn"] == (
        "arn:aws:apigateway:ap-northeast-1::/restapis/<RestAPI>/stages/api"
    )
    (origin,) = distributions(stage, merged)["ApiDistribution"]["Origins"]
    assert [h["HeaderName"] for h in origin["OriginCustomHeaders"]] == ["x-origin-verify"]


def test_everything_in_the_merged_stack_is_tagged(merged: dict[str, Any], stage: str) -> None:
    assert_tagged(view(merged, stage), stage)
    assert properties(merged, stage, "APIHandler")["Tags"]["Environment"] == ENVIRONMENT[stage]


def test_the_state_machine_definition_is_found_from_the_packaged_template(stage: str) -> None:
    template = build.merge_template(stage)
    location = template["Resources"]["ScanStateMachine"]["Properties"]["DefinitionS3Location"]
    assert (build.package_dir(stage) / location).resolve() == build.ROOT / "statemachines" / "scan-object.asl.json"


def test_the_part_merge_deletes_replaces_and_merges() -> None:
    base = {"a": {"keep": 1, "drop": 2, "list": [1, 2]}, "b": 1}
    assert build.merge_parts(base, {"a": {"drop": None, "list": [3], "new": {"x": 1}}, "b": None}) == {
        "a": {"keep": 1, "list": [3], "new": {"x": 1}}
    }
    assert base == {"a": {"keep": 1, "drop": 2, "list": [1, 2]}, "b": 1}


def test_chalice_deploy_gets_the_same_settings_from_the_main_stacks_outputs(tmp_path: Path, stage: str) -> None:
    main_outputs = view("main.yaml", stage).template["Outputs"]
    for output in build.ENVIRONMENT_FROM_OUTPUTS.values():
        assert output in main_outputs
    # Every variable the merge sets from the stack, the chalice-config step sets as well.
    merged_variables = build.load_template(build.APP_PART)["Resources"]["APIHandler"]["Properties"]["Environment"]
    assert set(merged_variables["Variables"]) == set(build.ENVIRONMENT_FROM_OUTPUTS)

    config = tmp_path / "config.json"
    config.write_text(build.CHALICE_CONFIG.read_text(encoding="utf-8"), encoding="utf-8")
    description = tmp_path / "stack.json"
    values = {
        "DataBucketName": f"{stage}-manabiplus-data-x",
        "ScanStateMachineArn": "arn:aws:states:ap-northeast-1:1:stateMachine:s",
    }
    outputs = [
        {"OutputKey": output, "OutputValue": values.get(output, f"value-of-{output}")}
        for output in build.ENVIRONMENT_FROM_OUTPUTS.values()
    ]
    description.write_text(json.dumps({"Stacks": [{"Outputs": outputs}]}), encoding="utf-8")
    build.write_chalice_config(stage, description, config)
    variables = json.loads(config.read_text(encoding="utf-8"))["stages"][stage]["environment_variables"]
    assert variables["DATA_BUCKET"] == f"{stage}-manabiplus-data-x"
    assert variables["SCAN_STATE_MACHINE_ARN"] == "arn:aws:states:ap-northeast-1:1:stateMachine:s"

    description.write_text(json.dumps({"Stacks": [{"Outputs": outputs[:1]}]}), encoding="utf-8")
    with pytest.raises(SystemExit, match="FilesTableName"):
        build.write_chalice_config(stage, description, config)


def test_definitions_are_updated_daily_and_their_absence_alarms(merged: dict[str, Any], stage: str) -> None:
    updater = properties(merged, stage, "UpdateDefinitions")
    assert updater["Events"]["UpdateDefinitionsEvent"] == {
        "Type": "Schedule",
        "Properties": {"Schedule": "rate(1 day)"},
    }
    assert updater["Environment"]["Variables"]["APP_BUCKET"] == "<AppBucket>"
    assert updater["Environment"]["Variables"]["ALERT_TOPIC_ARN"] == "<AlertTopic>"
    alarms = {
        logical_id: properties(merged, stage, logical_id)
        for logical_id in ("DefinitionsUpdateFailedAlarm", "DefinitionsUpdateMissingAlarm")
    }
    for alarm in alarms.values():
        assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": "<UpdateDefinitions>"}]
        assert alarm["AlarmActions"] == ["<AlertTopic>"]
    failed, missing = alarms["DefinitionsUpdateFailedAlarm"], alarms["DefinitionsUpdateMissingAlarm"]
    assert (failed["MetricName"], failed["ComparisonOperator"], failed["Threshold"]) == (
        "Errors",
        "GreaterThanOrEqualToThreshold",
        1,
    )
    assert (missing["MetricName"], missing["Period"], missing["TreatMissingData"]) == (
        "Invocations",
        86400,
        "breaching",
    )


def test_the_api_authorizer_trusts_this_stacks_user_pool(merged: dict[str, Any], stage: str) -> None:
    body = properties(merged, stage, "RestAPI")["DefinitionBody"]
    authorizer = body["securityDefinitions"]["ManabiUsers"]["x-amazon-apigateway-authorizer"]
    assert authorizer["providerARNs"] == ["<UserPool.Arn>"]
    assert (
        properties(merged, stage, "APIHandler")["Environment"]["Variables"]["ORIGIN_SECRET_ARN"]
        == "<OriginVerifySecret>"
    )


SEED_METRICS = {
    "AWS/CertificateManager": {"DaysToExpiry"},
    "AWS/ApiGateway": {"4XXError", "5XXError", "CacheHitCount", "CacheMissCount", "Count", "IntegrationLatency"},
    "AWS/WAFV2": {"AllowedRequests", "BlockedRequests", "CountedRequests", "PassedRequests"},
    "AWS/CloudFront": {
        "Requests",
        "BytesDownloaded",
        "BytesUploaded",
        "4xxErrorRate",
        "5xxErrorRate",
        "TotalErrorRate",
    },
    "AWS/Cognito": {
        "SignUpSuccesses",
        "SignInSuccesses",
        "TokenRefreshSuccesses",
        "FederationSuccesses",
        "SignUpThrottles",
        "SignInThrottles",
        "TokenRefreshThrottles",
        "FederationThrottles",
    },
    "AWS/Usage": {"CallCount", "ThrottleCount"},
    "AWS/DynamoDB": {
        "ConsumedReadCapacityUnits",
        "ConsumedWriteCapacityUnits",
        "ProvisionedReadCapacityUnits",
        "ProvisionedWriteCapacityUnits",
        "ThrottledRequests",
        "SuccessfulRequestLatency",
        "SystemErrors",
        "UserErrors",
    },
    "AWS/Firehose": {"DeliveryToS3.Success", "DeliveryToS3.Records", "DeliveryToS3.Bytes"},
    "AWS/KMS": {"SecondsUntilKeyMaterialExpiration"},
    "AWS/Lambda": {"Invocations", "Errors", "Throttles", "Duration", "ConcurrentExecutions"},
    "AWS/S3": {"AllRequests", "4xxErrors", "5xxErrors", "BucketSizeBytes", "NumberOfObjects"},
    "AWS/SNS": {"NumberOfMessagesPublished", "NumberOfNotificationsDelivered", "NumberOfNotificationsFailed"},
}


def test_one_dashboard_shows_every_metric_the_seed_lists(merged: dict[str, Any], stage: str) -> None:
    """R-MON-03. Dimension values are placeholders here; the body must still be valid JSON."""
    template, variables = merged["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    assert set(variables) == {"WebAclName"}
    body = json.loads(re.sub(r"\$\{[^}]+\}", "placeholder", template))
    shown: dict[str, set[str]] = {}
    namespace = ""
    for widget in body["widgets"]:
        for row in widget["properties"]["metrics"]:
            if isinstance(row[0], dict):
                assert "HealthCheckStatus" in row[0]["expression"]  # Route 53 health checks
                continue
            namespace = namespace if row[0] == "." else row[0]
            shown.setdefault(namespace, set()).add(row[1])
    for namespace, metrics in SEED_METRICS.items():
        assert metrics <= shown.get(namespace, set()), namespace
    assert properties(merged, stage, "Dashboard")["DashboardName"] == f"{stage}-manabiplus"
