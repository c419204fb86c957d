# make run   - install into .venv, load the demo data on first start, print a fresh administrator
#              link (no sign-in configured), serve the app on :8501
# make test  - install system packages, the venv and test extras, the node packages of the tests
#              (axe-core, a real OpenID provider), run pytest against a throwaway PostgreSQL server and real
#              headless Chromium (nothing is skipped)
#
# Stamp files in .venv skip the pip install until pyproject.toml changes.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test
DB_FILE := $(or $(ASSESSMENT_DB),data/assessment.db)
PORT ?= 8501
PYTEST_ARGS ?=
SYSTEM_PACKAGES := chromium chromium-driver postgresql fonts-dejavu-core fonts-noto-color-emoji
NODE_PACKAGES := nodejs npm
NODE_DIR := tests/node
NODE_STAMP := $(NODE_DIR)/node_modules/.installed
DEJAVU_FONT := /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
EMOJI_FONT := /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf

.PHONY: run test system-deps node-deps venv clean-venv

# Demo data only into a database file that does not exist yet (never over real data); a
# failed load removes the half-made file so the next start tries again. With DATABASE_URL
# the (idempotent) demo command runs every time.
run: $(RUN_STAMP)
	@if [ -n "$$DATABASE_URL" ]; then \
	  $(BIN)/assessment demo; \
	elif [ ! -e "$(DB_FILE)" ]; then \
	  mkdir -p "$$(dirname "$(DB_FILE)")" && echo "Loading demo data into $(DB_FILE)" && \
	  ASSESSMENT_DB="$(DB_FILE)" $(BIN)/assessment demo || \
	  { rm -f "$(DB_FILE)" "$(DB_FILE)-wal" "$(DB_FILE)-shm"; exit 1; }; \
	fi
	@ASSESSMENT_DB="$(DB_FILE)" $(BIN)/assessment admin-link --url "http://localhost:$(PORT)"
	ASSESSMENT_DB="$(DB_FILE)" $(BIN)/streamlit run serve.py --server.headless true \
	  --server.port $(PORT) --browser.gatherUsageStats false

test: system-deps $(TEST_STAMP) $(NODE_STAMP)
	ASSESSMENT_REQUIRE_ALL=1 $(BIN)/python tests/pg_server.py run -- $(BIN)/pytest -q $(PYTEST_ARGS)

venv: $(BIN)/python

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -e .
	touch $@

# The test install is a superset of the run install, so it refreshes both stamps.
$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -e '.[test]'
	touch $@ $(RUN_STAMP)

# The tests' node packages, exactly as locked (npm ci), again only when the lock file changes.
$(NODE_STAMP): $(NODE_DIR)/package.json $(NODE_DIR)/package-lock.json
	cd $(NODE_DIR) && npm ci --no-audit --no-fund
	touch $@

node-deps: $(NODE_STAMP)

# Debian chromium + chromedriver for the browser tests, PostgreSQL server binaries for the
# postgres tests, fonts so screenshots show text and the page icons (emoji) instead of boxes,
# node and npm for the tests' npm packages (axe-core, the OpenID provider).
# apt-get only when one of them is missing; sudo only when not root.
system-deps:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] && \
	    ls /usr/lib/postgresql/*/bin/initdb /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 && \
	    [ -e $(DEJAVU_FONT) ] && [ -e $(EMOJI_FONT) ] && command -v node >/dev/null && command -v npm >/dev/null; then \
	  exit 0; \
	fi; \
	if [ "$$(id -u)" = 0 ]; then sudo=""; \
	elif command -v sudo >/dev/null; then sudo="sudo"; \
	else echo "error: chromium, chromedriver, the PostgreSQL server, fonts or node are missing and I am" \
	  "neither root nor have sudo; install the Debian packages: $(SYSTEM_PACKAGES) $(NODE_PACKAGES)" >&2; exit 1; \
	fi; \
	packages="$(SYSTEM_PACKAGES)"; \
	command -v npm >/dev/null || packages="$$packages $(NODE_PACKAGES)"; \
	echo "Installing Debian packages: $$packages"; \
	$$sudo apt-get update && \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$packages

clean-venv:
	rm -rf $(VENV)
