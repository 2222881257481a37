# The README's two commands: `make demo` and `make test`. Everything they need is installed here.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DATABASE_URL ?= sqlite:///farmorm-demo.db
PYTEST_ARGS ?=

.PHONY: demo test services venv clean

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

test: $(STAMP) services
	$(PY) -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) farmorm-demo.db .pytest_cache
