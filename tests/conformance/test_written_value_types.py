"""A written record comes back with the types a read gives, whatever subclass the app passed: a
``str`` enum member is stored as its text and returned as a plain ``str``, an ``IntEnum`` member as
an ``int``, on every backend (some build the returned record from the values they bound)."""

from __future__ import annotations

import enum

from farmorm import define_schema, fields as f, model

schema = define_schema(
    thing=model(table="things", fields={"id": f.id(type="integer"), "name": f.string(),
                                        "tier": f.enumeration(["free", "pro"]), "n": f.integer()}),
)


class Tier(str, enum.Enum):
    PRO = "pro"


class Level(enum.IntEnum):
    HIGH = 7


def typed(record: dict) -> dict:
    return {k: (type(v), v) for k, v in record.items()}


async def test_created_records_have_the_types_a_read_gives(make_orm) -> None:
    orm = await make_orm(schema)
    made = await orm.thing.create(data={"id": 1, "name": Tier.PRO, "tier": Tier.PRO, "n": Level.HIGH})
    many = await orm.thing.create_many(data=[{"id": 2, "name": Tier.PRO, "tier": Tier.PRO, "n": Level.HIGH},
                                             {"id": 3, "name": "x", "tier": "free", "n": 1}])
    read = await orm.thing.find_many(order_by={"id": "asc"})
    assert [typed(r) for r in [made, *many]] == [typed(r) for r in read]
    assert typed(made) == {"id": (int, 1), "name": (str, "pro"), "tier": (str, "pro"), "n": (int, 7)}
