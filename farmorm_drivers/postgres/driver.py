"""The PostgreSQL driver on asyncpg: an ``asyncpg.Pool``, one ``asyncpg.Connection``, or a URL.

With a pool every operation or transaction acquires its own connection; a single connection
serves one operation at a time (an anyio lock, held for a whole transaction). Outside a farmorm
transaction statements run in autocommit; a transaction is ``BEGIN [ISOLATION LEVEL …]`` …
``COMMIT``. DDL is transactional, so ``push_schema`` is all or nothing.
"""

from __future__ import annotations

import re
import time
from typing import Any, AsyncContextManager, Sequence

import anyio

from farmorm.core.driver import (
    Capabilities,
    Connection,
    Driver,
    DriverHandle,
    NativeRelations,
    Result,
    Returning,
    ReturningMode,
    RowCursor,
    TextMatching,
)
from farmorm.core.errors import (
    DESCRIPTIONS,
    POOLER_MISCONFIGURED,
    TRANSACTION_ABORTED,
    OrmError,
    make_error,
)
from farmorm.schema.manifest import Schema

from .._sql.compiler import SqlCompiler
from .._sql.connection import SqlConnection
from .._sql.cursor import FetchManyCursor
from .._sql.ddl import schema_statements
from .._sql.statement import SqlStatement
from .dialect import PostgresDialect, ddl_hooks
from .errors import KIND, map_error

CAPABILITIES = Capabilities(
    supports_numeric_ids=True,
    numeric_ids="generated",
    supports_json=True,
    supports_dates=True,
    supports_booleans=True,
    supports_transactions=True,
    supports_schema_namespaces=True,
    supports_transactional_ddl=True,
    supports_join=False,
    native_relation_loading="none",  # relations load batched, one query per level (see docs)
    text_comparison="case-sensitive",
    text_matching=TextMatching("case-sensitive", "case-sensitive", "database-default"),
    upsert="native",
    returning=Returning(create=True, update=True, delete=True),
    returning_mode=ReturningMode(create="record", update="record", delete="record"),
    native_relations=NativeRelations(),
    savepoints=True,
    datetime_precision="microsecond",
    bulk_insert=True,
)

_DUPLICATE_OBJECT = "42P07"
_QUALIFIED = re.compile(r'^relation "([^".]+)\.[^"]+" does not exist')
_NAMESPACE_EXISTS = "SELECT to_regnamespace($1) IS NOT NULL"


# read-your-writes and max_lag on a streaming standby (see farmorm/runtime/routing.py)
_WAL_POSITION = "SELECT CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_insert_lsn()::text END"
_REPLAYED = "SELECT pg_last_wal_replay_lsn() >= $1::text::pg_lsn"
_LAG = ("SELECT CASE WHEN NOT pg_is_in_recovery() THEN NULL "
        "WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0 "
        "ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::float8 END")

#: seconds asyncpg's release may spend resetting a connection before it terminates it
RELEASE_TIMEOUT = 10.0


def _rowcount(status: str) -> int:
    """``UPDATE 3`` / ``INSERT 0 5`` / ``DELETE 1`` -> the count; -1 when the tag has none."""
    last = status.rsplit(" ", 1)[-1] if status else ""
    return int(last) if last.isdigit() else -1


