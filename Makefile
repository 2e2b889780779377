# micd: `make run` starts the daemon on embedded defaults; `make test` runs every check CI runs.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | cksum | cut -d' ' -f1)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := prometheus-alertmanager prometheus chromium
CONFIG ?=

.PHONY: run test lint typecheck unit system-deps bench bench-quality clean

$(STAMP): pyproject.toml constraints.txt
	@$(PY) -c 'import ensurepip' 2>/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq python3-venv; }
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

run: $(STAMP)
	$(BIN)/micd serve $(if $(CONFIG),--config $(CONFIG))

# Real Alertmanager and Prometheus binaries for the integration tests and promtool for rule checks.
system-deps:
	@missing=""; for b in /usr/bin/prometheus-alertmanager /usr/bin/prometheus /usr/bin/promtool /usr/bin/chromium; do \
	  test -x $$b || missing=yes; done; \
	if [ -n "$$missing" ]; then \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $(APT_PACKAGES); \
	fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy daemon tests $(wildcard tools bench)

unit: $(STAMP) system-deps
	$(BIN)/pytest -q -p no:cacheprovider

test: lint typecheck unit

bench: $(STAMP) system-deps
	$(BIN)/python -m bench.run $(if $(QUICK),--quick)

bench-quality: $(STAMP)
	$(BIN)/python -m bench.quality

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
