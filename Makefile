# logto-asgi: every task is one command, the same on a laptop and in CI (.ci/run).
#
#   make install   venv + editable package + dev group, npm ci for the test provider,
#                  redis-server, postgresql and chromium from apt when missing (fast when done)
#   make test      pytest over tests/ with branch coverage (extra options: PYTEST_ARGS=...)
#   make lint      ruff format --check, ruff check, mypy --strict
#   make mutants   mutation testing of the security checks (tools/mutants.py; MUTANTS_ARGS=...)
#   make fuzz      coverage-guided fuzzing, FUZZ_SECONDS per target (tools/fuzz.py; FUZZ_ARGS=...)
#   make bench     the benchmark suite (bench/): one table, also bench/results/latest.json
#   make docs      the MkDocs site in site/ (mkdocs build --strict: warnings fail)
#   make package   sdist + wheel, twine check, the wheel in a clean venv with runtime deps only
#                  (tools/package_check.py; PACKAGE_ARGS="--outdir dist" keeps the files)
#   make demo      the test provider + an example app on http://localhost:3000
#                  (APP=starlette by default: examples/$(APP)_app.py, its `app`)
#   make clean     remove everything the targets above generated (.venv included)

SHELL := /bin/sh
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PROVIDER_DIR := tests/provider
APP ?= starlette
PYTEST_ARGS ?=
FUZZ_SECONDS ?= 60
FUZZ_ARGS ?=
PACKAGE_ARGS ?=

# Stamps live in the venv, so deleting .venv redoes everything.
PY_STAMP := $(VENV)/.stamp-python
NPM_STAMP := $(VENV)/.stamp-npm
DOCS_STAMP := $(VENV)/.stamp-docs

# Playwright drives Debian's chromium (tests/e2e); it must never fetch its own browsers.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export PIP_NO_INPUT := 1
export DEBIAN_FRONTEND := noninteractive

.PHONY: help install system-deps test lint mutants fuzz docs package bench demo clean

help:
	@echo "make install | test | lint | mutants | fuzz [FUZZ_SECONDS=60] | docs | package | bench | demo [APP=starlette|fastapi|quart] | clean"

install: $(PY_STAMP) $(NPM_STAMP) system-deps

$(PY_STAMP): pyproject.toml
	@test -x $(PY) || { echo "creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); }
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e . --group dev
	$(PY) -m playwright --version
	@touch $@

$(NPM_STAMP): $(PROVIDER_DIR)/package-lock.json $(PROVIDER_DIR)/package.json
	cd $(PROVIDER_DIR) && npm ci --no-audit --no-fund --loglevel=error
	@mkdir -p $(VENV) && touch $@

# Debian packages the tests run for real: redis-server (RedisStore) and chromium (e2e),
# each providing the command of the same name, and postgresql (PostgresStore), checked by
# its initdb, off PATH in /usr/lib/postgresql/<version>/bin (pg_ctlcluster would not do: a
# client-only install has it too). Only missing ones are installed.
APT_PACKAGES := redis-server chromium
PG_INITDB := /usr/lib/postgresql/*/bin/initdb

system-deps:
	@missing=; \
	for package in $(APT_PACKAGES); do \
		command -v $$package >/dev/null 2>&1 || missing="$$missing $$package"; \
	done; \
	ls $(PG_INITDB) >/dev/null 2>&1 || missing="$$missing postgresql"; \
	[ -n "$$missing" ] || exit 0; \
	if [ "$$(id -u)" -eq 0 ]; then sudo=; else sudo=sudo; fi; \
	echo "apt-get install -y$$missing"; \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get update && \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing

test: install
	$(PY) -m pytest --cov=logto_asgi --cov-branch --cov-report=term $(PYTEST_ARGS) tests

lint: install
	$(VENV)/bin/ruff format --check src tests examples bench tools fuzz
	$(VENV)/bin/ruff check src tests examples bench tools fuzz
	MYPYPATH=src:tests $(VENV)/bin/mypy --strict --explicit-package-bases src tests bench tools fuzz

# Mutation testing: every security check must have a test that fails when it is weakened.
mutants: $(PY_STAMP)
	$(PY) tools/mutants.py $(MUTANTS_ARGS)

# Coverage-guided fuzzing (fuzz/, atheris): each target FUZZ_SECONDS, one after the other;
# exit 1 on any crash. FUZZ_ARGS="--runs 1000000 --tolerate-known" is the long run.
fuzz: $(PY_STAMP)
	$(PY) tools/fuzz.py --seconds $(FUZZ_SECONDS) $(FUZZ_ARGS)

$(DOCS_STAMP): $(PY_STAMP)
	$(PY) -m pip install --quiet --group docs
	@touch $@

docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

# What PyPI would get: build, twine check --strict, the wheel installed into a clean venv
# (outside the repository) with its runtime dependencies only, imported and run; sizes.
package: $(PY_STAMP)
	$(PY) tools/package_check.py $(PACKAGE_ARGS)

# The benchmark (bench/): needs what the tests need (venv, the npm test provider,
# redis-server) but not chromium, plus wrk and the bench dependency group.
bench: $(PY_STAMP) $(NPM_STAMP)
	@if [ "$$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi; \
	missing=""; \
	command -v wrk >/dev/null 2>&1 || missing="$$missing wrk"; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing with apt-get"; \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; \
	fi
	$(PY) -m pip install --quiet --group bench
	$(PY) -m bench.run

demo: install
	$(PY) examples/demo.py --app $(APP)

clean:
	rm -rf $(VENV) $(PROVIDER_DIR)/node_modules .pytest_cache .mypy_cache .ruff_cache \
		.hypothesis .coverage .coverage.* coverage.xml htmlcov dist build site .demo src/*.egg-info
	find . -path ./.git -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