class PostgresConnection(SqlConnection):
    __slots__ = ("conn", "driver", "in_tx", "fresh")

    driver: PostgresDriver
    dialect_name = "postgres"

    def __init__(self, driver: PostgresDriver, conn: Any, fresh: bool = False) -> None:
        self.driver = driver
        self.conn = conn
        self.in_tx = False
        #: no statement ran on this checkout yet: a read that finds the connection dead (it died
        #: idle in the pool: a server restart, a killed backend) may move to a fresh one once
        self.fresh = fresh

    async def _statement(self, sql: str, args: Sequence[Any], kind: str) -> Result:
        if kind == "count":
            return Result((), _rowcount(await self.conn.execute(sql, *args)))
        if kind == "raw":  # orm.raw.fetch: the rows and their column names
            named = getattr(self.conn, "fetch_named", None)
            if named is not None:
                names, rows = await named(sql, *args)
            else:  # asyncpg Records carry their names
                rows = await self.conn.fetch(sql, *args)
                names = list(rows[0].keys()) if rows else []
            return Result(rows, len(rows), names)
        rows = await self.conn.fetch(sql, *args)
        return Result(rows, len(rows))

    async def _failing(self, exc: BaseException, sql: str) -> None:
        # a statement that failed or was cancelled: the release runs asyncpg's full reset (see
        # reset_if_touched). After a cancelled extended-protocol statement asyncpg may report the
        # connection idle while the server still holds the statement's implicit transaction; the
        # reset's simple query settles it (T05: without it, the next BEGIN ISOLATION LEVEL failed)
        self.app_sql()
        if getattr(exc, "sqlstate", None) == "42P01":
            await self._probe_namespace(exc)

    def _pooled(self) -> bool:
        return bool(self.driver.is_pool)

    def native(self) -> Any:
        return getattr(self.conn, "raw", self.conn)  # psycopg's connection under its wrapper

    def app_sql(self) -> None:
        # a connection of a pool farmorm opened (see farmorm_drivers/postgres/__init__.py
        # reset_if_touched): its next release runs asyncpg's full reset. Also called for a
        # statement that failed, and for an operation that ended in an error
        touch = getattr(self.conn, "farmorm_touch", None)
        if touch is not None:
            touch()

    async def _probe_namespace(self, exc: BaseException) -> None:
        """Tell a missing namespace from a missing table: PostgreSQL reports both as 42P01."""
        m = _QUALIFIED.match(str(exc))
        if m is None:
            return
        namespace = m.group(1)
        try:
            with anyio.fail_after(2):
                if not self.in_tx:
                    exists = await self.conn.fetchval(_NAMESPACE_EXISTS, namespace)
                elif self.driver.is_pool:
                    # the failed statement aborted this transaction: ask on another connection
                    exists = await self.driver.target.fetchval(_NAMESPACE_EXISTS, namespace)
                else:
                    return
        except Exception:  # noqa: BLE001 - the probe only refines the error being raised
            return
        if not exists:
            exc.farmorm_missing_schema = namespace  # type: ignore[attr-defined]

    async def begin(self, isolation: str | None = None) -> None:
        sql = "BEGIN"
        if isolation is not None:  # validated and spelled "read committed" by the core
            sql += f" ISOLATION LEVEL {isolation.upper()}"
        await self.execute(sql)
        self.in_tx = True

    async def commit(self) -> None:
        try:
            status = await self.conn.execute("COMMIT") if not self.driver.listeners else None
            if status is None:
                status = await self._commit_observed()
        finally:
            self.in_tx = False
        if status == "ROLLBACK":
            # a statement failed earlier in this transaction (its error was caught) and PostgreSQL
            # answers COMMIT by rolling back: never report that as a successful commit
            raise make_error(
                TRANSACTION_ABORTED,
                f"{DESCRIPTIONS[TRANSACTION_ABORTED]} in {self.driver.handle.kind} (postgres) runtime: the transaction was "
                "aborted by an earlier failed statement and PostgreSQL rolled it back instead of "
                "committing. Run statements whose errors you catch in a nested transaction (a savepoint).",
                backend_kind=self.driver.handle.kind, dialect="postgres", meta={"original_code": "25P02"}, retryable=False,
            )

    async def _commit_observed(self) -> str:
        started = time.perf_counter()
        try:
            status: str = await self.conn.execute("COMMIT")
        except BaseException as exc:
            self.driver.emit("COMMIT", 0, started, 0, exc)
            raise
        self.driver.emit("COMMIT", 0, started, -1, None)
        return status

    async def rollback(self) -> None:
        try:
            if self.in_tx and not _closed(self.conn):
                await self.execute("ROLLBACK")
        finally:
            self.in_tx = False

    def discard(self) -> None:
        """Close the socket now (asyncpg ``terminate``): the pool replaces the connection."""
        self.in_tx = False
        try:
            terminate = getattr(self.conn, "terminate", None)
            if terminate is not None:
                terminate()
        except Exception:  # noqa: BLE001 - asyncpg already detached a connection the server closed
            pass

    async def _replace(self) -> None:
        """Hand the dead connection back (the pool reconnects it) and take another one."""
        pool, dead = self.driver.target, self.conn
        # released once: if no other connection can be had (the server is down), the driver's
        # connection() must not hand the dead one back a second time (a psycopg pool would then
        # hold it twice and give one connection to two callers)
        self.conn = None
        with anyio.CancelScope(shield=True):
            try:
                await pool.release(dead)
            except Exception:  # noqa: BLE001 - it is dead: nothing to hand back
                pass
        self.conn = await pool.acquire()
        if self.driver.pgbouncer:
            check_pooler_safe(self.driver, self.conn)

    async def write_position(self) -> str | None:
        """The primary's WAL insert position (after the write's commit record); None on a standby."""
        value = await self.conn.fetchval(_WAL_POSITION)
        return None if value is None else str(value)

    async def replayed(self, position: str) -> bool | None:
        """Has this standby replayed the WAL up to ``position``? None when it is not a standby."""
        value = await self.conn.fetchval(_REPLAYED, position)
        return None if value is None else bool(value)

    async def replica_lag(self) -> float | None:
        """Seconds since the last replayed transaction while WAL waits to be replayed, else 0."""
        value = await self.conn.fetchval(_LAG)
        return None if value is None else float(value)

    async def cursor(self, compiled: SqlStatement, params: Sequence[Any], batch_size: int) -> RowCursor:
        """A server-side cursor: asyncpg's portal cursor, or a psycopg named cursor. A cursor lives
        in a transaction: outside one farmorm opens its own (rolled back on close: it only read)."""
        sql, args = compiled.bind(params)
        own_tx = not self.in_tx
        if own_tx:
            await self.begin()
        driver = self.driver
        started = time.perf_counter()
        try:
            opener = getattr(self.conn, "server_cursor", None)  # the psycopg adapter
            native = await opener(sql, args) if opener is not None else await self.conn.cursor(sql, *args)
        except BaseException as exc:
            if driver.listeners:
                driver.emit(sql, len(args), started, 0, exc)
            if own_tx:
                with anyio.CancelScope(shield=True):
                    await _quietly(self.rollback())
            raise
        if driver.listeners:
            driver.emit(sql, len(args), started, -1, None)
        return PostgresCursor(self, native, batch_size, own_tx)


