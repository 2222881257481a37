"""The test database lifecycle behind the pytest plugin (and farmorm's own behaviour suite).

- :class:`WorkerDatabase`: one database per test process (per xdist worker), created once, its
  name suffixed with the worker id, dropped at the end; tests share it and are isolated by
  :func:`clean_database` (delete every row) or :func:`rolled_back` (a transaction never committed).
- :class:`FreshDatabases`: a brand-new database per call (``await fresh.orm(schema)``), for tests
  that need several schemas or a runtime target's raw client; all dropped by ``close()``.

pymongo and mongomock are optional dependencies: imported only where a MongoDB database is dropped.
"""

from __future__ import annotations

import asyncio
import os
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator
from urllib.parse import urlsplit

from ..runtime.orm import Orm, create_orm, engine_of
from ..schema.manifest import ModelMeta, Schema, dependency_order
from ..setup import push_schema
from .databases import (
    TestDatabase,
    _with_database,
    create_server_database,
    drop_server_database,
    server_url,
    unique_name,
)

#: backend names accepted instead of a URL (their server comes from FARMORM_<BACKEND>_URL)
BACKEND_NAMES = ("sqlite", "postgres", "mysql", "mongo")
MEMORY_URL = "sqlite:///:memory:"
DEFAULT_BASE_NAME = "farmorm_test"


def worker_id() -> str:
    """The xdist worker id (``gw0``, ``gw1``, ...) or ``main`` when tests run in one process."""
    return os.environ.get("PYTEST_XDIST_WORKER") or "main"


def backend_of(url: str) -> str:
    """``sqlite``, ``postgres``, ``mysql`` or ``mongo`` for a URL (or a backend name)."""
    if url in BACKEND_NAMES:
        return url
    scheme = url.split(":", 1)[0].lower().split("+", 1)[0]
    known = {"sqlite": "sqlite", "postgres": "postgres", "postgresql": "postgres", "mysql": "mysql",
             "mariadb": "mysql", "mongodb": "mongo", "mongomock": "mongo"}
    if scheme not in known:
        raise ValueError(
            f"Unsupported farmorm test URL {url!r}: use sqlite:///:memory:, sqlite:///file.db, postgresql://..., "
            "mysql://..., mongodb://... or a backend name (sqlite, postgres, mysql, mongo)."
        )
    return known[scheme]


class WorkerDatabase:
    """The database this test process uses: ``<base>_<worker>`` on the server of ``url``.

    ``url`` is a URL whose database name is the base name (default ``farmorm_test``), or a backend
    name for the local default server. ``sqlite:///:memory:`` means a new in-memory database per
    test (``in_memory``): nothing to create or drop."""

    __test__ = False

    def __init__(self, url: str = MEMORY_URL, worker: str | None = None) -> None:
        self.source = url
        self.backend = backend_of(url)
        self.worker = worker or worker_id()
        self.in_memory = url in (MEMORY_URL, "sqlite") or url.startswith("sqlite://:memory:")
        self._pushed: dict[tuple[Any, ...], Schema] = {}
        self.created = False
        if self.in_memory:
            self.name, self.url = ":memory:", MEMORY_URL
            return
        if url in BACKEND_NAMES:
            if url == "mongo" and not os.environ.get("FARMORM_MONGO_URL"):
                url = f"mongomock://farmorm_{self.worker}/{DEFAULT_BASE_NAME}"
            else:
                url = _with_database(server_url(url), DEFAULT_BASE_NAME)
        parts = urlsplit(url)
        if self.backend == "sqlite":
            path = Path(url.split(":///", 1)[1] if ":///" in url else parts.path)
            path = path.with_name(f"{path.stem}_{self.worker}{path.suffix or '.db'}")
            self.path: Path | None = path
            self.name = path.name
            self.url = f"sqlite:///{path}"
        else:
            self.path = None
            base = parts.path.lstrip("/") or DEFAULT_BASE_NAME
            self.name = f"{base}_{self.worker}"
            self.url = _with_database(url, self.name)
        self.server = url

    def __repr__(self) -> str:
        return f"<WorkerDatabase {self.backend} {self.name}>"

    async def create(self) -> None:
        """Create the database (dropping a leftover of an earlier crashed run first)."""
        if self.in_memory:
            return
        await self.drop()
        if self.backend in ("postgres", "mysql"):
            await create_server_database(self.backend, self.server, self.name)
        elif self.backend == "sqlite" and self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.created = True

    async def drop(self) -> None:
        """Drop the database (no error when it does not exist)."""
        self._pushed.clear()
        if self.in_memory:
            return
        if self.backend in ("postgres", "mysql"):
            await drop_server_database(self.backend, self.server, self.name)
        elif self.backend == "sqlite" and self.path is not None:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(str(self.path) + suffix).unlink(missing_ok=True)
        elif self.backend == "mongo":
            if self.url.startswith("mongomock:"):
                from .mongomock_async import drop_store

                drop_store(self.url)
            else:
                from pymongo import AsyncMongoClient

                client: Any = AsyncMongoClient(self.server, serverSelectionTimeoutMS=3000)
                try:
                    await client.drop_database(self.name)
                finally:
                    await client.close()
        self.created = False

    async def orm(self, schema: Schema) -> Orm:
        """An ORM on this database with ``schema`` pushed (once per worker; every test on memory)."""
        orm = await create_orm(schema, self.url)
        try:
            key = _schema_key(schema)
            if self.in_memory or key not in self._pushed:
                await push_schema(schema, orm)
                if not self.in_memory:
                    self._pushed[key] = schema
        except BaseException:
            await orm.close()
            raise
        return orm

    def models(self, schema: Schema) -> list[ModelMeta]:
        """Every model pushed to this database (so cleaning also covers earlier schemas)."""
        seen: dict[str, ModelMeta] = {}
        for s in [*self._pushed.values(), schema]:
            for m in dependency_order(s):
                seen.setdefault(m.qualified_table, m)
        return list(seen.values())


