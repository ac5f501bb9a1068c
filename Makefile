# `make run` and `make test` do all the set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PG_TEST_URL ?= postgresql://postgres@127.0.0.1:5432/test

.PHONY: run test test-sqlite test-postgres install migrate bench clean seed demo

$(VENV)/.installed: setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

migrate: install
	$(PY) scripts/migrate.py

run: install migrate
	@echo "First time? 'make seed' fills a demo project with twelve months of churn (or 'make demo': seed, then run)."
	$(PY) server.py

# A demo project (slug demo) with a year of churn, recoveries and emails; prints how to sign in.
# Idempotent: an already seeded project is left alone (scripts/seed_demo.py --reset to redo it).
SEED_EVENTS ?= 1500
seed: install migrate
	$(PY) scripts/seed_demo.py --events $(SEED_EVENTS)

demo: seed
	$(PY) server.py

# The suite runs once on SQLite and once on PostgreSQL. Without a reachable PostgreSQL the
# second run skips with a message, except under CI=true, where it fails.
test: install
	$(PY) -m pytest -q tests
	WINDBACK_TEST_DATABASE_URL=$(PG_TEST_URL) $(PY) -m pytest -q tests

test-sqlite: install
	$(PY) -m pytest -q tests

test-postgres: install
	WINDBACK_TEST_DATABASE_URL=$(PG_TEST_URL) $(PY) -m pytest -q tests

# Throughput against bare Tornado (needs wrk); see docs/BENCHMARKS.md.
bench: install
	PYTHON=$(PY) bench/run.sh

clean:
	rm -rf $(VENV) *.egg-info windback.db windback.db-* outbox
