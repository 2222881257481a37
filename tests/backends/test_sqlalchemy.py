"""SQLAlchemy runtimes beyond the conformance suite (which runs on an AsyncEngine per dialect):
an ``AsyncConnection`` as the client, and the engine's connections left as SQLAlchemy expects them."""

from __future__ import annotations

from typing import Any, AsyncIterator

import pytest

from farmorm import create_orm, define_schema, model
from farmorm import fields as f
from farmorm.setup import push_schema
from farmorm.testing.databases import TestDatabase

from .conftest import require

SCHEMA = define_schema(note=model(table="notes", fields={"id": f.id(), "title": f.string().unique()}))


@pytest.fixture(params=["sqlite", "postgres", "mysql"])
def usable(request: pytest.FixtureRequest) -> str:
    require(request.param)
    return request.param


@pytest.fixture
async def engine(usable: str) -> AsyncIterator[Any]:
    db = TestDatabase(f"{usable}-sqlalchemy")
    engine = await db.create()
    try:
        yield engine
    finally:
        await db.drop()


async def test_an_async_connection_is_a_client(engine: Any) -> None:
    from sqlalchemy import text

    async with engine.connect() as sa_conn:
        orm = await create_orm(SCHEMA, sa_conn)
        assert (orm.driver.kind, orm.driver.client) == ("sqlalchemy", sa_conn)
        await push_schema(SCHEMA, orm)
        await orm.note.create(data={"title": "a"})
        async with orm.transaction() as tx:
            await tx.note.create(data={"title": "b"})
        with pytest.raises(RuntimeError):
            async with orm.transaction() as tx:
                await tx.note.create(data={"title": "rolled back"})
                raise RuntimeError
        await orm.close()  # the connection is the app's: still open
        assert not sa_conn.closed
        assert (await sa_conn.execute(text("SELECT count(*) FROM notes"))).scalar() == 2


async def test_the_engine_still_runs_its_own_transactions_afterwards(engine: Any) -> None:
    """farmorm restores what SQLAlchemy relies on (autocommit off on MySQL), so a rolled-back
    SQLAlchemy transaction on a connection farmorm used is still rolled back."""
    from sqlalchemy import text

    orm = await create_orm(SCHEMA, engine)
    try:
        await push_schema(SCHEMA, orm)
        for i in range(3):  # touch the pool's connections
            await orm.note.create(data={"title": f"n{i}"})
        async with engine.connect() as sa_conn:
            await sa_conn.execute(text("DELETE FROM notes"))
            await sa_conn.rollback()
        assert await orm.note.count() == 3
    finally:
        await orm.close()


async def test_a_mysql_engines_connections_keep_their_session_settings(usable: str) -> None:
    """issue 15.3 on a SQLAlchemy engine: farmorm's sql_mode and time_zone were left on the engine's
    connections; they are swapped in per checkout and the engine's own put back."""
    if usable != "mysql":
        pytest.skip("MySQL session settings")
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    db = TestDatabase("mysql")
    await db.create()
    app = "SET SESSION time_zone = '+05:00', SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION'"
    engine = create_async_engine("mysql+aiomysql:" + db.url.split(":", 1)[1] + "?charset=utf8mb4", pool_size=1,
                                 max_overflow=0, connect_args={"init_command": app})
    try:
        orm = await create_orm(SCHEMA, engine)
        await push_schema(SCHEMA, orm)
        async with orm.transaction() as tx:
            await tx.note.create(data={"title": "t"})
        assert await orm.note.count() == 1
        await orm.close()
        async with engine.connect() as sa_conn:
            got = (await sa_conn.execute(text("SELECT @@SESSION.time_zone, @@SESSION.sql_mode"))).one()
        assert tuple(got) == ("+05:00", "NO_ENGINE_SUBSTITUTION")
    finally:
        await engine.dispose()
        await db.drop()
