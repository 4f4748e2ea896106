# The two commands of the README. Both bootstrap everything they need and are idempotent.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv/bin

.PHONY: help run test lint bootstrap-dev bootstrap-test

help:
	@echo "make run   - set up (venv, PostGIS, servers, database, data) and serve API + worker"
	@echo "make test  - set up and run ruff, mypy, the import contracts and pytest on a test database"

bootstrap-dev:
	@scripts/bootstrap.sh dev

bootstrap-test:
	@scripts/bootstrap.sh test

run: bootstrap-dev
	@set -a; . .local/dev.env; set +a; exec $(VENV)/wangge run

lint:
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .
	$(VENV)/mypy .
	$(VENV)/lint-imports

test: bootstrap-test lint
	@set -a; . .local/test.env; set +a; $(VENV)/pytest -q -p no:cacheprovider $(PYTEST_ARGS)
