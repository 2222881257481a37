"""Throwaway test databases per backend: create a fresh one, hand out its URL, drop it afterwards.

Used by farmorm's own behaviour suite and usable by apps (``TestDatabase``). Server URLs come
from the environment (``FARMORM_POSTGRES_URL``, ``FARMORM_MYSQL_URL``, ``FARMORM_MONGO_URL``) with
the local servers as defaults.
"""

from __future__ import annotations

import os
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

DEFAULT_URLS = {
    "postgres": "postgresql://postgres@127.0.0.1:5432/postgres",
    "mysql": "mysql://root@127.0.0.1:3306/",
}


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
        self.backend = backend
        self.name = unique_name()
        self.url: str = ""
        self._tmpdir: tempfile.TemporaryDirectory[str] | None = None

    async def create(self) -> str:
        if self.backend == "sqlite":
            self._tmpdir = tempfile.TemporaryDirectory(prefix="farmorm-")
            self.url = f"sqlite:///{Path(self._tmpdir.name) / 'test.db'}"
        elif self.backend == "postgres":
            import asyncpg

            conn = await asyncpg.connect(server_url("postgres"))
            try:
                await conn.execute(f'CREATE DATABASE "{self.name}"')
            finally:
                await conn.close()
            self.url = _with_database(server_url("postgres"), self.name)
        elif self.backend == "mysql":
            import aiomysql

            conn = await aiomysql.connect(**_mysql_args(server_url("mysql")))
            try:
                async with conn.cursor() as cur:
                    await cur.execute(
                        f"CREATE DATABASE `{self.name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
                    )
            finally:
                conn.close()
            self.url = _with_database(server_url("mysql"), self.name)
        elif self.backend == "mongo":
            base = os.environ.get("FARMORM_MONGO_URL")
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

    async def drop(self) -> None:
        if self.backend == "sqlite":
            if self._tmpdir is not None:
                self._tmpdir.cleanup()
        elif self.backend == "postgres":
            import asyncpg

            conn = await asyncpg.connect(server_url("postgres"))
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            finally:
                await conn.close()
        elif self.backend == "mysql":
            import aiomysql

            conn = await aiomysql.connect(**_mysql_args(server_url("mysql")))
            try:
                async with conn.cursor() as cur:
                    await cur.execute(f"DROP DATABASE IF EXISTS `{self.name}`")
            finally:
                conn.close()
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


async def reachable(backend: str) -> str | None:
    """None when ``backend`` can be used here, else the reason it cannot."""
    if backend == "sqlite":
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
        return f"{backend} server at {server_url(backend)} is not usable: {type(exc).__name__}: {exc}"
    return None
