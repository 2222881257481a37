"""Atomic number updates: increment / decrement / multiply / divide / set in update data."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from farmorm import QueryValidationError, define_schema, fields as f, model

schema = define_schema(
    counter=model(
        table="counters",
        fields={
            "id": f.id(), "slug": f.string().unique(), "hits": f.integer().default(0),
            "big": f.bigint().default(0), "amount": f.decimal().default(Decimal(0)),
            "maybe": f.integer().nullable(), "label": f.string().default(""),
            "meta": f.json().nullable(), "version": f.version(),
        },
    ),
)


async def test_each_operation_on_integer_bigint_and_decimal(make_orm) -> None:
    orm = await make_orm(schema)
    c = await orm.counter.create(data={"slug": "a", "hits": 10, "big": 2**40, "amount": Decimal("1.5")})
    u = await orm.counter.update(where={"id": c["id"]}, data={
        "hits": {"increment": 5}, "big": {"decrement": 1}, "amount": {"increment": Decimal("0.25")}})
    assert (u["hits"], u["big"], u["amount"], u["version"]) == (15, 2**40 - 1, Decimal("1.75"), 2)
    u = await orm.counter.update(where={"id": c["id"]}, data={
        "hits": {"multiply": 3}, "big": {"multiply": 2}, "amount": {"multiply": 3}})
    assert (u["hits"], u["big"], u["amount"], u["version"]) == (45, 2**41 - 2, Decimal("5.25"), 3)
    u = await orm.counter.update(where={"id": c["id"]}, data={
        "hits": {"divide": 2}, "big": {"divide": 2}, "amount": {"divide": 4}})
    assert (u["hits"], u["big"], u["amount"], u["version"]) == (22, 2**40 - 1, Decimal("1.3125"), 4)
    u = await orm.counter.update(where={"id": c["id"]}, data={"hits": {"set": 7}, "label": "x"})
    assert (u["hits"], u["label"], u["version"]) == (7, "x", 5)
    assert await orm.counter.find_unique(where={"id": c["id"]}) == u


async def test_integer_division_truncates_toward_zero(make_orm) -> None:
    orm = await make_orm(schema)
    await orm.counter.create(data={"slug": "neg", "hits": -7, "big": 7})
    u = await orm.counter.update(where={"slug": "neg"}, data={"hits": {"divide": 2}, "big": {"divide": -2}})
    assert (u["hits"], u["big"]) == (-3, -3)


async def test_decimal_division_rounds_to_thirty_places(make_orm) -> None:
    orm = await make_orm(schema)
    await orm.counter.create(data={"slug": "d", "amount": Decimal(1)})
    u = await orm.counter.update(where={"slug": "d"}, data={"amount": {"divide": 3}})
    assert u["amount"] == Decimal("0." + "3" * 30)


async def test_null_stays_null(make_orm) -> None:
    orm = await make_orm(schema)
    await orm.counter.create(data={"slug": "n"})
    for op in ("increment", "decrement", "multiply", "divide"):
        u = await orm.counter.update(where={"slug": "n"}, data={"maybe": {op: 2}})
        assert u["maybe"] is None, op
    await orm.counter.update(where={"slug": "n"}, data={"maybe": {"set": 4}})
    u = await orm.counter.update(where={"slug": "n"}, data={"maybe": {"multiply": 3}, "label": "y"})
    assert (u["maybe"], u["label"]) == (12, "y")
    u = await orm.counter.update(where={"slug": "n"}, data={"maybe": {"set": None}})
    assert u["maybe"] is None


async def test_update_many_and_upsert_update_part(make_orm) -> None:
    orm = await make_orm(schema)
    await orm.counter.create_many(data=[{"slug": "a", "hits": 1}, {"slug": "b", "hits": 2}, {"slug": "c", "hits": 3}])
    assert await orm.counter.update_many(where={"slug": {"in": ["a", "b"]}}, data={"hits": {"increment": 10}}) == 2
    rows = await orm.counter.find_many(order_by={"slug": "asc"}, select={"slug": True, "hits": True, "version": True})
    assert rows == [{"slug": "a", "hits": 11, "version": 2}, {"slug": "b", "hits": 12, "version": 2},
                    {"slug": "c", "hits": 3, "version": 1}]
    up = await orm.counter.upsert(where={"slug": "c"}, create={"hits": 100}, update={"hits": {"increment": 1}})
    assert (up["hits"], up["version"]) == (4, 2)
    new = await orm.counter.upsert(where={"slug": "d"}, create={"hits": 100}, update={"hits": {"increment": 1}})
    assert (new["hits"], new["version"]) == (100, 1)
    up = await orm.counter.upsert(where={"slug": "d"}, create={"hits": 0},
                                  update={"hits": {"divide": 3}, "amount": {"increment": Decimal("0.5")}})
    assert (up["hits"], up["amount"], up["version"]) == (33, Decimal("0.5"), 2)


async def test_composes_with_expected_version(make_orm) -> None:
    orm = await make_orm(schema)
    c = await orm.counter.create(data={"slug": "v", "hits": 1})
    u = await orm.counter.update(where={"id": c["id"]}, data={"hits": {"increment": 2}}, expected_version=1)
    assert (u["hits"], u["version"]) == (3, 2)
    from farmorm import VersionConflict

    with pytest.raises(VersionConflict):
        await orm.counter.update(where={"id": c["id"]}, data={"hits": {"increment": 2}}, expected_version=1)
    assert (await orm.counter.find_unique(where={"id": c["id"]}))["hits"] == 3


async def test_one_statement_per_update(make_orm, query_log, backend) -> None:
    orm = await make_orm(schema)
    c = await orm.counter.create(data={"slug": "s"})
    log = query_log(orm)
    await orm.counter.update_many(where={"id": c["id"]}, data={"hits": {"increment": 1}})
    assert len(log) == 1 and "SELECT" not in log[0].upper()
    if backend == "postgres":
        assert '"hits" = "hits" + ' in log[0]


async def test_fifty_concurrent_increments_lose_nothing(make_orm) -> None:
    orm = await make_orm(schema)
    c = await orm.counter.create(data={"slug": "race"})

    async def bump(i: int) -> None:
        if i % 2:
            await orm.counter.update(where={"id": c["id"]}, data={"hits": {"increment": 1}, "big": {"increment": 2}})
        else:
            await orm.counter.update_many(where={"slug": "race"}, data={"hits": {"increment": 1},
                                                                        "big": {"increment": 2}})

    await asyncio.gather(*(bump(i) for i in range(50)))
    row = await orm.counter.find_unique(where={"id": c["id"]})
    assert (row["hits"], row["big"], row["version"]) == (50, 100, 51)


async def test_concurrent_increments_in_transactions_lose_nothing(make_orm) -> None:
    orm = await make_orm(schema)
    c = await orm.counter.create(data={"slug": "tx"})

    async def bump(tx):
        await tx.counter.update(where={"id": c["id"]}, data={"amount": {"increment": Decimal("0.1")}})

    await asyncio.gather(*(orm.transaction(bump, retries=5) for _ in range(50)))
    row = await orm.counter.find_unique(where={"id": c["id"]})
    assert row["amount"] == Decimal("5")


@pytest.mark.parametrize(("data", "message"), [
    ({"hits": {"increment": 1, "decrement": 1}},
     'An update of field "hits" on model "counter" takes exactly one operation (set, increment, decrement, '
     "multiply, divide), got 'increment', 'decrement'."),
    ({"hits": {}},
     'An update of field "hits" on model "counter" takes exactly one operation (set, increment, decrement, '
     "multiply, divide), got none."),
    ({"hits": {"add": 1}},
     'Unknown update operation \'add\' for field "hits" on model "counter". Use one of: set, increment, '
     "decrement, multiply, divide."),
    ({"hits": {"increment": None}}, 'The increment operand for field "hits" on model "counter" cannot be null.'),
    ({"hits": {"increment": "1"}}, 'Invalid value for field "hits" on model "counter": expected integer, got str.'),
    ({"hits": {"increment": 1.5}}, 'Invalid value for field "hits" on model "counter": expected integer, got float.'),
    ({"hits": {"divide": 0}}, 'Cannot divide field "hits" on model "counter" by zero.'),
    ({"amount": {"divide": Decimal("0.0")}}, 'Cannot divide field "amount" on model "counter" by zero.'),
    ({"hits": {"set": None}}, 'Field "hits" on model "counter" cannot be null.'),
    ({"label": {"increment": 1}}, 'Invalid value for field "label" on model "counter": expected str, got dict.'),
    ({"version": {"increment": 1}},
     'Field "version" on model "counter" is a version field managed by farmorm: it starts at 1 and every '
     "update adds 1, so it cannot be set in data. Pass expected_version= to update()."),
])
async def test_bad_operations_are_refused_before_io(make_orm, query_log, data, message) -> None:
    orm = await make_orm(schema)
    await orm.counter.create(data={"slug": "a"})
    log = query_log(orm)
    for call in (orm.counter.update(where={"slug": "a"}, data=data),
                 orm.counter.update_many(where={"slug": "a"}, data=data),
                 orm.counter.upsert(where={"slug": "a"}, create={}, update=data)):
        with pytest.raises(QueryValidationError) as e:
            await call
        assert e.value.message == message
    assert log == []


async def test_json_fields_take_objects_as_values(make_orm) -> None:
    orm = await make_orm(schema)
    await orm.counter.create(data={"slug": "j"})
    u = await orm.counter.update(where={"slug": "j"}, data={"meta": {"increment": 1}})
    assert u["meta"] == {"increment": 1}


async def test_upsert_cannot_change_its_conflict_field_atomically(make_orm) -> None:
    orm = await make_orm(define_schema(
        slot=model(table="slots", fields={"id": f.id(), "n": f.integer().unique(), "v": f.integer()})))
    with pytest.raises(QueryValidationError) as e:
        await orm.slot.upsert(where={"n": 1}, create={"v": 1}, update={"n": {"increment": 1}})
    assert e.value.message == 'Upsert on model "slot" cannot change the conflict field "n".'
