"""SQLite count statements (inserts read back nothing, update_many, delete_many) run in one call on
aiosqlite's worker thread; a connection without that call takes the public two-call path. Both
report the rows the statement itself changed, not the rows an app's trigger changed beside it."""

from __future__ import annotations

from typing import Any, AsyncIterator

import pytest

from farmorm import create_orm, define_schema, model
from farmorm import fields as f
from farmorm.setup import push_schema

SCHEMA = define_schema(
    item=model(table="items", fields={"id": f.id(type="integer"), "name": f.string()}),
    audit=model(table="audits", fields={"id": f.id(type="integer"), "note": f.string()}),
)

# an app's trigger (an FTS index or an audit log is kept this way): its rows are not the statement's
TRIGGERS = (
    "CREATE TRIGGER items_ins AFTER INSERT ON items BEGIN INSERT INTO audits (note) VALUES ('ins'); END",
    "CREATE TRIGGER items_upd AFTER UPDATE ON items BEGIN INSERT INTO audits (note) VALUES ('upd'); END",
)


@pytest.fixture(params=["one call", "public calls"])
async def orm(request: Any) -> AsyncIterator[Any]:
    orm = await create_orm(SCHEMA, "sqlite:///:memory:")
    try:
        await push_schema(SCHEMA, orm)
        for sql in TRIGGERS:
            await orm.raw.execute(sql)
        wrapped = orm._driver._wrapped
        if request.param == "one call":
            assert wrapped.on_thread is not None  # aiosqlite has it: the fast path is the one tested
        else:
            wrapped.on_thread = None
        yield orm
    finally:
        await orm.close()


async def test_counts_are_the_statements_own_rows(orm: Any) -> None:
    assert await orm.item.create_many(data=[{"id": i, "name": "a"} for i in range(1, 6)], returning="count") == 5
    assert await orm.item.create(data={"id": 9, "name": "b"}, returning="id") == 9
    assert await orm.item.update_many(where={"name": "a"}, data={"name": "c"}) == 5
    assert await orm.item.update(where={"id": 9}, data={"name": "d"}, returning="count") == 1
    assert await orm.item.update_many(where={"name": "nobody"}, data={"name": "e"}) == 0
    assert await orm.item.delete_many(where={"name": "c"}) == 5
    assert await orm.audit.count() == 6 + 6  # the triggers did run: 6 inserts, 6 updates
    assert [r["id"] for r in await orm.item.find_many()] == [9]


async def test_a_failing_count_statement_maps_its_error(orm: Any) -> None:
    from farmorm.errors import UniqueConstraintViolation

    await orm.item.create(data={"id": 1, "name": "a"}, returning="none")
    with pytest.raises(UniqueConstraintViolation):
        await orm.item.create_many(data=[{"id": 2, "name": "b"}, {"id": 1, "name": "c"}], returning="count")
    assert await orm.item.count() == 1  # one statement: the first row did not stay either
