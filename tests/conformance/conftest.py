"""The behaviour suite's fixtures: every test runs once per backend, each on a fresh database."""

from __future__ import annotations

from typing import AsyncIterator, Awaitable, Callable

import pytest

from farmorm import Orm, Schema
from farmorm.testing.databases import base_backend
from farmorm.testing.harness import FreshDatabases

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
    (created from the URL for a backend, from the raw client / pool / engine for a runtime target).

    Built on the test harness (``farmorm.testing.harness.FreshDatabases``, the lifecycle behind the
    pytest plugin): database names carry the xdist worker id, and every database is dropped after
    the test."""
    fresh = FreshDatabases(target)

    async def make(schema: Schema) -> Orm:
        orm = await fresh.orm(schema)
        _URLS[id(orm)] = fresh.url_of(orm)
        return orm

    try:
        yield make
    finally:
        for key in list(fresh.urls):
            _URLS.pop(key, None)
        await fresh.close()


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



@pytest.fixture
async def music_orm(make_orm: Callable[[Schema], Awaitable[Orm]]) -> Orm:
    """The music store schema (tests/conformance/music.py), pushed and seeded."""
    from .music import music_schema, seed_music

    orm = await make_orm(music_schema)
    await seed_music(orm)
    return orm
