"""Publish the learners' web app to a stage: build ``web/``, upload ``web/dist`` to the stage's web
bucket with a ``config.json`` made from the main stack's outputs, then invalidate the web
distribution so that the new ``index.html`` and ``config.json`` are served at once.

    python infra/publish_web.py --stage stag [--dry-run] [--no-build] [--dist DIR]
                                [--stack-description FILE] [--api-url URL]

What it reads from ``{stage}-manabiplus-main`` (ap-northeast-1): the outputs ``WebBucketName``,
``UserPoolId``, ``UserPoolClientId``, ``WebDistributionId`` (or, while the template has no such
output, the distribution whose domain is ``WebDistributionDomainName``), ``ApiUrl`` if present,
else the API's alias ``https://api.{stage}.{DomainName}`` from the stack's ``DomainName``
parameter. ``--dry-run`` calls no AWS API: it prints every object it would upload (key, type,
cache policy, size), the config.json and the invalidation, with ``<stack.Output>`` placeholders
unless ``--stack-description`` (the JSON of ``aws cloudformation describe-stacks``) is given.

Hashed files under ``assets/`` are cached for a year; everything else (index.html, config.json,
the icon) is ``no-cache``, so a new deployment shows on the next visit. Assets of earlier
deployments are left in place: a page loaded before the deployment still finds its scripts.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import mimetypes
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devstack.web import DIST, SOURCE_STAMP, WebBuildError, ensure_built  # noqa: E402

MAIN_REGION = "ap-northeast-1"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
# index.html's Content-Security-Policy lets the page reach the local stack; no stage needs that.
LOCAL_CONNECT_SOURCE = " http://127.0.0.1:*"
TEXT_TYPES = {".html", ".css", ".js", ".json", ".svg", ".txt", ".webmanifest"}


class PublishError(RuntimeError):
    """Publishing cannot go on; the message says what is missing."""


@dataclass(frozen=True)
class StackFacts:
    name: str
    outputs: dict[str, str]
    parameters: dict[str, str]

    @classmethod
    def from_description(cls, description: dict[str, Any]) -> StackFacts:
        """From ``describe-stacks`` (its whole answer or one ``Stacks`` entry)."""
        stack = description["Stacks"][0] if "Stacks" in description else description
        return cls(
            name=stack.get("StackName", "?"),
            outputs={item["OutputKey"]: item["OutputValue"] for item in stack.get("Outputs", [])},
            parameters={item["ParameterKey"]: item.get("ParameterValue", "") for item in stack.get("Parameters", [])},
        )

    @classmethod
    def placeholders(cls, name: str) -> StackFacts:
        """For a dry run without AWS: every value names where it would come from."""
        outputs = ["WebBucketName", "UserPoolId", "UserPoolClientId", "WebDistributionDomainName"]
        return cls(
            name=name,
            outputs={key: f"<{name}.{key}>" for key in outputs},
            parameters={"DomainName": f"<{name}.DomainName>"},
        )

    def output(self, key: str) -> str:
        value = self.outputs.get(key)
        if not value:
            raise PublishError(f"the stack {self.name} has no output {key}: deploy the main stack first")
        return value


def read_stack(cloudformation: Any, stack_name: str) -> StackFacts:
    return StackFacts.from_description(cloudformation.describe_stacks(StackName=stack_name))


def site_config(stage: str, facts: StackFacts, api_url: str | None = None) -> dict[str, Any]:
    """The stage's config.json (web/src/config.ts reads it)."""
    if not api_url:
        api_url = facts.outputs.get("ApiUrl") or f"https://api.{stage}.{facts.parameters['DomainName']}"
    return {
        "stage": stage,
        "apiUrl": api_url.rstrip("/"),
        "region": MAIN_REGION,
        "userPoolId": facts.output("UserPoolId"),
        "userPoolClientId": facts.output("UserPoolClientId"),
        "cognitoEndpoint": None,
        "localSignUpConfirmUrl": None,
        "authFlow": "USER_SRP_AUTH",
    }


@dataclass(frozen=True)
class Upload:
    key: str
    body: bytes
    content_type: str
    cache_control: str


def _content_type(path: Path) -> str:
    guessed = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if path.suffix == ".js":
        guessed = "text/javascript"
    return f"{guessed}; charset=utf-8" if path.suffix in TEXT_TYPES else guessed


def _index_for_stage(body: bytes) -> bytes:
    text = body.decode("utf-8")
    if LOCAL_CONNECT_SOURCE not in text:
        raise PublishError(f"index.html has no '{LOCAL_CONNECT_SOURCE.strip()}' in its CSP: check web/index.html")
    return text.replace(LOCAL_CONNECT_SOURCE, "").encode("utf-8")


def plan(dist: Path, config: dict[str, Any]) -> list[Upload]:
    """What goes into the bucket, in upload order: hashed assets first, index.html and
    config.json last, so that no visitor gets a page whose scripts are not there yet."""
    if not (dist / "index.html").is_file():
        raise PublishError(f"{dist} has no index.html: build the site first (make web)")
    uploads: list[Upload] = []
    for path in sorted(p for p in dist.rglob("*") if p.is_file()):
        key = path.relative_to(dist).as_posix()
        if key == SOURCE_STAMP or key.endswith(".map") or key == "config.json":
            continue
        body = path.read_bytes()
        if key == "index.html":
            body = _index_for_stage(body)
        hashed = key.startswith("assets/")
        uploads.append(Upload(key, body, _content_type(path), IMMUTABLE if hashed else REVALIDATE))
    uploads.append(
        Upload(
            "config.json",
            (json.dumps(config, indent=2, ensure_ascii=False) + "\n").encode("utf-8"),
            "application/json; charset=utf-8",
            REVALIDATE,
        )
    )
    order = {"index.html": 2, "config.json": 3}
    uploads.sort(key=lambda upload: (order.get(upload.key, 0 if upload.key.startswith("assets/") else 1), upload.key))
    return uploads


