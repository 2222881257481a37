"""SQLite inserts build the records they return from the values they bind (no ``RETURNING``) when
SQLite stores those values as bound (``SqliteDialect.echo``): the records must be exactly what a
read of the same rows returns, value, type and key order, for every kind and odd input."""

from __future__ import annotations

import datetime as dt
import enum
import zoneinfo
from decimal import Decimal
from typing import Any, AsyncIterator

import pytest

from farmorm import create_orm, define_schema, model
from farmorm import fields as f
from farmorm.setup import push_schema

UTC = dt.timezone.utc

SCHEMA = define_schema(
    thing=model(table="things", fields={
        "id": f.id(type="integer"),
        "name": f.string(),
        "tier": f.enumeration(["free", "pro"]).nullable(),
        "n": f.integer().nullable(),
        "big": f.bigint().nullable(),
        "flag": f.boolean().default(False),
        "at": f.datetime().nullable(),
        "doc": f.json().nullable(),
        "made": f.datetime().default_now(),
    }),
    priced=model(table="priced", fields={"id": f.id(type="integer"), "price": f.decimal()}),
    counter=model(table="counters", fields={"id": f.id(type="integer", generated="increment"),
                                              "name": f.string()}),
)


class Tier(str, enum.Enum):
    PRO = "pro"


class Level(enum.IntEnum):
    HIGH = 7


class When(dt.datetime):
    pass


ROWS: list[dict[str, Any]] = [
    {"id": 1, "name": "plain", "tier": "free", "n": 1, "big": 2**40, "flag": True,
     "at": dt.datetime(2030, 1, 1, 12, 30, 0, 5, tzinfo=UTC), "doc": {"b": 1, "a": [1, {"z": 2, "y": None}]}},
    {"id": 2, "name": Tier.PRO, "tier": Tier.PRO, "n": Level.HIGH, "big": None, "flag": False,
     "at": dt.datetime(2030, 6, 1, 2, tzinfo=zoneinfo.ZoneInfo("Europe/Paris")), "doc": [3, "x", 1.5]},
    {"id": 3, "name": "é\u20ac", "tier": None, "n": None, "big": -(2**63), "flag": True,
     "at": When(2030, 1, 1, tzinfo=UTC), "doc": "text"},
    {"id": 4, "name": "", "n": 0, "at": None, "doc": None},
]


@pytest.fixture
async def orm() -> AsyncIterator[Any]:
    orm = await create_orm(SCHEMA, "sqlite:///:memory:")
    try:
        await push_schema(SCHEMA, orm)
        yield orm
    finally:
        await orm.close()


def exact(record: dict[str, Any]) -> list[tuple[str, Any, type, Any]]:
    """Each field's value, its type and (for JSON objects) the key order, for an exact comparison."""
    return [(k, v, type(v), list(v) if isinstance(v, dict) else None) for k, v in record.items()]


def statements(orm: Any) -> list[str]:
    seen: list[str] = []
    orm.on_query(lambda e: seen.append(e.statement))
    return seen


async def test_create_many_records_are_what_a_read_returns(orm: Any) -> None:
    seen = statements(orm)
    made = await orm.thing.create_many(data=[dict(r) for r in ROWS[:3]] + [dict(ROWS[3])])
    assert not any("RETURNING" in s for s in seen)  # the rows came from the bound values
    read = await orm.thing.find_many(order_by={"id": "asc"})
    assert [exact(r) for r in made] == [exact(r) for r in read]


async def test_create_record_and_selected_fields_are_what_a_read_returns(orm: Any) -> None:
    seen = statements(orm)
    for row in ROWS:
        made = await orm.thing.create(data=dict(row))
        assert exact(made) == exact(await orm.thing.find_unique(where={"id": row["id"]}))
    picked = await orm.thing.create(data={"id": 9, "name": Tier.PRO, "doc": {"b": 1, "a": 2}},
                                    select={"doc": True, "name": True})
    assert exact(picked) == exact(await orm.thing.find_unique(where={"id": 9}, select={"doc": True, "name": True}))
    inserts = [s for s in seen if s.startswith("INSERT")]
    # the fourth record leaves "tier" and "big" out: the table's own default fills them, read back
    assert ["RETURNING" in s for s in inserts] == [False, False, False, True, False]


async def test_values_the_database_fills_or_rewrites_are_read_back(orm: Any) -> None:
    seen = statements(orm)
    counted = await orm.counter.create_many(data=[{"name": "a"}, {"name": "b"}])
    assert [r["id"] for r in counted] == [1, 2]
    priced = await orm.priced.create(data={"id": 1, "price": Decimal("10.50")})
    assert priced == {"id": 1, "price": Decimal("10.5")}
    assert sum("RETURNING" in s for s in seen) == 2
