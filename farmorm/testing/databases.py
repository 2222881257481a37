"""Throwaway test databases per backend: create a fresh one, hand out its URL, drop it afterwards.

Used by farmorm's own behaviour suite and usable by apps (``TestDatabase``). Server URLs come
from the environment (``FARMORM_POSTGRES_URL``, ``FARMORM_MYSQL_URL``, ``FARMORM_MONGO_URL``) with
the local servers as defaults.

Besides the backends (``sqlite``, ``postgres``, ``mysql``, ``mongo``: ``create()`` returns a URL)
there are **runtime targets** named ``<backend>-<runtime>`` (``TARGETS``): ``create()`` then opens
the raw client an app would hold on that fresh database (an asyncpg / psycopg / aiomysql / asyncmy
pool, or a SQLAlchemy ``AsyncEngine``) and returns it, and ``drop()`` closes it first. The URL
stays in ``url``.

Every database library (and mongomock) is an optional dependency, one extra each: a library is
imported inside the function that uses its backend, so the module works with only some installed.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

DEFAULT_URLS = {
    "postgres": "postgresql://postgres@127.0.0.1:5432/postgres",
    "mysql": "mysql://root@127.0.0.1:3306/",
}


#: runtime target -> (backend, what create() hands out)
TARGETS: dict[str, tuple[str, str]] = {
    "postgres-asyncpg": ("postgres", "asyncpg"),
    "postgres-psycopg": ("postgres", "psycopg"),
    "mysql-aiomysql": ("mysql", "aiomysql"),
    "mysql-asyncmy": ("mysql", "asyncmy"),
    "sqlite-sqlalchemy": ("sqlite", "sqlalchemy"),
    "postgres-sqlalchemy": ("postgres", "sqlalchemy"),
    "mysql-sqlalchemy": ("mysql", "sqlalchemy"),
    # mongomock-motor's AsyncMongoMockClient()[db], the usual test double of Motor apps (in-memory,
    # whatever FARMORM_MONGO_URL says); it shares the in-memory server of the target's URL
    "mongo-motor-mock": ("mongo", "mongomock-motor"),
}
#: the client library each runtime needs installed
RUNTIME_MODULES = {"asyncpg": "asyncpg", "psycopg": "psycopg_pool", "aiomysql": "aiomysql",
                   "asyncmy": "asyncmy", "sqlalchemy": "sqlalchemy.ext.asyncio", "mongomock-motor": "mongomock_motor"}


def base_backend(name: str) -> str:
    """The backend of a backend or runtime target name (``postgres-psycopg`` -> ``postgres``)."""
    return TARGETS[name][0] if name in TARGETS else name


def server_url(backend: str) -> str:
    """The admin URL of a backend's server (environment override first)."""
    return os.environ.get(f"FARMORM_{backend.upper()}_URL", DEFAULT_URLS.get(backend, ""))


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def unique_name(prefix: str = "farmorm_t") -> str:
    return f"{prefix}_{int(time.time())}_{secrets.token_hex(4)}"


class TestDatabase:
    """A fresh database on ``backend``; ``url`` after ``create()``, gone after ``drop()``."""

    __test__ = False  # not a pytest test class

    def __init__(self, backend: str) -> None:
        self.target = backend
        self.backend = base_backend(backend)
        self.runtime = TARGETS[backend][1] if backend in TARGETS else None
        self.name = unique_name()
        self.url: str = ""
        self.client: Any = None
        self._tmpdir: tempfile.TemporaryDirectory[str] | None = None

    async def create(self) -> Any:
        """Create the database; the URL for a backend, the opened raw client for a runtime target."""
        url = await self._create()
        if self.runtime is None:
            return url
        try:
            self.client = await open_client(self.backend, self.runtime, url)
        except BaseException:
            await self._drop()
            raise
        return self.client

    async def drop(self) -> None:
        """Close the raw client of a runtime target, then drop the database."""
        client, self.client = self.client, None
        try:
            if client is not None:
                await close_client(self.runtime or "", client)
        finally:
            await self._drop()

    async def _create(self) -> str:
        if self.backend == "sqlite":
            self._tmpdir = tempfile.TemporaryDirectory(prefix="farmorm-")
            self.url = f"sqlite:///{Path(self._tmpdir.name) / 'test.db'}"
        elif self.backend in ("postgres", "mysql"):
            await create_server_database(self.backend, server_url(self.backend), self.name)
            self.url = _with_database(server_url(self.backend), self.name)
        elif self.backend == "mongo":
            base = os.environ.get("FARMORM_MONGO_URL") if self.runtime != "mongomock-motor" else None
            if base:  # a real server: a fresh database on it (Mongo creates it on first write)
                from pymongo import AsyncMongoClient

                probe: Any = AsyncMongoClient(base, serverSelectionTimeoutMS=3000)
                try:
                    await probe.admin.command("ping")
                finally:
                    await probe.close()
                self.url = _with_database(base, self.name)
            else:  # no server: mongomock, one in-memory store per test database
                import farmorm.testing.mongomock_async  # noqa: F401 - registers the adapter

                self.url = f"mongomock://{self.name}/{self.name}"
        else:
            raise ValueError(f"Unknown backend {self.backend!r}")
        return self.url

    async def _drop(self) -> None:
        if self.backend == "sqlite":
            if self._tmpdir is not None:
                self._tmpdir.cleanup()
        elif self.backend in ("postgres", "mysql"):
            await drop_server_database(self.backend, server_url(self.backend), self.name)
        elif self.backend == "mongo":
            if self.url.startswith("mongomock:"):
                from farmorm.testing.mongomock_async import drop_store

                drop_store(self.url)
            elif self.url:
                from pymongo import AsyncMongoClient

                client: Any = AsyncMongoClient(server_url("mongo"))
                try:
                    await client.drop_database(self.name)
                finally:
                    await client.close()


