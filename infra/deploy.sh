#!/usr/bin/env bash
# The whole ordered deployment of one stage (docs/DEPLOY.md walks through it):
#   1 edge      us-east-1       WebACL + WAF log stream, certificate, hosted zone (infra/edge.yaml)
#   2 dr        ap-northeast-3  Osaka backup bucket, prod only (infra/dr.yaml)
#   3 bootstrap ap-northeast-1  scanner image repository + artifacts bucket (infra/bootstrap.yaml)
#   4 image                     docker build/push of infra/scanner/Dockerfile
#   5 main+app  ap-northeast-1  DEPLOY_PATH=package (default): `chalice package` merged with the
#                               infra (infra/build.py) -> `aws cloudformation package/deploy`;
#                               DEPLOY_PATH=chalice: the main template alone (merged from
#                               infra/main/ by infra/build.py main), its outputs written
#                               into .chalice/config.json, `chalice deploy`, stage settings
#                               Chalice cannot express, then main again with the API's origin.
#
# Usage: DOMAIN_NAME=manabi.example.jp infra/deploy.sh stag|prod
#   DRY_RUN=1       print every command instead of running it (no credentials needed)
#   BUCKET_SUFFIX   optional suffix for globally unique bucket names (e.g. -123456789012)
#   IMAGE_TAG       scanner image tag (default: the git commit)
#   DEPLOY_PATH     package | chalice
set -euo pipefail
cd "$(dirname "$0")/.."

STAGE=${1:-}
case "$STAGE" in stag | prod) ;; *) echo "usage: DOMAIN_NAME=example.jp $0 stag|prod" >&2; exit 2 ;; esac
DRY_RUN=${DRY_RUN:-}
VENV=${VENV:-.venv}
DEPLOY_PATH=${DEPLOY_PATH:-package}
BUCKET_SUFFIX=${BUCKET_SUFFIX:-}
IMAGE_TAG=${IMAGE_TAG:-$(git rev-parse --short=12 HEAD 2>/dev/null || echo latest)}
MAIN_REGION=ap-northeast-1
EDGE_REGION=us-east-1
DR_REGION=ap-northeast-3
ENVIRONMENT=$([ "$STAGE" = prod ] && echo Production || echo Staging)
TAGS=("Project=Manabi Plus" "Environment=$ENVIRONMENT")
case "$DEPLOY_PATH" in package | chalice) ;; *) echo "deploy: DEPLOY_PATH must be package or chalice" >&2; exit 2 ;; esac

die() { echo "deploy: $*" >&2; exit 1; }

if [ -z "${DOMAIN_NAME:-}" ]; then
  [ -n "$DRY_RUN" ] || die "set DOMAIN_NAME to the parent domain (the stage zone is $STAGE.\$DOMAIN_NAME)"
  DOMAIN_NAME="example.jp"
fi

# Print a command, shell-quoted, then run it unless this is a dry run.
run() {
  printf '+'; printf ' %q' "$@"; printf '\n'
  [ -n "$DRY_RUN" ] || "$@"
}

# A stack output; in a dry run a placeholder that names it.
output() {  # stack region key
  if [ -n "$DRY_RUN" ]; then echo "<$1.$3>"; return; fi
  aws cloudformation describe-stacks --region "$2" --stack-name "$1" \
    --query "Stacks[0].Outputs[?OutputKey=='$3'].OutputValue" --output text
}

deploy_stack() {  # region stack template [Key=Value ...]
  local region=$1 stack=$2 template=$3; shift 3
  run aws cloudformation deploy --region "$region" --stack-name "$stack" --template-file "$template" \
    --capabilities CAPABILITY_NAMED_IAM CAPABILITY_AUTO_EXPAND --no-fail-on-empty-changeset \
    --tags "${TAGS[@]}" --parameter-overrides Stage="$STAGE" BucketSuffix="$BUCKET_SUFFIX" "$@"
}

if [ -n "$DRY_RUN" ]; then
  echo "deploy: DRY RUN for stage $STAGE ($DEPLOY_PATH path): printing commands, running none"
else
  command -v aws >/dev/null || die "the AWS CLI (aws) is not installed"
  aws sts get-caller-identity --output text >/dev/null 2>&1 || die "no usable AWS credentials.
  Configure them (aws configure / AWS_PROFILE / SSO login) and retry, or run with DRY_RUN=1
  to print every command this deployment would run."
  command -v docker >/dev/null || die "docker is needed to build the scanner image (infra/scanner/Dockerfile)"
fi

