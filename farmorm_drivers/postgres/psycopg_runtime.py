"""psycopg 3 as a runtime of the PostgreSQL driver.

The driver is written against the small part of asyncpg's API it uses (``execute`` returning the
status tag, ``fetch``, ``fetchval``, ``is_closed``; a pool's ``acquire`` / ``release`` / ``close``).
``PsycopgConnection`` and ``PsycopgPool`` give a ``psycopg.AsyncConnection`` and a
``psycopg_pool.AsyncConnectionPool`` that shape, so the same driver code runs on both libraries.
Statements use ``%s`` placeholders (``PsycopgDialect``); an IN list is still one array parameter
(``= ANY(%s)``): psycopg adapts a Python list to an array. Connections run in autocommit outside
farmorm's transactions (an app's pool connection gets its previous setting back on release).
Importing this module imports neither psycopg nor asyncpg.
"""

from __future__ import annotations

import abc
import itertools
from typing import Any, Sequence

from farmorm.schema.manifest import FieldMeta

from .._sql.dialect import Fn
from .dialect import PostgresDialect, decode_datetime

#: create_orm options passed on to ``psycopg_pool.AsyncConnectionPool`` for URLs
PSYCOPG_POOL_OPTIONS = ("min_size", "max_size", "timeout", "max_idle", "max_lifetime", "max_waiting")


_cursor_ids = itertools.count(1)


class PsycopgDialect(PostgresDialect):
    """PostgreSQL with psycopg's ``%s`` placeholders; jsonb comes back already decoded."""

    placeholder_style = "format"
    columnar_insert = False  # psycopg binds lists by its own adaptation rules: keep VALUES lists

    def decoder(self, f: FieldMeta) -> Fn | None:
        if f.value_kind == "json":
            return None  # psycopg's jsonb loader returns Python objects (a JSON string stays a str)
        if f.value_kind == "datetime":
            return decode_datetime  # psycopg answers in the session time zone: bring it to UTC
        return super().decoder(f)


class PsycopgConnection:
    """A ``psycopg.AsyncConnection`` with the asyncpg-shaped methods the driver calls."""

    __slots__ = ("raw", "restore_autocommit")

    def __init__(self, raw: Any, restore_autocommit: bool | None = None) -> None:
        self.raw = raw
        self.restore_autocommit = restore_autocommit

    async def execute(self, sql: str, *args: Any) -> str:
        async with self.raw.cursor() as cur:
            await cur.execute(sql, args if args else None)
            return cur.statusmessage or ""

    async def fetch(self, sql: str, *args: Any) -> Sequence[Any]:
        async with self.raw.cursor() as cur:
            await cur.execute(sql, args if args else None)
            return await cur.fetchall() if cur.description is not None else []

    async def fetch_named(self, sql: str, *args: Any) -> tuple[list[str], Sequence[Any]]:
        """The rows and their column names (``orm.raw.fetch``)."""
        async with self.raw.cursor() as cur:
            await cur.execute(sql, args if args else None)
            if cur.description is None:
                return [], []
            return [d.name for d in cur.description], await cur.fetchall()

    async def fetchval(self, sql: str, *args: Any) -> Any:
        rows = await self.fetch(sql.replace("$1", "%s"), *args)
        return rows[0][0] if rows else None

    def is_closed(self) -> bool:
        return bool(self.raw.closed)

    async def server_cursor(self, sql: str, args: Sequence[Any]) -> Any:
        """A named (server-side) cursor over ``sql``, executed; the caller fetches and closes it."""
        cur = self.raw.cursor(name=f"farmorm_stream_{next(_cursor_ids)}")
        try:
            await cur.execute(sql, args if args else None)
        except BaseException:
            await cur.close()
            raise
        return cur

    async def close(self) -> None:
        await self.raw.close()


async def ensure_autocommit(raw: Any) -> bool | None:
    """Switch ``raw`` to autocommit; returns the previous setting when it had to change it."""
    if raw.autocommit:
        return None
    if raw.info.transaction_status != 0:  # the app left a transaction open: end it first
        await raw.rollback()
    await raw.set_autocommit(True)
    return False


class AcquiringPool(abc.ABC):
    """A pool in asyncpg's shape, as ``PostgresDriver`` uses it, over ``acquire`` / ``release``
    (psycopg's pool here, a SQLAlchemy engine in ``farmorm_drivers/sqlalchemy/runtime.py``)."""

    __slots__ = ()

    @abc.abstractmethod
    async def acquire(self) -> Any:
        """A connection in asyncpg's shape (``PsycopgConnection`` on psycopg)."""

    @abc.abstractmethod
    async def release(self, conn: Any) -> None:
        """Give ``conn`` back as it was found (autocommit restored)."""

    async def fetchval(self, sql: str, *args: Any) -> Any:
        conn = await self.acquire()
        try:
            return await conn.fetchval(sql, *args)
        finally:
            await self.release(conn)


class PsycopgPool(AcquiringPool):
    """A ``psycopg_pool.AsyncConnectionPool`` with ``acquire`` / ``release`` / ``fetchval`` / ``close``."""

    __slots__ = ("pool",)

    def __init__(self, pool: Any) -> None:
        self.pool = pool

    async def acquire(self) -> PsycopgConnection:
        raw = await self.pool.getconn()
        try:
            previous = await ensure_autocommit(raw)
        except BaseException:
            await self.pool.putconn(raw)
            raise
        return PsycopgConnection(raw, previous)

    async def release(self, conn: PsycopgConnection) -> None:
        raw = conn.raw
        try:
            if conn.restore_autocommit is not None and not raw.closed:
                if raw.info.transaction_status != 0:
                    await raw.rollback()
                await raw.set_autocommit(conn.restore_autocommit)
        finally:
            await self.pool.putconn(raw)

    def idle(self) -> int:
        """Connections waiting in the pool (``getconn`` hands one out without waiting)."""
        return int(self.pool.get_stats().get("pool_available", 0))

    def checks_out_plainly(self) -> bool:
        """Whether taking an idle connection does no I/O: no ``check=`` callback (read from
        psycopg_pool's private attribute, with a default that says no when it is renamed) and
        autocommit connections (``acquire`` switches any other one, a round trip)."""
        pool = self.pool
        return getattr(pool, "_check", True) is None and bool((getattr(pool, "kwargs", None) or {}).get("autocommit"))

    async def close(self) -> None:
        await self.pool.close()


async def open_pool(url: str, **options: Any) -> PsycopgPool:
    """A pool farmorm owns for a ``postgresql+psycopg://`` URL (autocommit connections)."""
    from psycopg_pool import AsyncConnectionPool

    conninfo = "postgresql:" + url.split(":", 1)[1]
    kwargs = {k: options[k] for k in PSYCOPG_POOL_OPTIONS if options.get(k) is not None}
    kwargs.setdefault("min_size", 1)
    connect: dict[str, Any] = {"autocommit": True}
    if "prepare_threshold" in options:  # None: never prepare (a transaction-mode pooler)
        connect["prepare_threshold"] = options["prepare_threshold"]
    pool = AsyncConnectionPool(conninfo, open=False, kwargs=connect, **kwargs)
    try:
        await pool.open(wait=True, timeout=float(options.get("timeout") or 10))
    except BaseException:
        await pool.close()
        raise
    return PsycopgPool(pool)