def _schema_key(schema: Schema) -> tuple[Any, ...]:
    return tuple((m.name, m.qualified_table, tuple(f.column for f in m.fields.values()))
                 for m in schema.models.values())


def _quote(dialect: str | None, m: ModelMeta) -> str:
    def q(name: str) -> str:
        if dialect == "mysql":
            return "`" + name.replace("`", "``") + "`"
        return '"' + name.replace('"', '""') + '"'

    return f"{q(m.schema)}.{q(m.table)}" if m.schema and dialect == "postgres" else q(m.table)


async def clean_database(orm: Orm, models: list[ModelMeta] | None = None) -> None:
    """Delete every row of ``models`` (default: the ORM's schema) so the next test starts empty.

    PostgreSQL: one ``TRUNCATE ... RESTART IDENTITY CASCADE``; MySQL: ``DELETE`` per table with
    foreign key checks off; SQLite: ``DELETE`` per table with deferred foreign keys; Mongo:
    ``delete_many({})`` per collection."""
    models = list(models if models is not None else dependency_order(orm.schema))
    if not models:
        return
    driver: Any = engine_of(orm).driver
    dialect = orm.driver.dialect
    if dialect is None:
        for m in models:
            await driver.db[m.table].delete_many({})
        return
    tables = [_quote(dialect, m) for m in reversed(models)]
    async with driver.connection(write=True) as conn:
        if dialect == "postgres":
            await conn.execute("TRUNCATE TABLE " + ", ".join(tables) + " RESTART IDENTITY CASCADE")
        elif dialect == "mysql":
            await conn.execute("SET FOREIGN_KEY_CHECKS = 0")
            try:
                for t in tables:
                    await conn.execute(f"DELETE FROM {t}")
            finally:
                await conn.execute("SET FOREIGN_KEY_CHECKS = 1")
        else:
            await conn.begin()
            try:
                await conn.execute("PRAGMA defer_foreign_keys = ON")
                for t in tables:
                    await conn.execute(f"DELETE FROM {t}")
            except BaseException:
                await conn.rollback()
                raise
            await conn.commit()


class _Rollback(Exception):
    """Raised inside the held transaction to roll it back."""


@asynccontextmanager
async def rolled_back(orm: Orm) -> AsyncIterator[Orm]:
    """``async with rolled_back(orm) as tx:``: everything done through ``tx`` is rolled back at the end.

    The transaction is held open by a helper task, so the block may start in one task and end in
    another (as pytest-asyncio fixtures do). ``tx.transaction()`` inside becomes a savepoint.
    Needs ``orm.driver.capabilities.supports_transactions``."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[Orm] = loop.create_future()
    done = asyncio.Event()

    async def hold() -> None:
        try:
            async with orm.transaction() as tx:
                ready.set_result(tx)
                await done.wait()
                raise _Rollback
        except _Rollback:
            pass
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc)
            raise

    task = asyncio.ensure_future(hold())
    try:
        tx = await ready
    except BaseException:
        await asyncio.gather(task, return_exceptions=True)
        raise
    try:
        yield tx
    finally:
        done.set()
        await asyncio.shield(task)


class FreshDatabases:
    """``orm = await fresh.orm(schema)``: each call creates a new database on ``target`` (a backend
    or a runtime target such as ``postgres-psycopg``), pushes ``schema`` and returns an ORM on it;
    ``await fresh.close()`` closes the ORMs and drops the databases, newest first."""

    __test__ = False

    def __init__(self, target: str) -> None:
        self.target = target
        self.made: list[tuple[Orm | None, TestDatabase]] = []
        self.urls: dict[int, str] = {}

    async def orm(self, schema: Schema) -> Orm:
        """A fresh database with ``schema`` pushed, and an ORM on it."""
        db = TestDatabase(self.target)
        db.name = unique_name(f"farmorm_t_{worker_id()}")
        client = await db.create()
        self.made.append((None, db))
        orm = await create_orm(schema, client)
        self.made[-1] = (orm, db)
        self.urls[id(orm)] = db.url
        await push_schema(schema, orm)
        return orm

    def url_of(self, orm: Orm) -> str:
        """The URL of the database behind ``orm``."""
        return self.urls[id(orm)]

    async def close(self) -> None:
        """Close every ORM and drop every database made so far."""
        made, self.made = self.made, []
        errors: list[BaseException] = []
        for orm, db in reversed(made):
            try:
                if orm is not None:
                    self.urls.pop(id(orm), None)
                    await orm.close()
            except Exception as exc:  # noqa: BLE001 - still drop the database, report afterwards
                errors.append(exc)
            try:
                await db.drop()
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)
        if errors:
            raise errors[0]


__all__ = ["WorkerDatabase", "FreshDatabases", "clean_database", "rolled_back", "worker_id", "backend_of"]