EDGE_STACK=$STAGE-manabiplus-edge
DR_STACK=$STAGE-manabiplus-dr
BOOTSTRAP_STACK=$STAGE-manabiplus-bootstrap
MAIN_STACK=$STAGE-manabiplus-main

echo "deploy: 1/5 edge stack ($EDGE_REGION)"
deploy_stack "$EDGE_REGION" "$EDGE_STACK" infra/edge.yaml DomainName="$DOMAIN_NAME"
WEB_ACL_ARN=$(output "$EDGE_STACK" "$EDGE_REGION" WebAclArn)
CERTIFICATE_ARN=$(output "$EDGE_STACK" "$EDGE_REGION" CertificateArn)
HOSTED_ZONE_ID=$(output "$EDGE_STACK" "$EDGE_REGION" HostedZoneId)

if [ "$STAGE" = prod ]; then
  echo "deploy: 2/5 dr stack ($DR_REGION)"
  deploy_stack "$DR_REGION" "$DR_STACK" infra/dr.yaml
else
  echo "deploy: 2/5 dr stack skipped: only prod replicates backups to Osaka (R-S3-04)"
fi

echo "deploy: 3/5 bootstrap stack ($MAIN_REGION)"
deploy_stack "$MAIN_REGION" "$BOOTSTRAP_STACK" infra/bootstrap.yaml
REPOSITORY_URI=$(output "$BOOTSTRAP_STACK" "$MAIN_REGION" ScannerRepositoryUri)
ARTIFACTS_BUCKET=$(output "$BOOTSTRAP_STACK" "$MAIN_REGION" ArtifactsBucketName)

echo "deploy: 4/5 scanner image $REPOSITORY_URI:$IMAGE_TAG"
SCANNER_IMAGE_URI=$REPOSITORY_URI:$IMAGE_TAG
if [ -n "$DRY_RUN" ]; then
  echo "+ aws ecr get-login-password --region $MAIN_REGION | docker login --username AWS --password-stdin ${REPOSITORY_URI%%/*}"
else
  aws ecr get-login-password --region "$MAIN_REGION" | docker login --username AWS --password-stdin "${REPOSITORY_URI%%/*}"
fi
run docker build --platform linux/amd64 -f infra/scanner/Dockerfile -t "$SCANNER_IMAGE_URI" .
run docker push "$SCANNER_IMAGE_URI"

MAIN_PARAMETERS=(ScannerImageUri="$SCANNER_IMAGE_URI" DomainName="$DOMAIN_NAME" HostedZoneId="$HOSTED_ZONE_ID"
  CertificateArn="$CERTIFICATE_ARN" WebAclArn="$WEB_ACL_ARN")
export AWS_DEFAULT_REGION=$MAIN_REGION

if [ "$DEPLOY_PATH" = package ]; then
  echo "deploy: 5/5 main stack with the Chalice app, packaged ($MAIN_REGION)"
  run "$VENV/bin/python" infra/build.py package --stage "$STAGE"
  run aws cloudformation package --region "$MAIN_REGION" --template-file "build/$STAGE/package/sam.json" \
    --s3-bucket "$ARTIFACTS_BUCKET" --s3-prefix "$STAGE/app" --output-template-file "build/$STAGE/package/packaged.yaml"
  deploy_stack "$MAIN_REGION" "$MAIN_STACK" "build/$STAGE/package/packaged.yaml" "${MAIN_PARAMETERS[@]}"
else
  echo "deploy: 5/5 main stack, then chalice deploy ($MAIN_REGION)"
  run "$VENV/bin/python" infra/build.py main --stage "$STAGE"
  run aws cloudformation package --region "$MAIN_REGION" --template-file "build/$STAGE/main.json" \
    --s3-bucket "$ARTIFACTS_BUCKET" --s3-prefix "$STAGE/main" --output-template-file "build/$STAGE/main.packaged.yaml"
  # The API distribution needs the API, which `chalice deploy` creates next: keep the origin
  # of a previous run, or create the API distribution on the second pass below.
  deploy_stack "$MAIN_REGION" "$MAIN_STACK" "build/$STAGE/main.packaged.yaml" "${MAIN_PARAMETERS[@]}" \
    ApiOriginDomain="${API_ORIGIN_DOMAIN:-}"
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
  deploy_stack "$MAIN_REGION" "$MAIN_STACK" "build/$STAGE/main.packaged.yaml" "${MAIN_PARAMETERS[@]}" \
    ApiOriginDomain="$REST_API_ID.execute-api.$MAIN_REGION.amazonaws.com"
fi

echo "deploy: done. Delegate $STAGE.$DOMAIN_NAME to the name servers in the $EDGE_STACK output HostedZoneNameServers."
