"""Backward keyset paging: find_page(last=, before=), and has_previous_page / has_next_page both ways."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import msgspec
import pytest

from farmorm import QueryValidationError, define_schema, fields as f, model

schema = define_schema(
    item=model(
        table="items",
        fields={"id": f.numeric_id(), "rank": f.integer(), "at": f.datetime(), "name": f.string()},
        soft_delete=True,
    ),
)
T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


class Slim(msgspec.Struct):
    id: int
    name: str


async def _orm(make_orm):
    orm = await make_orm(schema)
    await orm.item.create_many(data=[
        {"id": i, "rank": i % 3, "at": T0 + timedelta(seconds=i % 4), "name": f"n{i:02d}"} for i in range(1, 11)])
    return orm


def ids(page) -> list[int]:
    return [r["id"] if isinstance(r, dict) else r.id for r in page["items"]]


def flags(page) -> tuple[bool, bool]:
    return page["page"]["has_previous_page"], page["page"]["has_next_page"]


ORDER = {"rank": "desc"}  # then id asc: 2 5 8 1 4 7 10 3 6 9
ALL = [2, 5, 8, 1, 4, 7, 10, 3, 6, 9]


@pytest.mark.parametrize("as_", [None, Slim])
async def test_forward_then_backward_walks_the_same_pages(make_orm, as_) -> None:
    orm = await _orm(make_orm)
    kw = {"order_by": ORDER, "as_": as_, "select": {"id": True, "name": True}} if as_ else {"order_by": ORDER}
    forward, after = [], None
    while True:
        page = await orm.item.find_page(first=3, after=after, **kw)
        forward.append((ids(page), flags(page)))
        if not page["page"]["has_next_page"]:
            break
        after = page["page"]["next_cursor"]
    assert forward == [([2, 5, 8], (False, True)), ([1, 4, 7], (True, True)), ([10, 3, 6], (True, True)),
                       ([9], (True, False))]
    backward, before = [], None
    while True:
        page = await orm.item.find_page(last=3, before=before, **kw)
        backward.append((ids(page), flags(page)))
        if not page["page"]["has_previous_page"]:
            break
        before = page["page"]["prev_cursor"]
    assert backward == [([3, 6, 9], (True, False)), ([4, 7, 10], (True, True)), ([5, 8, 1], (True, True)),
                        ([2], (False, True))]


async def test_cursors_cross_directions(make_orm) -> None:
    orm = await _orm(make_orm)
    middle = await orm.item.find_page(order_by=ORDER, first=3, after=(
        await orm.item.find_page(order_by=ORDER, first=3))["page"]["end_cursor"])
    assert ids(middle) == [1, 4, 7] and flags(middle) == (True, True)
    info = middle["page"]
    assert (info["start_cursor"], info["end_cursor"]) == (info["prev_cursor"], info["next_cursor"])
    back = await orm.item.find_page(order_by=ORDER, last=2, before=info["start_cursor"])
    assert ids(back) == [5, 8] and flags(back) == (True, True)
    back = await orm.item.find_page(order_by=ORDER, last=5, before=info["start_cursor"])
    assert ids(back) == [2, 5, 8] and flags(back) == (False, True)
    on = await orm.item.find_page(order_by=ORDER, first=20, after=back["page"]["end_cursor"])
    assert ids(on) == ALL[3:] and flags(on) == (True, False)
    assert on["page"]["has_more"] is False and on["page"]["next_cursor"] is None
    # last without a cursor: the end of the list; a page size that covers everything has no neighbours
    tail = await orm.item.find_page(order_by=ORDER, last=4)
    assert ids(tail) == ALL[-4:] and flags(tail) == (True, False)
    whole = await orm.item.find_page(order_by=ORDER, last=10)
    assert ids(whole) == ALL and flags(whole) == (False, False)
    assert (whole["page"]["prev_cursor"], whole["page"]["next_cursor"]) == (None, None)


async def test_backward_respects_where_visibility_and_select(make_orm) -> None:
    orm = await _orm(make_orm)
    await orm.item.delete(where={"id": 9})  # soft-deleted: hidden from every page
    page = await orm.item.find_page(where={"rank": {"lt": 2}}, order_by={"at": "desc"}, last=2,
                                    select={"name": True})
    # rank < 2: ids 1 3 4 6 7 10 (9 is deleted); at desc (i % 4), then id: 3 7 6 10 1 4
    assert page["items"] == [{"name": "n01"}, {"name": "n04"}]
    assert flags(page) == (True, False)
    before = await orm.item.find_page(where={"rank": {"lt": 2}}, order_by={"at": "desc"}, last=2,
                                      before=page["page"]["start_cursor"], select={"name": True})
    assert before["items"] == [{"name": "n06"}, {"name": "n10"}] and flags(before) == (True, True)
    # has_next_page looks past a cursor whose own row is gone
    await orm.item.hard_delete(where={"id": 1})
    again = await orm.item.find_page(where={"rank": {"lt": 2}}, order_by={"at": "desc"}, last=2,
                                     before=page["page"]["start_cursor"], select={"name": True})
    assert again["items"] == before["items"] and flags(again) == (True, True)


async def test_bad_combinations_are_refused_before_io(make_orm, query_log) -> None:
    orm = await _orm(make_orm)
    cursor = (await orm.item.find_page(first=1))["page"]["end_cursor"]
    log = query_log(orm)
    both = ('find_page on model "item" pages forward (first / after) or backward (last / before), not both '
            "in one call.")
    cases = [
        (orm.item.find_page(first=2, last=2), both),
        (orm.item.find_page(after=cursor, before=cursor), both),
        (orm.item.find_page(first=2, before=cursor), both),
        (orm.item.find_page(last=0), 'Invalid last on model "item": expected a positive integer, got 0.'),
        (orm.item.find_page(last="3"), "Invalid last on model \"item\": expected a positive integer, got '3'."),
        (orm.item.find_page(before="x!"),
         'Invalid cursor for find_page on model "item": it is not base64url text.'),
        (orm.item.find_page(last=2, distinct=["rank"]),
         'find_page on model "item" with distinct pages forward only (first / after).'),
        (orm.item.find_page(order_by={"name": "asc"}, last=2, before=cursor),
         'Invalid cursor for find_page on model "item": it was made for another model or another order_by.'),
    ]
    for call, message in cases:
        with pytest.raises(QueryValidationError) as e:
            await call
        assert e.value.message == message
    assert log == []


async def test_statements_per_page(make_orm, query_log) -> None:
    orm = await _orm(make_orm)
    log = query_log(orm)
    first = await orm.item.find_page(first=3)
    assert len(log) == 1  # no cursor: nothing before the first page, one statement
    await orm.item.find_page(first=3, after=first["page"]["end_cursor"])
    assert len(log) == 3  # the page, and one probe (LIMIT 1) for the other side of the cursor
