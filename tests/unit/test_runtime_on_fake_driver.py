"""The runtime's own behaviour on the fake driver (``tests/fake_driver``): no database, every call
the core makes on a driver visible in ``driver.log``.

What is pinned here is the core's part: validation before any I/O, one statement per operation,
the plan cache, connection scope and release, transactions and savepoints, the one error mapping,
acquire deadlines, close, COMMIT_UNKNOWN, streams and the history feature's transaction.
"""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any, Sequence

import pytest

from farmorm import define_schema, fields as f, model
from farmorm.core.driver import Result
from farmorm.core.errors import OrmError, UniqueConstraintViolation
from farmorm.query import nodes as n
from farmorm.runtime import Orm
from farmorm.runtime.orm import create_orm

from ..fake_driver import FakeDriver, FakeError

SCHEMA = define_schema(
    note=model(table="notes", fields={"id": f.id(), "body": f.string(), "stars": f.integer().default(0)}),
    page=model(table="pages", fields={"id": f.id(), "title": f.string()}, history=True),
)


def database(node: Any, params: Sequence[Any]) -> Any:
    """Plays a database that stores nothing: inserts echo their values, reads find two notes."""
    if isinstance(node, n.Insert):
        width = len(node.columns)
        rows = [dict(zip(node.columns, params[i * width:(i + 1) * width])) for i in range(node.rows)]
        return [[r.get(c) for c in node.returning] for r in rows]
    if isinstance(node, n.Select):
        notes = [{"id": "n1", "body": "first", "stars": 1}, {"id": "n2", "body": "second", "stars": 2}]
        return [[r[c] for c in node.columns] for r in notes]
    if isinstance(node, n.Count):
        return [[2]]
    return Result([], 1)


def make(handler: Any = database, *, acquire_timeout: float | None = 30.0, **options: Any) -> tuple[Orm, FakeDriver]:
    driver = FakeDriver(SCHEMA, handler, **options)
    driver.acquire_timeout = acquire_timeout  # what create_orm(acquire_timeout=) sets
    return Orm(SCHEMA, driver), driver


def ops(driver: FakeDriver) -> list[str]:
    return [str(entry[0]) for entry in driver.log]


async def test_a_read_is_one_statement_on_one_checkout() -> None:
    orm, driver = make()
    notes = await orm.note.find_many(where={"stars": {"gt": 0}}, order_by={"body": "asc"})
    assert notes == [{"id": "n1", "body": "first", "stars": 1}, {"id": "n2", "body": "second", "stars": 2}]
    assert ops(driver) == ["connect", "run", "release"]
    select = driver.statements()[0]
    assert isinstance(select, n.Select) and select.where == n.Compare("stars", "gt", n.Param(0))
    assert driver.log[1][2] == (0,)  # values only as parameters


async def test_a_query_shape_compiles_once() -> None:
    orm, driver = make()
    for stars in range(5):
        await orm.note.find_many(where={"stars": stars})
    assert driver.compiles == 1
    assert orm.plan_cache.hits == 4 and orm.plan_cache.misses == 1


async def test_bad_input_fails_before_any_io() -> None:
    orm, driver = make()
    with pytest.raises(OrmError) as info:
        await orm.note.find_many(where={"nope": 1})
    assert info.value.code == "VALIDATION_ERROR" and "note" in str(info.value) and "nope" in str(info.value)
    with pytest.raises(OrmError):
        await orm.note.create(data={"body": 3})
    assert driver.log == []


async def test_a_create_is_one_insert_returning_the_record() -> None:
    orm, driver = make()
    created = await orm.note.create(data={"body": "hello"})
    assert created["body"] == "hello" and created["stars"] == 0 and isinstance(created["id"], str)
    insert = driver.statements()[0]
    assert isinstance(insert, n.Insert) and insert.rows == 1 and set(insert.returning) == {"id", "body", "stars"}
    assert ops(driver) == ["connect", "run", "release"]


async def test_a_transaction_block_commits_and_a_failed_one_rolls_back() -> None:
    orm, driver = make()
    async with orm.transaction(isolation="serializable") as tx:
        await tx.note.count()
        await orm.note.count()  # the client joins the running transaction too
    assert ops(driver) == ["connect", "begin", "run", "run", "commit", "release"]
    assert driver.log[1] == ("begin", "serializable")
    driver.log.clear()
    with pytest.raises(RuntimeError):
        async with orm.transaction() as tx:
            await tx.note.count()
            raise RuntimeError("boom")
    assert ops(driver) == ["connect", "begin", "run", "rollback", "release"]


