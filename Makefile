# Manabi Plus — the targets a person expects. Everything installs what it needs first.
VENV ?= .venv
PY := $(VENV)/bin/python
STAGE ?= stag

.PHONY: setup setup-lint test lint bench run stop package deploy rehearse web publish-web clean

setup:  ## Debian's ClamAV packages and .venv (what run, test, package and deploy need)
	@bash scripts/setup.sh

setup-lint:  ## setup, and .venv-checkov for the template checks
	@bash scripts/setup.sh lint

test: setup  ## every test: the web app's unit tests (vitest), then unit, functional (moto + real clamd), infra, e2e, browser
	npm --prefix web test --silent
	$(PY) -m pytest

lint: setup-lint  ## ruff + mypy, then cfn-lint, checkov and hadolint on the infrastructure (infra/lint.sh)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy app.py chalicelib devstack manabi_cli infra/build.py infra/publish_web.py
	bash infra/lint.sh

package: setup  ## chalice package merged with infra/ -> build/$(STAGE)/package/sam.json (STAGE=stag|prod)
	$(PY) infra/build.py package --stage $(STAGE)

deploy: setup  ## the whole ordered deployment (docs/DEPLOY.md); DRY_RUN=1 prints every command instead
	VENV=$(VENV) bash infra/deploy.sh $(STAGE)

rehearse: setup  ## `make deploy` end to end with the real AWS CLI against the emulator (part of `make test`)
	$(PY) -m pytest tests/rehearsal -v

bench: setup  ## scanner throughput and memory against clamdscan and clamscan (docs/PERFORMANCE.md)
	$(PY) -m bench.scan_benchmark
	$(PY) -m bench.local_stack
	$(PY) -m bench.local_throughput
	$(PY) -m bench.definitions

run: setup  ## the whole system on 127.0.0.1: emulator, clamd, state machine, chalice local (Ctrl-C stops it)
	$(PY) -m devstack.local up

web: setup  ## build the web app into web/dist (make run and the browser tests build it when its sources changed)
	$(PY) -m devstack.web

publish-web: setup  ## build the web app and publish it to STAGE's web bucket (infra/publish_web.py); DRY_RUN=1 prints the plan
	$(PY) infra/publish_web.py --stage $(STAGE) $(if $(DRY_RUN),--dry-run)

stop:  ## stop a local stack started by `make run` in another terminal
	$(PY) -m devstack.local stop

clean:
	rm -rf $(VENV) .venv-checkov build .pytest_cache .mypy_cache .ruff_cache web/node_modules web/dist
