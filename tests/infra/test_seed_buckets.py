"""R-S3, R-SEC-05, R-LOG-03/04, R-BAK: the six buckets of the seed and the Osaka copy."""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.seed import STAGES, view

ROLES = {  # logical id -> seed role (bucket name {stage}-manabiplus-{role})
    "WebBucket": "web",
    "DataBucket": "data",
    "AppBucket": "application",
    "BackupBucket": "backup",
    "LogBucket": "log",
    "CloudTrailBucket": "cloudtrail",
}
ACCESS_LOG_PREFIXES = {  # R-S3-01..06: access logging to the log bucket, seed prefixes
    "WebBucket": "webacclog/",
    "DataBucket": "dataacclog/",
    "AppBucket": "appacclog/",
    "BackupBucket": "bkacclog/",
    "CloudTrailBucket": "ctacclog/",
}
SSE_S3 = {"DataBucket", "BackupBucket", "LogBucket", "CloudTrailBucket"}  # R-S3 table, R-SEC-05


def buckets(stage: str) -> dict[str, dict[str, Any]]:
    return view("main.yaml", stage).of_type("AWS::S3::Bucket")


def policies(stage: str) -> dict[str, list[dict[str, Any]]]:
    """Bucket logical id -> statements of its bucket policy."""
    found = view("main.yaml", stage).of_type("AWS::S3::BucketPolicy").values()
    return {policy["Bucket"].strip("<>"): policy["PolicyDocument"]["Statement"] for policy in found}


@pytest.mark.parametrize("stage", STAGES)
def test_the_six_buckets_have_the_seed_names(stage: str) -> None:
    names = {logical_id: bucket["BucketName"] for logical_id, bucket in buckets(stage).items()}
    assert names == {logical_id: f"{stage}-manabiplus-{role}" for logical_id, role in ROLES.items()}


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("logical_id", ROLES)
def test_every_bucket_blocks_public_access_and_plain_http(stage: str, logical_id: str) -> None:
    bucket = buckets(stage)[logical_id]
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    deny_http = next(s for s in policies(stage)[logical_id] if s.get("Sid") == "DenyInsecureTransport")
    assert deny_http["Effect"] == "Deny"
    assert deny_http["Principal"] == "*"
    assert deny_http["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


@pytest.mark.parametrize("stage", STAGES)
def test_encryption_is_sse_s3_where_the_seed_asks(stage: str) -> None:
    for logical_id in SSE_S3:
        (rule,) = buckets(stage)[logical_id]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}, logical_id


@pytest.mark.parametrize("stage", STAGES)
def test_access_logs_go_to_the_log_bucket_under_the_seed_prefixes(stage: str) -> None:
    all_buckets = buckets(stage)
    log_bucket_name = all_buckets["LogBucket"]["BucketName"]
    for logical_id, prefix in ACCESS_LOG_PREFIXES.items():
        logging = all_buckets[logical_id]["LoggingConfiguration"]
        assert logging["LogFilePrefix"] == prefix
        assert logging["DestinationBucketName"] in {"<LogBucket>", log_bucket_name}, logical_id
    assert "LoggingConfiguration" not in all_buckets["LogBucket"]


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("logical_id", ["LogBucket", "CloudTrailBucket"])
def test_log_buckets_expire_after_761_days_and_delete_permanently(stage: str, logical_id: str) -> None:
    bucket = buckets(stage)[logical_id]
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    (rule,) = [r for r in bucket["LifecycleConfiguration"]["Rules"] if "ExpirationInDays" in r]
    assert rule["Status"] == "Enabled"
    assert rule["ExpirationInDays"] == 761
    assert "Prefix" not in rule and "Filter" not in rule  # the whole bucket
    # Expired current versions become noncurrent; they are then removed for good.
    assert rule["NoncurrentVersionExpiration"]["NoncurrentDays"] <= 1


