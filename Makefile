# The README's two commands: `make demo` and `make test`. Everything they need is installed here.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DATABASE_URL ?= sqlite:///farmorm-demo.db
PYTEST_ARGS ?=
BENCH_DIR ?= benchmarks/results
BENCH_ARGS ?=

RUNTIME_TARGETS ?= postgres-psycopg,mysql-asyncmy,sqlite-sqlalchemy,postgres-sqlalchemy,mysql-sqlalchemy,mongo-motor-mock

.PHONY: demo test test-runtimes test-matrix test-scaleout typecheck lint-imports services venv clean bench bench-smoke bench-instructions docs docs-serve

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): $(PY) pyproject.toml
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(PY) -m farmorm.demo "$(DATABASE_URL)"

services:
	@bash scripts/services.sh

test: $(STAMP) services typecheck lint-imports
	$(PY) -m pytest $(PYTEST_ARGS)

# mypy --strict over farmorm/ and farmorm_drivers/ (settings in pyproject.toml)
typecheck: $(STAMP)
	$(PY) -m mypy

# The layering contracts in pyproject.toml ([tool.importlinter]): tooling > features > runtime > query >
# schema > core, no driver or database library in the core, no import loops (docs/architecture.md)
lint-imports: $(STAMP)
	$(VENV)/bin/lint-imports

# The unchanged behaviour suite once more on every other client runtime (psycopg, asyncmy,
# SQLAlchemy engines); CI runs it after `make test` with each target required.
test-runtimes: $(STAMP) services
	FARMORM_BACKENDS=$(RUNTIME_TARGETS) FARMORM_REQUIRE=$(RUNTIME_TARGETS) $(PY) -m pytest tests/conformance $(PYTEST_ARGS)

# The scale-out suite (tests/scaleout, docs/scaling-out.md): scripts/scale_out.sh installs (apt) and
# starts PgBouncer, a PostgreSQL primary + standby, a MariaDB replica and a 3-node Galera cluster on
# free ports under SCALEOUT_DIR; each component listed in SCALEOUT_REQUIRE must then be there (a
# missing one fails its tests instead of skipping them). SCALEOUT_SECONDS bounds each load run.
SCALEOUT_DIR ?= /tmp/farmorm-scaleout
SCALEOUT_REQUIRE ?= pgbouncer,standby,galera,mariadb-replica
SCALEOUT_SECONDS ?= 4
test-scaleout: $(STAMP) services
	-FARMORM_SCALEOUT_DIR=$(SCALEOUT_DIR) bash scripts/scale_out.sh start
	FARMORM_SCALEOUT_DIR=$(SCALEOUT_DIR) FARMORM_REQUIRE_SCALEOUT=$(SCALEOUT_REQUIRE) \
		FARMORM_SCALEOUT_SECONDS=$(SCALEOUT_SECONDS) FARMORM_REQUIRE=postgres,mysql \
		$(PY) -m pytest tests/scaleout $(PYTEST_ARGS)

# The unit tests and the SQLite suite on Python 3.12 and 3.13 (pyenv's interpreters), one venv each
# (.venv-3.12, .venv-3.13); the full suite runs on 3.11 in `make test`. CI runs it after test-runtimes.
# MATRIX_PYTHONS="3.13" narrows it; MATRIX_TESTS="tests/unit" picks the tests.
test-matrix:
	bash scripts/test-matrix.sh

clean:
	rm -rf $(VENV) .venv-3.* farmorm-demo.db .pytest_cache site

# The docs site (mkdocs-material over docs/); --strict fails on a broken link, anchor or nav entry.
# tests/docs/test_mkdocs_build.py runs the same build, so `make test` covers it.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict

docs-serve: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs serve

# Benchmarks: the raw driver (the floor), farmorm, SQLAlchemy Core/ORM and Tortoise on every reachable
# backend, each in its own process (MongoDB only with FARMORM_MONGO_URL), the hot-path micro-benchmarks
# the PG relation strategies and the typed client's per-call cost against the plain Orm (see docs/performance.md).
# `make bench BENCH_ARGS="--backend postgres --rounds 9 --systems farmorm,tortoise"` narrows or lengthens a run.
bench: $(STAMP) services
	$(PY) -m benchmarks.runner --json $(BENCH_DIR)/latest.json $(BENCH_ARGS)
	$(PY) -m benchmarks.micro --json $(BENCH_DIR)/micro.json
	$(PY) -m benchmarks.pg_relation_strategies --if-reachable --json $(BENCH_DIR)/pg_relation_strategies.json
	$(PY) -m benchmarks.stream_rss --json $(BENCH_DIR)/stream_rss.json
	$(PY) -m benchmarks.typed_client --json $(BENCH_DIR)/typed_client.json

# The same code on tiny counts (well under a minute): checks the runs work, not their speed.
bench-smoke: $(STAMP) services
	$(PY) -m benchmarks.runner --smoke
	$(PY) -m benchmarks.micro --smoke
	$(PY) -m benchmarks.pg_relation_strategies --if-reachable --smoke
	$(PY) -m benchmarks.stream_rss --smoke
	$(PY) -m benchmarks.typed_client --smoke

# Instructions per operation under Valgrind's Callgrind (client process only): the deterministic
# before/after figure for farmorm's per-op Python overhead (docs/performance.md). Needs valgrind and cc.
# `make bench-instructions INSTR_ARGS="--backend sqlite --workloads get_by_pk,include"` narrows it.
INSTR_ARGS ?=
bench-instructions: $(STAMP) services
	$(PY) -m benchmarks.instructions --json $(BENCH_DIR)/instructions.json $(INSTR_ARGS)
