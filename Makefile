# `make run` and `make test` do all the set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PG_TEST_URL ?= postgresql://postgres@127.0.0.1:5432/test

.PHONY: run test test-sqlite test-postgres install migrate bench clean seed demo openapi

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

# The suite runs once on SQLite and once on PostgreSQL, side by side (each run has a database
# of its own; together they take about as long as the slower one, not the sum). Each run's
# output is printed whole when it ends. Without a reachable PostgreSQL the second run skips
# with a message, except under CI=true, where it fails.
test: install
	$(MAKE) --no-print-directory -j2 --output-sync=target test-sqlite test-postgres

test-sqlite: install
	$(PY) -m pytest -q tests

test-postgres: install
	WINDBACK_TEST_DATABASE_URL=$(PG_TEST_URL) $(PY) -m pytest -q tests

# Rewrite docs/openapi.json from the code (tests/test_openapi.py fails while it is out of date).
openapi: install
	$(PY) scripts/openapi.py

# Throughput against bare Tornado (needs wrk), SQLite and PostgreSQL; see docs/BENCHMARKS.md.
bench: install
	PYTHON=$(PY) bench/run.sh

clean:
	rm -rf $(VENV) *.egg-info windback.db windback.db-* outbox
