"""farmorm's pytest plugin (entry point ``pytest11``: loaded whenever farmorm is installed).

Fixtures (all named ``farmorm_*`` so they never clash with a project's own):

- ``farmorm_schema``: the schema under test. Override it in a conftest, or set the ini option
  ``farmorm_schema = "myapp.models:schema"``.
- ``farmorm_database`` (session): this process's :class:`~farmorm.testing.harness.WorkerDatabase`,
  created once per xdist worker (name suffixed with the worker id) and dropped at the end.
- ``farmorm_orm``: an ORM on an empty database for one test. Isolation ``truncate`` (default)
  deletes every row after the test; ``rollback`` runs the test in a transaction rolled back at the
  end. ``sqlite:///:memory:`` (the default URL) gives every test a new in-memory database.
- ``farmorm_factory``: ``users = farmorm_factory(user_factory)`` binds a factory to ``farmorm_orm``.

Options: ``--farmorm-url`` / env ``FARMORM_TEST_URL`` / ini ``farmorm_url``;
``--farmorm-isolation`` / env ``FARMORM_TEST_ISOLATION`` / ini ``farmorm_isolation``; marker
``@pytest.mark.farmorm(isolation="rollback")`` for one test.
"""

from __future__ import annotations

import asyncio
import importlib
import os
from typing import Any, AsyncIterator, Callable, Iterator, TypeVar, cast

import pytest

from ..core.errors import validation_error
from ..features.factories import Factory, reset_sequences
from .harness import MEMORY_URL, WorkerDatabase, clean_database, rolled_back

try:  # strict and auto asyncio modes both accept pytest_asyncio.fixture
    import pytest_asyncio

    _fixture: Any = pytest_asyncio.fixture
except ImportError:  # pragma: no cover - farmorm's async fixtures then need pytest-asyncio installed
    _fixture = pytest.fixture

F = TypeVar("F", bound=Callable[..., Any])


def _async_fixture(fn: F) -> F:
    return cast(F, _fixture(fn))

ISOLATION_MODES = ("truncate", "rollback")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("farmorm", "farmorm test databases")
    group.addoption("--farmorm-url", dest="farmorm_url", default=None,
                    help="Database for farmorm_orm: sqlite:///:memory: (default), sqlite:///file.db, "
                         "postgresql://.../base, mysql://.../base, mongodb://.../base or a backend name. "
                         "Env FARMORM_TEST_URL.")
    group.addoption("--farmorm-isolation", dest="farmorm_isolation", default=None, choices=ISOLATION_MODES,
                    help="How farmorm_orm isolates tests: truncate (default) or rollback. Env FARMORM_TEST_ISOLATION.")
    parser.addini("farmorm_url", "Default database URL for farmorm_orm.", default=None)
    parser.addini("farmorm_isolation", "Default isolation for farmorm_orm: truncate or rollback.", default=None)
    parser.addini("farmorm_schema", "Import path of the schema under test, module:attribute.", default=None)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "farmorm(isolation=None): farmorm_orm options for one test (isolation='rollback' or 'truncate')."
    )


def _setting(config: pytest.Config, name: str, env: str) -> str | None:
    value = config.getoption(name, default=None) or os.environ.get(env) or config.getini(name)
    return str(value) if value else None


def configured_url(config: pytest.Config) -> str:
    """The database URL farmorm_orm uses: option, then environment, then ini, then SQLite in memory."""
    return _setting(config, "farmorm_url", "FARMORM_TEST_URL") or MEMORY_URL


def isolation_for(request: pytest.FixtureRequest) -> str:
    """The isolation of the requesting test: its marker, then option / environment / ini, then truncate."""
    marker = request.node.get_closest_marker("farmorm")
    mode = marker.kwargs.get("isolation") if marker is not None else None
    mode = mode or _setting(request.config, "farmorm_isolation", "FARMORM_TEST_ISOLATION") or "truncate"
    if mode not in ISOLATION_MODES:
        raise pytest.UsageError(f"farmorm isolation must be one of {', '.join(ISOLATION_MODES)}, got {mode!r}.")
    return str(mode)


@pytest.fixture(scope="session")
def farmorm_schema(pytestconfig: pytest.Config) -> Any:
    """The schema under test, from the ini option ``farmorm_schema`` (override this fixture to pass one)."""
    path = pytestconfig.getini("farmorm_schema")
    if not path:
        raise pytest.UsageError(
            "farmorm_orm needs a schema: define a `farmorm_schema` fixture that returns it, or set "
            '`farmorm_schema = "myapp.models:schema"` in the pytest ini options.'
        )
    module, _, attr = str(path).partition(":")
    value = importlib.import_module(module)
    for part in (attr or "schema").split("."):
        value = getattr(value, part)
    return value


@pytest.fixture(scope="session")
def farmorm_database(pytestconfig: pytest.Config) -> Iterator[WorkerDatabase]:
    """This process's test database (``<base>_<worker id>``), created once and dropped at the end."""
    db = WorkerDatabase(configured_url(pytestconfig))
    asyncio.run(db.create())  # a private loop: the session outlives every test's event loop
    try:
        yield db
    finally:
        asyncio.run(db.drop())


@_async_fixture
async def farmorm_orm(request: pytest.FixtureRequest, farmorm_database: WorkerDatabase,
                      farmorm_schema: Any) -> AsyncIterator[Any]:
    """An ORM on an empty database with the schema pushed; isolated per the test's isolation mode."""
    reset_sequences()
    mode = isolation_for(request)
    orm = await farmorm_database.orm(farmorm_schema)
    try:
        if mode == "rollback" and orm.driver.capabilities.supports_transactions:
            async with rolled_back(orm) as tx:
                yield tx
        else:
            try:
                yield orm
            finally:
                if not farmorm_database.in_memory:
                    await clean_database(orm, farmorm_database.models(orm.schema))
    finally:
        await orm.close()


@pytest.fixture
def farmorm_factory(farmorm_orm: Any) -> Callable[[Any], Any]:
    """``users = farmorm_factory(user_factory)``: the factory bound to this test's ORM."""
    def bind(factory: Any) -> Any:
        if not isinstance(factory, Factory):
            raise validation_error(f"farmorm_factory() expects a factory made by define_factory(), got {factory!r}.")
        return factory.bind(farmorm_orm)

    return bind


__all__ = ["farmorm_schema", "farmorm_database", "farmorm_orm", "farmorm_factory", "configured_url", "isolation_for"]
