"""R-SEC-01, R-SEC-02, R-LOG-03, R-NET-01 (zone, query logs): the us-east-1 edge stack."""

from __future__ import annotations

import pytest

from tests.infra.seed import DOMAIN, STAGES, view

# R-SEC-02: the seed's order, priority 1 first.
SEED_RULE_GROUPS = [
    "AWSManagedRulesAmazonIpReputationList",
    "AWSManagedRulesAnonymousIpList",
    "AWSManagedRulesBotControlRuleSet",
    "AWSManagedRulesSQLiRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesCommonRuleSet",
]
NOT_APPLIED = [
    "AWSManagedRulesAdminProtectionRuleSet",
    "AWSManagedRulesLinuxRuleSet",
    "AWSManagedRulesUnixRuleSet",
    "AWSManagedRulesWindowsRuleSet",
    "AWSManagedRulesPHPRuleSet",
    "AWSManagedRulesWordPressRuleSet",
]


@pytest.mark.parametrize("stage", STAGES)
def test_the_web_acl_applies_the_seeds_managed_rule_groups_in_order(stage: str) -> None:
    (acl,) = view("edge.yaml", stage).of_type("AWS::WAFv2::WebACL").values()
    assert acl["Scope"] == "CLOUDFRONT"
    assert acl["DefaultAction"] == {"Allow": {}}
    managed = [rule for rule in acl["Rules"] if "ManagedRuleGroupStatement" in rule["Statement"]]
    rules = sorted(managed, key=lambda rule: rule["Priority"])
    assert [rule["Priority"] for rule in rules] == [1, 2, 3, 4, 5, 6]
    groups = [rule["Statement"]["ManagedRuleGroupStatement"] for rule in rules]
    assert [group["Name"] for group in groups] == SEED_RULE_GROUPS
    assert {group["VendorName"] for group in groups} == {"AWS"}
    assert not set(NOT_APPLIED) & {group["Name"] for group in groups}
    for rule in rules:
        assert rule["VisibilityConfig"]["CloudWatchMetricsEnabled"] is True
        # No rule inside a group is overridden — the whole group acts as the stage says — but
        # Bot Control's two HTTP-library rules, which a rule of our own applies outside the API
        # (tests/infra/test_first_deploy.py::test_production_bot_control_lets_the_cli_reach_the_api_only).
        if rule["Name"] != "AWS-AWSManagedRulesBotControlRuleSet":
            assert "RuleActionOverrides" not in rule["Statement"]["ManagedRuleGroupStatement"]


@pytest.mark.parametrize(("stage", "action"), [("stag", {"Count": {}}), ("prod", {"None": {}})])
def test_staging_counts_and_production_blocks(stage: str, action: dict[str, dict[str, str]]) -> None:
    (acl,) = view("edge.yaml", stage).of_type("AWS::WAFv2::WebACL").values()
    managed = [rule for rule in acl["Rules"] if "ManagedRuleGroupStatement" in rule["Statement"]]
    assert [rule["OverrideAction"] for rule in managed] == [action] * 6
    own = [rule for rule in acl["Rules"] if "ManagedRuleGroupStatement" not in rule["Statement"]]
    assert [rule["Action"] for rule in own] == [{"Count": {}} if stage == "stag" else {"Block": {}}]


@pytest.mark.parametrize("stage", STAGES)
def test_waf_logs_flow_through_firehose_to_the_log_bucket(stage: str) -> None:
    edge = view("edge.yaml", stage)
    (logging,) = edge.of_type("AWS::WAFv2::LoggingConfiguration").values()
    assert logging["ResourceArn"] == "<WebAcl.Arn>"
    assert logging["LogDestinationConfigs"] == ["<WafLogStream.Arn>"]
    stream = edge.properties("WafLogStream")
    assert stream["DeliveryStreamName"].startswith("aws-waf-logs-")  # AWS requires the prefix
    destination = stream["ExtendedS3DestinationConfiguration"]
    assert destination["BucketARN"] == f"arn:aws:s3:::{stage}-manabiplus-log"
    assert destination["Prefix"] == "waflogs/"
    assert stream["DeliveryStreamEncryptionConfigurationInput"]["KeyType"] == "AWS_OWNED_CMK"


@pytest.mark.parametrize("stage", STAGES)
def test_one_dns_validated_certificate_covers_both_distributions(stage: str) -> None:
    (certificate,) = view("edge.yaml", stage).of_type("AWS::CertificateManager::Certificate").values()
    assert certificate["ValidationMethod"] == "DNS"
    names = [certificate["DomainName"], *certificate["SubjectAlternativeNames"]]
    assert names == [f"{stage}.{DOMAIN}", f"api.{stage}.{DOMAIN}"]
    assert [option["DomainName"] for option in certificate["DomainValidationOptions"]] == names
    # The zone of the zone stack, passed in (delegated before this stack is deployed).
    assert {option["HostedZoneId"] for option in certificate["DomainValidationOptions"]} == {"Z0HOSTEDZONE"}


@pytest.mark.parametrize("stage", STAGES)
def test_the_stage_zone_is_public_and_logs_queries(stage: str) -> None:
    edge = view("zone.yaml", stage)
    zone = edge.properties("HostedZone")
    assert zone["Name"] == f"{stage}.{DOMAIN}"
    assert "VPCs" not in zone  # public (R-NET-01 decision)
    assert zone["QueryLoggingConfig"] == {"CloudWatchLogsLogGroupArn": "<QueryLogGroup.Arn>"}
    assert edge.properties("QueryLogGroup")["LogGroupName"] == f"/aws/route53/{stage}.{DOMAIN}"
