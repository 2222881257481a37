"""The acquire fast path on PostgreSQL: an operation that finds an idle connection in the pool
takes it without arming its acquire deadline (``Server.wait``, a timer and a waiter entry per
operation); one that finds every connection in use waits under the deadline as before
(pool_timeout). On the pools farmorm opens from a URL (asyncpg, psycopg), and on an app's asyncpg
pool, whose ``setup=`` callback (I/O on each checkout, possibly) keeps the deadline armed."""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any, Awaitable

import pytest

from farmorm import OrmError, create_orm, define_schema, model
from farmorm import fields as f
from farmorm.runtime.server import Server
from farmorm.testing.databases import server_url

from .conftest import require

schema = define_schema(note=model(table="fast_path_notes", fields={"id": f.id()}))

URLS = {
    "asyncpg": ("postgres", lambda: server_url("postgres")),
    "psycopg": ("postgres", lambda: server_url("postgres").replace("postgresql://", "postgresql+psycopg://")),
}


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per operation that armed the acquire deadline."""
    calls: list[int] = []
    original = Server.wait

    def counting(self: Server, entering: Awaitable[Any]) -> Any:
        calls.append(1)
        return original(self, entering)

    monkeypatch.setattr(Server, "wait", counting)
    return calls


@pytest.mark.parametrize("runtime", list(URLS))
async def test_an_idle_connection_is_taken_without_the_deadline(runtime: str, waits: list[int]) -> None:
    backend, url = URLS[runtime]
    require(backend)
    orm = await create_orm(schema, url(), max_size=1, acquire_timeout=0.3)
    try:
        assert (await orm.raw.fetch("SELECT 1 AS one")) == [{"one": 1}]
        assert orm._driver.acquire_is_immediate() and waits == []
        async with orm.transaction():
            # the only connection is the block's: an operation of another context waits, bounded
            assert not orm._driver.acquire_is_immediate()
            outsider = asyncio.create_task(orm.raw.fetch("SELECT 1"), context=contextvars.Context())
            with pytest.raises(OrmError) as info:
                await outsider
        assert info.value.meta["reason"] == "pool_timeout" and waits == [1]
        assert (await orm.raw.fetch("SELECT 2 AS two")) == [{"two": 2}] and waits == [1]
    finally:
        await orm.close()


@pytest.mark.parametrize("setup", [False, True])
async def test_an_app_asyncpg_pool_with_a_setup_callback_keeps_the_deadline(setup: bool, waits: list[int]) -> None:
    require("postgres")
    import asyncpg

    async def on_checkout(conn: Any) -> None:
        await conn.execute("SELECT 1")

    pool = await asyncpg.create_pool(server_url("postgres"), min_size=1, max_size=2,
                                     setup=on_checkout if setup else None)
    try:
        orm = await create_orm(schema, pool)
        assert (await orm.raw.fetch("SELECT 1 AS one")) == [{"one": 1}]
        assert orm._driver.acquire_is_immediate() is (not setup)
        assert waits == ([1] if setup else [])
        await orm.close()
    finally:
        await pool.close()