def invalidation_paths(uploads: list[Upload]) -> list[str]:
    """Only what is not content-addressed: hashed assets have new names each build."""
    return ["/", *sorted(f"/{upload.key}" for upload in uploads if upload.cache_control == REVALIDATE)]


def find_distribution(cloudfront: Any, facts: StackFacts) -> str:
    """The web distribution's id: the WebDistributionId output, or the distribution serving
    WebDistributionDomainName (the template has only the domain today; web/NEEDS.md)."""
    if facts.outputs.get("WebDistributionId"):
        return facts.outputs["WebDistributionId"]
    domain = facts.output("WebDistributionDomainName")
    for page in cloudfront.get_paginator("list_distributions").paginate():
        for distribution in page.get("DistributionList", {}).get("Items", []):
            if distribution["DomainName"] == domain:
                return str(distribution["Id"])
    raise PublishError(f"no CloudFront distribution serves {domain}")


def publish(
    uploads: list[Upload],
    s3: Any,
    bucket: str,
    cloudfront: Any,
    distribution_id: str,
    log: Callable[[str], None] = print,
) -> str:
    for upload in uploads:
        s3.put_object(
            Bucket=bucket,
            Key=upload.key,
            Body=upload.body,
            ContentType=upload.content_type,
            CacheControl=upload.cache_control,
        )
        log(f"uploaded s3://{bucket}/{upload.key} ({len(upload.body)} bytes)")
    paths = invalidation_paths(uploads)
    digest = hashlib.sha256(b"".join(upload.body for upload in uploads)).hexdigest()[:16]
    answer = cloudfront.create_invalidation(
        DistributionId=distribution_id,
        InvalidationBatch={
            "Paths": {"Quantity": len(paths), "Items": paths},
            "CallerReference": f"manabi-web-{digest}-{int(time.time())}",
        },
    )
    invalidation = str(answer["Invalidation"]["Id"])
    log(f"invalidation {invalidation} of {distribution_id}: {' '.join(paths)}")
    return invalidation


def describe_plan(uploads: list[Upload], bucket: str, distribution: str, config: dict[str, Any]) -> str:
    lines = [f"+ PUT s3://{bucket}/{u.key}  {u.content_type}  {u.cache_control}  {len(u.body)} bytes" for u in uploads]
    lines.append(f"+ CREATE INVALIDATION {distribution} {' '.join(invalidation_paths(uploads))}")
    lines.append("config.json:")
    lines.append(json.dumps(config, indent=2, ensure_ascii=False))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="infra/publish_web.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", required=True, choices=["stag", "prod"])
    parser.add_argument("--stack", help="the main stack (default: {stage}-manabiplus-main)")
    parser.add_argument("--region", default=MAIN_REGION, help=f"the main stack's region (default: {MAIN_REGION})")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        default=bool(os.environ.get("DRY_RUN")),
        help="print what would be done; call no AWS API (also with DRY_RUN set, as infra/deploy.sh passes it)",
    )
    parser.add_argument("--no-build", action="store_true", help="publish --dist as it is")
    parser.add_argument("--dist", type=Path, default=DIST)
    parser.add_argument("--stack-description", type=Path, help="describe-stacks JSON to read instead of AWS")
    parser.add_argument("--api-url", help="override the API URL (default: the ApiUrl output or api.{stage}.{domain})")
    args = parser.parse_args(argv)
    stack_name = args.stack or f"{args.stage}-manabiplus-main"
    try:
        dist = args.dist if args.no_build else ensure_built()
        if args.stack_description:
            facts = StackFacts.from_description(json.loads(args.stack_description.read_text(encoding="utf-8")))
        elif args.dry_run:
            facts = StackFacts.placeholders(stack_name)
        else:
            import boto3

            facts = read_stack(boto3.client("cloudformation", region_name=args.region), stack_name)
        config = site_config(args.stage, facts, args.api_url)
        uploads = plan(dist, config)
        bucket = facts.output("WebBucketName")
        if args.dry_run:
            distribution = facts.outputs.get("WebDistributionId") or (
                f"<the distribution of {facts.output('WebDistributionDomainName')}>"
            )
            print(f"publish_web: DRY RUN for stage {args.stage}: nothing is uploaded")
            print(describe_plan(uploads, bucket, distribution, config))
            return 0
        import boto3

        cloudfront = boto3.client("cloudfront")
        distribution = find_distribution(cloudfront, facts)
        publish(uploads, boto3.client("s3", region_name=args.region), bucket, cloudfront, distribution)
    except (PublishError, WebBuildError) as error:
        print(f"publish_web: {error}", file=sys.stderr)
        return 1
    print(f"publish_web: the site of {args.stage} is published (https://{args.stage}.{facts.parameters['DomainName']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
