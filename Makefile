# The two commands of the README's quick start:
#   make run    install into .venv, then ingest seeds/, tag, build events and serve on :8001
#   make test   install into .venv (plus Chromium for the browser test), then run every test
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test browser

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/tracker run

# Debian's chromium for the browser test (Playwright's own browser download
# does not work offline); installed only when missing.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	} || echo "chromium not installed: browser tests will be skipped"

test: install browser
	$(BIN)/python -m pytest