async def test_nested_transactions_are_savepoints() -> None:
    orm, driver = make()
    async with orm.transaction() as tx:
        async with tx.transaction() as inner:
            await inner.note.count()
        with pytest.raises(RuntimeError):
            async with tx.transaction():
                raise RuntimeError("undo the savepoint only")
    assert ops(driver) == ["connect", "begin", "savepoint", "run", "release_savepoint", "savepoint",
                           "rollback_to_savepoint", "release_savepoint", "commit", "release"]


async def test_native_errors_leave_as_orm_errors_everywhere() -> None:
    def failing(node: Any, params: Sequence[Any]) -> Any:
        return FakeError("UNIQUE_CONSTRAINT_VIOLATION", "duplicate key")

    orm, driver = make(failing)
    with pytest.raises(UniqueConstraintViolation) as info:
        await orm.note.create(data={"body": "x"})
    assert isinstance(info.value.__cause__, FakeError)
    with pytest.raises(UniqueConstraintViolation):
        async with orm.transaction() as tx:
            await tx.note.create(data={"body": "x"})
    assert ops(driver)[-2:] == ["rollback", "release"]
    with pytest.raises(UniqueConstraintViolation):
        async with orm.note.stream() as rows:
            async for _ in rows:
                pass


async def test_an_unknown_error_passes_through_unmapped() -> None:
    orm, _ = make(lambda node, params: KeyError("not a database error"))
    with pytest.raises(KeyError):
        await orm.note.count()


async def test_waiting_for_a_connection_is_bounded_by_acquire_timeout() -> None:
    orm, driver = make(pool_size=1, acquire_timeout=0.2)
    async with orm.transaction():
        # a fresh context (not the transaction's): the only connection is held by the block
        outsider = asyncio.create_task(orm.note.count(), context=contextvars.Context())
        with pytest.raises(OrmError) as info:
            await outsider
    assert info.value.code == "CONNECTION_ERROR" and info.value.meta["reason"] == "pool_timeout"
    assert info.value.meta["max_size"] == 1 and info.value.meta["acquire_timeout"] == 0.2


async def test_close_refuses_new_work_and_stops_waiters() -> None:
    orm, driver = make(pool_size=1, acquire_timeout=None)
    async with orm.transaction():
        waiter = asyncio.create_task(orm.note.count(), context=contextvars.Context())
        await asyncio.sleep(0.05)
        closing = asyncio.create_task(orm.close(timeout=1))
        with pytest.raises(OrmError) as info:
            await waiter
        assert info.value.meta["reason"] == "pool_closed"
    await closing
    assert driver.closed_calls == 1
    with pytest.raises(OrmError) as info:
        await orm.note.count()
    assert info.value.meta["reason"] == "pool_closed"


async def test_a_connection_lost_during_commit_is_commit_unknown() -> None:
    orm, driver = make()
    driver.fail_commit = FakeError("CONNECTION_ERROR", "connection reset")
    with pytest.raises(OrmError) as info:
        async with orm.transaction() as tx:
            await tx.note.count()
    assert info.value.code == "COMMIT_UNKNOWN"
    assert ("discard",) in driver.log  # never handed out again


async def test_a_stream_reads_in_batches_on_one_checkout() -> None:
    orm, driver = make()
    async with orm.note.stream(batch_size=1) as rows:
        batches = [batch async for batch in rows.batches()]
    assert [len(b) for b in batches] == [1, 1]
    assert ops(driver) == ["connect", "run", "release"]


async def test_history_writes_the_change_and_its_row_in_one_transaction() -> None:
    orm, driver = make()
    await orm.page.create(data={"title": "Engine"})
    inserts = [s for s in driver.statements() if isinstance(s, n.Insert)]
    assert [s.model for s in inserts] == ["page", "farmorm_history"]
    assert ops(driver) == ["connect", "begin", "run", "run", "commit", "release"]


async def test_the_fake_is_a_driver_plug_in_module() -> None:
    from .. import fake_driver

    detected = fake_driver.inspect(database).detected
    assert detected is not None
    driver = await fake_driver.create_driver(SCHEMA, detected)
    orm = Orm(SCHEMA, driver)
    assert orm.driver.kind == "fake" and await orm.note.count() == 2
    with pytest.raises(ValueError):
        await create_orm(SCHEMA, object())  # not registered for detection: only explicit use