async def create_server_database(backend: str, server: str, name: str) -> None:
    """``CREATE DATABASE name`` on the PostgreSQL or MySQL server at ``server`` (utf8mb4, binary
    collation on MySQL, as farmorm's columns expect)."""
    await _on_server(backend, server, f'CREATE DATABASE "{name}"',
                     f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")


async def drop_server_database(backend: str, server: str, name: str) -> None:
    """``DROP DATABASE IF EXISTS name`` on the PostgreSQL (forcing out sessions) or MySQL server."""
    await _on_server(backend, server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
                     f"DROP DATABASE IF EXISTS `{name}`")


async def _on_server(backend: str, server: str, pg_sql: str, mysql_sql: str) -> None:
    """Run one admin statement on a fresh, unpooled connection to the server's admin database."""
    if backend == "postgres":
        import asyncpg

        conn = await asyncpg.connect(_with_database(server, "postgres"))
        try:
            await conn.execute(pg_sql)
        finally:
            await conn.close()
    elif backend == "mysql":
        import aiomysql

        my = await aiomysql.connect(**_mysql_args(_with_database(server, "")))
        try:
            async with my.cursor() as cur:
                with warnings.catch_warnings():  # a note such as "database doesn't exist" on DROP
                    warnings.simplefilter("ignore")
                    await cur.execute(mysql_sql)
        finally:
            my.close()
    else:
        raise ValueError(f"{backend!r} is not a SQL server backend")


def _mysql_args(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    args: dict[str, Any] = {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 3306,
        "user": parts.username or "root",
        "password": parts.password or "",
        "autocommit": True,
    }
    db = parts.path.lstrip("/")
    if db:
        args["db"] = db
    return args


async def open_client(backend: str, runtime: str, url: str) -> Any:
    """The raw client an app would hold for ``url`` on ``runtime`` (a pool, or an AsyncEngine)."""
    if runtime == "asyncpg":
        import asyncpg

        return await asyncpg.create_pool(url, min_size=1, max_size=10)
    if runtime == "psycopg":
        from psycopg_pool import AsyncConnectionPool

        pool: Any = AsyncConnectionPool(url, open=False, min_size=1, max_size=10)  # app default: not autocommit
        await pool.open(wait=True, timeout=10)
        return pool
    if runtime == "aiomysql":
        import aiomysql

        return await aiomysql.create_pool(**_mysql_args(url), charset="utf8mb4", maxsize=10)
    if runtime == "asyncmy":
        import asyncmy

        return await asyncmy.create_pool(**_mysql_args(url), charset="utf8mb4", maxsize=10)
    if runtime == "mongomock-motor":
        from mongomock_motor import AsyncMongoMockClient

        from .mongomock_async import store_of

        parts = urlsplit(url)
        return AsyncMongoMockClient(mock_mongo_client=store_of(url))[parts.path.lstrip("/")]
    if runtime == "sqlalchemy":
        from sqlalchemy.ext.asyncio import create_async_engine

        scheme = {"sqlite": "sqlite+aiosqlite", "postgres": "postgresql+asyncpg", "mysql": "mysql+aiomysql"}[backend]
        engine_url = scheme + ":" + url.split(":", 1)[1]
        if backend == "mysql":
            engine_url += "?charset=utf8mb4"
        return create_async_engine(engine_url)
    raise ValueError(f"Unknown runtime {runtime!r}")


async def close_client(runtime: str, client: Any) -> None:
    """Close what ``open_client`` opened."""
    if runtime == "mongomock-motor":
        return  # in memory: the store goes with drop()
    if runtime == "sqlalchemy":
        await client.dispose()
    elif runtime in ("aiomysql", "asyncmy"):
        client.close()
        await client.wait_closed()
    else:
        await client.close()


async def reachable(backend: str) -> str | None:
    """None when ``backend`` can be used here, else the reason it cannot."""
    if backend in TARGETS:
        module = RUNTIME_MODULES[TARGETS[backend][1]]
        try:
            if importlib.util.find_spec(module) is None:
                return f"{module} is not installed"
        except ImportError as exc:
            return f"{module} is not installed ({exc})"
    elif backend == "sqlite":
        try:
            import aiosqlite  # noqa: F401
        except ImportError as exc:
            return f"aiosqlite is not installed ({exc})"
        return None
    try:
        db = TestDatabase(backend)
        await db.create()
        await db.drop()
    except Exception as exc:  # noqa: BLE001 - any failure means "not usable", with the reason
        return f"{backend} server at {server_url(base_backend(backend))} is not usable: {type(exc).__name__}: {exc}"
    return None
