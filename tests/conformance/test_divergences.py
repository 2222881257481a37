"""Where the backends differ, and how farmorm evens it out (docs/backends.md names these tests).

Tests branch on ``orm.driver.dialect`` only for divergences that docs/backends.md documents; every
other assertion holds on every backend.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import anyio
import pytest

from farmorm import UniqueConstraintViolation, create_orm, define_schema, model
from farmorm import fields as f

from .auth import pluck
from .conftest import database_url

words = define_schema(
    word=model(
        table="words",
        fields={
            "id": f.id(),
            "text": f.string().unique(),
            "handle": f.string().nullable().unique(),
            "amount": f.decimal().nullable(),
            "data": f.json().nullable(),
        },
    )
)


async def texts(orm, where=None, order_by=None):
    return pluck(await orm.word.find_many(where=where, order_by=order_by or {"text": "asc"}), "text")


# --------------------------------------------------------------------------------------- text


async def test_text_ordering_is_code_point_order_except_on_postgres(make_orm):
    orm = await make_orm(words)
    values = ["b", "B", "a", "é", "A", "ab", "a b"]
    await orm.word.create_many(data=[{"text": v} for v in values])
    ordered = await texts(orm)
    if orm.driver.dialect == "postgres":
        # documented: PostgreSQL orders by the database collation ("database-default")
        import asyncpg

        conn = await asyncpg.connect(database_url(orm))
        try:
            expected = [r[0] for r in await conn.fetch("SELECT v FROM unnest($1::text[]) AS v ORDER BY v", values)]
        finally:
            await conn.close()
        assert ordered == expected
    else:
        assert ordered == sorted(values)  # code-point order: binary collations on SQLite and MySQL


async def test_trailing_spaces_are_significant(make_orm):
    orm = await make_orm(words)
    await orm.word.create_many(data=[{"text": "pad"}, {"text": "pad "}, {"text": "pad  "}])  # distinct unique keys
    assert await texts(orm, {"text": "pad"}) == ["pad"]
    assert await texts(orm, {"text": "pad "}) == ["pad "]
    assert await texts(orm, {"text": {"in": ["pad  "]}}) == ["pad  "]
    assert await orm.word.count(where={"text": {"gt": "pad"}}) == 2


async def test_insensitive_mode_folds_non_ascii_except_on_sqlite(make_orm):
    orm = await make_orm(words)
    await orm.word.create_many(data=[{"text": "École"}, {"text": "école"}, {"text": "ECOLE"}])
    ascii_fold = await texts(orm, {"text": {"eq": "ecole", "mode": "insensitive"}})
    assert ascii_fold == ["ECOLE"]  # ASCII folds everywhere
    found = await texts(orm, {"text": {"eq": "ÉCOLE", "mode": "insensitive"}})
    contains = await texts(orm, {"text": {"starts_with": "éco", "mode": "insensitive"}})
    if orm.driver.dialect == "sqlite":
        # documented: SQLite's lower() folds ASCII letters only, so "É" and "é" stay different
        assert found == ["École"]
        assert contains == ["école"]
    else:
        assert found == ["École", "école"]
        assert contains == ["École", "école"]


# ------------------------------------------------------------------------------------ decimals


async def test_decimal_filters_beyond_double_precision(make_orm):
    orm = await make_orm(words)
    a, b = Decimal("0.12345678901234567890"), Decimal("0.12345678901234567891")
    await orm.word.create_many(data=[{"text": "a", "amount": a}, {"text": "b", "amount": b}])
    assert [r["amount"] for r in await orm.word.find_many(order_by={"text": "asc"})] == [a, b]  # exact reads
    equal = await texts(orm, {"amount": a})
    greater = await texts(orm, {"amount": {"gt": a}})
    if orm.driver.dialect == "sqlite":
        # documented: SQLite compares decimals as REAL (about 15 significant digits) in filters
        assert (equal, greater) == (["a", "b"], [])
    else:
        assert (equal, greater) == (["a"], ["b"])


# ---------------------------------------------------------------------------------------- JSON


async def test_json_equality_ignores_key_order_everywhere_and_number_spelling_except_on_sqlite(make_orm):
    orm = await make_orm(words)
    await orm.word.create_many(data=[
        {"text": "ints", "data": {"b": [1, 2], "a": {"y": 1, "x": None}}},
        {"text": "float", "data": {"n": 1.0}},
    ])
    assert await texts(orm, {"data": {"a": {"x": None, "y": 1}, "b": [1, 2]}}) == ["ints"]
    assert await texts(orm, {"data": {"b": [2, 1], "a": {"x": None, "y": 1}}}) == []  # list order counts
    assert await texts(orm, {"data": {"n": 1.0}}) == ["float"]
    as_int = await texts(orm, {"data": {"n": 1}})
    if orm.driver.dialect == "sqlite":
        # documented: SQLite compares canonical JSON text, where 1 and 1.0 are spelled differently
        assert as_int == []
    else:
        assert as_int == ["float"]  # jsonb / JSON compare numbers by value


# -------------------------------------------------------------------------------------- upsert


async def test_upsert_colliding_on_another_unique_key(make_orm):
    # MySQL's ON DUPLICATE KEY UPDATE fires on whichever unique key collides; farmorm detects
    # that the lookup found no row and undoes the write, so every backend raises and changes nothing
    orm = await make_orm(words)
    other = await orm.word.create(data={"text": "taken", "handle": "h1"})
    with pytest.raises(UniqueConstraintViolation):
        await orm.word.upsert(where={"text": "new"}, create={"text": "new", "handle": "h1"},
                              update={"handle": "h2"})
    assert (await orm.word.find_unique(where={"id": other["id"]}))["handle"] == "h1"
    assert await orm.word.count(where={"text": "new"}) == 0
    # inside a transaction, the portable way to survive a caught error is a nested transaction
    # (a savepoint): only the upsert is undone, not the work before it
    async with orm.transaction() as tx:
        await tx.word.create(data={"text": "kept", "handle": "h3"})
        with pytest.raises(UniqueConstraintViolation):
            async with tx.transaction() as inner:
                await inner.word.upsert(where={"text": "new"}, create={"text": "new", "handle": "h1"},
                                        update={"handle": "h2"})
    assert (await orm.word.find_unique(where={"id": other["id"]}))["handle"] == "h1"
    assert await orm.word.count(where={"text": "kept"}) == 1


async def test_upsert_on_the_lookup_key_is_the_same_everywhere(make_orm):
    orm = await make_orm(words)
    first = await orm.word.upsert(where={"text": "w"}, create={"text": "w", "handle": "h1"}, update={"handle": "h2"})
    second = await orm.word.upsert(where={"text": "w"}, create={"text": "w", "handle": "h1"}, update={"handle": "h2"})
    assert (first["handle"], second["handle"], second["id"]) == ("h1", "h2", first["id"])
    assert await orm.word.count() == 1


# -------------------------------------------------------------------------------- transactions


async def test_concurrent_transactions_all_commit_and_take_turns_on_sqlite(make_orm):
    orm = await make_orm(words)
    events: list[str] = []
    orm.on_query(lambda e: events.append(e.statement.split()[0].upper()))

    async def writer(i: int) -> None:
        async with orm.transaction() as tx:
            await tx.word.create(data={"text": f"{i}-a"})
            await anyio.sleep(0.01)
            await tx.word.create(data={"text": f"{i}-b"})

    async with anyio.create_task_group() as tg:
        for i in range(4):
            tg.start_soon(writer, i)
    assert await orm.word.count() == 8
    if orm.driver.dialect == "sqlite":
        # documented: one writer at a time; a transaction holds the connection from BEGIN to COMMIT
        marks = [e for e in events if e in ("BEGIN", "COMMIT")]
        assert marks == ["BEGIN", "COMMIT"] * 4


async def test_sqlite_app_connection_in_legacy_transaction_mode(make_orm, backend):
    if backend != "sqlite":
        pytest.skip("documented SQLite behaviour: sqlite3's legacy transaction mode")
    import aiosqlite

    orm = await make_orm(words)
    path = Path(database_url(orm).split(":///", 1)[1])
    conn = await aiosqlite.connect(path)  # default isolation_level "": legacy implicit transactions
    try:
        app_orm = await create_orm(words, conn)
        await app_orm.word.create(data={"text": "outside"})
        assert not conn.in_transaction  # farmorm committed sqlite3's implicit transaction
        await app_orm.word.update_many(where={"text": "outside"}, data={"handle": "h"})
        with pytest.raises(RuntimeError):
            async with app_orm.transaction() as tx:
                await tx.word.create(data={"text": "rolled back"})
                raise RuntimeError
        await app_orm.close()
        # another connection sees the committed writes, and only those
        assert await texts(orm) == ["outside"]
        assert (await orm.word.find_unique(where={"text": "outside"}))["handle"] == "h"
    finally:
        await conn.close()


# ------------------------------------------------------------------------- MySQL 8 vs MariaDB


def test_mysql_8_and_mariadb_get_their_own_collation_and_json_equality():
    from farmorm_drivers.mysql.dialect import MysqlDialect, text_collation

    assert text_collation(mariadb=True) == "utf8mb4_nopad_bin"
    assert text_collation(mariadb=False) == "utf8mb4_0900_bin"
    assert MysqlDialect(mariadb=True).json_equals("c", "%s", False) == "JSON_EQUALS(c, %s) = 1"
    assert MysqlDialect(mariadb=False).json_equals("c", "%s", False) == "c = CAST(%s AS JSON)"
