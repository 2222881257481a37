"""Statements per operation, per backend: the deterministic guard beside the timing benchmarks.

Each test counts the query events (``orm.on_query``) one operation sends to the database,
transaction control (``BEGIN``/``COMMIT``) included: a round trip is a round trip. The budget
(issue #21): a read by id 1, an include 1 per relation level, create 1, update 1 (at most 2 on
MariaDB, which has no ``UPDATE … RETURNING``), create_many 1 per chunk (plus ``BEGIN``/``COMMIT``
when it takes more than one chunk, so the chunks are atomic). Nothing here is timed.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from farmorm import QueryEvent, define_schema, has_many, belongs_to, model
from farmorm import fields as f

schema = define_schema(
    author=model(
        table="sc_authors",
        fields={"id": f.id(type="integer"), "name": f.string(), "active": f.boolean(),
                "handle": f.string().unique().nullable()},
        relations={"books": has_many("book", foreign_key="author_id")},
    ),
    book=model(
        table="sc_books",
        fields={
            "id": f.id(type="integer"),
            "author_id": f.integer().references("author.id"),
            "title": f.string(),
            "body": f.string(),
        },
        relations={"author": belongs_to("author", foreign_key="author_id"),
                   "chapters": has_many("chapter", foreign_key="book_id")},
    ),
    chapter=model(
        table="sc_chapters",
        fields={"id": f.id(type="integer"), "book_id": f.integer().references("book.id"), "title": f.string()},
        relations={"book": belongs_to("book", foreign_key="book_id")},
    ),
    #: wide rows, so that a few hundred of them pass the smallest bind-parameter limit
    wide=model(table="sc_wide", fields={"id": f.id(type="integer"), **{f"c{i}": f.integer() for i in range(39)}}),
)
WIDE_ROWS = 800  # x 40 columns = 32,000 values: more than any backend's chunk

#: MariaDB (10.5+) has INSERT … RETURNING but no UPDATE … RETURNING: an update is UPDATE … LIMIT 1 and
#: a SELECT by a key the write leaves known: the where's id or unique key, or the id the UPDATE
#: reports (LAST_INSERT_ID(id)) for any other where on a model with an integer id


async def seeded(make_orm: Any) -> Any:
    orm = await make_orm(schema)
    await orm.author.create_many(data=[{"id": i, "name": f"a{i}", "active": i % 2 == 0} for i in range(1, 6)])
    await orm.book.create_many(data=[{"id": (a - 1) * 3 + k + 1, "author_id": a, "title": f"b{k}", "body": "text"}
                                     for a in range(1, 6) for k in range(3)])
    await orm.chapter.create_many(data=[{"id": b * 10 + k, "book_id": b, "title": f"c{k}"}
                                        for b in range(1, 16) for k in range(2)])
    return orm


class Counter:
    """The statements sent while the ``with`` block runs."""

    def __init__(self, orm: Any) -> None:
        self.orm = orm
        self.events: list[QueryEvent] = []
        self._stop: Any = None

    def __enter__(self) -> list[QueryEvent]:
        self._stop = self.orm.on_query(self.events.append)
        return self.events

    def __exit__(self, *exc: object) -> None:
        self._stop()


def _shown(events: list[QueryEvent]) -> str:
    return " | ".join(e.statement[:60] for e in events)


async def test_find_unique_by_id_is_one_statement(make_orm: Any) -> None:
    orm = await seeded(make_orm)
    with Counter(orm) as events:
        found = await orm.author.find_unique(where={"id": 3})
    assert found is not None and found["name"] == "a3"
    assert len(events) == 1, _shown(events)


async def test_find_many_is_one_statement(make_orm: Any) -> None:
    orm = await seeded(make_orm)
    with Counter(orm) as events:
        rows = await orm.author.find_many(where={"active": True}, order_by={"id": "asc"}, take=10)
    assert [r["id"] for r in rows] == [2, 4]
    assert len(events) == 1, _shown(events)


async def test_include_is_one_statement_per_level(make_orm: Any) -> None:
    orm = await seeded(make_orm)
    with Counter(orm) as events:
        rows = await orm.author.find_many(where={"id": {"lte": 2}}, include={"books": True})
    assert sorted(len(r["books"]) for r in rows) == [3, 3]
    assert len(events) == 2, _shown(events)
    with Counter(orm) as events:
        rows = await orm.author.find_many(where={"id": {"lte": 2}}, include={"books": {"include": {"chapters": True}}})
    assert sum(len(b["chapters"]) for r in rows for b in r["books"]) == 12
    assert len(events) == 3, _shown(events)


async def test_count_is_one_statement(make_orm: Any) -> None:
    orm = await seeded(make_orm)
    with Counter(orm) as events:
        assert await orm.author.count(where={"active": True}) == 2
    assert len(events) == 1, _shown(events)


async def test_create_is_one_statement(make_orm: Any) -> None:
    orm = await seeded(make_orm)
    with Counter(orm) as events:
        made = await orm.author.create(data={"id": 100, "name": "new", "active": True})
    assert made == {"id": 100, "name": "new", "active": True, "handle": None}
    assert len(events) == 1, _shown(events)
    with Counter(orm) as events:
        made = await orm.author.create(data={"id": 101, "name": "lean", "active": False}, select={"id": True})
    assert made == {"id": 101}
    assert len(events) == 1, _shown(events)


async def test_update_is_one_statement(make_orm: Any, backend: str) -> None:
    orm = await seeded(make_orm)
    with Counter(orm) as events:
        changed = await orm.author.update(where={"id": 2}, data={"name": "renamed"})
    assert changed is not None and changed["name"] == "renamed"
    assert len(events) <= (2 if backend == "mysql" else 1), _shown(events)


async def test_update_by_another_where_is_one_statement(make_orm: Any, backend: str) -> None:
    orm = await seeded(make_orm)
    await orm.author.update(where={"id": 4}, data={"handle": "h4"})
    for where in ({"handle": "h4"}, {"name": "a4", "active": True}):
        with Counter(orm) as events:
            changed = await orm.author.update(where=where, data={"name": "renamed"})
        assert changed == {"id": 4, "name": "renamed", "active": True, "handle": "h4"}
        assert len(events) <= (2 if backend == "mysql" else 1), _shown(events)
        await orm.author.update(where={"id": 4}, data={"name": "a4"})
    with Counter(orm) as events:
        assert await orm.author.update(where={"name": "nobody"}, data={"name": "renamed"}) is None
    assert len(events) == 1, _shown(events)


async def test_update_many_by_id_is_one_statement(make_orm: Any) -> None:
    orm = await seeded(make_orm)
    with Counter(orm) as events:
        assert await orm.author.update_many(where={"id": 2}, data={"name": "renamed"}) == 1
    assert len(events) == 1, _shown(events)


async def test_create_many_in_one_chunk_is_one_statement(make_orm: Any) -> None:
    orm = await seeded(make_orm)
    with Counter(orm) as events:
        made = await orm.author.create_many(data=[{"id": 200 + i, "name": "m", "active": True} for i in range(50)])
    assert [r["id"] for r in made] == [200 + i for i in range(50)]
    assert len(events) == 1, _shown(events)
    with Counter(orm) as events:
        ids = await orm.author.create_many(data=[{"id": 300 + i, "name": "m", "active": True} for i in range(50)],
                                           select={"id": True})
    assert ids == [{"id": 300 + i} for i in range(50)]
    assert len(events) == 1, _shown(events)


async def test_create_many_is_one_statement_per_chunk(make_orm: Any, backend: str) -> None:
    """Enough rows to pass the smallest bind-parameter limit: every chunk is one INSERT, and the
    chunks run in one transaction (BEGIN + COMMIT), nothing else."""
    orm = await make_orm(schema)
    rows = [{"id": i, **{f"c{k}": i for k in range(39)}} for i in range(WIDE_ROWS)]
    with Counter(orm) as events:
        made = await orm.wide.create_many(data=rows, select={"id": True})
    assert made == [{"id": i} for i in range(WIDE_ROWS)]
    control = ("BEGIN", "COMMIT", "START", "START_TRANSACTION", "COMMIT_TRANSACTION")
    writes = [e for e in events if e.operation.upper() not in control]
    insert = "insert_many" if backend == "mongo" else "INSERT"
    assert all(e.operation == insert for e in writes), _shown(events)
    per_chunk = max(e.rows for e in writes)  # rows written (and returned) per statement
    assert sum(e.rows for e in writes) == len(rows)
    assert len(writes) == math.ceil(len(rows) / per_chunk) >= 2, _shown(events)
    assert len(events) - len(writes) <= 2, _shown(events)  # BEGIN and COMMIT around the chunks
