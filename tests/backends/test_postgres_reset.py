"""asyncpg's release-time reset on the pools farmorm opens: farmorm's own statements leave no
session state, so the reset round trip (advisory unlock, CLOSE ALL, UNLISTEN, RESET ALL, DISCARD
TEMP) runs only on a connection the app's own SQL ran on (``orm.raw``). An app's pool keeps
asyncpg's reset on every release: farmorm never reconfigures it."""

from __future__ import annotations

from typing import Any

import pytest

from farmorm import UniqueConstraintViolation, create_orm, define_schema, model
from farmorm import fields as f
from farmorm.setup import push_schema
from farmorm_drivers.postgres import resetting_connection_class

schema = define_schema(note=model(table="reset_notes", fields={"id": f.id(type="integer"), "text": f.string()}))


@pytest.fixture
def resets(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per reset query farmorm's connection class hands to asyncpg."""
    calls: list[int] = []
    cls = resetting_connection_class()
    original = cls.get_reset_query

    def counting(self: Any) -> str:
        calls.append(1)
        return original(self)  # type: ignore[no-any-return]

    monkeypatch.setattr(cls, "get_reset_query", counting)
    return calls


async def test_orm_operations_skip_the_reset_and_raw_sql_gets_it(pg_url: str, resets: list[int]) -> None:
    orm = await create_orm(schema, pg_url, max_size=1)  # one connection: every checkout reuses it
    try:
        await push_schema(schema, orm)
        await orm.note.create(data={"id": 1, "text": "a"})
        await orm.note.update(where={"id": 1}, data={"text": "b"})
        assert (await orm.note.find_unique(where={"id": 1}))["text"] == "b"
        async with orm.transaction() as tx:
            await tx.note.create(data={"id": 2, "text": "c"})
        assert await orm.note.count() == 2
        assert resets == []
        # the app's SQL changes the session: the release of that checkout resets it
        await orm.raw.execute("SET search_path = pg_catalog")
        await orm.raw.execute("CREATE TEMP TABLE reset_tmp (x int)")
        assert len(resets) == 2
        got = await orm.raw.fetch("SELECT current_setting('search_path') AS path, to_regclass('reset_tmp') AS tmp")
        assert got == [{"path": '"$user", public', "tmp": None}]
        async with orm.raw.connection() as native:
            await native.execute("SET statement_timeout = '4321ms'")
        assert (await orm.raw.fetch("SHOW statement_timeout")) == [{"statement_timeout": "0"}]
        before = len(resets)
        assert await orm.note.count() == 2
        assert len(resets) == before  # touched once, reset once
        # a failed statement: the release resets too (it also settles the protocol after a cancellation)
        with pytest.raises(UniqueConstraintViolation):
            await orm.note.create(data={"id": 1, "text": "dup"})
        assert len(resets) == before + 1
        assert await orm.note.count() == 2 and len(resets) == before + 1
    finally:
        await orm.close()


async def test_an_app_pool_keeps_its_reset(pg_url: str) -> None:
    import asyncpg

    calls: list[int] = []

    class Counting(asyncpg.Connection):  # type: ignore[misc]
        def get_reset_query(self) -> str:
            calls.append(1)
            return super().get_reset_query()  # type: ignore[no-any-return]

    pool = await asyncpg.create_pool(pg_url, min_size=1, max_size=1, connection_class=Counting)
    try:
        orm = await create_orm(schema, pool)
        await push_schema(schema, orm)
        before = len(calls)
        await orm.note.count()
        await orm.note.count()
        assert len(calls) == before + 2
        await orm.close()
    finally:
        await pool.close()
