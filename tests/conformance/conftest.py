"""The behaviour suite's fixtures: every test runs once per backend, each on a fresh database."""

from __future__ import annotations

from typing import AsyncIterator, Awaitable, Callable

import pytest

from farmorm import Orm, Schema, create_orm
from farmorm.setup import push_schema
from farmorm.testing.databases import TestDatabase

from ..conftest import backend_problem, selected_backends


@pytest.fixture(params=selected_backends())
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    problem = backend_problem(name)
    if problem:
        pytest.skip(problem)
    return name


@pytest.fixture
async def make_orm(backend: str) -> AsyncIterator[Callable[[Schema], Awaitable[Orm]]]:
    """``orm = await make_orm(schema)``: an ORM on a fresh database with ``schema`` pushed."""
    made: list[tuple[Orm, TestDatabase]] = []

    async def make(schema: Schema) -> Orm:
        db = TestDatabase(backend)
        url = await db.create()
        orm = await create_orm(schema, url)
        made.append((orm, db))
        await push_schema(schema, orm)
        return orm

    yield make
    for orm, db in reversed(made):
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

