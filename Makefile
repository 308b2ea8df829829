# Manabi Plus — the targets a person expects. Everything installs what it needs first.
VENV ?= .venv
PY := $(VENV)/bin/python
STAGE ?= stag

.PHONY: setup test lint bench run stop package deploy clean

setup:
	@bash scripts/setup.sh

test: setup  ## every test: unit, functional (moto + real clamd), infra
	$(PY) -m pytest

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy app.py chalicelib devstack manabi_cli

bench: setup  ## scanner throughput and memory against clamdscan and clamscan (docs/PERFORMANCE.md)
	$(PY) -m bench.scan_benchmark
	$(PY) -m bench.local_stack
	$(PY) -m bench.definitions

run: setup  ## the whole system on 127.0.0.1: emulator, clamd, state machine, chalice local (Ctrl-C stops it)
	$(PY) -m devstack.local up

stop:  ## stop a local stack started by `make run` in another terminal
	$(PY) -m devstack.local stop

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
