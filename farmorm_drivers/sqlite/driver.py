"""The SQLite driver on aiosqlite.

One SQLite connection serves one writer at a time, so operations and transactions take turns
through an asyncio lock; a transaction holds it from BEGIN IMMEDIATE to COMMIT/ROLLBACK. farmorm
manages transactions itself: it opens connections in autocommit mode
when it opens the connection itself; on an app's connection in sqlite3's legacy transaction mode
it commits the implicit transaction sqlite3 opens around a write made outside a farmorm
transaction. It turns on ``PRAGMA foreign_keys``.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
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
    CHECK_VIOLATION,
    CONNECTION_ERROR,
    FOREIGN_KEY_VIOLATION,
    INVALID_VALUE,
    LOCK_TIMEOUT,
    MISSING_COLUMN,
    MISSING_TABLE,
    NOT_NULL_VIOLATION,
    QUERY_TIMEOUT,
    READ_ONLY,
    SCHEMA_CHANGED,
    STORAGE_FULL,
    TRANSACTION_CONFLICT,
    UNIQUE_CONSTRAINT_VIOLATION,
    VALUE_TOO_LONG,
    OrmError,
    UnsupportedError,
    native_error,
)
from farmorm.schema.manifest import Schema

from .._sql.compiler import SqlCompiler
from .._sql.aborted import TxTracker
from .._sql.connection import SqlConnection
from .._sql.cursor import FetchManyCursor
from .._sql.ddl import schema_statements
from .._sql.statement import SqlStatement
from .dialect import DECIMAL_AGGREGATE, DECIMAL_FUNCTION, SqliteDialect, ddl_hooks, decimal_aggregate, decimal_arith

CAPABILITIES = Capabilities(
    supports_numeric_ids=True,
    numeric_ids="generated",
    supports_json=True,
    supports_dates=True,
    supports_booleans=True,
    supports_transactions=True,
    supports_schema_namespaces=False,
    supports_transactional_ddl=True,
    supports_join=False,
    native_relation_loading="none",  # relations load batched, one query per level (see docs)
    text_comparison="case-sensitive",
    text_matching=TextMatching("case-sensitive", "case-sensitive", "case-sensitive"),
    upsert="native",
    returning=Returning(create=True, update=True, delete=True),
    returning_mode=ReturningMode(create="record", update="record", delete="record"),
    native_relations=NativeRelations(),
    savepoints=True,
    datetime_precision="microsecond",
    bulk_insert=True,
)

_BY_NAME = {
    "SQLITE_CONSTRAINT_UNIQUE": UNIQUE_CONSTRAINT_VIOLATION,
    "SQLITE_CONSTRAINT_PRIMARYKEY": UNIQUE_CONSTRAINT_VIOLATION,
    "SQLITE_CONSTRAINT_FOREIGNKEY": FOREIGN_KEY_VIOLATION,
    "SQLITE_CONSTRAINT_NOTNULL": NOT_NULL_VIOLATION,
    "SQLITE_CONSTRAINT_CHECK": CHECK_VIOLATION,
    # another connection held the write lock for longer than busy_timeout
    "SQLITE_BUSY": LOCK_TIMEOUT,
    "SQLITE_BUSY_TIMEOUT": LOCK_TIMEOUT,
    "SQLITE_LOCKED": LOCK_TIMEOUT,
    "SQLITE_LOCKED_SHAREDCACHE": LOCK_TIMEOUT,
    # a deferred transaction read a snapshot another writer has since changed: re-run it
    "SQLITE_BUSY_SNAPSHOT": TRANSACTION_CONFLICT,
    "SQLITE_BUSY_RECOVERY": TRANSACTION_CONFLICT,
    "SQLITE_INTERRUPT": QUERY_TIMEOUT,  # Connection.interrupt() / a progress handler stopped it
    "SQLITE_FULL": STORAGE_FULL,  # disk full, or PRAGMA max_page_count reached
    "SQLITE_READONLY": READ_ONLY,
    "SQLITE_READONLY_DBMOVED": READ_ONLY,
    "SQLITE_READONLY_DIRECTORY": READ_ONLY,
    "SQLITE_READONLY_RECOVERY": READ_ONLY,
    "SQLITE_READONLY_ROLLBACK": READ_ONLY,
    "SQLITE_READONLY_CANTLOCK": READ_ONLY,
    "SQLITE_READONLY_CANTINIT": READ_ONLY,
    "SQLITE_SCHEMA": SCHEMA_CHANGED,
    "SQLITE_TOOBIG": VALUE_TOO_LONG,  # longer than SQLITE_LIMIT_LENGTH
    "SQLITE_MISMATCH": INVALID_VALUE,  # e.g. text into an INTEGER PRIMARY KEY
}
_BY_MESSAGE = (
    (re.compile(r"unique constraint failed", re.I), UNIQUE_CONSTRAINT_VIOLATION),
    (re.compile(r"foreign key constraint failed", re.I), FOREIGN_KEY_VIOLATION),
    (re.compile(r"not null constraint failed", re.I), NOT_NULL_VIOLATION),
    (re.compile(r"check constraint failed", re.I), CHECK_VIOLATION),
    (re.compile(r"no such table", re.I), MISSING_TABLE),
    (re.compile(r"no such column", re.I), MISSING_COLUMN),
    (re.compile(r"database (table )?is locked", re.I), LOCK_TIMEOUT),
)
_COLUMNS = re.compile(r"constraint failed: (.+)$", re.I)
_NO_COLUMN = re.compile(r"no such column: (\S+)", re.I)


class SqliteConnection(SqlConnection):
    __slots__ = ("conn", "driver", "in_tx", "streaming", "tracker", "on_thread")

    driver: SqliteDriver
    tracker: TxTracker
    dialect_name = "sqlite"
    begin_statement = "BEGIN IMMEDIATE"
    cleans_up = True  # an app connection in sqlite3's legacy mode may open implicit transactions

    def __init__(self, driver: SqliteDriver, conn: Any) -> None:
        self.driver = driver
        self.conn = conn
        self.in_tx = False
        #: a failed statement aborts the transaction, as on PostgreSQL (see _sql/aborted.py)
        self.tracker = TxTracker()
        self.streaming = 0  # open streams (orm.<model>.stream) on this connection
        #: aiosqlite's call onto its worker thread: a count statement runs and closes its cursor in one
        #: call (the public API takes two trips to the thread, execute then close; each trip costs about
        #: as many instructions as a one-row insert's own work). None: a connection without it.
        self.on_thread = getattr(conn, "_execute", None) if hasattr(type(conn), "_conn") else None

    async def _statement(self, sql: str, args: Sequence[Any], kind: str) -> Result:
        if kind == "count":
            if self.on_thread is not None:
                return Result((), await self.on_thread(_rowcount, self.conn, sql, args))
            cursor = await self.conn.execute(sql, args)
            rowcount = cursor.rowcount
            await cursor.close()
            return Result((), rowcount)
        if kind == "raw":  # orm.raw.fetch: the rows and their column names
            cursor = await self.conn.execute(sql, args)
            rows = await cursor.fetchall()
            names = [d[0] for d in cursor.description or ()]
            await cursor.close()
            return Result(rows, len(rows), names)
        rows = await self.conn.execute_fetchall(sql, args)
        return Result(rows, len(rows))

    async def _failing(self, exc: BaseException, sql: str) -> None:
        if not isinstance(exc, Exception) and sql.split(None, 1)[0] not in _CONTROL:
            # cancelled: aiosqlite's thread keeps running the statement (and holding the
            # database) unless it is interrupted; sqlite3_interrupt is safe from any thread
            _interrupt(self.conn)

    async def _failed(self, exc: BaseException) -> None:
        if not self.in_tx and self.conn.in_transaction:
            with anyio.CancelScope(shield=True):
                await self.conn.rollback()

    def native(self) -> Any:
        return self.conn

    async def _succeeded(self) -> None:
        if not self.in_tx and self.conn.in_transaction:
            # an app connection in sqlite3's legacy mode opened an implicit transaction: end it
            await self.conn.commit()

    async def begin(self, isolation: str | None = None) -> None:
        # SQLite transactions are serializable; IMMEDIATE takes the write lock up front, so two
        # writers never deadlock upgrading a read lock.
        self.in_tx = True
        self.tracker.reset()
        beginning = asyncio.ensure_future(self.execute("BEGIN IMMEDIATE"))
        try:
            await asyncio.shield(beginning)
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                # the worker thread runs BEGIN anyway: wait for it and undo it, or the only
                # connection would stay inside a transaction nobody owns
                await _settle(beginning)
                if self.conn.in_transaction:
                    await _settle(asyncio.ensure_future(self.conn.rollback()))
            self.in_tx = False
            raise

    async def commit(self) -> None:
        if self.tracker.failed is not None:
            # SQLite rolled back only the failed statement: committing would keep half of the
            # transaction. The caller rolls back.
            raise self.tracker.error(self.driver.handle.kind, "sqlite", "commit")
        committing = asyncio.ensure_future(self.execute("COMMIT"))
        try:
            await asyncio.shield(committing)
        except asyncio.CancelledError:
            # cancelled while the worker thread commits: it goes on regardless. Wait for it, and roll
            # back if it did not commit, so the only connection never stays inside a transaction.
            await _settle(committing)
            if self.conn.in_transaction:
                await _settle(asyncio.ensure_future(self.conn.rollback()))
            self.in_tx = False
            self.tracker.reset()
            raise
        self.in_tx = False

    async def rollback(self) -> None:
        try:
            if self.conn.in_transaction:
                await self.execute("ROLLBACK")
        finally:
            self.in_tx = False
            self.tracker.reset()

    async def cursor(self, compiled: SqlStatement, params: Sequence[Any], batch_size: int) -> RowCursor:
        """A sqlite3 cursor stepped ``batch_size`` rows at a time (``fetchmany``)."""
        sql, args = compiled.bind(params)
        driver = self.driver
        started = time.perf_counter()
        try:
            cur = await self.conn.execute(sql, args)
        except BaseException as exc:
            if driver.listeners:
                driver.emit(sql, len(args), started, 0, exc)
            raise
        if driver.listeners:
            driver.emit(sql, len(args), started, -1, None)
        self.streaming += 1
        return SqliteCursor(self, cur, batch_size)


_CONTROL = frozenset({"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"})


def _rowcount(conn: Any, sql: str, args: Sequence[Any]) -> int:
    """On aiosqlite's worker thread: run ``sql`` and return the rows it changed."""
    cursor = conn._conn.execute(sql, args)  # the sqlite3 connection, as aiosqlite's own calls reach it
    try:
        return int(cursor.rowcount)
    finally:
        cursor.close()


