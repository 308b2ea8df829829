#!/usr/bin/env bash
# The whole ordered deployment of one stage (docs/DEPLOY.md walks through it):
#   1 zone      us-east-1       the stage's hosted zone with query logging (infra/zone.yaml), then
#                               a stop until the zone is delegated from the parent domain
#   2 edge      us-east-1       WebACL + WAF log stream, DNS-validated certificate (infra/edge.yaml)
#   3 dr        ap-northeast-3  Osaka backup bucket, prod only (infra/dr.yaml)
#   4 bootstrap ap-northeast-1  scanner image repository + artifacts bucket (infra/bootstrap.yaml)
#   5 image                     docker build/push of infra/scanner/Dockerfile, unless the tag exists
#   6 main+app  ap-northeast-1  DEPLOY_PATH=package (default): `chalice package` merged with the
#                               infra (infra/build.py) -> `aws cloudformation package/deploy`;
#                               DEPLOY_PATH=chalice: the main template alone (merged from
#                               infra/main/ by infra/build.py main), its outputs written
#                               into .chalice/config.json, `chalice deploy`, stage settings
#                               Chalice cannot express, then main again with the API's origin.
#                               Then the web app (infra/publish_web.py), when it exists.
#
# Usage: DOMAIN_NAME=manabi.example.jp infra/deploy.sh stag|prod
#   DRY_RUN=1          print every command instead of running it (no credentials needed)
#   BUCKET_SUFFIX      optional suffix for globally unique bucket names (e.g. -123456789012)
#   IMAGE_TAG          scanner image tag (default: the git commit)
#   DEPLOY_PATH        package | chalice
#   SCANNER_MEMORY_MB  scanner memory (default 3072; 3008 for accounts held to 3,008 MB)
#   ZONE_DELEGATED=1   skip the delegation check after phase 1 (you delegated the zone)
#   SKIP_QUOTA_CHECK=1 skip the Lambda quota check (you know the account's limits were raised)
#   SKIP_IMAGE_BUILD=1 do not build or push the scanner image (no image builder here; the main
#                      stack then names a tag that must exist already — the rehearsal uses this)
set -euo pipefail
cd "$(dirname "$0")/.."

STAGE=${1:-}
case "$STAGE" in stag | prod) ;; *) echo "usage: DOMAIN_NAME=example.jp $0 stag|prod" >&2; exit 2 ;; esac
DRY_RUN=${DRY_RUN:-}
VENV=${VENV:-.venv}
DEPLOY_PATH=${DEPLOY_PATH:-package}
BUCKET_SUFFIX=${BUCKET_SUFFIX:-}
IMAGE_TAG=${IMAGE_TAG:-$(git rev-parse --short=12 HEAD 2>/dev/null || echo latest)}
SCANNER_MEMORY_MB=${SCANNER_MEMORY_MB:-3072}
SKIP_IMAGE_BUILD=${SKIP_IMAGE_BUILD:-}
MAIN_REGION=ap-northeast-1
EDGE_REGION=us-east-1
DR_REGION=ap-northeast-3
ENVIRONMENT=$([ "$STAGE" = prod ] && echo Production || echo Staging)
TAGS=("Project=Manabi Plus" "Environment=$ENVIRONMENT")
# Lambda's default concurrency limit; new accounts start far below it (often 10) and are then
# often held to 3,008 MB of function memory as well (docs/DEPLOY.md, "Quotas").
DEFAULT_CONCURRENCY=1000
case "$DEPLOY_PATH" in package | chalice) ;; *) echo "deploy: DEPLOY_PATH must be package or chalice" >&2; exit 2 ;; esac

die() { echo "deploy: $*" >&2; exit 1; }

if [ -z "${DOMAIN_NAME:-}" ]; then
  [ -n "$DRY_RUN" ] || die "set DOMAIN_NAME to the parent domain (the stage zone is $STAGE.\$DOMAIN_NAME)"
  DOMAIN_NAME="example.jp"
  echo "deploy: DOMAIN_NAME is not set: this dry run uses the placeholder $DOMAIN_NAME (set DOMAIN_NAME=your.domain to see your own names)" >&2
