"""aggregate and group_by: computed in the database, the same results and types on every backend."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from farmorm import OrmError

from .music import at

UTC = dt.timezone.utc


def _exact(value: object, expected: str) -> None:
    assert type(value) is Decimal, type(value)
    assert value == Decimal(expected)


# -- aggregate ------------------------------------------------------------------------------


async def test_aggregate_every_function_with_exact_types(music_orm):
    r = await music_orm.invoice.aggregate(
        count=True, sum={"total": True, "items": True}, avg={"total": True, "items": True},
        min={"total": True, "issued_at": True, "billing_country": True},
        max={"total": True, "issued_at": True},
    )
    assert r["count"] == 11 and type(r["count"]) is int
    _exact(r["sum"]["total"], "435.715")
    assert r["sum"]["items"] == 23 and type(r["sum"]["items"]) is int
    _exact(r["avg"]["total"], "39.61045454545454545454545454545455")  # 435.715 / 11, 34 digits
    assert r["avg"]["items"] == 23 / 11 and type(r["avg"]["items"]) is float
    _exact(r["min"]["total"], "0.02")
    _exact(r["max"]["total"], "120.005")
    assert r["min"]["issued_at"] == at(1) and r["min"]["issued_at"].tzinfo is not None
    assert r["min"]["issued_at"].utcoffset() == dt.timedelta(0)
    assert r["max"]["issued_at"] == at(11)
    assert r["min"]["billing_country"] == "BR"
    assert set(r) == {"count", "sum", "avg", "min", "max"}


async def test_aggregate_sums_decimals_exactly(music_orm):
    r = await music_orm.invoice.aggregate(where={"billing_country": "BR"}, sum={"total": True}, avg={"total": True})
    _exact(r["sum"]["total"], "0.3")  # a float sum says 0.30000000000000004
    _exact(r["avg"]["total"], "0.15")


async def test_aggregate_over_no_rows_is_none_and_count_zero(music_orm):
    r = await music_orm.invoice.aggregate(
        where={"billing_country": "XX"}, count={"_all": True, "billing_country": True},
        sum={"total": True, "items": True}, avg={"items": True}, min={"issued_at": True}, max={"total": True},
    )
    assert r == {
        "count": {"_all": 0, "billing_country": 0},
        "sum": {"total": None, "items": None},
        "avg": {"items": None},
        "min": {"issued_at": None},
        "max": {"total": None},
    }


async def test_aggregate_count_of_a_field_skips_nulls(music_orm):
    r = await music_orm.track.aggregate(count={"_all": True, "composer": True, "album_id": True})
    assert r["count"] == {"_all": 9, "composer": 6, "album_id": 8}


async def test_aggregate_with_where_and_relation_filter(music_orm):
    r = await music_orm.invoice.aggregate(where={"customer": {"name": "Ana"}}, sum={"total": True}, count=True)
    assert r["count"] == 3
    _exact(r["sum"]["total"], "105.4")


async def test_aggregate_over_only_null_values_is_none(music_orm):
    r = await music_orm.album.aggregate(where={"released": None}, count={"_all": True, "released": True},
                                        min={"released": True})
    assert r == {"count": {"_all": 2, "released": 0}, "min": {"released": None}}


@pytest.mark.parametrize("kwargs, field", [
    ({"sum": {"nope": True}}, "nope"),
    ({"sum": {"billing_country": True}}, "billing_country"),
    ({"avg": {"issued_at": True}}, "issued_at"),
    ({"min": {"nope": True}}, "nope"),
    ({"count": {"nope": True}}, "nope"),
    ({"sum": {"total": "yes"}}, "total"),
])
async def test_aggregate_refuses_bad_arguments_before_io(music_orm, query_log, kwargs, field):
    log = query_log(music_orm)
    with pytest.raises(OrmError) as err:
        await music_orm.invoice.aggregate(**kwargs)
    assert err.value.code == "VALIDATION_ERROR"
    assert '"invoice"' in str(err.value) and f'"{field}"' in str(err.value)
    assert log == []


async def test_aggregate_needs_an_aggregate(music_orm):
    with pytest.raises(OrmError) as err:
        await music_orm.invoice.aggregate(where={"items": 1})
    assert err.value.code == "VALIDATION_ERROR" and '"invoice"' in str(err.value)


# -- group_by ------------------------------------------------------------------------------


async def test_group_by_totals_per_country_over_100_ordered_by_total(music_orm, query_log):
    log = query_log(music_orm)
    rows = await music_orm.invoice.group_by(
        by=["billing_country"], sum={"total": True},
        having={"sum": {"total": {"gt": Decimal(100)}}},
        order_by={"sum": {"total": "desc"}},
    )
    assert rows == [
        {"billing_country": "CA", "sum": {"total": Decimal("120.005")}},
        {"billing_country": "US", "sum": {"total": Decimal("105.4")}},
        {"billing_country": "DE", "sum": {"total": Decimal("100.01")}},
    ]
    assert all(type(r["sum"]["total"]) is Decimal for r in rows)
    assert len(log) == 1  # one statement / one pipeline


async def test_group_by_every_aggregate_per_group(music_orm):
    rows = await music_orm.invoice.group_by(
        by="billing_country", count=True, sum={"items": True}, avg={"total": True, "items": True},
        min={"issued_at": True}, max={"total": True},
    )
    # no order_by: groups come in group-key order (NULL first), the same everywhere
    assert [r["billing_country"] for r in rows] == [None, "BR", "CA", "DE", "FR", "US"]
    us = rows[-1]
    assert us["count"] == 3 and us["sum"] == {"items": 6}
    _exact(us["avg"]["total"], "35.13333333333333333333333333333333")
    assert us["avg"]["items"] == 2.0 and type(us["avg"]["items"]) is float
    assert us["min"]["issued_at"] == at(1)
    _exact(us["max"]["total"], "60.1")
    _exact(rows[4]["avg"]["total"], "50")


async def test_group_by_several_keys_with_where(music_orm):
    rows = await music_orm.track.group_by(
        by=["album_id", "unit_price"], where={"album_id": {"not": None}}, count=True,
        order_by=[{"album_id": "asc"}, {"unit_price": "desc"}],
    )
    assert [(r["album_id"], r["unit_price"], r["count"]) for r in rows] == [
        ("al1", Decimal("0.99"), 2), ("al2", Decimal("1.29"), 1), ("al3", Decimal("1.99"), 1),
        ("al4", Decimal("1.29"), 1), ("al4", Decimal("0.99"), 2), ("al5", Decimal("1.99"), 1),
    ]


async def test_group_by_having_with_where_operators_and_logic(music_orm):
    rows = await music_orm.invoice.group_by(
        by=["billing_country"], count=True,
        having={"OR": [{"count": {"_all": {"gte": 3}}}, {"billing_country": {"in": ["FR", "BR"]}}],
                "NOT": {"billing_country": "BR"}},
    )
    assert [(r["billing_country"], r["count"]) for r in rows] == [("FR", 2), ("US", 3)]


async def test_group_by_having_on_an_average_takes_floats(music_orm):
    rows = await music_orm.invoice.group_by(by=["billing_country"], having={"avg": {"items": {"gte": 2.5}}})
    assert rows == [{"billing_country": "CA"}, {"billing_country": "DE"}]  # CA 5, DE exactly 2.5
    with pytest.raises(OrmError) as err:
        await music_orm.invoice.group_by(by=["billing_country"], having={"avg": {"items": {"gte": float("nan")}}})
    assert err.value.code == "VALIDATION_ERROR"


async def test_group_by_having_on_aggregates_not_returned(music_orm):
    rows = await music_orm.invoice.group_by(
        by=["billing_country"], having={"avg": {"items": {"gte": 2}}, "max": {"total": {"lt": Decimal(100)}}},
    )
    assert rows == [{"billing_country": "DE"}, {"billing_country": "FR"}, {"billing_country": "US"}]


async def test_group_by_orders_by_aggregates_and_pages(music_orm):
    page = await music_orm.invoice.group_by(
        by=["billing_country"], count=True, order_by=[{"count": {"_all": "desc"}}, {"billing_country": "asc"}],
        take=2, skip=1,
    )
    assert [(r["billing_country"], r["count"]) for r in page] == [("BR", 2), ("DE", 2)]
    none = await music_orm.invoice.group_by(by=["billing_country"], count=True, take=0)
    assert none == []


async def test_group_by_order_nulls_first_or_last(music_orm):
    rows = await music_orm.invoice.group_by(
        by=["billing_country"], order_by={"billing_country": {"sort": "asc", "nulls": "last"}})
    assert [r["billing_country"] for r in rows] == ["BR", "CA", "DE", "FR", "US", None]
    rows = await music_orm.invoice.group_by(
        by=["billing_country"], order_by={"billing_country": {"sort": "desc", "nulls": "first"}})
    assert [r["billing_country"] for r in rows] == [None, "US", "FR", "DE", "CA", "BR"]


async def test_group_by_with_sum_over_only_nulls_is_none(music_orm):
    rows = await music_orm.album.group_by(by=["artist_id"], count={"released": True}, min={"released": True})
    assert rows[1] == {"artist_id": "ar2", "count": {"released": 1}, "min": {"released": at(1)}}
    assert rows[0]["min"]["released"] == at(3)
    assert len(rows) == 3


@pytest.mark.parametrize("kwargs, field", [
    ({"by": ["nope"]}, "nope"),
    ({"by": ["billing_country"], "having": {"items": {"gt": 1}}}, "items"),
    ({"by": ["billing_country"], "having": {"sum": {"billing_country": {"gt": 1}}}}, "billing_country"),
    ({"by": ["billing_country"], "order_by": {"total": "desc"}}, "total"),
    ({"by": ["billing_country"], "order_by": {"billing_country": "up"}}, "billing_country"),
    ({"by": ["billing_country"], "having": {"sum": {"total": {"contains": "1"}}}}, "sum.total"),
    ({"by": ["billing_country"], "sum": {"issued_at": True}}, "issued_at"),
])
async def test_group_by_refuses_bad_arguments_before_io(music_orm, query_log, kwargs, field):
    log = query_log(music_orm)
    with pytest.raises(OrmError) as err:
        await music_orm.invoice.group_by(**kwargs)
    assert err.value.code == "VALIDATION_ERROR"
    assert '"invoice"' in str(err.value) and f'"{field}"' in str(err.value), str(err.value)
    assert log == []


async def test_group_by_take_must_be_a_count(music_orm):
    with pytest.raises(OrmError) as err:
        await music_orm.invoice.group_by(by=["billing_country"], take=-1)
    assert err.value.code == "VALIDATION_ERROR"


async def test_aggregates_of_a_decimal_with_declared_places_keep_them(make_orm):
    from farmorm import define_schema, model
    from farmorm import fields as f

    schema = define_schema(line=model(table="agg_lines", fields={
        "id": f.id(), "kind": f.string(), "amount": f.decimal(10, 2)}))
    orm = await make_orm(schema)
    await orm.line.create_many(data=[{"kind": "a", "amount": Decimal("1.10")}, {"kind": "a", "amount": Decimal("2.2")},
                                     {"kind": "b", "amount": Decimal("3")}])
    r = await orm.line.aggregate(sum={"amount": True}, min={"amount": True}, max={"amount": True},
                                 avg={"amount": True})
    assert {k: str(v["amount"]) for k, v in r.items()} == {"sum": "6.30", "min": "1.10", "max": "3.00", "avg": "2.1"}
    rows = await orm.line.group_by(by="kind", sum={"amount": True})
    assert [(g["kind"], str(g["sum"]["amount"])) for g in rows] == [("a", "3.30"), ("b", "3.00")]


async def test_aggregate_and_group_by_leave_out_soft_deleted_records_unless_asked(make_orm):
    from farmorm import define_schema, model
    from farmorm import fields as f

    schema = define_schema(entry=model(table="agg_entries", soft_delete=True, fields={
        "id": f.id(), "team": f.string(), "points": f.integer()}))
    orm = await make_orm(schema)
    await orm.entry.create_many(data=[{"id": "e1", "team": "a", "points": 3}, {"id": "e2", "team": "a", "points": 4},
                                      {"id": "e3", "team": "b", "points": 5}])
    await orm.entry.delete(where={"id": "e2"})
    assert await orm.entry.aggregate(count=True, sum={"points": True}) == {"count": 2, "sum": {"points": 8}}
    assert await orm.entry.aggregate(count=True, with_deleted=True) == {"count": 3}
    rows = await orm.entry.group_by(by="team", sum={"points": True})
    assert rows == [{"team": "a", "sum": {"points": 3}}, {"team": "b", "sum": {"points": 5}}]
    rows = await orm.entry.group_by(by="team", sum={"points": True}, with_deleted=True)
    assert rows[0] == {"team": "a", "sum": {"points": 7}}
