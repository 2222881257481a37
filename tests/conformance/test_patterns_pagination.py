"""Keyset pagination: find_page pages, cursors, stability under inserts, bad cursors."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import msgspec
import pytest

from farmorm import QueryValidationError, define_schema, model, fields as f

schema = define_schema(
    item=model(
        table="items",
        fields={
            "id": f.numeric_id(),
            "rank": f.integer(),
            "big": f.bigint(),
            "price": f.decimal(),
            "at": f.datetime(),
            "name": f.string(),
            "note": f.string().nullable(),
            "meta": f.json().nullable(),
        },
        archive=True,
    ),
    other=model(table="others", fields={"id": f.numeric_id(), "rank": f.integer()}),
)

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def row(i: int) -> dict:
    return {
        "id": i, "rank": i % 3, "big": 2**40 + (i % 4), "price": Decimal(i % 5) / 4,
        "at": T0 + timedelta(milliseconds=(i % 6) * 7), "name": f"n{i:02d}",
    }


async def all_pages(client, **kw) -> list[list[int]]:
    pages, after = [], None
    while True:
        page = await client.find_page(after=after, **kw)
        pages.append([r["id"] for r in page["items"]])
        assert page["page"]["has_more"] == (page["page"]["next_cursor"] is not None)
        if not page["page"]["has_more"]:
            return pages
        after = page["page"]["next_cursor"]


async def test_pages_follow_order_with_id_tie_breaker(make_orm) -> None:
    orm = await make_orm(schema)
    await orm.item.create_many(data=[row(i) for i in range(1, 11)])
    pages = await all_pages(orm.item, order_by={"rank": "desc"}, first=3)
    # rank desc, then id asc as the tie-breaker
    assert pages == [[2, 5, 8], [1, 4, 7], [10, 3, 6], [9]]


async def test_types_round_trip_in_cursors(make_orm) -> None:
    orm = await make_orm(schema)
    await orm.item.create_many(data=[row(i) for i in range(1, 13)])
    expected = await orm.item.find_many(order_by=[{"price": "asc"}, {"at": "desc"}, {"big": "asc"}, {"id": "asc"}])
    got = await all_pages(orm.item, order_by=[{"price": "asc"}, {"at": "desc"}, {"big": "asc"}], first=5)
    assert [i for p in got for i in p] == [r["id"] for r in expected]
    assert [len(p) for p in got] == [5, 5, 2]


async def test_exact_page_size_has_no_more(make_orm) -> None:
    orm = await make_orm(schema)
    await orm.item.create_many(data=[row(i) for i in range(1, 5)])
    page = await orm.item.find_page(order_by={"name": "asc"}, first=4, select={"name": True})
    info = page["page"]
    assert page["items"] == [{"name": "n01"}, {"name": "n02"}, {"name": "n03"}, {"name": "n04"}]
    assert {k: v for k, v in info.items() if not k.endswith("_cursor") or k in ("next_cursor", "prev_cursor")} == {
        "next_cursor": None, "has_more": False, "prev_cursor": None, "has_next_page": False,
        "has_previous_page": False}
    assert info["start_cursor"] and info["end_cursor"]  # the edges, for paging on from either end
    empty = await orm.item.find_page(where={"rank": 99}, first=2)
    assert empty == {"items": [], "page": {"next_cursor": None, "has_more": False, "prev_cursor": None,
                                           "start_cursor": None, "end_cursor": None, "has_next_page": False,
                                           "has_previous_page": False}}


async def test_where_and_archive_scope_apply(make_orm) -> None:
    orm = await make_orm(schema)
    await orm.item.create_many(data=[row(i) for i in range(1, 11)])
    await orm.item.archive(where={"id": {"in": [2, 4]}})
    assert await all_pages(orm.item, where={"id": {"lte": 6}}, first=2) == [[1, 3], [5, 6]]
    assert await all_pages(orm.item, where={"id": {"lte": 6}}, first=4, with_archived=True) == [[1, 2, 3, 4], [5, 6]]


async def test_stable_under_concurrent_inserts(make_orm) -> None:
    orm = await make_orm(schema)
    await orm.item.create_many(data=[row(i) for i in range(10, 40, 2)])  # 15 rows: even ids 10..38
    seen: list[int] = []
    used = set(range(10, 40, 2))
    after, n = None, 100

    def free(start: int) -> int:
        while start in used:
            start += 1
        used.add(start)
        return start

    while True:
        page = await orm.item.find_page(order_by={"id": "asc"}, first=4, after=after)
        seen += [r["id"] for r in page["items"]]
        # rows inserted between fetches: before, just after and far after the current position
        await orm.item.create_many(data=[row(free(n)), row(free(seen[-1] + 1)), row(free(1))])
        n += 1
        if not page["page"]["has_more"]:
            break
        after = page["page"]["next_cursor"]
    assert len(seen) == len(set(seen))  # no duplicates
    assert set(range(10, 40, 2)) <= set(seen)  # no gaps among rows that existed at the start
    assert seen == sorted(seen)


async def test_selected_fields_only_and_cursor_keys_hidden(make_orm) -> None:
    orm = await make_orm(schema)
    await orm.item.create_many(data=[row(i) for i in range(1, 4)])
    page = await orm.item.find_page(order_by={"at": "asc"}, first=2, select={"name": True})
    assert page["items"] == [{"name": "n01"}, {"name": "n02"}]
    nxt = await orm.item.find_page(order_by={"at": "asc"}, first=2, select={"name": True},
                                   after=page["page"]["next_cursor"])
    assert nxt["items"] == [{"name": "n03"}]


def _cursor(payload: object) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(payload)).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "after, why",
    [
        ("%%%not-base64%%%", "it is not base64url text."),
        (_cursor({"a": 1}), "its content is not a farmorm cursor."),
        (base64.urlsafe_b64encode(b"\xff\x00").decode().rstrip("="), "its content is not a farmorm cursor."),
        (_cursor(["000000000000", [1, 2]]), "it was made for another model or another order_by."),
        (123, "expected a non-empty string, got int."),
    ],
)
async def test_bad_cursors(make_orm, after, why) -> None:
    orm = await make_orm(schema)
    await orm.item.create(data=row(1))
    with pytest.raises(QueryValidationError) as e:
        await orm.item.find_page(order_by={"rank": "asc"}, after=after)
    assert e.value.code == "VALIDATION_ERROR"
    assert e.value.message == f'Invalid cursor for find_page on model "item": {why}'


async def test_cursor_from_other_order_or_model_and_tampered_values(make_orm) -> None:
    orm = await make_orm(schema)
    await orm.item.create_many(data=[row(i) for i in range(1, 5)])
    await orm.other.create_many(data=[{"id": i, "rank": i} for i in range(1, 5)])
    cursor = (await orm.item.find_page(order_by={"rank": "asc"}, first=1))["page"]["next_cursor"]
    other = (await orm.other.find_page(order_by={"rank": "asc"}, first=1))["page"]["next_cursor"]
    for kw in ({"order_by": {"rank": "desc"}, "after": cursor}, {"order_by": {"name": "asc"}, "after": cursor},
               {"order_by": {"rank": "asc"}, "after": other}):
        with pytest.raises(QueryValidationError) as e:
            await orm.item.find_page(**kw)
        assert e.value.message == ('Invalid cursor for find_page on model "item": '
                                   "it was made for another model or another order_by.")
    shape, values = msgspec.json.decode(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    for bad in (["x", values[1]], [values[0]], [2**40, values[1]], [None, values[1]]):
        with pytest.raises(QueryValidationError) as e:
            await orm.item.find_page(order_by={"rank": "asc"}, after=_cursor([shape, bad]))
        assert e.value.message.startswith('Invalid cursor for find_page on model "item": ')


async def test_refused_orders_and_sizes(make_orm) -> None:
    orm = await make_orm(schema)
    with pytest.raises(QueryValidationError) as e:
        await orm.item.find_page(order_by={"note": "asc"})
    assert e.value.message == (
        'find_page on model "item" cannot order by nullable field "note": a keyset cursor needs a non-null '
        "value for every sort key. Order by a non-null field, or filter the NULLs out and page over a "
        "non-null copy of the field.")
    with pytest.raises(QueryValidationError) as e:
        await orm.item.find_page(order_by={"meta": "asc"})
    assert e.value.message == 'find_page on model "item" cannot order by JSON field "meta".'
    for first in (0, -1, True, "2"):
        with pytest.raises(QueryValidationError) as e:
            await orm.item.find_page(first=first)
        assert e.value.message == f'Invalid first on model "item": expected a positive integer, got {first!r}.'
