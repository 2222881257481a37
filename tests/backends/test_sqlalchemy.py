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
