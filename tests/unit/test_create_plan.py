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
from farmorm.query.writes import create_flat, create_plan, create_rows, create_values

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


# ---------------------------------------------------------------------------------------------
# create_flat: create_rows laid out as a multi-row INSERT binds it (create_many)


def laid_out(records: list[dict[str, Any]]) -> tuple[tuple[str, ...], list[Any]]:
    """What create_flat must return for ``records`` (create_rows' output), written plainly."""
    columns = tuple(k for k in item.fields if any(k in r for r in records))
    return columns, [r.get(c) for r in records for c in columns]


def without_generated(columns: tuple[str, ...], flat: list[Any]) -> list[Any]:
    """``flat`` without the per-call generated columns (the string id and default_now)."""
    keep = [i for i, c in enumerate(columns) if c not in ("id", "made")]
    width = len(columns)
    return [flat[r * width + i] for r in range(len(flat) // width) for i in keep]


SHAPES = {
    "one key set": [{**BASE, "num": i} for i in range(5)],
    "a second key set midway": [{**BASE, "num": i} for i in range(3)] + [{"num": 7, "label": "y"}, {**BASE}],
    "a mapping first": [MappingProxyType({**BASE, "num": 1}), {**BASE, "num": 2}],
    "a mapping midway": [{**BASE, "num": 1}, MappingProxyType({**BASE, "num": 2}), {**BASE, "num": 3}],
    "as many keys, other ones, midway": [{**BASE, "num": 1}, {**{k: v for k, v in BASE.items() if k != "kind"},
                                                           "made": dt.datetime(2031, 1, 1, tzinfo=UTC)},
                                          {**BASE, "num": 3}],
    "one record": [{"num": 1, "label": "x"}],
    "defaults only from the second record on": [{"num": 1, "label": "x", "flag": True}, {"num": 2, "label": "y"}],
}


@pytest.mark.parametrize("rows", list(SHAPES.values()), ids=list(SHAPES))
def test_create_flat_is_create_rows_laid_out(rows: list[Any]) -> None:
    for _ in range(2):  # the first call builds the plans, the second runs on them
        columns, flat = create_flat(item, rows)
        want_columns, want = laid_out(create_rows(item, rows))
        assert columns == want_columns
        assert len(flat) == len(want) == len(rows) * len(columns)
        assert without_generated(columns, flat) == without_generated(columns, want)


@pytest.mark.parametrize("bad_at", [0, 1, 4])
def test_create_flat_raises_create_rows_first_error(bad_at: int) -> None:
    rows: list[Any] = [{**BASE, "num": i} for i in range(5)]
    rows[bad_at] = {**BASE, "num": "bad"}
    rows[-1] = {**BASE, "label": None}  # a later error: never the one raised
    with pytest.raises(OrmError) as want:
        create_rows(item, rows)
    for _ in range(2):
        with pytest.raises(OrmError) as got:
            create_flat(item, rows)
        assert (type(got.value), got.value.code, str(got.value)) == (type(want.value), want.value.code, str(want.value))


def test_create_flat_refuses_an_unknown_key_in_any_record() -> None:
    for at in (0, 2):
        rows = [dict(BASE) for _ in range(3)]
        rows[at]["nope"] = 1
        with pytest.raises(OrmError, match='Unknown field "nope"'):
            create_flat(item, rows)


def test_create_flat_computes_each_records_defaults_once() -> None:
    calls: list[int] = []

    def stamp() -> str:
        calls.append(1)
        return f"s{len(calls)}"

    counted = define_schema(row=model(table="rows", fields={
        "id": f.id(type="integer"), "name": f.string(), "note": f.string().default(stamp)})).models["row"]
    rows: list[Any] = [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}, {"id": 3, "name": "c", "note": "given"},
                       {"id": 4, "name": "d"}]
    assert create_flat(counted, rows) == (("id", "name", "note"),
                                          [1, "a", "s1", 2, "b", "s2", 3, "c", "given", 4, "d", "s3"])
    assert len(calls) == 3  # the switch to create_rows at the third record recomputed nothing


def test_create_flat_refuses_mixing_generated_ids() -> None:
    counted = define_schema(row=model(table="rows", fields={
        "id": f.id(type="integer", generated="increment"), "name": f.string()})).models["row"]
    with pytest.raises(OrmError, match='cannot mix records with and without "id"'):
        create_flat(counted, [{"id": 1, "name": "a"}, {"name": "b"}])
    assert create_flat(counted, [{"name": "a"}, {"name": "b"}]) == (("name",), ["a", "b"])
