# The only commands anyone needs: run, test, lint, bench (and image, for the container image).
SHELL  := /bin/bash
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Reinstalled when the dependencies or the C extension (built by the install) change.
HASH   := $(shell cat pyproject.toml setup.py ptt/media/_rtpout.c | cksum | cut -d' ' -f1)
# What the server needs (make run) and, on top, what the tests and tools need.
RUN_STAMP := $(VENV)/.installed-run-$(HASH)
DEV_STAMP := $(VENV)/.installed-dev-$(HASH)

.PHONY: run test lint coverage bench chaos image setup clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(RUN_STAMP): pyproject.toml setup.py ptt/media/_rtpout.c | $(BIN)/python
	@PYTHON=$(BIN)/python scripts/system-deps.sh
	$(BIN)/python -m pip install -q -e .
	rm -f $(VENV)/.installed-run-*
	touch $@

$(DEV_STAMP): $(RUN_STAMP)
	$(BIN)/python -m pip install -q -e '.[dev]'
	rm -f $(VENV)/.installed-dev-*
	touch $@

setup: $(DEV_STAMP)

run: $(RUN_STAMP)
	$(BIN)/siaga db upgrade
	$(BIN)/siaga demo load
	$(BIN)/siaga serve --no-migrate

test: $(DEV_STAMP)
	@scripts/system-deps.sh --browser
	scripts/pytest.sh $(PYTEST_ARGS)

# The JavaScript checker (TypeScript over the plain JS of webui/ and clients/mobile/), as
# pinned by package-lock.json; npm writes node_modules/.package-lock.json on every install.
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

lint: setup node_modules/.package-lock.json
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/hadolint Dockerfile
	$(BIN)/mypy kernel siaga ptt dispatch
	$(BIN)/mypy --strict $(shell cat scripts/strict-modules.txt)
	node_modules/.bin/tsc -p tsconfig.json
	@# Markup is assigned in webui/shared/dom.js only, so that user text never becomes HTML.
	@if grep -rnE 'innerHTML|outerHTML|insertAdjacentHTML|document\.write' \
	    webui/js webui/shared clients/mobile/js clients/mobile/sw.js | grep -v '^webui/shared/dom.js:'; then \
	  echo "markup set outside webui/shared/dom.js: build nodes (h) or use html\`\` and setHtml"; exit 1; fi
	$(BIN)/python scripts/coverage.py

# Branch coverage of the pure cores by their unit tests (also the last step of lint): 100% or fail.
coverage: setup
	$(BIN)/python scripts/coverage.py

# PostgreSQL and cluster figures too when the servers answer locally (as on our machines
# and in CI).
bench: setup
	@if [ -z "$$SIAGA_TEST_DATABASE_URL" ] && (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; then \
	  export SIAGA_TEST_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test; fi; \
	if [ -z "$$SIAGA_TEST_NATS_URL" ] && (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null; then \
	  export SIAGA_TEST_NATS_URL=nats://127.0.0.1:4222; fi; \
	$(BIN)/python -m bench $(BENCH_ARGS)

# The cluster chaos test, longer than in the suite: nodes on the local PostgreSQL and NATS are
# killed and restarted CHAOS_ROUNDS times while officers talk; double talkers and stuck
# floors are counted (both must be 0).
CHAOS_ROUNDS ?= 20
chaos: setup
	SIAGA_TEST_DATABASE_URL=$${SIAGA_TEST_DATABASE_URL:-postgresql+asyncpg://postgres@127.0.0.1:5432/test} \
	SIAGA_TEST_NATS_URL=$${SIAGA_TEST_NATS_URL:-nats://127.0.0.1:4222} \
	SIAGA_CHAOS_ROUNDS=$(CHAOS_ROUNDS) $(BIN)/python -m pytest -s -q tests/cluster/test_chaos.py

# The Dockerfile built with podman from a debootstrap base (no image registry), run and
# checked: health, login, voice over WebSocket (scripts/image.sh; root, podman, runc).
image:
	scripts/image.sh

clean:
	rm -rf $(VENV) var node_modules .pytest_cache .mypy_cache .ruff_cache
