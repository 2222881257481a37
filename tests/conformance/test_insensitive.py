"""mode="insensitive": honoured by every equality, set and substring operator on every backend,
refused (VALIDATION_ERROR, before any I/O) where it cannot apply."""

from __future__ import annotations

import pytest

from farmorm import OrmError


async def names(orm, where):
    return [r["name"] for r in await orm.customer.find_many(where=where, order_by={"name": "asc"})]


@pytest.mark.parametrize("ops, expected", [
    ({"eq": "aNA"}, ["Ana"]),
    ({"not": "ANA"}, ["Ben", "Cleo", "Dan", "Eve"]),
    ({"in": ["ana", "BEN", "zed"]}, ["Ana", "Ben"]),
    ({"not_in": ["ana", "BEN"]}, ["Cleo", "Dan", "Eve"]),
    ({"contains": "LE"}, ["Cleo"]),
    ({"starts_with": "e"}, ["Eve"]),
    ({"ends_with": "N"}, ["Ben", "Dan"]),
    ({"not": {"in": ["ana", "eve"]}}, ["Ben", "Cleo", "Dan"]),  # a nested operator object inherits the mode
    ({"not": {"contains": "A"}}, ["Ben", "Cleo", "Eve"]),
    ({"in": ["ana"], "not": "ANA"}, []),
])
async def test_insensitive_applies_to_equality_set_and_substring_operators(music_orm, ops, expected):
    assert await names(music_orm, {"name": {**ops, "mode": "insensitive"}}) == expected


@pytest.mark.parametrize("ops, expected", [
    ({"eq": "aNA"}, []),
    ({"in": ["ana", "Ben"]}, ["Ben"]),
    ({"not_in": ["ana", "Ben"]}, ["Ana", "Cleo", "Dan", "Eve"]),
    ({"contains": "LE"}, []),
])
async def test_default_mode_is_case_sensitive(music_orm, ops, expected):
    assert await names(music_orm, {"name": ops}) == expected
    assert await names(music_orm, {"name": {**ops, "mode": "default"}}) == expected


async def test_insensitive_in_a_group_by_having(music_orm):
    rows = await music_orm.invoice.group_by(
        by=["billing_country"], count=True, having={"billing_country": {"in": ["us", "fr"], "mode": "insensitive"}})
    assert [(r["billing_country"], r["count"]) for r in rows] == [("FR", 2), ("US", 3)]


@pytest.mark.parametrize("where, field", [
    ({"name": {"gt": "b", "mode": "insensitive"}}, "name"),
    ({"name": {"lte": "b", "mode": "insensitive"}}, "name"),
    ({"name": {"mode": "insensitive"}}, "name"),
    ({"name": {"eq": "a", "mode": "sometimes"}}, "name"),
])
async def test_insensitive_is_refused_where_it_cannot_apply(music_orm, query_log, where, field):
    log = query_log(music_orm)
    with pytest.raises(OrmError) as err:
        await music_orm.customer.find_many(where=where)
    assert err.value.code == "VALIDATION_ERROR"
    assert '"customer"' in str(err.value) and f'"{field}"' in str(err.value), str(err.value)
    assert log == []


async def test_mode_on_a_non_text_field_is_refused(music_orm, query_log):
    log = query_log(music_orm)
    with pytest.raises(OrmError) as err:
        await music_orm.invoice.find_many(where={"items": {"eq": 1, "mode": "insensitive"}})
    assert err.value.code == "VALIDATION_ERROR" and '"items"' in str(err.value)
    assert log == []
