"""Exact value round trips: Decimal, 64-bit ints, aware UTC datetimes, JSON, text, enums, booleans."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from farmorm import define_schema, model
from farmorm import fields as f
from tests.conformance.auth import ADA_METADATA, ADA_QUOTA, SESSION_EXPIRY, lookup, pluck

UTC = dt.timezone.utc

values_schema = define_schema(
    sample=model(
        table="samples",
        fields={
            "id": f.id(),
            "label": f.string(),
            "flag": f.boolean().nullable(),
            "number": f.integer().nullable(),
            "big": f.bigint().nullable(),
            "amount": f.decimal().nullable(),
            "stamp": f.datetime().nullable(),
            "doc": f.json().nullable(),
            "kind": f.enumeration(["a", "b", "c"]).nullable(),
        },
    )
)


@pytest.fixture
async def orm(make_orm):
    return await make_orm(values_schema)


async def roundtrip(orm, field, value, label="x"):
    """Write ``value`` into ``field``; return (the value create returned, the value re-read by id)."""
    created = await orm.sample.create(data={"label": label, field: value})
    again = await orm.sample.find_unique(where={"id": created["id"]})
    return created[field], again[field]


def expected_datetime(orm, value):
    """``value`` in UTC as the backend keeps it (``capabilities.datetime_precision``; Mongo: milliseconds)."""
    precision = orm.driver.capabilities.datetime_precision
    value = value.astimezone(UTC)
    if precision == "millisecond":
        return value.replace(microsecond=value.microsecond // 1000 * 1000)
    if precision == "second":
        return value.replace(microsecond=0)
    assert precision == "microsecond"
    return value


# ------------------------------------------------------------------------------------ decimal


DECIMALS = [
    Decimal("12.50"),
    Decimal("0"),
    Decimal("-0.01"),
    Decimal("12345678901234567890.1234567890"),
    Decimal("0.000000000000000000000000000001"),
    Decimal("-99999999999999999999.99"),
    Decimal("1E+5"),
]


@pytest.mark.parametrize("value", DECIMALS, ids=str)
async def test_decimal_round_trip_is_exact(orm, value):
    created, again = await roundtrip(orm, "amount", value)
    assert created == value and again == value
    assert isinstance(again, Decimal)
    rows = await orm.sample.find_many(where={"amount": value})
    assert len(rows) == 1


async def test_decimal_accepts_int_input(orm):
    a = await orm.sample.create(data={"label": "i", "amount": 7})
    assert a["amount"] == Decimal("7") and isinstance(a["amount"], Decimal)


# ------------------------------------------------------------------------------------ integers


@pytest.mark.parametrize("value", [2**63 - 1, -(2**63), 0, 2**53 + 1, -(2**53) - 1], ids=str)
async def test_bigint_round_trip_at_64_bit_limits(orm, value):
    created, again = await roundtrip(orm, "big", value)
    assert created == value and again == value and type(again) is int
    assert pluck(await orm.sample.find_many(where={"big": value}), "big") == [value]


@pytest.mark.parametrize("value", [2**31 - 1, -(2**31), 0, 1], ids=str)
async def test_integer_round_trip_at_32_bit_limits(orm, value):
    created, again = await roundtrip(orm, "number", value)
    assert created == value and again == value and type(again) is int


async def test_seeded_bigint_is_exact(auth_orm):
    seeded = await lookup(auth_orm)
    assert seeded["ada"]["quota"] == ADA_QUOTA == 9007199254740991
    assert type(seeded["ada"]["quota"]) is int


# ---------------------------------------------------------------------------------- datetimes


async def test_datetime_round_trip_keeps_microseconds_as_documented(orm):
    value = dt.datetime(2026, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    created, again = await roundtrip(orm, "stamp", value)
    assert again == expected_datetime(orm, value)
    assert created == again
    assert again.utcoffset() == dt.timedelta(0)


async def test_datetime_round_trip_does_not_round_up(orm):
    value = dt.datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    _, again = await roundtrip(orm, "stamp", value)
    assert again == expected_datetime(orm, value)
    assert again.year == 2026


async def test_non_utc_input_comes_back_as_the_same_instant_in_utc(orm):
    india = dt.timezone(dt.timedelta(hours=5, minutes=30))
    value = dt.datetime(2026, 3, 4, 10, 15, 30, 250000, tzinfo=india)
    created, again = await roundtrip(orm, "stamp", value)
    assert again == value  # same instant
    assert again.utcoffset() == dt.timedelta(0)
    assert (again.hour, again.minute) == (4, 45)
    assert created == again


@pytest.mark.parametrize(
    "value",
    [dt.datetime(1970, 1, 1, tzinfo=UTC), dt.datetime(1901, 2, 3, 4, 5, 6, tzinfo=UTC),
     dt.datetime(2999, 12, 31, 23, 59, 59, tzinfo=UTC), dt.datetime(2024, 2, 29, 12, tzinfo=UTC)],
    ids=lambda v: v.isoformat(),
)
async def test_datetime_round_trip_across_range(orm, value):
    _, again = await roundtrip(orm, "stamp", value)
    assert again == value
    assert pluck(await orm.sample.find_many(where={"stamp": value}), "stamp") == [value]


async def test_seeded_datetimes_are_aware_utc(auth_orm):
    rows = await auth_orm.session.find_many(order_by={"token": "asc"})
    assert [(r["token"], r["expires_at"]) for r in rows] == list(SESSION_EXPIRY.items())
    assert all(r["expires_at"].tzinfo is not None and r["expires_at"].utcoffset() == dt.timedelta(0) for r in rows)


# --------------------------------------------------------------------------------------- JSON


NESTED = {
    "list": [1, 2.5, None, True, False, "x"],
    "deep": {"c": {"d": [], "e": {}}},
    "unicode": "héllo 👋 日本語 ‮rtl",
    "big": 2**53 + 1,
    "neg": -7,
}


async def test_json_nested_round_trip(orm):
    created, again = await roundtrip(orm, "doc", NESTED)
    assert created == NESTED and again == NESTED
    assert again["list"][3] is True and again["list"][4] is False and again["list"][2] is None
    assert type(again["list"][0]) is int and type(again["list"][1]) is float


@pytest.mark.parametrize("value", ["just text", 42, 3.5, True, False, [], {}, [1, [2, [3]]]], ids=repr)
async def test_json_scalar_and_empty_round_trip(orm, value):
    _, again = await roundtrip(orm, "doc", value)
    assert again == value and type(again) is type(value)


async def test_seeded_json_round_trips(auth_orm):
    seeded = await lookup(auth_orm)
    assert seeded["account"]["metadata"] == ADA_METADATA
    assert seeded["account"]["metadata"]["flags"]["sync"] is True


# --------------------------------------------------------------------------------------- text


TEXTS = [
    "emoji 👩‍💻🚀 and 🇯🇵",
    "combining e\u0301 and RTL \u202eabc",
    "日本語のテキスト",
    "quotes ' \" ` and backslash \\ and \\n",
    "sql -- /* */ ; DROP TABLE samples;",
    "percent % and underscore _",
    " padded ",
    "",
]


@pytest.mark.parametrize("value", TEXTS, ids=range(len(TEXTS)))
async def test_text_round_trip_and_equality_lookup(orm, value):
    created = await orm.sample.create(data={"label": value})
    again = await orm.sample.find_unique(where={"id": created["id"]})
    assert created["label"] == value and again["label"] == value
    found = await orm.sample.find_many(where={"label": value})
    assert pluck(found, "id") == [created["id"]]


async def test_empty_string_is_not_null(orm):
    await orm.sample.create(data={"label": ""})
    assert await orm.sample.count(where={"label": None}) == 0
    assert await orm.sample.count(where={"label": ""}) == 1


async def test_long_text_round_trip(orm):
    value = "abc😀" * 4000
    _, again = await roundtrip(orm, "label", value, label="long")
    assert again == value


# ------------------------------------------------------------------------------ enums, booleans


@pytest.mark.parametrize("value", ["a", "b", "c"])
async def test_enum_round_trip(orm, value):
    created, again = await roundtrip(orm, "kind", value)
    assert created == again == value and type(again) is str


@pytest.mark.parametrize("value", [True, False])
async def test_boolean_round_trip_keeps_bool_type(orm, value):
    created, again = await roundtrip(orm, "flag", value)
    assert created is value and again is value


async def test_nulls_round_trip_for_every_kind(orm):
    fields = ["flag", "number", "big", "amount", "stamp", "doc", "kind"]
    created = await orm.sample.create(data={"label": "nulls", **{k: None for k in fields}})
    again = await orm.sample.find_unique(where={"id": created["id"]})
    assert created == again
    assert {k: again[k] for k in fields} == {k: None for k in fields}


async def test_omitted_nullable_fields_read_back_as_none(orm):
    created = await orm.sample.create(data={"label": "bare"})
    assert set(created) == {"id", "label", "flag", "number", "big", "amount", "stamp", "doc", "kind"}
    assert [created[k] for k in ("flag", "number", "big", "amount", "stamp", "doc", "kind")] == [None] * 7


async def test_values_survive_an_update(orm):
    created = await orm.sample.create(data={"label": "u"})
    stamp = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    data = {"flag": True, "number": -5, "big": 2**62, "amount": Decimal("3.14159"), "stamp": stamp,
            "doc": {"k": ["v", 1]}, "kind": "b"}
    updated = await orm.sample.update(where={"id": created["id"]}, data=data)
    again = await orm.sample.find_unique(where={"id": created["id"]})
    assert updated == again == {"id": created["id"], "label": "u", **data}


async def test_values_survive_create_many_and_find_many(orm):
    stamp = dt.datetime(2031, 6, 7, 8, 9, 10, tzinfo=UTC)
    data = [
        {"label": "r1", "flag": False, "big": -(2**63), "amount": Decimal("-1.5"), "stamp": stamp, "doc": [1]},
        {"label": "r2", "flag": True, "big": 2**63 - 1, "amount": Decimal("1.5"), "stamp": stamp, "doc": {"a": 1}},
    ]
    created = await orm.sample.create_many(data=data)
    rows = await orm.sample.find_many(order_by={"label": "asc"})
    assert rows == created
    for row, source in zip(rows, data):
        assert {k: row[k] for k in source} == source


async def test_create_many_values_match_single_creates(orm):
    """Every kind, NULLs, non-ASCII text, a non-UTC datetime and rows with different keys, written by
    one create_many (PostgreSQL: one array per column) and by single creates, read back alike."""
    paris = dt.timezone(dt.timedelta(hours=2))
    rows = [
        {"label": "é ü 日本", "flag": True, "number": 2**31 - 1, "big": -(2**63), "amount": Decimal("12.50"),
         "stamp": dt.datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=paris), "doc": {"k": ["v", 1, None]}, "kind": "a"},
        {"label": "nulls", "flag": None, "number": None, "big": None, "amount": None, "stamp": None, "doc": None,
         "kind": None},
        {"label": "sparse", "number": -(2**31), "doc": "just a string"},
        {"label": "", "flag": False, "big": 2**63 - 1, "amount": 7, "doc": [], "kind": "c"},
    ]
    many = await orm.sample.create_many(data=[{**r, "label": "m" + r["label"]} for r in rows])
    single = [await orm.sample.create(data={**r, "label": "s" + r["label"]}) for r in rows]
    strip = [{k: v for k, v in r.items() if k not in ("id", "label")} for r in many]
    assert strip == [{k: v for k, v in r.items() if k not in ("id", "label")} for r in single]
    again = {r["id"]: r for r in await orm.sample.find_many()}
    assert [again[r["id"]] for r in many] == many
    assert many[0]["stamp"] == expected_datetime(orm, rows[0]["stamp"]) and many[0]["amount"] == Decimal("12.5")
