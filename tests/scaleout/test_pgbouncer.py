"""PgBouncer in transaction mode (scripts/scale_out.sh starts it in front of the shared server).

The 200-task mixed load of ``load.py`` runs with 0 errors on each runtime once ``pgbouncer=true``
is set; without it, every failure is POOLER_MISCONFIGURED naming the setting (never a raw
asyncpg error, never INVALID_VALUE blaming the data).
"""

from __future__ import annotations

import uuid
from typing import Any, AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import pytest

from farmorm import OrmError, create_orm
from farmorm.setup import push_schema
from farmorm.testing.databases import TestDatabase

from ..backends.conftest import require
from .conftest import component, load_seconds
from .load import mixed_load, schema

RUNTIMES = ("asyncpg", "psycopg", "sqlalchemy+asyncpg", "sqlalchemy+psycopg")


def through_bouncer(bouncer: str, url: str, scheme: str = "postgresql") -> str:
    """``url``'s database, reached through PgBouncer's address."""
    b, u = urlsplit(bouncer), urlsplit(url)
    return urlunsplit((scheme, b.netloc, u.path, "", ""))


@pytest.fixture
async def bounced() -> AsyncIterator[str]:
    """A fresh database on the shared server with the load schema; yields its PgBouncer URL."""
    env = component("pgbouncer")
    require("postgres")
    db = TestDatabase("postgres")
    url = await db.create()
    try:
        await push_schema(schema, url)
        yield through_bouncer(env["FARMORM_PGBOUNCER_URL"], url)
    finally:
        await db.drop()


async def _orm(runtime: str, url: str, pgbouncer: bool) -> tuple[Any, Any]:
    """(orm, engine or None) for ``runtime`` on ``url`` with the recommended PgBouncer settings."""
    if runtime == "asyncpg":
        return await create_orm(schema, url + ("?pgbouncer=true" if pgbouncer else ""), max_size=20), None
    if runtime == "psycopg":
        return await create_orm(schema, url.replace("postgresql://", "postgresql+psycopg://"), max_size=20,
                                pgbouncer=pgbouncer), None
    from sqlalchemy.ext.asyncio import create_async_engine

    lib = runtime.split("+")[1]
    sa_url = url.replace("postgresql://", f"postgresql+{lib}://")
    connect_args: dict[str, Any] = {}
    if pgbouncer and lib == "asyncpg":  # SQLAlchemy's own recipe for transaction-mode poolers
        sa_url += "?prepared_statement_cache_size=0"
        connect_args = {"statement_cache_size": 0, "prepared_statement_name_func": lambda: f"__asyncpg_{uuid.uuid4()}__"}
    engine = create_async_engine(sa_url, pool_size=20, max_overflow=0, connect_args=connect_args)
    try:
        return await create_orm(schema, engine, pgbouncer=pgbouncer), engine
    except BaseException:
        await engine.dispose()
        raise


@pytest.mark.parametrize("runtime", RUNTIMES)
async def test_mixed_load_through_pgbouncer_has_no_errors(bounced: str, runtime: str) -> None:
    orm, engine = await _orm(runtime, bounced, pgbouncer=True)
    try:
        outcomes = await mixed_load(orm, tasks=200, seconds=load_seconds())
    finally:
        await orm.close()
        if engine is not None:
            await engine.dispose()
    print(f"pgbouncer {runtime}: {dict(outcomes)}")
    assert set(outcomes) == {"ok"}, (outcomes, getattr(mixed_load, "examples", None))
    assert outcomes["ok"] > 200
    # the load really went through: stream, includes and transactions all ran
    check = await create_orm(schema, bounced + "?pgbouncer=true")
    try:
        assert await check.author.count() > 0 and await check.post.count() > 0
    finally:
        await check.close()


@pytest.mark.parametrize("runtime", ["asyncpg", "psycopg"])
async def test_without_the_flag_each_failure_says_to_set_it(bounced: str, runtime: str) -> None:
    orm, _ = await _orm(runtime, bounced, pgbouncer=False)
    try:
        outcomes = await mixed_load(orm, tasks=50, seconds=min(load_seconds(), 3.0))
    finally:
        await orm.close()
    print(f"pgbouncer {runtime} without pgbouncer=true: {dict(outcomes)}")
    assert outcomes["POOLER_MISCONFIGURED"] > 0, outcomes
    if runtime == "asyncpg":  # psycopg also binds arguments to another statement: wrong rows, see docs
        assert set(outcomes) <= {"ok", "POOLER_MISCONFIGURED"}, (outcomes, getattr(mixed_load, "examples", None))
    assert "pgbouncer=true" in mixed_load.examples["POOLER_MISCONFIGURED"]  # type: ignore[attr-defined]


async def test_an_engine_that_caches_statements_is_refused_with_the_fix(bounced: str) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(bounced.replace("postgresql://", "postgresql+asyncpg://"))
    try:
        orm = await create_orm(schema, engine, pgbouncer=True)
        with pytest.raises(OrmError) as caught:
            await orm.author.count()
        await orm.close()
    finally:
        await engine.dispose()
    assert caught.value.code == "POOLER_MISCONFIGURED"
    assert "statement_cache_size" in caught.value.message and "prepared_statement_name_func" in caught.value.message