def check_pooler_safe(driver: PostgresDriver, raw: Any) -> None:
    """Under ``pgbouncer=True``: make sure ``raw`` never names a prepared statement. A psycopg
    connection is switched to ``prepare_threshold=None`` (a public setting); an asyncpg connection
    with its statement cache on cannot be changed, so that is a POOLER_MISCONFIGURED saying how
    to create the pool or engine."""
    psycopg = getattr(raw, "raw", None)  # the PsycopgConnection adapter
    if psycopg is not None:
        if getattr(psycopg, "prepare_threshold", None) is not None:
            psycopg.prepare_threshold = None
        return
    if getattr(raw, "_stmt_cache_enabled", False):
        h = driver.handle
        fix = ('create_async_engine(url, connect_args={"statement_cache_size": 0, "prepared_statement_name_func": '
               'lambda: f"__asyncpg_{uuid4()}__"})' if h.kind == "sqlalchemy"
               else "asyncpg.create_pool(..., statement_cache_size=0)")
        raise make_error(
            POOLER_MISCONFIGURED,
            f"{DESCRIPTIONS[POOLER_MISCONFIGURED]} in {h.kind} (postgres) runtime: pgbouncer=True, but this "
            f"asyncpg connection caches named prepared statements. Create it with {fix} "
            "(see docs/scaling-out.md#pgbouncer).",
            backend_kind=h.kind, dialect="postgres", meta={"setting": "statement_cache_size=0"},
        )


def _closed(conn: Any) -> bool:
    try:
        return bool(conn.is_closed())
    except Exception:  # noqa: BLE001 - asyncpg detached the lost connection from its pool proxy
        return True


async def _quietly(cleanup: Any) -> None:
    """Await a cleanup step whose failure must not hide the error being raised."""
    try:
        with anyio.move_on_after(10):
            await cleanup
    except Exception:  # noqa: BLE001
        pass


