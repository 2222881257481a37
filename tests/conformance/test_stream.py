"""``orm.<model>.stream``: records through a server-side cursor, a batch at a time, on every backend.

What is checked: the records equal ``find_many``'s (values, order, selection) across batch
boundaries; bad arguments fail before any I/O; leaving the block early, by an exception or by a
cancellation closes the cursor and gives the connection back (more streams are abandoned than a
pool holds connections, and the ORM keeps working); inside a transaction the stream runs on the
transaction's connection (it sees the transaction's own uncommitted rows).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal

import anyio
import msgspec
import pytest

from farmorm import QueryValidationError, UnsupportedError, define_schema, has_many, model
from farmorm import fields as f

UTC = dt.timezone.utc
ROWS = 31  # with batch_size=7: four full batches and a partial one

stream_schema = define_schema(
    item=model(
        table="stream_items",
        fields={
            "id": f.id(),
            "seq": f.integer(),
            "label": f.string(),
            "flag": f.boolean().nullable(),
            "amount": f.decimal().nullable(),
            "stamp": f.datetime().nullable(),
            "doc": f.json().nullable(),
            "kind": f.enumeration(["a", "b"]).default("a"),
        },
        relations={"notes": has_many("note", foreign_key="item_id")},
    ),
    note=model(
        table="stream_notes",
        fields={"id": f.id(), "item_id": f.string().references("item.id"), "text": f.string()},
    ),
)


def row(i: int) -> dict:
    return {
        "seq": i,
        "label": f"item-{i:02d}",
        "flag": None if i % 3 == 0 else i % 2 == 0,
        "amount": None if i % 4 == 0 else Decimal(i) / 4,
        "stamp": None if i % 5 == 0 else dt.datetime(2026, 1, 1, 12, 0, tzinfo=UTC) + dt.timedelta(seconds=i, milliseconds=i),
        "doc": None if i % 6 == 0 else {"i": i, "tags": ["x", str(i)]},
        "kind": "a" if i % 2 else "b",
    }


@pytest.fixture
async def orm(make_orm):
    orm = await make_orm(stream_schema)
    await orm.item.create_many(data=[row(i) for i in range(ROWS)])
    return orm


async def collect(stream) -> list:
    async with stream as rows:
        return [r async for r in rows]


async def test_stream_yields_the_records_find_many_returns(orm):
    expected = await orm.item.find_many(order_by={"seq": "asc"})
    assert len(expected) == ROWS
    got = await collect(orm.item.stream(order_by={"seq": "asc"}, batch_size=7))
    assert got == expected
    assert [type(r) for r in got] == [dict] * ROWS


async def test_stream_applies_where_select_order_take_and_skip(orm):
    args = dict(where={"seq": {"gte": 3}, "kind": "a"}, select={"seq": True, "doc": True},
                order_by=[{"kind": "asc"}, {"seq": "desc"}], take=9, skip=2)
    expected = await orm.item.find_many(**args)
    assert len(expected) == 9 and list(expected[0]) == ["seq", "doc"]
    assert await collect(orm.item.stream(**args, batch_size=4)) == expected
    assert await collect(orm.item.stream(where={"seq": {"lt": 0}})) == []


async def test_batches_are_at_most_batch_size(orm):
    async with orm.item.stream(order_by={"seq": "asc"}, batch_size=7) as rows:
        sizes = [len(batch) async for batch in rows.batches()]
        assert await rows.next_batch() == []  # exhausted stays exhausted
    assert sizes == [7, 7, 7, 7, 3]


async def test_records_and_batches_mix(orm):
    async with orm.item.stream(order_by={"seq": "asc"}, batch_size=5, select={"seq": True}) as rows:
        first = await rows.__anext__()
        rest = await rows.next_batch()  # the rest of the current batch first
        more = [r async for r in rows]
    assert [first["seq"]] + [r["seq"] for r in rest] + [r["seq"] for r in more] == list(range(ROWS))
    assert len(rest) == 4


async def test_typed_stream(orm):
    Item = orm.schema.struct("item")
    typed = await collect(orm.item.stream(order_by={"seq": "asc"}, batch_size=6, as_=Item))
    assert all(isinstance(r, Item) for r in typed)
    assert [msgspec.structs.asdict(r) for r in typed] == await orm.item.find_many(order_by={"seq": "asc"})


# -------------------------------------------------------------------------------- validation


async def test_bad_arguments_fail_before_any_io(orm, query_log):
    log = query_log(orm)
    cases = [
        (dict(where={"nope": 1}), 'Unknown field "nope" on model "item".'),
        (dict(order_by={"seq": "up"}), 'Invalid order direction "up" for field "seq" on model "item". Use "asc" or "desc".'),
        (dict(batch_size=0), 'Invalid batch_size on model "item": expected a positive integer, got 0.'),
        (dict(batch_size="10"), "Invalid batch_size on model \"item\": expected a positive integer, got '10'."),
        (dict(include={"notes": True}),
         'A stream on model "item" reads scalar fields only; the query loads relations ("notes"). Stream the '
         "records, then load relations per batch with find_many(where=..., include=...)."),
        (dict(select={"seq": True, "notes": True}), None),
    ]
    for kwargs, message in cases:
        with pytest.raises(QueryValidationError) as info:
            orm.item.stream(**kwargs)  # raised by the call itself: nothing is opened
        assert info.value.code == "VALIDATION_ERROR"
        if message is not None:
            assert str(info.value) == message
    assert log == []


async def test_a_bare_async_for_is_refused(orm, query_log):
    log = query_log(orm)
    stream = orm.item.stream()
    with pytest.raises(TypeError, match=r"async with orm\.item\.stream"):
        async for _ in stream:
            pass
    with pytest.raises(TypeError):
        stream.batches()
    assert log == []


async def test_a_stream_opens_once(orm):
    stream = orm.item.stream(batch_size=50)
    assert len(await collect(stream)) == ROWS
    with pytest.raises(RuntimeError):
        await collect(stream)
    assert await stream.next_batch() == []  # closed


# ------------------------------------------------------------------------- releasing the cursor

def checked_out(orm) -> int | None:
    """Connections the ORM's pool has handed out now (None where the client has no pool to ask)."""
    d = orm._driver
    pool = d.target if getattr(d, "is_pool", False) else d.client if getattr(d, "pooled", False) else None
    if pool is None:
        return None
    if hasattr(pool, "get_idle_size"):  # asyncpg
        return pool.get_size() - pool.get_idle_size()
    if hasattr(pool, "freesize"):  # aiomysql, asyncmy
        return pool.size - pool.freesize
    if hasattr(pool, "engine"):  # a SQLAlchemy engine
        return pool.engine.pool.checkedout()
    if hasattr(pool, "pool"):  # psycopg_pool behind farmorm's adapter
        stats = pool.pool.get_stats()
        return stats["pool_size"] - stats.get("pool_available", 0)
    return None


