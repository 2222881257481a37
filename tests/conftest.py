"""Backend selection shared by every test directory.

``FARMORM_BACKENDS`` lists the backends to run (default: ``sqlite,postgres,mysql,mongo``). It may
also name runtime targets (``postgres-psycopg``, ``mysql-asyncmy``, ``sqlite-sqlalchemy``, ...: see
``farmorm.testing.databases.TARGETS``): the conformance suite then runs once per target on the raw
client / pool / engine of that runtime. ``FARMORM_SQL_TARGETS`` adds targets to the selection.
``FARMORM_REQUIRE`` lists backends that must be usable: a missing driver or an unreachable
server then fails the run instead of skipping (CI sets postgres,mysql,sqlite).
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import os

import pytest

from farmorm.testing.databases import TARGETS, base_backend, reachable

ALL_BACKENDS = ("sqlite", "postgres", "mysql", "mongo")
DRIVER_MODULES = {"sqlite": "farmorm_drivers.sqlite", "postgres": "farmorm_drivers.postgres",
                  "mysql": "farmorm_drivers.mysql", "mongo": "farmorm_drivers.mongo"}


def _listed(var: str) -> list[str]:
    return [b.strip() for b in os.environ.get(var, "").split(",") if b.strip()]


def selected_backends() -> list[str]:
    chosen = _listed("FARMORM_BACKENDS") or list(ALL_BACKENDS)
    return chosen + [t for t in _listed("FARMORM_SQL_TARGETS") if t not in chosen]


def required_backends() -> set[str]:
    return set(_listed("FARMORM_REQUIRE"))


def _driver_exists(backend: str) -> bool:
    backend = base_backend(backend)
    if backend not in DRIVER_MODULES:
        return False
    try:
        return importlib.util.find_spec(DRIVER_MODULES[backend]) is not None and \
            hasattr(importlib.import_module(DRIVER_MODULES[backend]), "inspect")
    except ImportError:
        return False


_status: dict[str, str | None] = {}


def backend_problem(backend: str) -> str | None:
    """Why ``backend`` cannot run here (None when it can); computed once per session."""
    if backend not in _status:
        if backend not in ALL_BACKENDS and backend not in TARGETS:
            _status[backend] = f"unknown backend or runtime target {backend!r} (known: {', '.join([*ALL_BACKENDS, *TARGETS])})"
        elif not _driver_exists(backend):
            _status[backend] = f"the {backend} driver is not implemented"
        else:
            _status[backend] = asyncio.run(reachable(backend))
    return _status[backend]


def pytest_sessionstart(session: pytest.Session) -> None:
    # probe now, outside any event loop, so async tests can ask too (the SQL servers always: the
    # docs' capability table and the Mongo observability test ask whatever FARMORM_BACKENDS selects)
    for b in dict.fromkeys([*selected_backends(), *ALL_BACKENDS]):
        backend_problem(b)
    missing = []
    for b in sorted(required_backends()):
        problem = backend_problem(b)
        if problem:
            missing.append(f"{b}: {problem}")
    if missing:
        raise pytest.UsageError("FARMORM_REQUIRE lists unusable backends:\n  " + "\n  ".join(missing))
