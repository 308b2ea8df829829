# Manabi Plus — the targets a person expects. Everything installs what it needs first.
VENV ?= .venv
PY := $(VENV)/bin/python
STAGE ?= stag

.PHONY: setup test lint bench run package deploy clean

setup:
	@bash scripts/setup.sh

test: setup  ## every test: unit, functional (moto + real clamd), infra
	$(PY) -m pytest

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy app.py chalicelib devstack

bench: setup  ## scanner throughput and memory against clamdscan and clamscan (docs/PERFORMANCE.md)
	$(PY) -m bench.scan_benchmark

run:
	@echo "The embedded local stack arrives with issue #3; until then run the tests: make test" >&2; exit 2

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