ABANDONED = 25  # more than the pools' 10 connections: a leaked connection would stall the loop
#: the streams stay referenced, so nothing is released by garbage collection, only by the stream itself
KEPT: list = []


async def test_breaking_out_early_releases_the_connection(orm):
    baseline = checked_out(orm)
    with anyio.fail_after(60):  # a leak hangs on acquire; fail instead of hanging the suite
        for i in range(ABANDONED):
            async with orm.item.stream(order_by={"seq": "asc"}, batch_size=3) as rows:
                KEPT.append(rows)
                async for r in rows:
                    if r["seq"] == 1:
                        break
                if baseline is not None:
                    assert checked_out(orm) == baseline + 1
            assert checked_out(orm) == baseline  # back in the pool as the block ends
        assert await orm.item.count() == ROWS
        await orm.item.update_many(where={"seq": 0}, data={"label": "changed"})
        assert (await orm.item.find_first(where={"seq": 0}))["label"] == "changed"


async def test_an_exception_in_the_body_propagates_and_releases(orm):
    class Boom(Exception):
        pass

    with anyio.fail_after(60):
        for _ in range(ABANDONED):
            with pytest.raises(Boom):
                async with orm.item.stream(batch_size=2) as rows:
                    KEPT.append(rows)
                    async for _r in rows:
                        raise Boom
            assert checked_out(orm) in (None, 0)
        assert await orm.item.count() == ROWS


