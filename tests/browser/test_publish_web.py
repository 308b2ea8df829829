"""`infra/publish_web.py`, the deploy step of the site: the stage's config.json from the main
stack, what lands in the web bucket with which cache policy, the invalidation, the dry run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from devstack.templates import ROOT
from infra.publish_web import LOCAL_CONNECT_SOURCE, PublishError, StackFacts, main, plan, site_config

CSP = f"connect-src 'self' https:{LOCAL_CONNECT_SOURCE}"


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    """A built site as Vite lays it out (the real build is exercised by the browser tests)."""
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text(
        f'<html lang="ja"><meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<script type="module" src="./assets/index-abc123.js"></script></html>\n'
    )
    (root / "assets" / "index-abc123.js").write_text("console.log('まなび+')\n")
    (root / "assets" / "index-abc123.js.map").write_text("{}\n")
    (root / "assets" / "index-def456.css").write_text("body{}\n")
    (root / "favicon.svg").write_text("<svg/>\n")
    (root / ".source.sha256").write_text("0" * 64 + "\n")
    return root


MAIN_TEMPLATE = {
    "Parameters": {"DomainName": {"Type": "String"}},
    "Resources": {"WebBucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "stag-manabiplus-web"}}},
    "Outputs": {
        "WebBucketName": {"Value": {"Ref": "WebBucket"}},
        "UserPoolId": {"Value": "ap-northeast-1_Stag123"},
        "UserPoolClientId": {"Value": "stagwebclient"},
        "WebDistributionDomainName": {"Value": "PLACEHOLDER"},
    },
}


def create_stage(distribution_domain: str) -> None:
    """A main stack and a web distribution in the emulator, shaped like infra/main.yaml's."""
    template = json.loads(json.dumps(MAIN_TEMPLATE).replace("PLACEHOLDER", distribution_domain))
    boto3.client("cloudformation", region_name="ap-northeast-1").create_stack(
        StackName="stag-manabiplus-main",
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": "DomainName", "ParameterValue": "manabi.example.jp"}],
    )


def web_distribution(cloudfront: Any, reference: str) -> dict[str, Any]:
    return cloudfront.create_distribution(
        DistributionConfig={
            "CallerReference": reference,
            "Comment": "Manabi Plus stag web",
            "Enabled": True,
            "Origins": {
                "Quantity": 1,
                "Items": [
                    {
                        "Id": "web-bucket",
                        "DomainName": "stag-manabiplus-web.s3.ap-northeast-1.amazonaws.com",
                        "S3OriginConfig": {"OriginAccessIdentity": ""},
                    }
                ],
            },
            "DefaultCacheBehavior": {
                "TargetOriginId": "web-bucket",
                "ViewerProtocolPolicy": "redirect-to-https",
                "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6",
            },
        }
    )["Distribution"]


@mock_aws
def test_publishes_the_site_with_the_stages_config_and_invalidates_what_is_not_hashed(dist: Path) -> None:
    cloudfront = boto3.client("cloudfront", region_name="us-east-1")
    web_distribution(cloudfront, "api")  # another distribution first: the web one is found by its domain
    distribution = web_distribution(cloudfront, "web")
    create_stage(distribution["DomainName"])

    assert main(["--stage", "stag", "--no-build", "--dist", str(dist)]) == 0

    s3 = boto3.client("s3", region_name="ap-northeast-1")
    keys = sorted(item["Key"] for item in s3.list_objects_v2(Bucket="stag-manabiplus-web")["Contents"])
    assert keys == ["assets/index-abc123.js", "assets/index-def456.css", "config.json", "favicon.svg", "index.html"]
    config = s3.get_object(Bucket="stag-manabiplus-web", Key="config.json")
    assert json.loads(config["Body"].read()) == {
        "stage": "stag",
        "apiUrl": "https://api.stag.manabi.example.jp",
        "region": "ap-northeast-1",
        "userPoolId": "ap-northeast-1_Stag123",
        "userPoolClientId": "stagwebclient",
        "cognitoEndpoint": None,
        "localSignUpConfirmUrl": None,
        "authFlow": "USER_SRP_AUTH",
    }
    assert (config["ContentType"], config["CacheControl"]) == ("application/json; charset=utf-8", "no-cache")
    script = s3.get_object(Bucket="stag-manabiplus-web", Key="assets/index-abc123.js")
    assert (script["ContentType"], script["CacheControl"]) == (
        "text/javascript; charset=utf-8",
        "public, max-age=31536000, immutable",
    )
    index = s3.get_object(Bucket="stag-manabiplus-web", Key="index.html")
    page = index["Body"].read().decode()
    assert "connect-src 'self' https:\"" in page and "127.0.0.1" not in page
    assert index["CacheControl"] == "no-cache"

    invalidations = cloudfront.list_invalidations(DistributionId=distribution["Id"])["InvalidationList"]
    assert invalidations["Quantity"] == 1
    batch = cloudfront.get_invalidation(DistributionId=distribution["Id"], Id=invalidations["Items"][0]["Id"])
    paths = batch["Invalidation"]["InvalidationBatch"]["Paths"]["Items"]
    assert sorted(paths) == ["/", "/config.json", "/favicon.svg", "/index.html"]


def test_index_and_config_are_uploaded_last(dist: Path) -> None:
    facts = StackFacts("s", {"UserPoolId": "p_1", "UserPoolClientId": "c"}, {"DomainName": "example.jp"})

    keys = [upload.key for upload in plan(dist, site_config("prod", facts))]

    assert keys[-2:] == ["index.html", "config.json"]
    assert keys[0].startswith("assets/")
    assert not any(key.endswith(".map") or key == ".source.sha256" for key in keys)


def test_the_api_url_output_wins_when_the_stack_has_one() -> None:
    facts = StackFacts(
        "s", {"UserPoolId": "p_1", "UserPoolClientId": "c", "ApiUrl": "https://api.x.jp/"}, {"DomainName": "d"}
    )

    assert site_config("prod", facts)["apiUrl"] == "https://api.x.jp"
    assert site_config("prod", facts, api_url="https://other.jp")["apiUrl"] == "https://other.jp"


def test_a_missing_output_is_named() -> None:
    facts = StackFacts("stag-manabiplus-main", {"UserPoolId": "p_1"}, {"DomainName": "d"})

    with pytest.raises(PublishError, match="no output UserPoolClientId"):
        site_config("stag", facts)


def test_a_page_without_the_local_csp_source_is_refused(dist: Path) -> None:
    (dist / "index.html").write_text("<html></html>\n")
    facts = StackFacts("s", {"UserPoolId": "p_1", "UserPoolClientId": "c"}, {"DomainName": "d"})

    with pytest.raises(PublishError, match="CSP"):
        plan(dist, site_config("stag", facts))


def test_the_dry_run_prints_the_plan_and_needs_no_credentials(dist: Path) -> None:
    clean = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    isolated = {"AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"}
    result = subprocess.run(
        [sys.executable, "infra/publish_web.py", "--stage", "prod", "--dry-run", "--no-build", "--dist", str(dist)],
        cwd=ROOT,
        env={**clean, **isolated, "AWS_EC2_METADATA_DISABLED": "true"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "publish_web: DRY RUN for stage prod: nothing is uploaded"
    assert (
        "+ PUT s3://<prod-manabiplus-main.WebBucketName>/config.json  application/json; charset=utf-8  no-cache"
        in result.stdout
    )
    assert any(line.startswith("+ CREATE INVALIDATION <the distribution of <prod-manabiplus-main.") for line in lines)
    assert '"apiUrl": "https://api.prod.<prod-manabiplus-main.DomainName>"' in result.stdout