def _interrupt(conn: Any) -> None:
    native = getattr(conn, "_connection", None)  # aiosqlite's sqlite3.Connection (None once closed)
    if native is not None:
        try:
            native.interrupt()
        except Exception:  # noqa: BLE001 - closed already
            pass


async def _settle(task: asyncio.Future[Any], timeout: float = 30.0) -> None:
    """Wait for ``task`` to finish, through further cancellations, at most ``timeout`` seconds
    (its result or error is dropped: the caller is already raising)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not task.done() and loop.time() < deadline:
        try:
            await asyncio.wait({task}, timeout=deadline - loop.time())
        except asyncio.CancelledError:
            continue
    if task.done() and not task.cancelled():
        task.exception()  # retrieved: no "exception was never retrieved" warning


class SqliteCursor(FetchManyCursor):
    __slots__ = ("owner",)

    def __init__(self, owner: SqliteConnection, cur: Any, size: int) -> None:
        super().__init__(cur, size)
        self.owner = owner

    async def _release(self) -> None:
        self.owner.streaming -= 1
        with anyio.CancelScope(shield=True):
            await self.cur.close()


class _Locked:
    """``async with driver.connection()``: the one connection's lock, held for the whole
    operation or transaction. A class, not an @asynccontextmanager: it runs on every operation."""

    __slots__ = ("driver",)

    def __init__(self, driver: SqliteDriver) -> None:
        self.driver = driver

    async def __aenter__(self) -> SqliteConnection:
        driver = self.driver
        try:
            await driver._acquire()
        except RuntimeError:
            if not driver._wrapped.streaming:
                raise
            raise UnsupportedError(
                f"The {driver.handle.kind} (sqlite) connection is held by a stream this task has open "
                "(orm.<model>.stream): SQLite has one connection, so another operation outside a transaction "
                "would wait for the stream forever. Open the stream inside orm.transaction() and run the other "
                "operations on the transaction, or run them after the stream closes.",
                backend_kind=driver.handle.kind, dialect="sqlite",
            ) from None
        return driver._wrapped

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        self.driver._release()
        return False


class SqliteDriver(Driver):
    """farmorm's driver for an ``aiosqlite.Connection``."""

    def __init__(self, schema: Schema, conn: Any, *, client: Any, owned: bool, kind: str = "aiosqlite") -> None:
        super().__init__()
        self.schema = schema
        self.conn = conn
        self.owned = owned
        self.handle = DriverHandle(kind, "sqlite", client, CAPABILITIES)
        self.compiler = SqlCompiler(schema, SqliteDialect())
        # an asyncio.Lock (no event-loop round trip when uncontended) and the task holding it: a
        # task asking again gets RuntimeError instead of waiting for itself, as with anyio's Lock,
        # which cost about 15 times as much per acquire and release
        self._lock = asyncio.Lock()
        self._holder: asyncio.Task[Any] | None = None
        self._wrapped = SqliteConnection(self, conn)

    #: bind parameters one statement may use (create_many chunks by it): SQLite's
    #: SQLITE_LIMIT_VARIABLE_NUMBER, read when the driver opens (999 on builds before 3.32)
    max_bind_params = 30000

    @classmethod
    async def open(cls, schema: Schema, conn: Any, *, client: Any, owned: bool, kind: str = "aiosqlite") -> SqliteDriver:
        await conn.execute("PRAGMA foreign_keys = ON")
        # exact decimal arithmetic for atomic updates (decimals are text here)
        await conn.create_function(DECIMAL_FUNCTION, 3, decimal_arith, deterministic=True)
        await conn.create_function(DECIMAL_AGGREGATE, 2, decimal_aggregate, deterministic=True)
        driver = cls(schema, conn, client=client, owned=owned, kind=kind)
        raw, run = getattr(conn, "_conn", None), getattr(conn, "_execute", None)
        if raw is not None and run is not None and hasattr(raw, "getlimit"):  # aiosqlite: on its own thread
            limit = await run(raw.getlimit, sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
            driver.max_bind_params = max(1, min(cls.max_bind_params, int(limit)))
        return driver

    def compile(self, node: Any) -> SqlStatement:
        return self.compiler.compile(node)

    def connection(self, *, write: bool = False, transaction: bool = False) -> AsyncContextManager[Connection]:
        return _Locked(self)

    def statements(self, schema: Schema) -> list[str]:
        return schema_statements(ddl_hooks(), schema)

    async def push_schema(self, schema: Schema) -> None:
        async with self.connection(write=True) as conn:
            assert isinstance(conn, SqliteConnection)
            await conn.begin()
            try:
                for stmt in self.statements(schema):
                    await conn.execute(stmt)
            except BaseException:
                with anyio.CancelScope(shield=True):
                    await conn.rollback()
                raise
            await conn.commit()

    def map_error(self, exc: BaseException) -> OrmError | None:
        if isinstance(exc, OrmError):
            return exc
        kind, dialect = self.handle.kind, "sqlite"
        if isinstance(exc, (sqlite3.ProgrammingError, ValueError)) and "closed" in str(exc).lower() \
                or (isinstance(exc, ValueError) and "no active connection" in str(exc).lower()):
            return native_error(CONNECTION_ERROR, exc, backend_kind=kind, dialect=dialect)
        if not isinstance(exc, sqlite3.Error):
            return None
        code = _BY_NAME.get(getattr(exc, "sqlite_errorname", "") or "")
        if code is None:
            msg = str(exc)
            code = next((c for rx, c in _BY_MESSAGE if rx.search(msg)), None)
        if code is None:
            return None
        meta: dict[str, Any] = {"original_code": getattr(exc, "sqlite_errorname", None)}
        m = _COLUMNS.search(str(exc))
        if m and code in (UNIQUE_CONSTRAINT_VIOLATION, NOT_NULL_VIOLATION):
            meta.update(self._target(m.group(1)))
        if code == MISSING_COLUMN and (col := _NO_COLUMN.search(str(exc))):
            column = col.group(1).rsplit(".", 1)[-1]
            meta["column"] = column
            owners = [(mm.name, f.name) for mm in self.schema.models.values()
                      for f in mm.fields.values() if f.column == column]
            if len(owners) == 1:
                meta["model"], meta["field"] = owners[0]
        return native_error(code, exc, backend_kind=kind, dialect=dialect, meta=meta)

    def _target(self, spec: str) -> dict[str, Any]:
        """``users.email, users.name`` -> logical fields and the manifest's constraint name."""
        pairs = [p.strip().split(".", 1) for p in spec.split(",") if "." in p]
        if not pairs:
            return {}
        table = pairs[0][0]
        model = next((m for m in self.schema.models.values() if m.table == table), None)
        if model is None:
            return {"target": [c for _, c in pairs]}
        by_column = {f.column: f.name for f in model.fields.values()}
        fields = [by_column.get(c, c) for _, c in pairs]
        constraint = next((u.name for u in model.uniques if list(u.fields) == fields), None)
        out: dict[str, Any] = {"target": fields, "model": model.name}
        if constraint:
            out["constraint"] = constraint
        return out

    async def _acquire(self) -> None:
        """Take the one connection's lock; RuntimeError when this task holds it already."""
        task = asyncio.current_task()
        if self._holder is task and self._lock.locked():
            raise RuntimeError("the SQLite connection's lock is already held by this task")
        await self._lock.acquire()
        self._holder = task

    def _release(self) -> None:
        self._holder = None
        self._lock.release()

    def pool_status(self) -> dict[str, int] | None:
        return {"size": 1, "in_use": 1 if self._lock.locked() else 0, "max_size": 1}

    def acquire_is_immediate(self) -> bool:
        # the one connection is free: connection() takes the lock without waiting (no I/O)
        return not self._lock.locked()

    def terminate(self) -> None:
        _interrupt(self.conn)  # the statement running now fails; close() then ends the thread

    async def close(self) -> None:
        if not self.owned:
            return
        # let the operation holding the connection finish first (orm.close's timeout interrupts
        # it through terminate()): closing under it would strand its thread and its caller
        try:
            await self._acquire()
        except RuntimeError:  # closed from inside an operation of this task
            await self.conn.close()
            return
        try:
            await self.conn.close()
        finally:
            self._release()
