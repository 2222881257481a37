"""Ordering by a to-one relation's field (any depth), by a to-many relation's count, NULLs
first/last per key, and relation counts in select: the same rows on every backend."""

from __future__ import annotations

import pytest

from farmorm import OrmError


def ids(rows):
    return [r["id"] for r in rows]


async def test_order_by_a_to_one_relation_field(music_orm):
    rows = await music_orm.track.find_many(order_by=[{"album": {"title": "asc"}}, {"id": "asc"}],
                                           select={"id": True})
    # the loose track has no album: NULL first ascending
    assert ids(rows) == ["t9", "t8", "t1", "t2", "t5", "t6", "t7", "t3", "t4"]


async def test_order_by_a_relation_field_two_levels_deep_desc_with_paging(music_orm, query_log):
    log = query_log(music_orm)
    rows = await music_orm.track.find_many(
        order_by=[{"album": {"artist": {"name": "desc"}}}, {"milliseconds": "asc"}],
        select={"id": True}, take=4, skip=1)
    # Coltrane (t7 434000, t8 462000, t6 550000, t5 643000), Beethoven, AC/DC, then the loose track
    assert ids(rows) == ["t8", "t6", "t5", "t4"]
    assert len(log) == 1


async def test_order_by_relation_with_nulls_last(music_orm):
    rows = await music_orm.track.find_many(
        order_by=[{"album": {"released": {"sort": "asc", "nulls": "last"}}}, {"id": "asc"}], select={"id": True})
    # released: al3 day 1 (t4), al4 day 2 (t5-t7), al1 day 3 (t1, t2); al2/al5 unreleased and t9 no album
    assert ids(rows) == ["t4", "t5", "t6", "t7", "t1", "t2", "t3", "t8", "t9"]


@pytest.mark.parametrize("direction, nulls, expected", [
    ("asc", None, [None, None, None, "Beethoven", "Coltrane", "Coltrane", "Coltrane", "Young", "Young"]),
    ("asc", "last", ["Beethoven", "Coltrane", "Coltrane", "Coltrane", "Young", "Young", None, None, None]),
    ("desc", None, ["Young", "Young", "Coltrane", "Coltrane", "Coltrane", "Beethoven", None, None, None]),
    ("desc", "first", [None, None, None, "Young", "Young", "Coltrane", "Coltrane", "Coltrane", "Beethoven"]),
])
async def test_nulls_first_or_last_per_key(music_orm, direction, nulls, expected):
    key = direction if nulls is None else {"sort": direction, "nulls": nulls}
    rows = await music_orm.track.find_many(order_by=[{"composer": key}, {"id": "asc"}])
    assert [r["composer"] for r in rows] == expected


async def test_order_by_a_to_many_relation_count(music_orm):
    rows = await music_orm.artist.find_many(order_by=[{"albums": {"_count": "desc"}}, {"name": "asc"}])
    assert [r["name"] for r in rows] == ["Coltrane", "AC/DC", "Beethoven", "Dylan"]
    rows = await music_orm.album.find_many(order_by=[{"tracks": {"_count": "asc"}}, {"id": "desc"}],
                                           select={"id": True}, take=3)
    assert ids(rows) == ["al6", "al5", "al3"]


async def test_select_relation_counts_with_a_where(music_orm):
    rows = await music_orm.album.find_many(
        select={"id": True, "_count": {"tracks": True}}, order_by={"id": "asc"})
    assert rows == [{"id": "al1", "_count": {"tracks": 2}}, {"id": "al2", "_count": {"tracks": 1}},
                    {"id": "al3", "_count": {"tracks": 1}}, {"id": "al4", "_count": {"tracks": 3}},
                    {"id": "al5", "_count": {"tracks": 1}}, {"id": "al6", "_count": {"tracks": 0}}]
    rows = await music_orm.artist.find_many(
        include={"_count": {"albums": {"where": {"released": {"not": None}}}}}, order_by={"name": "asc"})
    assert [(r["name"], r["_count"]["albums"]) for r in rows] == [
        ("AC/DC", 1), ("Beethoven", 1), ("Coltrane", 2), ("Dylan", 0)]
    assert set(rows[0]) == {"id", "name", "_count"}


async def test_relation_counts_in_an_included_level(music_orm):
    rows = await music_orm.artist.find_many(
        where={"id": "ar3"}, select={"name": True, "albums": {"select": {"title": True, "_count": {"tracks": True}},
                                                             "order_by": {"title": "asc"}}})
    assert rows == [{"name": "Coltrane", "albums": [
        {"title": "A Love Supreme", "_count": {"tracks": 1}},
        {"title": "Blue Train", "_count": {"tracks": 3}},
        {"title": "Giant Steps", "_count": {"tracks": 0}},
    ]}]


async def test_relation_count_with_where_params_and_a_where_of_its_own(music_orm):
    rows = await music_orm.album.find_many(
        where={"title": {"contains": "e"}},
        select={"title": True, "_count": {"tracks": {"where": {"unit_price": {"lt": "1.00"}}}}},
        order_by={"title": "asc"}, take=3)
    assert rows == [{"title": "A Love Supreme", "_count": {"tracks": 0}},
                    {"title": "Blue Train", "_count": {"tracks": 2}},
                    {"title": "Giant Steps", "_count": {"tracks": 0}}]


@pytest.mark.parametrize("call, field", [
    (lambda o: o.track.find_many(order_by={"album": {"nope": "asc"}}), "nope"),
    (lambda o: o.track.find_many(order_by={"album": "asc"}), "album"),
    (lambda o: o.artist.find_many(order_by={"albums": {"name": "asc"}}), "albums"),
    (lambda o: o.track.find_many(order_by={"composer": {"sort": "asc", "nulls": "middle"}}), "composer"),
    (lambda o: o.track.find_many(order_by={"composer": {"nulls": "last"}}), "composer"),
    (lambda o: o.track.find_many(select={"_count": {"album": True}}), "album"),
    (lambda o: o.album.find_many(select={"_count": {"tracks": {"where": {"nope": 1}}}}), "nope"),
    (lambda o: o.album.find_many(include={"tracks": {"order_by": {"album": {"title": "asc"}}}}), "tracks"),
    (lambda o: o.track.find_page(order_by={"album": {"title": "asc"}}), "album"),
    (lambda o: o.album.create(data={"id": "x", "title": "x", "artist_id": "ar1"}, select={"_count": {"tracks": True}}), "_count"),
])
async def test_bad_ordering_and_counts_are_refused_before_io(music_orm, query_log, call, field):
    log = query_log(music_orm)
    with pytest.raises(OrmError) as err:
        await call(music_orm)
    assert err.value.code == "VALIDATION_ERROR"
    assert f'"{field}"' in str(err.value), str(err.value)
    assert log == []
