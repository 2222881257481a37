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


async def test_ordering_through_relations_skips_soft_deleted_records(make_orm):
    from farmorm import belongs_to, define_schema, has_many, model
    from farmorm import fields as f

    schema = define_schema(
        writer=model(table="ord_writers", fields={"id": f.id(), "name": f.string()},
                     relations={"books": has_many("book", foreign_key="writer_id")}),
        book=model(table="ord_books", soft_delete=True,
                   fields={"id": f.id(), "title": f.string(), "writer_id": f.string().references("writer.id")},
                   relations={"writer": belongs_to("writer", foreign_key="writer_id"),
                              "reviews": has_many("review", foreign_key="book_id")}),
        review=model(table="ord_reviews", fields={"id": f.id(), "book_id": f.string().references("book.id")},
                     relations={"book": belongs_to("book", foreign_key="book_id")}),
    )
    orm = await make_orm(schema)
    await orm.writer.create_many(data=[{"id": "w1", "name": "A"}, {"id": "w2", "name": "B"}])
    await orm.book.create_many(data=[{"id": "b1", "title": "Zed", "writer_id": "w1"},
                                     {"id": "b2", "title": "Yak", "writer_id": "w1"},
                                     {"id": "b3", "title": "Ant", "writer_id": "w2"}])
    await orm.review.create_many(data=[{"id": "r1", "book_id": "b1"}, {"id": "r2", "book_id": "b2"},
                                       {"id": "r3", "book_id": "b3"}])
    await orm.book.delete_many(where={"id": {"in": ["b1", "b2"]}})  # soft: w1 keeps no visible book

    rows = await orm.writer.find_many(order_by=[{"books": {"_count": "desc"}}, {"name": "asc"}],
                                      select={"name": True, "_count": {"books": True}})
    assert rows == [{"name": "B", "_count": {"books": 1}}, {"name": "A", "_count": {"books": 0}}]
    # a soft-deleted book sorts as no book (NULL, first ascending), whatever its title
    rows = await orm.review.find_many(order_by=[{"book": {"title": "asc"}}, {"id": "desc"}])
    assert [r["id"] for r in rows] == ["r2", "r1", "r3"]
    rows = await orm.review.find_many(order_by=[{"book": {"writer": {"name": "desc"}}}, {"id": "asc"}])
    assert [r["id"] for r in rows] == ["r3", "r1", "r2"]  # no visible book: no writer, NULLs last descending
    # with_deleted widens the scope of the relations too
    rows = await orm.book.find_many(with_deleted=True, order_by=[{"reviews": {"_count": "desc"}}, {"title": "asc"}])
    assert [r["title"] for r in rows] == ["Ant", "Yak", "Zed"]


async def test_order_by_many_to_many_count_skips_soft_deleted_targets(make_orm):
    from farmorm import define_schema, many_to_many, model
    from farmorm import fields as f

    schema = define_schema(
        note=model(table="ord_notes", fields={"id": f.id(), "title": f.string()},
                   relations={"labels": many_to_many("label", through="note_label", from_="note_id", to="label_id")}),
        label=model(table="ord_labels", soft_delete=True, fields={"id": f.id(), "name": f.string()}),
        note_label=model(table="ord_note_labels", fields={
            "id": f.id(), "note_id": f.string().references("note.id"), "label_id": f.string().references("label.id")}),
    )
    orm = await make_orm(schema)
    await orm.note.create_many(data=[{"id": "n1", "title": "one"}, {"id": "n2", "title": "two"}])
    await orm.label.create_many(data=[{"id": "l1", "name": "x"}, {"id": "l2", "name": "y"}, {"id": "l3", "name": "z"}])
    await orm.note_label.create_many(data=[{"note_id": "n1", "label_id": "l1"}, {"note_id": "n1", "label_id": "l2"},
                                           {"note_id": "n2", "label_id": "l3"}])
    rows = await orm.note.find_many(order_by=[{"labels": {"_count": "desc"}}, {"title": "desc"}])
    assert [r["title"] for r in rows] == ["one", "two"]
    await orm.label.delete_many(where={"id": {"in": ["l1", "l2"]}})
    rows = await orm.note.find_many(order_by=[{"labels": {"_count": "desc"}}, {"title": "asc"}],
                                    select={"title": True, "_count": {"labels": True}})
    assert rows == [{"title": "two", "_count": {"labels": 1}}, {"title": "one", "_count": {"labels": 0}}]
