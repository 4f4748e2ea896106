# The two commands of the README. Both bootstrap everything they need and are idempotent.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv/bin

.PHONY: help run test lint bootstrap-dev bootstrap-test console console-test

# The browser console (console/): Node packages from the committed lock file, rebuilt only when
# its sources change. ``make run`` serves console/dist at /console/.
CONSOLE_SOURCES := $(shell find console/src console/index.html console/vite.config.ts \
	console/tsconfig.json -type f 2>/dev/null)

help:
	@echo "make run   - set up (venv, PostGIS, servers, database, data) and serve API + worker"
	@echo "make test  - set up and run ruff, mypy, the import contracts, the console's unit tests and pytest"
	@echo "            (with the console's browser tests in Chromium) on a test database"

bootstrap-dev:
	@scripts/bootstrap.sh dev

bootstrap-test:
	@scripts/bootstrap.sh test

console/node_modules/.package-lock.json: console/package-lock.json console/package.json
	cd console && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

console/dist/index.html: console/node_modules/.package-lock.json $(CONSOLE_SOURCES)
	cd console && npm run build --silent
	@touch $@

console: console/dist/index.html

# Front-end unit tests (Vitest); the browser tests run under pytest (tests/e2e/test_console.py).
console-test: console
	cd console && npx vitest run

run: bootstrap-dev console
	@echo "console: http://127.0.0.1:8000/console/ (demo accounts: README.md)"
	@set -a; . .local/dev.env; set +a; exec $(VENV)/wangge run

lint:
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .
	$(VENV)/mypy .
	$(VENV)/lint-imports

# pytest-xdist: modules (--dist loadfile) on TEST_WORKERS processes, each on a database and a
# Redis number of its own (tests/conftest.py); half the suite waits on processes it starts.
TEST_WORKERS ?= 2

test: bootstrap-test lint console-test
	@set -a; . .local/test.env; set +a; $(VENV)/pytest -q -p no:cacheprovider \
		-n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)
