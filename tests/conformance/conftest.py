"""The behaviour suite's fixtures: every test runs once per backend, each on a fresh database."""

from __future__ import annotations

from typing import AsyncIterator, Awaitable, Callable

import pytest

from farmorm import Orm, Schema, create_orm
from farmorm.setup import push_schema
from farmorm.testing.databases import TestDatabase, base_backend

from ..conftest import backend_problem, selected_backends


_URLS: dict[int, str] = {}


def database_url(orm: Orm) -> str:
    """The URL of the fresh database behind ``orm`` (also when it was created from a raw client)."""
    return _URLS[id(orm)]


@pytest.fixture(params=selected_backends())
def target(request: pytest.FixtureRequest) -> str:
    """The backend or runtime target (``postgres-psycopg``) this test runs on."""
    name: str = request.param
    problem = backend_problem(name)
    if problem:
        pytest.skip(problem)
    return name


@pytest.fixture
def backend(target: str) -> str:
    """The backend under test (``postgres`` for every PostgreSQL runtime target)."""
    return base_backend(target)


@pytest.fixture
async def make_orm(target: str) -> AsyncIterator[Callable[[Schema], Awaitable[Orm]]]:
    """``orm = await make_orm(schema)``: an ORM on a fresh database with ``schema`` pushed
    (created from the URL for a backend, from the raw client / pool / engine for a runtime target)."""
    made: list[tuple[Orm | None, TestDatabase]] = []

    async def make(schema: Schema) -> Orm:
        db = TestDatabase(target)
        client = await db.create()
        made.append((None, db))
        orm = await create_orm(schema, client)
        made[-1] = (orm, db)
        _URLS[id(orm)] = db.url
        await push_schema(schema, orm)
        return orm

    yield make
    for orm, db in reversed(made):
        if orm is not None:
            _URLS.pop(id(orm), None)
            await orm.close()
        await db.drop()


@pytest.fixture
async def auth_orm(make_orm: Callable[[Schema], Awaitable[Orm]]) -> Orm:
    """The reference auth schema, pushed and seeded."""
    from .auth import auth_schema, seed_auth

    orm = await make_orm(auth_schema)
    await seed_auth(orm)
    return orm


@pytest.fixture
def query_log() -> Callable[[Orm], list[str]]:
    """``log = query_log(orm)``: a list that collects every executed statement from now on."""

    def attach(orm: Orm) -> list[str]:
        log: list[str] = []
        orm.on_query(lambda event: log.append(event.statement))
        return log

    return attach

