#!/usr/bin/env bash
# Infrastructure lint gate (`make lint`, `.ci/run`), offline:
#   cfn-lint  every stack template and both packaged stage templates, informational rules on,
#             warnings fail;
#   checkov   the same files (its own venv, .checkov.yaml: --skip-download, justified skips);
#   hadolint  the scanner Dockerfile.
# The main template (merged from infra/main/) and the packaged templates are rebuilt first
# (infra/build.py main, and `chalice package` + infra/app.yaml).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
CHECKOV_VENV=${CHECKOV_VENV:-.venv-checkov}
TEMPLATES=(infra/zone.yaml infra/bootstrap.yaml infra/edge.yaml infra/dr.yaml)

"$VENV/bin/python" infra/build.py main --stage stag >/dev/null
TEMPLATES+=(build/stag/main.json)
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