fi
ZONE_NAME=$STAGE.$DOMAIN_NAME

# Print a command, shell-quoted, then run it unless this is a dry run.
run() {
  printf '+'; printf ' %q' "$@"; printf '\n'
  [ -n "$DRY_RUN" ] || "$@"
}

# A query a dry run only prints (to stdout, even where the caller captures or discards the
# query's own output) and then treats as failed.
query() {  # description command...
  local description=$1; shift
  if [ -n "$DRY_RUN" ]; then
    { printf '+'; printf ' %q' "$@"; printf '   # %s\n' "$description"; } >&3
    return 1
  fi
  "$@"
}
exec 3>&1

# A stack output; in a dry run a placeholder that names it. A missing one stops the deploy
# (the CLI would print "None", and the next stack would take that as a value).
output() {  # stack region key
  if [ -n "$DRY_RUN" ]; then echo "<$1.$3>"; return; fi
  local value
  value=$(aws cloudformation describe-stacks --region "$2" --stack-name "$1" \
    --query "Stacks[0].Outputs[?OutputKey=='$3'].OutputValue | [0]" --output text)
  if [ -z "$value" ] || [ "$value" = None ]; then die "stack $1 has no output $3"; fi
  echo "$value"
}

# The stack's status, or NONE. A dry run assumes no stack exists yet (a first deployment).
stack_status() {  # region stack
  if [ -n "$DRY_RUN" ]; then echo NONE; return; fi
  aws cloudformation describe-stacks --region "$1" --stack-name "$2" \
    --query "Stacks[0].StackStatus" --output text 2>/dev/null || echo NONE
}

# Deploy one stack. A stack whose first create rolled back (ROLLBACK_COMPLETE) cannot be
# updated: it holds nothing (RetainExceptOnCreate), so it is deleted and created again.
# TEMPLATE_BUCKET set: the template goes through S3 (bodies over 51,200 bytes must).
deploy_stack() {  # region stack template [Key=Value ...]
  local region=$1 stack=$2 template=$3; shift 3
  if [ "$(stack_status "$region" "$stack")" = ROLLBACK_COMPLETE ]; then
    echo "deploy: $stack rolled back on its first create; deleting it before trying again"
    run aws cloudformation delete-stack --region "$region" --stack-name "$stack"
    run aws cloudformation wait stack-delete-complete --region "$region" --stack-name "$stack"
  fi
  local via_bucket=()
  if [ -n "${TEMPLATE_BUCKET:-}" ]; then
    via_bucket=(--s3-bucket "$TEMPLATE_BUCKET" --s3-prefix "$STAGE/templates")
  fi
  run aws cloudformation deploy --region "$region" --stack-name "$stack" --template-file "$template" \
    "${via_bucket[@]}" \
    --capabilities CAPABILITY_NAMED_IAM CAPABILITY_AUTO_EXPAND --no-fail-on-empty-changeset \
    --tags "${TAGS[@]}" --parameter-overrides Stage="$STAGE" "$@"
}

# Phase 1 ends here unless the stage zone is delegated: ACM validates the certificate through
# records in this zone, and CloudFormation gives up waiting after an hour.
check_delegation() {  # comma-separated name servers
  local expected=$1
  if [ -n "$DRY_RUN" ]; then
    echo "+ dig +short NS $ZONE_NAME   # delegation check: must list the zone's name servers ($expected)"
    return
  fi
  if [ -n "${ZONE_DELEGATED:-}" ]; then
    echo "deploy: ZONE_DELEGATED is set: not checking the delegation of $ZONE_NAME"
    return
  fi
  local wanted found=""
  wanted=$(tr ',' '\n' <<<"$expected" | sed 's/\.$//' | tr 'A-Z' 'a-z' | sort)
  if command -v dig >/dev/null; then
    found=$(dig +short NS "$ZONE_NAME" 2>/dev/null | sed 's/\.$//' | tr 'A-Z' 'a-z' | sort || true)
  fi
  if [ -n "$found" ] && [ "$found" = "$wanted" ]; then
    echo "deploy: $ZONE_NAME is delegated to its name servers"
    return
  fi
  echo "deploy: phase 1 done. Delegate $ZONE_NAME from the $DOMAIN_NAME zone: an NS record set" >&2
  echo "  named $ZONE_NAME with these name servers:" >&2
  tr ',' '\n' <<<"$expected" | sed 's/^/    /' >&2
  echo "  then run this command again (phase 1 is then a no-op), or set ZONE_DELEGATED=1." >&2
  [ -n "$found" ] && echo "  (public DNS answers now: $(tr '\n' ' ' <<<"$found"))" >&2
  exit 3
}

