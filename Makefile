# The README's commands. Everything runs from the project's own virtualenv (.venv).

PORT ?= 8000
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Reinstalls only when pyproject.toml changes, so `make test` stays quick once installed.
STAMP := $(VENV)/.installed

.PHONY: install run test lint format bench clean browser nodejs go wrk

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,postgres]'
	@touch $(STAMP)

run: install
	$(BIN)/parley serve --demo --host 127.0.0.1 --port $(PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# Debian's chromium drives the dashboard's browser tests; without it they are skipped, loudly.
browser:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
	  || echo "!!! NO BROWSER: could not install chromium; the dashboard's browser tests will be SKIPPED !!!"

# Debian's nodejs runs the docs' JavaScript hash check (tests/e2e/test_jcs_node.py): RFC 8785
# as JavaScript's own JSON writes it. Without it that test is skipped, loudly.
nodejs:
	@command -v node >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs) \
	  || echo "!!! NO NODE: could not install nodejs; the JavaScript hash check will be SKIPPED !!!"

# Debian's Go and golang.org/x/mod build the Go verifier (tests/e2e/goverify) offline, in
# GOPATH mode; without them its end-to-end tests are skipped, loudly.
GO_MOD_SOURCES := /usr/share/gocode/src/golang.org/x/mod/sumdb/note
go:
	@(command -v go >/dev/null 2>&1 && test -d $(GO_MOD_SOURCES)) || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-go golang-golang-x-mod-dev) \
	  || echo "!!! NO GO: could not install golang-go and golang-golang-x-mod-dev; the Go verifier's tests will be SKIPPED !!!"

test: lint browser nodejs go
	$(BIN)/pytest

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Debian's wrk drives the HTTP append bench (bench/bench_http.py) from a process of its own;
# without it the bench falls back to its httpx client, loudly.
wrk:
	@command -v wrk >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk) \
	  || echo "!!! NO WRK: could not install wrk; the HTTP bench will use its httpx client instead !!!"

bench: install wrk
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .import_linter_cache *.egg-info