@pytest.mark.parametrize("stage", STAGES)
def test_the_log_bucket_accepts_cloudfront_and_s3_logs(stage: str) -> None:
    bucket = buckets(stage)["LogBucket"]
    # CloudFront standard logging writes with ACLs (R-S3 decision).
    assert bucket["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]}
    statements = {s["Sid"]: s for s in policies(stage)["LogBucket"]}
    assert statements["S3ServerAccessLogs"]["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert statements["S3ServerAccessLogs"]["Action"] == "s3:PutObject"


@pytest.mark.parametrize("stage", STAGES)
def test_only_the_web_distribution_may_read_the_web_bucket(stage: str) -> None:
    allows = [s for s in policies(stage)["WebBucket"] if s["Effect"] == "Allow"]
    assert allows == [
        {
            "Sid": "WebDistributionReads",
            "Effect": "Allow",
            "Principal": {"Service": "cloudfront.amazonaws.com"},
            "Action": "s3:GetObject",
            "Resource": "<WebBucket.Arn>/*",
            "Condition": {
                "StringEquals": {"AWS:SourceArn": "arn:aws:cloudfront::123456789012:distribution/<WebDistribution>"}
            },
        }
    ]
    assert "WebsiteConfiguration" not in buckets(stage)["WebBucket"]  # no public website endpoint


@pytest.mark.parametrize("stage", STAGES)
def test_no_bucket_policy_allows_anyone_but_aws_services(stage: str) -> None:
    for logical_id, statements in policies(stage).items():
        for statement in statements:
            if statement["Effect"] == "Allow":
                assert set(statement["Principal"]) == {"Service"}, (logical_id, statement)


@pytest.mark.parametrize("stage", STAGES)
def test_only_the_cloudtrail_service_writes_the_cloudtrail_bucket(stage: str) -> None:
    allows = [s for s in policies(stage)["CloudTrailBucket"] if s["Effect"] == "Allow"]
    assert {s["Principal"]["Service"] for s in allows} == {"cloudtrail.amazonaws.com"}
    trail_arn = f"arn:aws:cloudtrail:ap-northeast-1:123456789012:trail/{stage}-manabiplus-trail"
    for statement in allows:
        assert statement["Condition"]["StringEquals"]["aws:SourceArn"] == trail_arn


def test_prod_backups_replicate_to_osaka_and_stag_backups_do_not() -> None:
    prod = buckets("prod")["BackupBucket"]
    assert prod["VersioningConfiguration"] == {"Status": "Enabled"}
    (rule,) = prod["ReplicationConfiguration"]["Rules"]
    assert rule["Status"] == "Enabled"
    assert rule["Filter"] == {"Prefix": ""}
    assert rule["Destination"]["Bucket"] == "arn:aws:s3:::dr-manabiplus-backup"
    assert prod["ReplicationConfiguration"]["Role"] == "<BackupReplicationRole.Arn>"
    assert "ReplicationConfiguration" not in buckets("stag")["BackupBucket"]
    assert view("main.yaml", "prod").template["Resources"]["BackupReplicationRole"]["Condition"] == "IsProd"


def test_the_osaka_bucket_is_the_seeds_and_can_receive_replicas() -> None:
    dr = view("dr.yaml", "prod").of_type("AWS::S3::Bucket")["DrBackupBucket"]
    assert dr["BucketName"] == "dr-manabiplus-backup"
    assert dr["VersioningConfiguration"] == {"Status": "Enabled"}  # replication needs it
    assert dr["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"
    }
    assert set(dr["PublicAccessBlockConfiguration"].values()) == {True}
    assert view("dr.yaml", "stag").of_type("AWS::S3::Bucket")["DrBackupBucket"]["BucketName"] != "dr-manabiplus-backup"


def test_the_bucket_suffix_applies_to_every_bucket_name() -> None:
    context = view("main.yaml", "prod")
    context.parameters["BucketSuffix"] = "-123456789012"
    for logical_id, bucket in context.of_type("AWS::S3::Bucket").items():
        assert bucket["BucketName"] == f"prod-manabiplus-{ROLES[logical_id]}-123456789012"


@pytest.mark.parametrize("stage", STAGES)
def test_buckets_holding_data_or_evidence_survive_stack_deletion(stage: str) -> None:
    resources = view("main.yaml", stage).template["Resources"]
    for logical_id in ROLES:
        # Kept on stack deletion, not when the first create rolls back (a retry would collide).
        assert resources[logical_id]["DeletionPolicy"] == "RetainExceptOnCreate", logical_id
        assert resources[logical_id]["UpdateReplacePolicy"] == "Retain", logical_id


@pytest.mark.parametrize("stage", STAGES)
def test_every_bucket_publishes_request_metrics(stage: str) -> None:
    for logical_id, bucket in buckets(stage).items():
        assert bucket["MetricsConfigurations"] == [{"Id": "EntireBucket"}], logical_id  # whole bucket, no filter
