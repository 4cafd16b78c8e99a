# The only commands anyone needs: run, test, lint, bench.
SHELL  := /bin/bash
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Reinstalled when the dependencies or the C extension (built by the install) change.
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml setup.py ptt/media/_rtpout.c | cksum | cut -d' ' -f1)

.PHONY: run test lint bench setup clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml setup.py ptt/media/_rtpout.c | $(BIN)/python
	@PYTHON=$(BIN)/python scripts/system-deps.sh --build
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

setup: $(STAMP)
	@scripts/system-deps.sh

run: setup
	$(BIN)/siaga db upgrade
	$(BIN)/siaga demo load
	$(BIN)/siaga serve --no-migrate

test: $(STAMP)
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

# PostgreSQL figures too when a server answers locally (as on our machines and in CI).
bench: setup
	@if [ -z "$$SIAGA_TEST_DATABASE_URL" ] && (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; then \
	  export SIAGA_TEST_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test; fi; \
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var node_modules .pytest_cache .mypy_cache .ruff_cache
