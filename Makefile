# Ledger: every entry point a developer or CI needs.
# `make test` and `make run` install what they need into .venv (pinned versions).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements-dev.txt libs/banking/pyproject.toml | sha1sum | cut -c1-12)
PYTEST_WORKERS ?= 2
# Every directory of lambdas/ with a handler.py: the names `make test-lambda` takes.
LAMBDAS := $(sort $(patsubst lambdas/%/handler.py,%,$(wildcard lambdas/*/handler.py)))

# Checked when make reads this file, so a wrong NAME fails before anything is installed.
ifneq ($(filter test-lambda,$(MAKECMDGOALS)),)
ifneq ($(words $(NAME))$(filter $(NAME),$(LAMBDAS)),1$(strip $(NAME)))
$(error NAME='$(NAME)' is not a Lambda: make test-lambda NAME=<one of: $(LAMBDAS)>)
endif
endif

.PHONY: help install package chromium test test-lambda lint typecheck unit integration infra e2e run up down redeploy token bench simulate chaos soak clean

help:
	@echo "make run      - bring the whole system up locally, in the foreground (Ctrl-C stops it)"
	@echo "make up/down  - the same in the background / stop it"
	@echo "make redeploy - deploy dist/'s rebuilt zips to the running system (its next invokes run them)"
	@echo "make token SUB=alice [SCOPES=...] [ACCOUNTS=...] - a token of the running system's issuer"
	@echo "make test     - lint, type-check and run every test (installs what it needs)"
	@echo "make test-lambda NAME=commands - the tests of one Lambda only (tests/lambdas/NAME)"
	@echo "make package  - build dist/<lambda>.zip for every Lambda"
	@echo "make bench    - run the benchmarks"
	@echo "make simulate [SEED=42] [STEPS=100000] - the deterministic simulation (docs/reliability.md)"
	@echo "make chaos [N=2000 CLIENTS=16 ACCOUNTS=50 SEED=...] - the chaos run at scale, every fault on"
	@echo "make soak [MINUTES=30 RATE=...] - a steady open-loop load; fails on any growth trend"

$(STAMP): requirements-dev.txt libs/banking/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e libs/banking
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e clients/python
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

package: $(STAMP)
	PYTHON=$(abspath $(BIN)/python) scripts/package.sh

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest tests/unit -q

# The Python client's Ledger is generated from its AsyncLedger (clients/python/README.md).
.PHONY: client-sync
client-sync: $(STAMP)
	$(BIN)/python clients/python/scripts/generate_sync.py

# One function's handler tests, alone: what a developer changing that function runs.
test-lambda: $(STAMP)
	$(BIN)/pytest tests/lambdas/$(NAME) -q

# The console's browser tests (tests/e2e/test_console.py) drive Debian's chromium:
# installed here, as root, only when it is missing (no browser download at test time).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  test "$$(id -u)" = 0 || { echo "chromium is missing: install it as root (apt-get install chromium)" >&2; exit 1; }; \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }

test: lint typecheck package chromium
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup

run: package
	$(BIN)/python -m scripts.local run

up: package
	$(BIN)/python -m scripts.local up

down: $(STAMP)
	$(BIN)/python -m scripts.local down

# The zips of dist/, rebuilt, deployed to the running system (make up / make run).
redeploy: package
	$(BIN)/python -m scripts.local redeploy

# A token of the running system's local issuer: SUB (required), SCOPES and ACCOUNTS
# (space-separated), TTL (seconds). See docs/security.md.
token: $(STAMP)
	@test -n "$(SUB)" || { echo 'usage: make token SUB=alice [SCOPES="ledger/transactions.write"] [ACCOUNTS="acc-1 acc-2"] [TTL=3600]' >&2; exit 2; }
	@$(BIN)/python -m scripts.local.issuer token --sub '$(SUB)' --scopes '$(SCOPES)' --accounts '$(ACCOUNTS)' --ttl '$(or $(TTL),3600)'

bench: package
	$(BIN)/python -m bench $(if $(QUICK),--quick,)

# The chaos run at scale (tests/chaos/test_chaos.py, every fault on; not in `make test`,
# which runs a small one). Prints its figures; fails on anything lost, doubled or wrong.
N ?= 2000
CLIENTS ?= 16
ACCOUNTS ?= 50
chaos: package
	LEDGER_CHAOS_REQUESTS=$(N) LEDGER_CHAOS_CLIENTS=$(CLIENTS) LEDGER_CHAOS_ACCOUNTS=$(ACCOUNTS) \
	  $(if $(SEED),LEDGER_CHAOS_SEED=$(SEED)) LEDGER_CHAOS_REPORT=$(abspath .local/chaos-report.json) \
	  $(BIN)/pytest tests/chaos/test_chaos.py -m chaos -n 0 -p no:cacheprovider -s -q

# A steady open-loop load on a fresh local system (scripts/chaos/soak.py): per minute,
# projection lag p99, each process's memory and open files, dead letters. Fails on a
# growth trend, a dead letter, or a read model left behind.
MINUTES ?= 30
soak: package
	$(BIN)/python -m scripts.chaos.soak --minutes $(MINUTES) $(if $(RATE),--rate $(RATE))

clean:
	rm -rf dist .local build .pytest_cache .mypy_cache .ruff_cache

# The deterministic simulation (docs/reliability.md): the same SEED replays the same run;
# no SEED picks a fresh one and prints it. ARGS: more options (--help lists them).
simulate: $(STAMP)
	$(BIN)/python -m tests.simulation $(if $(SEED),--seed $(SEED)) --steps $(or $(STEPS),100000) $(ARGS)
