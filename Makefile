# The two commands of the README's quick start:
#   make run    install into .venv, then ingest seeds/, tag, build events and serve on :8001
#   make test   install into .venv (plus Chromium for the browser test and Ray for the
#               scale-out test), run every test,
#               then prove the plain install: `pip install .` with the interpreter's own pip
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PLAIN ?= .venv-plain

.PHONY: install run test browser install-check

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test,ray]"
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
	$(MAKE) install-check

# A fresh venv with the interpreter's own pip (not upgraded), a plain (not editable)
# `pip install .`, and the main commands run outside the checkout: the shipped
# model, the topic file and metadata.yml must come from the installed package.
install-check:
	rm -rf $(PLAIN)
	$(PYTHON) -m venv $(PLAIN)
	$(PLAIN)/bin/pip install --quiet .
	dir=$$(mktemp -d) && cd $$dir && export HF_HUB_OFFLINE=1 && \
	  $(CURDIR)/$(PLAIN)/bin/tracker init --db t.db && \
	  $(CURDIR)/$(PLAIN)/bin/tracker ingest $(CURDIR)/seeds --db t.db && \
	  $(CURDIR)/$(PLAIN)/bin/tracker tag --db t.db && \
	  $(CURDIR)/$(PLAIN)/bin/tracker status --db t.db && \
	  cd / && rm -rf $$dir
	@echo "install-check: plain pip install . works outside the checkout"
