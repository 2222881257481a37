#!/usr/bin/env bash
# `make test-matrix`: the unit tests and the SQLite suite on every other supported Python.
# One venv per version (.venv-<version>, reused while pyproject.toml is unchanged), each with farmorm
# installed from this checkout with the `matrix` extra set. The full suite runs on 3.11 (`make test`).
# Interpreters come from pyenv ($(pyenv root)/versions/<version>*); a missing one fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHONS="${MATRIX_PYTHONS:-3.12 3.13}"
ROOT="$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")"
# the unit tests, the behaviour suite, the docs' examples and the integrations, on SQLite only; the
# subprocess-per-command suites (CLI, pytester) run on 3.11 in `make test`. A longer local run:
# MATRIX_TESTS="tests/unit tests/conformance tests/docs/test_docs_examples.py tests/integrations tests/cli tests/testing"
TESTS="${MATRIX_TESTS:-tests/unit tests/conformance tests/docs/test_docs_examples.py tests/integrations}"
for version in $PYTHONS; do
  python="$(ls -d "$ROOT"/versions/"$version"* 2>/dev/null | sort -V | tail -n 1)/bin/python"
  if [[ ! -x "$python" ]]; then
    echo "test-matrix: no Python $version under $ROOT/versions (pyenv install $version)" >&2
    exit 1
  fi
  venv=".venv-$version"
  stamp="$venv/.installed"
  if [[ ! -f "$stamp" || pyproject.toml -nt "$stamp" ]]; then
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet -e '.[matrix]'
    touch "$stamp"
  fi
  echo "== Python $("$venv/bin/python" -c 'import sys; print(sys.version.split()[0])'): $TESTS (SQLite)"
  # shellcheck disable=SC2086
  FARMORM_BACKENDS=sqlite FARMORM_REQUIRE=sqlite "$venv/bin/python" -m pytest -q -p no:cacheprovider -n 2 $TESTS ${PYTEST_ARGS:-}
done