# New accounts are held to low Lambda limits; say so before a stack fails half-way.
check_quotas() {
  if [ -n "${SKIP_QUOTA_CHECK:-}" ]; then
    echo "deploy: SKIP_QUOTA_CHECK is set: not checking Lambda quotas"
    return
  fi
  local concurrency
  if ! concurrency=$(query "Lambda concurrency limit; a new account's is low" \
    aws lambda get-account-settings --region "$MAIN_REGION" \
    --query AccountLimit.ConcurrentExecutions --output text); then
    [ -n "$DRY_RUN" ] || echo "deploy: could not read the Lambda quotas (above); not checking them" >&2
    return
  fi
  echo "deploy: Lambda concurrency limit in $MAIN_REGION: $concurrency"
  if [ "$concurrency" -lt "$DEFAULT_CONCURRENCY" ] && [ "$SCANNER_MEMORY_MB" -gt 3008 ]; then
    die "this account's Lambda concurrency limit is $concurrency (the default is $DEFAULT_CONCURRENCY):
  a new account, which AWS usually also holds to 3,008 MB of function memory, and the scanner asks
  for $SCANNER_MEMORY_MB MB. Either request the increase (Service Quotas > AWS Lambda > Concurrent
  executions, or a support case for the memory limit) and rerun with SKIP_QUOTA_CHECK=1 once it
  is granted, or deploy now with SCANNER_MEMORY_MB=3008 (docs/DEPLOY.md, \"Quotas\")."
  fi
}

if [ -n "$DRY_RUN" ]; then
  echo "deploy: DRY RUN for stage $STAGE ($DEPLOY_PATH path): printing commands, running none"
else
  command -v aws >/dev/null || die "the AWS CLI (aws) is not installed"
  aws sts get-caller-identity --output text >/dev/null 2>&1 || die "no usable AWS credentials.
  Configure them (aws configure / AWS_PROFILE / SSO login) and retry, or run with DRY_RUN=1
  to print every command this deployment would run."
  [ -n "$SKIP_IMAGE_BUILD" ] || command -v docker >/dev/null ||
    die "docker is needed to build the scanner image (infra/scanner/Dockerfile)"
fi

ZONE_STACK=$STAGE-manabiplus-zone
EDGE_STACK=$STAGE-manabiplus-edge
DR_STACK=$STAGE-manabiplus-dr
BOOTSTRAP_STACK=$STAGE-manabiplus-bootstrap
MAIN_STACK=$STAGE-manabiplus-main

check_quotas

echo "deploy: 1/6 zone stack ($EDGE_REGION): $ZONE_NAME"
deploy_stack "$EDGE_REGION" "$ZONE_STACK" infra/zone.yaml DomainName="$DOMAIN_NAME"
HOSTED_ZONE_ID=$(output "$ZONE_STACK" "$EDGE_REGION" HostedZoneId)
check_delegation "$(output "$ZONE_STACK" "$EDGE_REGION" HostedZoneNameServers)"

echo "deploy: 2/6 edge stack ($EDGE_REGION)"
deploy_stack "$EDGE_REGION" "$EDGE_STACK" infra/edge.yaml DomainName="$DOMAIN_NAME" \
  BucketSuffix="$BUCKET_SUFFIX" HostedZoneId="$HOSTED_ZONE_ID"
WEB_ACL_ARN=$(output "$EDGE_STACK" "$EDGE_REGION" WebAclArn)
CERTIFICATE_ARN=$(output "$EDGE_STACK" "$EDGE_REGION" CertificateArn)

if [ "$STAGE" = prod ]; then
  echo "deploy: 3/6 dr stack ($DR_REGION)"
  deploy_stack "$DR_REGION" "$DR_STACK" infra/dr.yaml BucketSuffix="$BUCKET_SUFFIX"
else
  echo "deploy: 3/6 dr stack skipped: only prod replicates backups to Osaka (R-S3-04)"
fi

echo "deploy: 4/6 bootstrap stack ($MAIN_REGION)"
deploy_stack "$MAIN_REGION" "$BOOTSTRAP_STACK" infra/bootstrap.yaml BucketSuffix="$BUCKET_SUFFIX"
REPOSITORY_URI=$(output "$BOOTSTRAP_STACK" "$MAIN_REGION" ScannerRepositoryUri)
ARTIFACTS_BUCKET=$(output "$BOOTSTRAP_STACK" "$MAIN_REGION" ArtifactsBucketName)

SCANNER_IMAGE_URI=$REPOSITORY_URI:$IMAGE_TAG
echo "deploy: 5/6 scanner image $SCANNER_IMAGE_URI"
# Tags are immutable: a rerun on the same commit finds its image and pushes nothing.
if query "does the tag exist already? (tags are immutable)" aws ecr describe-images --region "$MAIN_REGION" \
  --repository-name "$STAGE-manabiplus-scanner" --image-ids imageTag="$IMAGE_TAG" >/dev/null 2>&1; then
  echo "deploy: $SCANNER_IMAGE_URI exists; not building it again"
elif [ -n "$SKIP_IMAGE_BUILD" ]; then
  echo "deploy: SKIP_IMAGE_BUILD is set: not building or pushing $SCANNER_IMAGE_URI"
else
  if [ -n "$DRY_RUN" ]; then
    echo "+ aws ecr get-login-password --region $MAIN_REGION | docker login --username AWS --password-stdin ${REPOSITORY_URI%%/*}"
  else
    aws ecr get-login-password --region "$MAIN_REGION" | docker login --username AWS --password-stdin "${REPOSITORY_URI%%/*}"
  fi
  run docker build --provenance=false --platform linux/amd64 -f infra/scanner/Dockerfile -t "$SCANNER_IMAGE_URI" .
  run docker push "$SCANNER_IMAGE_URI"
fi

MAIN_PARAMETERS=(ScannerImageUri="$SCANNER_IMAGE_URI" DomainName="$DOMAIN_NAME" HostedZoneId="$HOSTED_ZONE_ID"
  CertificateArn="$CERTIFICATE_ARN" WebAclArn="$WEB_ACL_ARN" BucketSuffix="$BUCKET_SUFFIX"
  ScannerMemorySize="$SCANNER_MEMORY_MB")
export AWS_DEFAULT_REGION=$MAIN_REGION
# The main template is over 51,200 bytes: it goes through the artifacts bucket.
TEMPLATE_BUCKET=$ARTIFACTS_BUCKET
# Deletion protection stays off while the stack is created for the first time, so that a
# failed create can roll back; the deploy right after turns it on.
case "$(stack_status "$MAIN_REGION" "$MAIN_STACK")" in
  NONE | ROLLBACK_COMPLETE | REVIEW_IN_PROGRESS) FIRST_CREATE=1 ;;
  *) FIRST_CREATE= ;;
