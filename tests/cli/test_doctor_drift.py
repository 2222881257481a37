"""``db doctor`` (``farmorm.migrations.compare.diff_database``) sees type precision and collation drift.

Tables made by hand, the way another tool or an older DDL script made them: ``DATETIME`` instead
of ``DATETIME(6)``, the server's case-insensitive collation, PostgreSQL ``timestamp(0)`` instead of
``timestamptz``, ``numeric`` without digits. Each must be reported with the types spelled as the
database spells them, and a database ``push_schema`` made must report nothing.
"""

from __future__ import annotations

import pytest

from farmorm import define_schema, model
from farmorm import fields as f
from farmorm.migrations.compare import diff_database
from farmorm.setup import push_schema

from .conftest import require

pytest.importorskip("alembic")

schema = define_schema(
    user=model(
        table="users",
        fields={
            "id": f.id(),
            "email": f.string().unique(),
            "created_at": f.datetime(),
            "balance": f.decimal(10, 2),
        },
    )
)


async def test_a_pushed_database_has_no_drift(database_url: str, sql_backend: str) -> None:
    await push_schema(schema, database_url)
    assert await diff_database(schema, database_url) == []


async def test_postgres_timestamp_without_time_zone_and_precision_are_reported() -> None:
    require("postgres")
    import asyncpg

    from farmorm.testing.databases import TestDatabase

    db = TestDatabase("postgres")
    url = await db.create()
    try:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(
                'CREATE TABLE users (id text PRIMARY KEY, email text NOT NULL, created_at timestamp(0) NOT NULL, '
                'balance numeric NOT NULL, CONSTRAINT users_email_unique UNIQUE (email))'
            )
        finally:
            await conn.close()
        lines = await diff_database(schema, url)
    finally:
        await db.drop()
    assert ("type mismatch on users.created_at: database has TIMESTAMP(0) WITHOUT TIME ZONE, "
            "schema wants TIMESTAMP WITH TIME ZONE") in lines
    assert "type mismatch on users.balance: database has NUMERIC, schema wants NUMERIC(10, 2)" in lines
    assert len(lines) == 2, lines


async def test_mysql_datetime_precision_and_collation_are_reported() -> None:
    require("mysql")
    import aiomysql

    from farmorm.testing.databases import TestDatabase, _mysql_args

    db = TestDatabase("mysql")
    url = await db.create()
    try:
        conn = await aiomysql.connect(**_mysql_args(url))
        try:
            async with conn.cursor() as cur:
                await cur.execute(
                    "CREATE TABLE users (id VARCHAR(191) COLLATE utf8mb4_nopad_bin PRIMARY KEY, "
                    "email VARCHAR(191) COLLATE utf8mb4_general_ci NOT NULL, created_at DATETIME NOT NULL, "
                    "balance DECIMAL(10,2) NOT NULL, CONSTRAINT users_email_unique UNIQUE (email)) "
                    "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin"
                )
        finally:
            conn.close()
        lines = await diff_database(schema, url)
    finally:
        await db.drop()
    assert "type mismatch on users.created_at: database has DATETIME, schema wants DATETIME(6)" in lines
    assert ("collation mismatch on users.email: database has utf8mb4_general_ci, "
            "schema wants utf8mb4_nopad_bin") in lines


async def test_foreign_key_actions_and_string_lengths_round_trip_through_alembic(database_url: str, sql_backend: str) -> None:
    """push_schema and the SQLAlchemy metadata agree on ON DELETE / ON UPDATE and varchar(n):
    the database reflects them and Alembic's comparison finds no drift."""
    import sqlalchemy as sa
    from sqlalchemy.ext.asyncio import create_async_engine

    from farmorm.generators.sqlalchemy import to_sqlalchemy_metadata
    from farmorm.migrations.urls import sqlalchemy_url

    from ..conformance.test_references import blog

    await push_schema(blog, database_url)
    assert await diff_database(blog, database_url) == []
    engine = create_async_engine(sqlalchemy_url(database_url), poolclass=sa.NullPool)
    try:
        async with engine.connect() as conn:
            fks = await conn.run_sync(lambda c: sa.inspect(c).get_foreign_keys("posts"))
            handle = await conn.run_sync(lambda c: {x["name"]: x["type"] for x in sa.inspect(c).get_columns("authors")})
    finally:
        await engine.dispose()
    by_column = {fk["constrained_columns"][0]: fk.get("options", {}) for fk in fks}
    assert by_column["author_id"].get("ondelete", "").upper() == "CASCADE"
    assert by_column["author_id"].get("onupdate", "").upper() == "CASCADE"
    assert by_column["editor_id"].get("ondelete", "").upper() == "SET NULL"
    if sql_backend != "sqlite":
        assert getattr(handle["handle"], "length", None) == 12
    md = to_sqlalchemy_metadata(blog, dialect="postgres")
    fk = next(iter(md.tables["posts"].c.author_id.foreign_keys))
    assert (fk.ondelete, fk.onupdate) == ("CASCADE", "CASCADE")
