#!/usr/bin/env bash
# Install everything the tests, the benchmark and the local stack need, on a fresh Debian
# machine: ClamAV's daemon and Debian's ClamAV test files, Info-ZIP, a Python venv, and a
# second venv for checkov (it pins packaging<24, chalice needs >=24; see requirements-checkov.txt),
# and for the web app (web/): Debian's Chromium and a Japanese font for the browser tests, and
# web/node_modules from the committed lockfile (`npm ci`).
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
# What the scanner runs with (its container image installs the same): clamd, the ClamAV test file
# its engine check scans, libarchive for the archive audit. Then tools the tests and benchmarks use:
# the browser tests drive Debian's Chromium (Playwright's own browser download is not used), and
# the IPA Gothic font lets it render Japanese instead of empty boxes.
SCANNER_PACKAGES=(clamav-daemon clamav clamav-testfiles libarchive13)
TOOL_PACKAGES=(clamdscan zip gcab arj chromium fonts-ipafont-gothic)
DEBIAN_PACKAGES=("${SCANNER_PACKAGES[@]}" "${TOOL_PACKAGES[@]}")

missing=()
for package in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

stamp="$VENV/.requirements.sha256"
wanted=$(cat requirements.txt requirements-dev.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  echo "setup: creating $VENV from requirements-dev.txt"
  "$PYTHON" -m venv "$VENV"
  # (This machine's pip config lists local mirrors that may be absent; their warnings are noise.)
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r requirements-dev.txt \
    2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
  # The `manabi` CLI, installed from this checkout.
  "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e . \
    2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
  echo "$wanted" > "$stamp"
fi

CHECKOV_VENV=${CHECKOV_VENV:-.venv-checkov}
checkov_stamp="$CHECKOV_VENV/.requirements.sha256"
checkov_wanted=$(sha256sum requirements-checkov.txt | cut -d' ' -f1)
if [ ! -x "$CHECKOV_VENV/bin/checkov" ] || [ "$(cat "$checkov_stamp" 2>/dev/null)" != "$checkov_wanted" ]; then
  echo "setup: creating $CHECKOV_VENV from requirements-checkov.txt"
  "$PYTHON" -m venv "$CHECKOV_VENV"
  "$CHECKOV_VENV/bin/pip" install --quiet --disable-pip-version-check -r requirements-checkov.txt \
    2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
  echo "$checkov_wanted" > "$checkov_stamp"
fi

# The web app's packages, exactly as web/package-lock.json records them.
web_stamp=web/node_modules/.manabi-lock.sha256
web_wanted=$(sha256sum web/package-lock.json | cut -d' ' -f1)
if [ "$(cat "$web_stamp" 2>/dev/null)" != "$web_wanted" ]; then
  command -v npm >/dev/null || { echo "setup: npm (Node.js 20.19+) is needed for web/" >&2; exit 1; }
  echo "setup: installing web/node_modules (npm ci)"
  npm ci --prefix web --no-audit --no-fund --loglevel=error >/dev/null
  echo "$web_wanted" > "$web_stamp"
fi