esac

deploy_main() {  # template [Key=Value ...]
  local template=$1; shift
  if [ -n "$FIRST_CREATE" ]; then
    deploy_stack "$MAIN_REGION" "$MAIN_STACK" "$template" "${MAIN_PARAMETERS[@]}" TableDeletionProtection=false "$@"
    FIRST_CREATE=
  fi
  deploy_stack "$MAIN_REGION" "$MAIN_STACK" "$template" "${MAIN_PARAMETERS[@]}" TableDeletionProtection=true "$@"
}

if [ "$DEPLOY_PATH" = package ]; then
  echo "deploy: 6/6 main stack with the Chalice app, packaged ($MAIN_REGION)"
  run "$VENV/bin/python" infra/build.py package --stage "$STAGE" --bucket-suffix "$BUCKET_SUFFIX"
  run aws cloudformation package --region "$MAIN_REGION" --template-file "build/$STAGE/package/sam.json" \
    --s3-bucket "$ARTIFACTS_BUCKET" --s3-prefix "$STAGE/app" --output-template-file "build/$STAGE/package/packaged.yaml"
  deploy_main "build/$STAGE/package/packaged.yaml"
else
  echo "deploy: 6/6 main stack, then chalice deploy ($MAIN_REGION)"
  run "$VENV/bin/python" infra/build.py main --stage "$STAGE"
  run "$VENV/bin/python" infra/build.py policies --stage "$STAGE" --bucket-suffix "$BUCKET_SUFFIX"
  run aws cloudformation package --region "$MAIN_REGION" --template-file "build/$STAGE/main.json" \
    --s3-bucket "$ARTIFACTS_BUCKET" --s3-prefix "$STAGE/main" --output-template-file "build/$STAGE/main.packaged.yaml"
  # The API distribution needs the API, which `chalice deploy` creates next: keep the origin
  # of a previous run, or create the API distribution on the second pass below.
  deploy_main "build/$STAGE/main.packaged.yaml" ApiOriginDomain="${API_ORIGIN_DOMAIN:-}"
  if [ -n "$DRY_RUN" ]; then
    echo "+ aws cloudformation describe-stacks --region $MAIN_REGION --stack-name $MAIN_STACK > build/$STAGE/main-stack.json"
  else
    aws cloudformation describe-stacks --region "$MAIN_REGION" --stack-name "$MAIN_STACK" >"build/$STAGE/main-stack.json"
  fi
  run "$VENV/bin/python" infra/build.py chalice-config --stage "$STAGE" --stack-description "build/$STAGE/main-stack.json"
  run "$VENV/bin/chalice" deploy --stage "$STAGE"
  if [ -n "$DRY_RUN" ]; then
    REST_API_ID="<chalice:rest_api_id>"
  else
    REST_API_ID=$("$VENV/bin/python" -c "import json,sys; d=json.load(open(sys.argv[1])); \
print(next(r['rest_api_id'] for r in d['resources'] if r.get('resource_type') == 'rest_api'))" \
      ".chalice/deployed/$STAGE.json")
  fi
  ACCESS_LOG_ARN=$(output "$MAIN_STACK" "$MAIN_REGION" ApiAccessLogGroupArn)
  # R-LOG-01: what infra/app.yaml sets on the packaged path, set on the deployed stage.
  METRICS=$([ "$STAGE" = prod ] && echo true || echo false)
  run aws apigateway update-stage --region "$MAIN_REGION" --rest-api-id "$REST_API_ID" --stage-name api \
    --patch-operations \
    "op=replace,path=/tracingEnabled,value=true" \
    "op=replace,path=/accessLogSettings/destinationArn,value=${ACCESS_LOG_ARN%:\*}" \
    'op=replace,path=/accessLogSettings/format,value={"requestId":"$context.requestId","ip":"$context.identity.sourceIp","requestTime":"$context.requestTime","httpMethod":"$context.httpMethod","resourcePath":"$context.resourcePath","status":"$context.status","responseLength":"$context.responseLength","integrationLatency":"$context.integrationLatency"}' \
    "op=replace,path=/*/*/logging/loglevel,value=INFO" \
    "op=replace,path=/*/*/logging/dataTrace,value=false" \
    "op=replace,path=/*/*/metrics/enabled,value=$METRICS"
  deploy_main "build/$STAGE/main.packaged.yaml" ApiOriginDomain="$REST_API_ID.execute-api.$MAIN_REGION.amazonaws.com"
fi

# The web app, from the main stack's outputs (WebBucketName, WebDistributionId, WebOrigin,
# ApiUrl, UserPoolId, UserPoolClientId). DRY_RUN reaches it through the environment.
# It runs in a dry run too, and prints instead of publishing.
if [ -f infra/publish_web.py ]; then
  echo "deploy: web app"
  publish=("$VENV/bin/python" infra/publish_web.py --stage "$STAGE" --stack "$MAIN_STACK" --region "$MAIN_REGION")
  printf '+'; printf ' %q' "${publish[@]}"; printf '\n'
  DRY_RUN="$DRY_RUN" "${publish[@]}"
fi

echo "deploy: done. $STAGE is served at https://$ZONE_NAME and https://api.$ZONE_NAME."
