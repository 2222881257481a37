"""Adopting farmorm on a database it did not create: datetime columns made BY HAND with the
types other tools use (PostgreSQL ``timestamp`` and ``timestamptz``, MySQL ``DATETIME`` and
``TIMESTAMP``, SQLite text such as ``CURRENT_TIMESTAMP`` writes). ``find``, ``create``, ``update``
and ``create_many`` work on each, and every value comes back as an aware UTC datetime equal to
the one written (whole seconds where the column keeps no more).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from farmorm import create_orm, define_schema, model
from farmorm import fields as f

from .conftest import database_url

pytest.importorskip("sqlalchemy")

UTC = dt.timezone.utc

events = define_schema(
    event=model(
        table="legacy_events",
        fields={"id": f.numeric_id(), "naive_at": f.datetime(), "aware_at": f.datetime().nullable()},
    )
)

#: per dialect: (the hand-made table, a row written by another tool, what farmorm reads from it)
TABLES = {
    "postgres": (
        "CREATE TABLE legacy_events (id bigint PRIMARY KEY, naive_at timestamp NOT NULL, aware_at timestamptz)",
        "INSERT INTO legacy_events VALUES (1, '2026-01-02 03:04:05.123456', '2026-01-02 03:04:05.123456+00')",
    ),
    "mysql": (
        "CREATE TABLE legacy_events (id BIGINT PRIMARY KEY, naive_at DATETIME NOT NULL, aware_at TIMESTAMP NULL)",
        "INSERT INTO legacy_events VALUES (1, '2026-01-02 03:04:05', '2026-01-02 03:04:05')",
    ),
    "sqlite": (
        "CREATE TABLE legacy_events (id INTEGER PRIMARY KEY, naive_at TEXT NOT NULL, aware_at TEXT)",
        "INSERT INTO legacy_events VALUES (1, '2026-01-02 03:04:05', '2026-01-02T03:04:05Z')",
    ),
}


async def run_sql(url: str, *statements: str) -> None:
    import sqlalchemy as sa
    from sqlalchemy.ext.asyncio import create_async_engine

    from farmorm.migrations.urls import sqlalchemy_url

    engine = create_async_engine(sqlalchemy_url(url), poolclass=sa.NullPool)
    try:
        async with engine.begin() as conn:
            if engine.dialect.name in ("mysql", "mariadb"):
                await conn.execute(sa.text("SET time_zone = '+00:00'"))
            for stmt in statements:
                await conn.execute(sa.text(stmt))
    finally:
        await engine.dispose()


def whole_seconds(orm: Any) -> bool:
    return orm.driver.dialect == "mysql"  # DATETIME / TIMESTAMP without (6) keep whole seconds


async def test_datetime_columns_made_by_hand(make_orm, backend):
    base = await make_orm(define_schema(seed=model(table="seed", fields={"id": f.id()})))
    dialect = base.driver.dialect
    if dialect is None:
        pytest.skip("schemaless backend: no column types to adopt")
    url = database_url(base)
    await run_sql(url, *TABLES[dialect])
    orm = await create_orm(events, url)
    try:
        # a row another tool wrote reads back aware, in UTC
        first = await orm.event.find_unique(where={"id": 1})
        hand_micro = 123456 if dialect == "postgres" else 0  # MySQL DATETIME, SQLite CURRENT_TIMESTAMP text
        assert first["naive_at"] == dt.datetime(2026, 1, 2, 3, 4, 5, hand_micro, tzinfo=UTC)
        assert first["naive_at"].tzinfo is UTC and first["aware_at"].tzinfo is UTC

        micro = 0 if whole_seconds(orm) else 654321
        when = dt.datetime(2026, 5, 6, 7, 8, 9, micro, tzinfo=UTC)
        other_zone = dt.timezone(dt.timedelta(hours=5, minutes=30))
        made = await orm.event.create(data={"id": 2, "naive_at": when, "aware_at": when.astimezone(other_zone)})
        assert (made["naive_at"], made["aware_at"]) == (when, when)
        again = await orm.event.find_unique(where={"id": 2})
        assert (again["naive_at"], again["aware_at"]) == (when, when)
        assert again["naive_at"].tzinfo is UTC

        later = when + dt.timedelta(days=1)
        await orm.event.update(where={"id": 2}, data={"naive_at": later, "aware_at": None})
        assert (await orm.event.find_unique(where={"id": 2}))["naive_at"] == later

        await orm.event.create_many(data=[
            {"id": 3, "naive_at": when, "aware_at": when},
            {"id": 4, "naive_at": when - dt.timedelta(hours=1), "aware_at": when},
        ])
        # filters and ordering compare instants, whatever the column type
        rows = await orm.event.find_many(where={"naive_at": {"gte": when - dt.timedelta(hours=1)}},
                                         order_by={"naive_at": "asc"}, select={"id": True})
        assert [r["id"] for r in rows] == [4, 3, 2]
        assert await orm.event.count(where={"naive_at": {"in": [when, later]}}) == 2
        assert await orm.event.count(where={"aware_at": when}) == 2
    finally:
        await orm.close()
