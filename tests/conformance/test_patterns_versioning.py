"""Optimistic concurrency: f.version(), update(expected_version=), VERSION_CONFLICT / NOT_FOUND."""

from __future__ import annotations

import asyncio

import pytest

from farmorm import (
    QueryValidationError, RecordNotFound, SchemaError, VersionConflict, define_schema, model, fields as f,
)

schema = define_schema(
    doc=model(
        table="docs",
        fields={"id": f.id(), "slug": f.string().unique(), "body": f.string(), "hits": f.integer().default(0),
                "version": f.version()},
        soft_delete=True,
    ),
    plain=model(table="plains", fields={"id": f.id(), "name": f.string()}),
)


async def test_version_starts_at_one_and_every_update_adds_one(make_orm) -> None:
    orm = await make_orm(schema)
    d = await orm.doc.create(data={"slug": "a", "body": "x"})
    assert d["version"] == 1
    u = await orm.doc.update(where={"id": d["id"]}, data={"body": "y"})
    assert (u["body"], u["version"]) == ("y", 2)
    assert await orm.doc.update_many(where={"slug": "a"}, data={"hits": 3}) == 1
    u = await orm.doc.upsert(where={"slug": "a"}, create={"body": "c"}, update={"body": "z"})
    assert (u["body"], u["hits"], u["version"]) == ("z", 3, 4)
    new = await orm.doc.upsert(where={"slug": "b"}, create={"body": "c"}, update={"body": "z"})
    assert (new["body"], new["version"]) == ("c", 1)
    assert await orm.doc.delete(where={"id": d["id"]}) == 1  # soft delete is an update too
    assert (await orm.doc.find_unique(where={"id": d["id"]}, with_deleted=True))["version"] == 5


async def test_expected_version_compares_and_increments(make_orm, query_log) -> None:
    orm = await make_orm(schema)
    d = await orm.doc.create(data={"slug": "a", "body": "x"})
    u = await orm.doc.update(where={"id": d["id"]}, data={"body": "y"}, expected_version=1,
                             select={"body": True, "version": True})
    assert u == {"body": "y", "version": 2}
    with pytest.raises(VersionConflict) as e:
        await orm.doc.update(where={"slug": "a"}, data={"body": "lost"}, expected_version=1)
    assert e.value.code == "VERSION_CONFLICT"
    assert e.value.message == 'Version conflict on model "doc": expected version 1, but the record is at version 2.'
    assert (e.value.meta["expected_version"], e.value.meta["actual_version"]) == (1, 2)
    with pytest.raises(RecordNotFound) as e:
        await orm.doc.update(where={"slug": "nope"}, data={"body": "z"}, expected_version=1)
    assert e.value.code == "NOT_FOUND"
    assert e.value.message == 'Update on model "doc" found no record matching its where clause.'
    # empty data still bumps the version (a "touch")
    t = await orm.doc.update(where={"id": d["id"]}, data={}, expected_version=2)
    assert (t["body"], t["version"]) == ("y", 3)
    # a soft-deleted record is not found, unless with_deleted=True
    await orm.doc.delete(where={"id": d["id"]})
    with pytest.raises(RecordNotFound):
        await orm.doc.update(where={"id": d["id"]}, data={"body": "z"}, expected_version=4)
    r = await orm.doc.update(where={"id": d["id"]}, data={"body": "z"}, expected_version=4, with_deleted=True)
    assert (r["body"], r["version"]) == ("z", 5)
    row = await orm.doc.find_unique(where={"id": d["id"]}, with_deleted=True)
    assert (row["body"], row["version"]) == ("z", 5)


async def test_bad_input_writes_nothing(make_orm) -> None:
    orm = await make_orm(schema)
    d = await orm.doc.create(data={"slug": "a", "body": "x"})
    managed = ('Field "version" on model "doc" is a version field managed by farmorm: it starts at 1 and every '
               "update adds 1, so it cannot be set in data. Pass expected_version= to update().")
    cases = [
        (orm.doc.create(data={"slug": "b", "body": "x", "version": 7}), managed),
        (orm.doc.update(where={"id": d["id"]}, data={"version": 9}), managed),
        (orm.doc.update_many(where={"id": d["id"]}, data={"version": 9}), managed),
        (orm.doc.upsert(where={"slug": "a"}, create={"body": "x"}, update={"version": 9}), managed),
        (orm.doc.update(where={"id": d["id"]}, data={"body": "n"}, expected_version=0),
         'Invalid expected_version on model "doc": expected a positive integer, got 0.'),
        (orm.doc.update(where={"id": d["id"]}, data={"body": "n"}, expected_version="1"),
         "Invalid expected_version on model \"doc\": expected a positive integer, got '1'."),
        (orm.doc.update(where={"body": "x"}, data={"body": "n"}, expected_version=1),
         'Update with expected_version on model "doc" requires the "where" clause to match an id field, '
         "unique field, or declared unique constraint using equality values only."),
        (orm.plain.update(where={"id": "p"}, data={"name": "n"}, expected_version=1),
         'Update on model "plain" got expected_version, but the model has no version field. '
         "Declare one with f.version()."),
    ]
    for call, message in cases:
        with pytest.raises(QueryValidationError) as e:
            await call
        assert (e.value.code, e.value.message) == ("VALIDATION_ERROR", message)
    assert await orm.doc.find_many(select={"slug": True, "body": True, "version": True}) == [
        {"slug": "a", "body": "x", "version": 1}]
    assert await orm.plain.count() == 0


def test_schema_rejects_two_version_fields() -> None:
    with pytest.raises(SchemaError) as e:
        define_schema(m=model(table="m", fields={"id": f.id(), "a": f.version(), "b": f.version()}))
    assert str(e.value) == 'Model "m" declares more than one version field: a, b.'


async def test_twenty_concurrent_writers_no_lost_update(make_orm) -> None:
    orm = await make_orm(schema)
    d = await orm.doc.create(data={"slug": "hot", "body": "x"})
    winners: list[int] = []
    conflicts = 0

    async def writer() -> None:
        nonlocal conflicts
        while True:
            cur = await orm.doc.find_unique(where={"id": d["id"]})
            try:
                await orm.doc.update(where={"id": d["id"]}, data={"hits": cur["hits"] + 1},
                                     expected_version=cur["version"])
            except VersionConflict:
                conflicts += 1
                await asyncio.sleep(0)
                continue
            winners.append(cur["version"])
            return

    await asyncio.gather(*(writer() for _ in range(20)))
    assert sorted(winners) == list(range(1, 21))  # exactly one winner per version
    final = await orm.doc.find_unique(where={"id": d["id"]})
    assert (final["hits"], final["version"]) == (20, 21)  # no lost update