class PostgresCursor(FetchManyCursor):
    """An open server-side cursor (``orm.<model>.stream``) and the transaction it opened, if any:
    psycopg's named cursor has ``fetchmany``, asyncpg's cursor ``fetch(n)``."""

    __slots__ = ("pg", "own_tx")

    def __init__(self, pg: PostgresConnection, native: Any, size: int, own_tx: bool) -> None:
        super().__init__(native, size)
        self.pg = pg
        self.own_tx = own_tx

    async def fetch(self) -> Sequence[Any]:
        if self.done:
            return []
        native = self.cur
        rows: Sequence[Any] = await (native.fetchmany(self.size) if hasattr(native, "fetchmany")
                                     else native.fetch(self.size))
        return rows

    async def _release(self) -> None:
        native = self.cur
        with anyio.CancelScope(shield=True):
            if hasattr(native, "fetchmany"):  # psycopg: CLOSE the named cursor
                await _quietly(native.close())
            elif not self.own_tx and getattr(native, "_portal_name", None):
                # asyncpg: the portal would live until the app's transaction ends; close it now
                await _quietly(native._close_portal(None))
            if self.own_tx:
                await self.pg.rollback()


def _idle_counter(pool: Any, owned: bool) -> Any:
    """``pool``'s count of idle live connections (a callable), or None when taking one may run
    the app's own checkout callback (asyncpg ``setup=``, psycopg ``check=``), which may do I/O.
    Pools farmorm opened have none; an app's pool is asked (private attributes, read with a
    default that keeps the deadline armed when a library renames them)."""
    if hasattr(pool, "get_idle_size"):  # asyncpg
        return pool.get_idle_size if owned or getattr(pool, "_setup", True) is None else None
    idle = getattr(pool, "idle", None)  # the psycopg adapter
    return idle if idle is not None and pool.checks_out_plainly() else None


class _Checkout:
    """``async with driver.connection()`` on a pool: one connection for one operation or
    transaction. A class, not an @asynccontextmanager: it runs on every operation, and a
    generator plus its wrapper cost more than the checkout itself."""

    __slots__ = ("driver", "wrapped")

    def __init__(self, driver: PostgresDriver) -> None:
        self.driver = driver
        self.wrapped: PostgresConnection | None = None

    async def __aenter__(self) -> PostgresConnection:
        driver = self.driver
        raw = await driver.target.acquire()
        if driver.pgbouncer:
            try:
                check_pooler_safe(driver, raw)
            except BaseException:
                await driver.release(raw)
                raise
        self.wrapped = wrapped = PostgresConnection(driver, raw, True)
        return wrapped

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        wrapped = self.wrapped
        assert wrapped is not None
        raw = wrapped.conn  # _replace() may have moved it to another connection
        if raw is not None:  # None: _replace() handed the dead one back and could not get another
            if exc is not None:
                wrapped.app_sql()  # whatever state the error left, the full reset clears it
            await self.driver.release(raw)
        return False


class _Locked:
    """``async with driver.connection()`` on a single connection: its lock, held for the whole
    operation or transaction (a class for the same reason as :class:`_Checkout`)."""

    __slots__ = ("lock", "conn")

    def __init__(self, lock: anyio.Lock, conn: PostgresConnection) -> None:
        self.lock = lock
        self.conn = conn

    async def __aenter__(self) -> PostgresConnection:
        await self.lock.acquire()
        return self.conn

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        self.lock.release()
        return False


