"""The generated create plans (``query.writes.create_plan``): once a key set has passed the key
checks, later records with the same keys skip them and test each value's common case inline.
The values and the errors must be exactly those of the full ``create_values`` path."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import pytest

from farmorm import define_schema, model
from farmorm import fields as f
from farmorm.core.errors import OrmError
from farmorm.query.writes import create_plan, create_rows, create_values

UTC = dt.timezone.utc
schema = define_schema(
    item=model(
        table="items",
        fields={
            "id": f.id(),
            "num": f.integer(),
            "big": f.bigint().nullable(),
            "label": f.string(),
            "flag": f.boolean().default(False),
            "amount": f.decimal().nullable(),
            "at": f.datetime().nullable(),
            "made": f.datetime().default_now(),
            "doc": f.json().nullable(),
            "kind": f.enumeration(["a", "b"]).nullable(),
        },
    )
)
item = schema.models["item"]
BASE: dict[str, Any] = {"num": 1, "big": 2, "label": "x", "flag": True, "amount": Decimal("1.5"),
                        "at": dt.datetime(2030, 1, 1, tzinfo=UTC), "doc": {"a": 1}, "kind": "a"}


def full(data: dict[str, Any]) -> Any:
    """The full path: a mapping that is not a dict never takes a plan."""
    try:
        return create_values(item, MappingProxyType(data))
    except OrmError as exc:
        return (type(exc), exc.code, str(exc))


def planned(data: dict[str, Any]) -> Any:
    try:
        return create_plan(item, frozenset(data))(data)
    except OrmError as exc:
        return (type(exc), exc.code, str(exc))


def comparable(result: Any) -> Any:
    if isinstance(result, dict):  # generated per call: the string id and default_now differ
        return {k: v for k, v in result.items() if k not in ("id", "made")}
    return result


VALUES = [
    ("num", 2**31 - 1), ("num", 2**31), ("num", True), ("num", "1"), ("num", None),
    ("big", 2**63 - 1), ("big", -(2**63) - 1), ("big", None),
    ("label", "plain"), ("label", "é"), ("label", "a\x00b"), ("label", "\ud800"), ("label", 3), ("label", None),
    ("flag", 1), ("flag", None),
    ("amount", Decimal("1.50")), ("amount", 2), ("amount", Decimal("NaN")), ("amount", "x"),
    ("at", dt.datetime(2030, 1, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=5)))),
    ("at", dt.datetime(2030, 1, 1)), ("at", "2030-01-01"),
    ("doc", {"n": float("nan")}), ("doc", [1, "\x00"]),
    ("kind", "b"), ("kind", "z"), ("kind", 1),
]


@pytest.mark.parametrize(("field", "value"), VALUES, ids=[f"{k}={v!r}" for k, v in VALUES])
def test_a_plan_gives_the_full_paths_values_and_errors(field: str, value: Any) -> None:
    data = {**BASE, field: value}
    assert comparable(planned(data)) == comparable(full(data))


def test_subclass_values_take_the_full_check() -> None:
    class MyInt(int):
        pass

    out = planned({**BASE, "num": MyInt(5)})
    assert out["num"] == 5 and type(out["num"]) is int


def test_defaults_and_generated_values_are_filled() -> None:
    out = planned({"num": 1, "label": "x"})
    assert out["flag"] is False and out["made"].tzinfo is UTC and isinstance(out["id"], str)
    assert list(out) == [k for k in item.fields if k in out]  # schema field order


def test_create_rows_checks_every_row_and_keeps_the_first_error() -> None:
    rows = [{**BASE, "num": i} for i in range(3)] + [{**BASE, "num": "bad"}]
    with pytest.raises(OrmError, match='field "num"'):
        create_rows(item, rows)
    assert [r["num"] for r in create_rows(item, rows[:3])] == [0, 1, 2]


def test_an_unknown_key_is_refused_before_and_after_a_plan_exists() -> None:
    create_values(item, dict(BASE))  # the plan for BASE's keys exists from here on
    for _ in range(2):
        with pytest.raises(OrmError, match='Unknown field "nope"'):
            create_values(item, {**BASE, "nope": 1})
