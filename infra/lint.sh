#!/usr/bin/env bash
# Infrastructure lint gate (`make lint`, `.ci/run`), offline:
#   cfn-lint  every stack template and both packaged stage templates, informational rules on,
#             warnings fail;
#   checkov   the same files (its own venv, .checkov.yaml: --skip-download, justified skips);
#   hadolint  the scanner Dockerfile.
# The packaged templates are rebuilt first (`chalice package` + infra/app.yaml, infra/build.py).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
CHECKOV_VENV=${CHECKOV_VENV:-.venv-checkov}
TEMPLATES=(infra/bootstrap.yaml infra/edge.yaml infra/dr.yaml infra/main.yaml)

for stage in stag prod; do
  "$VENV/bin/python" infra/build.py package --stage "$stage" >/dev/null
  TEMPLATES+=("build/$stage/package/sam.json")
done

echo "lint: cfn-lint ${TEMPLATES[*]}"
"$VENV/bin/cfn-lint" --include-checks I --non-zero-exit-code warning -- "${TEMPLATES[@]}"

checkov_args=()
for template in "${TEMPLATES[@]}"; do checkov_args+=(-f "$template"); done
echo "lint: checkov ${TEMPLATES[*]}"
"$CHECKOV_VENV/bin/checkov" --config-file .checkov.yaml "${checkov_args[@]}"

echo "lint: hadolint infra/scanner/Dockerfile"
"$VENV/bin/hadolint" infra/scanner/Dockerfile
echo "lint: infrastructure OK"