class PostgresDriver(Driver):
    """farmorm's driver for an ``asyncpg.Pool`` or ``asyncpg.Connection`` (or the psycopg 3 /
    SQLAlchemy equivalents, adapted to the same asyncpg-shaped calls: see ``psycopg_runtime``)."""

    def __init__(self, schema: Schema, client: Any, *, target: Any, is_pool: bool, owned: bool,
                 kind: str = KIND, dialect: PostgresDialect | None = None, pgbouncer: bool = False) -> None:
        super().__init__()
        #: a transaction-mode pooler sits in front of the server: no named prepared statements
        self.pgbouncer = pgbouncer
        self.schema = schema
        self.target = target  # the pool or connection farmorm runs on
        self.is_pool = is_pool
        self.owned = owned
        self.handle = DriverHandle(kind, "postgres", client, CAPABILITIES)
        self.compiler = SqlCompiler(schema, dialect or PostgresDialect())
        self._lock = anyio.Lock(fast_acquire=True)  # no event-loop round trip when uncontended
        self._single = None if is_pool else PostgresConnection(self, target)
        #: an asyncpg pool (``get_idle_size``), rather than psycopg's adapter
        self._asyncpg_pool = is_pool and hasattr(target, "get_idle_size")
        #: how many idle connections the pool holds, for ``acquire_is_immediate``; None when a
        #: checkout may run a callback of the app's (asyncpg ``setup=``, psycopg ``check=``)
        self._idle = _idle_counter(target, owned) if is_pool else None
        if pgbouncer and not is_pool:
            check_pooler_safe(self, target)

    def compile(self, node: Any) -> SqlStatement:
        return self.compiler.compile(node)

    def connection(self, *, write: bool = False, transaction: bool = False) -> AsyncContextManager[Connection]:
        if self._single is not None:
            return _Locked(self._lock, self._single)
        return _Checkout(self)

    def acquire_is_immediate(self) -> bool:
        """A free single connection, or an idle live connection in the pool: ``connection()``
        hands it out without waiting or I/O, so the operation arms no acquire deadline. Only for
        pools whose checkout runs no callback of the app's (asyncpg ``setup=``, psycopg
        ``check=``), which could do I/O; otherwise the deadline is always armed."""
        if self._single is not None:
            return not self._lock.locked()
        idle = self._idle
        return idle is not None and idle() > 0

    async def release(self, raw: Any) -> None:
        """Hand ``raw`` back to the pool, whatever happens: an operation that already has its
        outcome must not have it overwritten by a failed reset (a connection killed on the server:
        asyncpg terminates it and the pool replaces it; found by T43 chaos)."""
        pool = self.target
        try:
            if self._asyncpg_pool:
                # asyncpg's Pool.release shields itself (asyncio.shield): a cancelled task still
                # hands the connection back. Its reset is bounded, so a dead network cannot hang
                # it; past the bound asyncpg terminates the connection instead
                await pool.release(raw, timeout=RELEASE_TIMEOUT)
                return
            # the psycopg adapter's release (rollback, autocommit back) is not shielded by the library
            with anyio.CancelScope(shield=True):
                await pool.release(raw)
        except Exception:  # noqa: BLE001 - see the docstring
            pass

    def pool_status(self) -> dict[str, int] | None:
        pool = self.target
        if not self._asyncpg_pool:
            return None
        size = pool.get_size()
        return {"size": size, "in_use": size - pool.get_idle_size(), "max_size": pool.get_max_size()}

    def terminate(self) -> None:
        if self.owned and hasattr(self.target, "terminate"):
            self.target.terminate()

    def statements(self, schema: Schema) -> list[str]:
        """Every statement ``push_schema`` runs: namespaces first, then tables and indexes."""
        return schema_statements(ddl_hooks(), schema)

    async def push_schema(self, schema: Schema) -> None:
        async with self.connection(write=True, transaction=True) as conn:
            assert isinstance(conn, PostgresConnection)
            await conn.begin()
            try:
                for i, stmt in enumerate(self.statements(schema)):
                    await self._ddl(conn, stmt, i)
            except BaseException:
                with anyio.CancelScope(shield=True):
                    await conn.rollback()
                raise
            await conn.commit()

    async def _ddl(self, conn: PostgresConnection, stmt: str, i: int) -> None:
        """Run one DDL statement; an index that already exists (42P07) is not an error."""
        if not stmt.startswith(("CREATE INDEX", "CREATE UNIQUE INDEX")):
            await conn.execute(stmt)
            return
        # a failed statement aborts the transaction: fence the index behind a savepoint
        name = f"farmorm_ddl_{i}"
        await conn.savepoint(name)
        try:
            await conn.execute(stmt)
        except Exception as exc:
            if getattr(exc, "sqlstate", None) != _DUPLICATE_OBJECT:
                raise
            await conn.rollback_to_savepoint(name)
        await conn.release_savepoint(name)

    def map_error(self, exc: BaseException) -> OrmError | None:
        return map_error(self.schema, exc, self.handle.kind)

    async def close(self) -> None:
        if self.owned:
            await self.target.close()