async def test_aclose_releases_early(orm):
    with anyio.fail_after(60):
        for _ in range(ABANDONED):
            async with orm.item.stream(batch_size=2) as rows:
                KEPT.append(rows)
                await rows.next_batch()
                await rows.aclose()
                assert [r async for r in rows] == []
        assert await orm.item.count() == ROWS


async def test_cancelling_the_consumer_releases_the_connection(orm):
    async def consume(started: asyncio.Event) -> None:
        async with orm.item.stream(order_by={"seq": "asc"}, batch_size=4) as rows:
            KEPT.append(rows)
            async for _r in rows:
                started.set()
                await asyncio.Event().wait()  # parked mid-stream until cancelled

    with anyio.fail_after(60):
        for _ in range(ABANDONED):
            started = asyncio.Event()
            task = asyncio.ensure_future(consume(started))
            await started.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert checked_out(orm) in (None, 0)
        assert await orm.item.count() == ROWS
        assert len(await orm.item.find_many()) == ROWS


# ----------------------------------------------------------------------------- transactions


async def test_inside_a_transaction_the_stream_uses_its_connection(orm):
    async with orm.transaction() as tx:
        await tx.item.create(data={**row(100), "label": "uncommitted"})
        got = await collect(tx.item.stream(where={"seq": {"gte": 30}}, order_by={"seq": "asc"}, batch_size=1))
        assert [r["label"] for r in got] == ["item-30", "uncommitted"]  # sees its own write
        async with tx.item.stream(batch_size=2) as rows:  # abandoned early inside the transaction
            await rows.next_batch()
        await tx.item.update_many(where={"seq": 100}, data={"label": "committed"})
    assert (await orm.item.find_first(where={"seq": 100}))["label"] == "committed"


async def test_rollback_after_a_stream(orm):
    class Undo(Exception):
        pass

    with pytest.raises(Undo):
        async with orm.transaction() as tx:
            await tx.item.delete_many(where={"seq": {"lt": 10}})
            assert len(await collect(tx.item.stream(batch_size=4))) == ROWS - 10
            raise Undo
    if orm.driver.capabilities.supports_transactions:
        assert await orm.item.count() == ROWS


async def test_other_statements_while_a_stream_is_open(orm, backend):
    """In a transaction, MySQL cannot run a statement while an unbuffered result is open (a clear
    UNSUPPORTED error, the stream stays intact); the others can. Outside a transaction a stream holds
    a connection of its own, except on SQLite, whose one connection the stream holds (a clear error
    instead of a deadlock)."""
    async with orm.transaction() as tx:
        async with tx.item.stream(order_by={"seq": "asc"}, batch_size=5, select={"seq": True}) as rows:
            first = await rows.next_batch()
            if backend == "mysql":
                with pytest.raises(UnsupportedError, match="streaming rows"):
                    await tx.item.count()
            else:
                assert await tx.item.count() == ROWS
            rest = [r async for r in rows]
        assert [r["seq"] for r in first + rest] == list(range(ROWS))
        assert await tx.item.count() == ROWS

    async with orm.item.stream(order_by={"seq": "asc"}, batch_size=5, select={"seq": True}) as rows:
        await rows.next_batch()
        if backend == "sqlite":
            with pytest.raises(UnsupportedError, match="held by a stream"):
                await orm.item.count()
        else:
            assert await orm.item.count() == ROWS
        assert len([r async for r in rows]) == ROWS - 5
    assert await orm.item.count() == ROWS
