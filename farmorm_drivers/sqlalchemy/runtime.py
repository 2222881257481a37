"""The native drivers on a SQLAlchemy engine's connections (each driver's module imported only once an
engine of its dialect is detected).

- PostgreSQL and MySQL: every farmorm operation or transaction checks a connection out of the
  engine's pool (``engine.connect()``), runs on its driver connection and hands it back
  (``AsyncConnection.close()``), like the native pool runtimes. The engine's DBAPI adapter keeps
  its own view of the connection: farmorm leaves the connection as it found it (psycopg's and
  MySQL's autocommit switch restored; no transaction left open).
- SQLite: one connection is checked out for the life of the ORM (SQLite has one writer at a time;
  the native aiosqlite runtime also serves everything on one connection) and handed back on
  ``orm.close()``.
- An ``AsyncConnection``: farmorm runs on its driver connection and never closes it.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

from farmorm.core.detect import Detected
from farmorm.core.errors import UnsupportedError
from farmorm_drivers.postgres.psycopg_runtime import AcquiringPool, PsycopgConnection, PsycopgDialect, ensure_autocommit

#: farmorm dialect -> the DBAPI drivers farmorm can run on
SUPPORTED = {"postgres": ("asyncpg", "psycopg"), "mysql": ("aiomysql", "asyncmy"), "sqlite": ("aiosqlite",)}


def sa_dialect(client: Any) -> Any:
    """The SQLAlchemy dialect object of an AsyncEngine or AsyncConnection (started or not)."""
    engine = client if not hasattr(client, "get_raw_connection") else client.engine
    return engine.dialect


def _unsupported(detected: Detected, driver: str) -> UnsupportedError:
    known = ", ".join(SUPPORTED.get(detected.dialect or "", ())) or "none"
    return UnsupportedError(
        f'The SQLAlchemy engine uses the "{driver}" driver for {detected.dialect}; farmorm runs on '
        f"{known} for this dialect. Create the engine with one of those (e.g. create_async_engine("
        f'"{detected.dialect}+{known.split(", ")[0]}://...")).',
        backend_kind="sqlalchemy", dialect=detected.dialect, meta={"driver": driver},
    )


async def _driver_connection(sa_conn: Any) -> Any:
    raw = await sa_conn.get_raw_connection()
    return raw.driver_connection


class EnginePostgresPool(AcquiringPool):
    """An ``AsyncEngine`` as the asyncpg-shaped pool ``PostgresDriver`` expects."""

    def __init__(self, engine: Any, psycopg: bool) -> None:
        self.engine = engine
        self.psycopg = psycopg
        self._held: dict[int, Any] = {}

    async def acquire(self) -> Any:
        sa_conn = await self.engine.connect()
        try:
            conn = await _driver_connection(sa_conn)
            if self.psycopg:
                conn = PsycopgConnection(conn, await ensure_autocommit(conn))
        except BaseException:
            await sa_conn.close()
            raise
        self._held[id(conn)] = sa_conn
        return conn

    async def release(self, conn: Any) -> None:
        sa_conn = self._held.pop(id(conn))
        try:
            if self.psycopg and conn.restore_autocommit is not None and not conn.raw.closed:
                await conn.raw.set_autocommit(conn.restore_autocommit)
        finally:
            await sa_conn.close()

    async def close(self) -> None:
        """The engine is the app's: nothing to close."""


class EngineMysqlPool:
    """An ``AsyncEngine`` as the aiomysql-shaped pool ``MysqlDriver`` expects (``acquire()``)."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[Any]:
        async with self.engine.connect() as sa_conn:
            raw = await _driver_connection(sa_conn)
            autocommit = raw.get_autocommit()
            try:
                yield raw
            finally:
                from farmorm_drivers.mysql.driver import is_closed

                if not is_closed(raw) and raw.get_autocommit() != autocommit:
                    await raw.autocommit(autocommit)  # SQLAlchemy relies on autocommit off


async def create(schema: Any, detected: Detected, *, pgbouncer: bool = False,
                 command_timeout: float | None = None) -> Any:
    """The driver for ``detected`` (an AsyncEngine or AsyncConnection); ``pgbouncer`` checks (asyncpg)
    or sets (psycopg) that the engine's connections never name a prepared statement; ``command_timeout``
    bounds a MySQL statement (the other runtimes have their own option)."""
    client = detected.client
    driver = getattr(sa_dialect(client), "driver", "")
    dialect = detected.dialect
    if driver not in SUPPORTED.get(dialect or "", ()):
        raise _unsupported(detected, driver)
    is_engine = detected.source == "engine"
    if dialect == "postgres":
        from farmorm_drivers.postgres.dialect import DecodedJsonDialect
        from farmorm_drivers.postgres.driver import PostgresDriver

        psycopg = driver == "psycopg"
        # SQLAlchemy's asyncpg dialect installs json/jsonb codecs that return Python objects
        extra: dict[str, Any] = {"kind": "sqlalchemy", "dialect": PsycopgDialect() if psycopg else DecodedJsonDialect(),
                                 "pgbouncer": pgbouncer}
        if is_engine:
            return PostgresDriver(schema, client, target=EnginePostgresPool(client, psycopg), is_pool=True,
                                  owned=False, **extra)
        conn = await _driver_connection(client)
        if psycopg:
            await ensure_autocommit(conn)
            conn = PsycopgConnection(conn)
        return PostgresDriver(schema, client, target=conn, is_pool=False, owned=False, **extra)
    if dialect == "mysql":
        from farmorm_drivers.mysql.driver import MysqlDriver

        if is_engine:
            return await MysqlDriver.open(schema, EngineMysqlPool(client), handle_client=client, owned=False,
                                          pooled=True, kind="sqlalchemy", command_timeout=command_timeout)
        return await MysqlDriver.open(schema, await _driver_connection(client), handle_client=client, owned=False,
                                      pooled=False, kind="sqlalchemy", command_timeout=command_timeout)
    return await _sqlite(schema, client, is_engine)


async def _sqlite(schema: Any, client: Any, is_engine: bool) -> Any:
    from farmorm_drivers.sqlite.driver import SqliteDriver

    class EngineSqliteDriver(SqliteDriver):
        """The aiosqlite driver on one connection checked out of the engine until ``close()``."""

        sa_conn: Any = None

        async def close(self) -> None:
            if self.sa_conn is not None:
                sa_conn, self.sa_conn = self.sa_conn, None
                await sa_conn.close()

    sa_conn = await client.connect() if is_engine else None
    try:
        conn = await _driver_connection(sa_conn if sa_conn is not None else client)
        drv = await EngineSqliteDriver.open(schema, conn, client=client, owned=False, kind="sqlalchemy")
    except BaseException:
        if sa_conn is not None:
            await sa_conn.close()
        raise
    assert isinstance(drv, EngineSqliteDriver)
    drv.sa_conn = sa_conn
    return drv
