"""Helpers for the D/E/F/I reliability cases (retries, error matrix, schema changes, load,
properties): backend parameters, a fresh ORM per test, raw SQL on an ORM connection, and an
admin connection that is never pooled (to kill sessions and inspect locks).

Kept separate from the shared harness (``conftest.py`` / ``harness.py``) so these files run on
their own; every ORM opened here is closed and its database dropped on exit.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Sequence

import pytest

from farmorm import Orm, Schema, create_orm
from farmorm.runtime import engine_of
from farmorm.setup import push_schema
from farmorm.testing.databases import TestDatabase, _mysql_args, server_url

from ..conftest import backend_problem, selected_backends
from .harness import assert_clean

SQL = ("sqlite", "postgres", "mysql")
ALL = ("sqlite", "postgres", "mysql", "mongo")


def backend_params(*wanted: str) -> list[Any]:
    """``pytest.param`` per wanted backend, skipped (with the reason) when it is not selected or usable."""
    chosen = selected_backends()
    params = []
    for name in wanted:
        marks: list[Any] = []
        if name not in chosen:
            marks.append(pytest.mark.skip(reason=f"{name} not selected (FARMORM_BACKENDS)"))
        else:
            problem = backend_problem(name)
            if problem:
                marks.append(pytest.mark.skip(reason=problem))
        params.append(pytest.param(name, id=name, marks=marks))
    return params


def real_mongo() -> bool:
    import os

    return bool(os.environ.get("FARMORM_MONGO_URL"))


@asynccontextmanager
async def fresh_orm(backend: str, schema: Schema, *, push: Schema | None = None,
                    **options: Any) -> AsyncIterator[tuple[Orm, str]]:
    """``(orm, url)`` on a new database with ``push`` (default ``schema``) pushed; dropped afterwards."""
    db = TestDatabase(backend)
    url = await db.create()
    orm: Orm | None = None
    try:
        if push is not None:
            pusher = await create_orm(push, url)
            try:
                await push_schema(push, pusher)
            finally:
                await pusher.close()
        orm = await create_orm(schema, url, **options)
        if push is None:
            await push_schema(schema, orm)
        yield orm, url
        await assert_clean(orm)  # the shared harness's pool check: nothing left checked out
    finally:
        if orm is not None:
            await orm.close()
        await db.drop()


async def raw(orm: Orm, sql: str, kind: str = "rows") -> Any:
    """Run raw SQL on one of the ORM's connections (the running transaction's inside one)."""
    async with engine_of(orm).scope(write=True) as conn:
        conn.app_sql()  # the app's own SQL, as orm.raw runs it (the release resets the session)
        result = await conn.execute(sql, (), kind)  # type: ignore[attr-defined]
    return list(result.rows) if kind == "rows" else result.rowcount


def sqlite_path(url: str) -> str:
    return url.split("sqlite:///", 1)[1]


class Admin:
    """One raw, unpooled connection to the test database: kill sessions, run DDL, read locks."""

    def __init__(self, backend: str, url: str) -> None:
        self.backend = backend
        self.url = url
        self.conn: Any = None

    async def __aenter__(self) -> Admin:
        if self.backend == "postgres":
            import asyncpg

            self.conn = await asyncpg.connect(self.url)
        elif self.backend == "mysql":
            import aiomysql

            self.conn = await aiomysql.connect(**_mysql_args(self.url), charset="utf8mb4")
        elif self.backend == "sqlite":
            import aiosqlite

            self.conn = await aiosqlite.connect(sqlite_path(self.url), isolation_level=None, timeout=10)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        if self.conn is None:
            return
        if self.backend == "mysql":
            self.conn.close()
        else:
            await self.conn.close()

    async def execute(self, sql: str, *args: Any) -> None:
        if self.backend == "postgres":
            await self.conn.execute(sql, *args)
        elif self.backend == "mysql":
            async with self.conn.cursor() as cur:
                await cur.execute(sql, args or None)
        else:
            await self.conn.execute(sql, args)

    async def fetch(self, sql: str, *args: Any) -> list[Sequence[Any]]:
        if self.backend == "postgres":
            return [tuple(r) for r in await self.conn.fetch(sql, *args)]
        if self.backend == "mysql":
            async with self.conn.cursor() as cur:
                await cur.execute(sql, args or None)
                return list(await cur.fetchall())
        return list(await self.conn.execute_fetchall(sql, args))

    async def kill_other_sessions(self) -> int:
        """Terminate every other session on this database; returns how many were killed."""
        if self.backend == "postgres":
            rows = await self.fetch(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()")
            return len(rows)
        if self.backend == "mysql":
            db = self.url.rsplit("/", 1)[1]
            ids = await self.fetch(
                "SELECT id FROM information_schema.processlist WHERE db = %s AND id <> CONNECTION_ID()", db)
            killed = 0
            for (pid,) in ids:
                try:
                    await self.execute(f"KILL CONNECTION {int(pid)}")
                    killed += 1
                except Exception:  # noqa: BLE001 - it may have ended by itself
                    pass
            return killed
        raise NotImplementedError(self.backend)


def server_admin_url(backend: str) -> str:
    return server_url(backend)


async def gather_outcomes(*coros: Any) -> list[Any]:
    """``asyncio.gather(..., return_exceptions=True)`` that still propagates cancellation."""
    return list(await asyncio.gather(*coros, return_exceptions=True))
