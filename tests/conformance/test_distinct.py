"""distinct on find_many / find_first / find_page (Prisma semantics: the first record, in
order_by order, of each combination of the distinct fields), computed in the database."""

from __future__ import annotations

import pytest

from farmorm import OrmError


def ids(rows):
    return [r["id"] for r in rows]


async def test_distinct_keeps_the_first_record_of_each_value_in_order(music_orm, query_log):
    log = query_log(music_orm)
    rows = await music_orm.invoice.find_many(distinct=["customer_id"], order_by={"total": "desc"})
    # each customer's largest invoice, largest first
    assert ids(rows) == ["i11", "i4", "i1", "i6", "i9"]
    assert len(log) == 1
    rows = await music_orm.invoice.find_many(distinct="customer_id", order_by={"issued_at": "asc"},
                                             select={"id": True})
    assert rows == [{"id": "i1"}, {"id": "i4"}, {"id": "i6"}, {"id": "i8"}, {"id": "i10"}]


async def test_distinct_with_where_take_skip_and_nulls(music_orm):
    rows = await music_orm.track.find_many(
        distinct=["composer"], where={"milliseconds": {"gt": 200000}},
        order_by=[{"composer": {"sort": "asc", "nulls": "last"}}, {"milliseconds": "desc"}], skip=1, take=3)
    # Beethoven t4, then Coltrane's longest t5, Young's longest t2, the longest without a composer t7
    assert ids(rows) == ["t5", "t2", "t7"]


async def test_distinct_on_several_fields(music_orm):
    rows = await music_orm.track.find_many(distinct=["album_id", "unit_price"],
                                           where={"album_id": {"in": ["al1", "al4"]}},
                                           order_by=[{"album_id": "asc"}, {"unit_price": "asc"}, {"id": "desc"}])
    assert [(r["album_id"], str(r["unit_price"]), r["id"]) for r in rows] == [
        ("al1", "0.99", "t2"), ("al4", "0.99", "t6"), ("al4", "1.29", "t7")]


async def test_distinct_ties_resolve_to_the_same_record_everywhere(music_orm):
    # no order_by: the identity decides which record of a group is "first"
    rows = await music_orm.invoice.find_many(distinct=["billing_country"])
    assert sorted(ids(rows)) == ["i1", "i10", "i11", "i4", "i6", "i8"]
    first = await music_orm.invoice.find_first(distinct=["billing_country"], order_by={"billing_country": "desc"})
    assert first is not None and first["id"] == "i1"


async def test_distinct_find_page_pages_over_distinct_records(music_orm):
    seen = []
    after = None
    while True:
        page = await music_orm.invoice.find_page(distinct=["customer_id"], order_by={"total": "asc"},
                                                 first=2, after=after)
        seen += ids(page["items"])
        after = page["page"]["next_cursor"]
        if not page["page"]["has_more"]:
            break
    # each customer's smallest invoice, smallest first: no customer twice across pages
    assert seen == ["i5", "i3", "i8", "i10", "i6"]


async def test_distinct_with_relation_order_and_counts(music_orm):
    rows = await music_orm.album.find_many(
        distinct=["artist_id"], order_by=[{"tracks": {"_count": "desc"}}, {"id": "asc"}],
        select={"id": True, "_count": {"tracks": True}})
    assert rows == [{"id": "al4", "_count": {"tracks": 3}}, {"id": "al1", "_count": {"tracks": 2}},
                    {"id": "al3", "_count": {"tracks": 1}}]


@pytest.mark.parametrize("distinct, field", [(["nope"], "nope"), ("nope", "nope"), ([], None), (3, None)])
async def test_bad_distinct_is_refused_before_io(music_orm, query_log, distinct, field):
    log = query_log(music_orm)
    with pytest.raises(OrmError) as err:
        await music_orm.invoice.find_many(distinct=distinct)
    assert err.value.code == "VALIDATION_ERROR" and '"invoice"' in str(err.value)
    if field:
        assert f'"{field}"' in str(err.value)
    assert log == []
