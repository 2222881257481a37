"""The MySQL / MariaDB driver on aiomysql or asyncmy (the same pymysql-shaped API).

Every connection farmorm uses runs in strict SQL mode (nothing is silently truncated), with the
session time zone at UTC (DATETIME holds naive UTC), utf8mb4 and autocommit on. A connection of a
pool farmorm opened (from a URL) is set up once (remembered in a WeakSet). A connection of the
app's own pool or the app's connection is set up for each checkout and put back as it was before
it returns to the app: its ``sql_mode``, ``time_zone`` and ``autocommit`` are saved on the server
(user variables ``@farmorm_*``) by the statement that sets farmorm's, and restored by one more
statement (its charset too, when it is not utf8mb4). Writes MySQL cannot return from run as programs (see ``compiler``) inside a transaction,
so the connection tracks whether a farmorm transaction is open.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import re
import time
import weakref
from contextlib import asynccontextmanager
from typing import Any, AsyncContextManager, AsyncIterator, Callable, NamedTuple, Sequence

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
from farmorm.core.errors import LockTimeout, OrmError, UnsupportedError
from farmorm.schema.manifest import Schema

from .._sql.aborted import TxTracker
from .._sql.connection import SqlConnection
from .._sql.cursor import FetchManyCursor
from .._sql.ddl import schema_statements
from .._sql.retry import run_retrying
from .compiler import EchoInsertProgram, MysqlCompiler, Program
from .dialect import MysqlDialect, ddl_hooks
from .errors import map_error
from .programs import decoded, fits, run_program

CAPABILITIES = Capabilities(
    supports_numeric_ids=True,
    numeric_ids="generated",
    supports_json=True,
    supports_dates=True,
    supports_booleans=True,
    supports_transactions=True,
    supports_schema_namespaces=False,
    supports_transactional_ddl=False,  # DDL commits implicitly in MySQL
    supports_join=False,
    native_relation_loading="none",  # relations load batched, one query per level
    text_comparison="case-sensitive",  # utf8mb4_bin on every text column
    text_matching=TextMatching("case-sensitive", "case-sensitive", "case-sensitive"),
    upsert="native",
    # MySQL 8 has no RETURNING: writes re-read (or, for delete, read first) in the same transaction
    returning=Returning(create=True, update=True, delete=True),
    returning_mode=ReturningMode(create="record", update="record", delete="record"),
    native_relations=NativeRelations(),
    savepoints=True,
    datetime_precision="microsecond",
    bulk_insert=True,
)

#: strict mode, and no ANSI_QUOTES / NO_BACKSLASH_ESCAPES: the dialect relies on backticks and on
#: backslash escapes in the LIKE ESCAPE clause
SQL_MODE = ("STRICT_ALL_TABLES,STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,"
            "ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION")
SESSION_SETUP = f"SET SESSION sql_mode = '{SQL_MODE}', SESSION time_zone = '+00:00'"
#: the app's session settings, saved by the statement that sets farmorm's (assignments run left
#: to right), and put back before the connection returns to the app
SESSION_SWAP = ("SET @farmorm_sql_mode = @@SESSION.sql_mode, @farmorm_time_zone = @@SESSION.time_zone, "
                "@farmorm_autocommit = @@SESSION.autocommit, "
                f"SESSION sql_mode = '{SQL_MODE}', SESSION time_zone = '+00:00', SESSION autocommit = 1")
SESSION_RESTORE = ("SET SESSION sql_mode = @farmorm_sql_mode, SESSION time_zone = @farmorm_time_zone, "
                   "SESSION autocommit = @farmorm_autocommit, "
                   "@farmorm_sql_mode = NULL, @farmorm_time_zone = NULL, @farmorm_autocommit = NULL")
#: ``lock_for_transaction``'s lock name: per database (GET_LOCK names are server-wide), at most 64
#: characters whatever the name asked for
NAMED_LOCK = "CONCAT('farmorm:', SHA1(CONCAT(IFNULL(DATABASE(), ''), ':', %s)))"
#: seconds the side connection that kills a cancelled statement may take
KILL_TIMEOUT = 3.0
_MATCHED = re.compile(rb"Rows matched: (\d+)")


class Restore(NamedTuple):
    """The app's settings of a connection farmorm borrowed that the server does not keep for it."""

    charset: str
    autocommit: bool


class MysqlConnection(SqlConnection):
    """One aiomysql connection; ``in_tx`` is True while a farmorm transaction is open on it."""

    __slots__ = ("conn", "driver", "in_tx", "lastrowid", "streaming", "tracker", "fresh", "restore", "named_locks")

    driver: MysqlDriver
    tracker: TxTracker
    dialect_name = "mysql"
    savepoint_quote = "`"
    begin_statement = "START TRANSACTION"

    def __init__(self, driver: MysqlDriver, conn: Any) -> None:
        self.driver = driver
        self.conn = conn
        self.in_tx = False
        self.lastrowid = 0
        self.streaming = False  # an unbuffered result (orm.<model>.stream) owns the wire
        #: a failed statement aborts the transaction, as on PostgreSQL (see _sql/aborted.py)
        self.tracker = TxTracker()
        #: no statement ran on this checkout yet: a read that finds the connection dead (it died
        #: idle in the pool) may move to another connection once
        self.fresh = False
        #: what ``MysqlDriver._restore`` puts back on the app's connection (``_prepare``'s result)
        self.restore: Restore | None = None
        #: ``lock_for_transaction`` names held (GET_LOCK) until this transaction ends
        self.named_locks: list[str] = []

    async def run(self, compiled: Any, params: Sequence[Any]) -> Result:
        if self.in_tx or not self.driver.write_retries:
            return await self._run(compiled, params)
        return await run_retrying(self.driver, lambda: self._run(compiled, params))

    async def _run(self, compiled: Any, params: Sequence[Any]) -> Result:
        if isinstance(compiled, EchoInsertProgram) and compiled.limits and not fits(compiled, params):
            return decoded(compiled, await self._run(compiled.fallback, params))
        if isinstance(compiled, Program):
            if not compiled.needs_transaction:
                return await run_program(self, compiled, params, self.driver.autoinc_step)
            if self.in_tx:
                if not compiled.needs_savepoint:
                    return await run_program(self, compiled, params, self.driver.autoinc_step)
                await self.execute("SAVEPOINT farmorm_write")
                try:
                    result = await run_program(self, compiled, params, self.driver.autoinc_step)
                except BaseException:
                    with anyio.CancelScope(shield=True):
                        await self.execute("ROLLBACK TO SAVEPOINT farmorm_write")
                    raise
                await self.execute("RELEASE SAVEPOINT farmorm_write")
                return result
            # the write and its re-read form one unit: same snapshot, and the row is locked
            await self.execute("BEGIN")
            try:
                result = await run_program(self, compiled, params, self.driver.autoinc_step)
            except BaseException:
                with anyio.CancelScope(shield=True):
                    await self._rollback_quietly()
                raise
            await self.execute("COMMIT")
            return result
        sql, args = compiled.bind(params)
        return await self.execute(sql, args, compiled.kind)

    checks_busy = True

    def _check_busy(self) -> None:
        if self.streaming:
            raise _busy(self.driver)

    async def _statement(self, sql: str, args: Sequence[Any], kind: str) -> Result:
        literals = self.driver.literals
        if args and literals is not None:
            text = literals(self.conn, sql, args)
            if text is not None:
                sql, args = text, ()
        async with self.conn.cursor() as cur, _deadline(self.driver.command_timeout):
            # no args: pymysql then skips %-interpolation, so a literal % needs no doubling
            await cur.execute(sql, args if args else None)
            if kind == "count":
                rowcount = cur.rowcount
                self.lastrowid = cur.lastrowid or 0
                # UPDATE counts changed rows unless the client set FOUND_ROWS; the OK
                # packet's info always says how many matched, which is what farmorm reports
                info = getattr(getattr(cur, "_result", None), "message", None)
                if info and (m := _MATCHED.search(info)):
                    rowcount = int(m.group(1))
                return Result((), rowcount)
            rows = await cur.fetchall()
            names = [d[0] for d in cur.description or ()] if kind == "raw" else None
            return Result(rows, len(rows) if names is None or cur.description else cur.rowcount, names)

    async def _failing(self, exc: BaseException, sql: str) -> None:
        if not isinstance(exc, Exception) or isinstance(exc, TimeoutError):
            # cancelled (or past command_timeout) mid-statement: aiomysql drops the socket, but
            # the server keeps running the statement (a lock wait would still apply the write
            # later): kill it there too
            self.driver.kill_statement(self.conn)

    def _pooled(self) -> bool:
        return bool(self.driver.pooled)

    def native(self) -> Any:
        return self.conn

    async def _rollback_quietly(self) -> None:
        # cleanup, not a statement of the caller's: no query event, so listeners see the error last
        try:
            await self.conn.rollback()
        except Exception:  # noqa: BLE001 - the caller is raising the error that matters
            pass

    async def begin(self, isolation: str | None = None) -> None:
        if isolation is not None:  # validated and spelled "read committed" by the core
            await self.execute(f"SET TRANSACTION ISOLATION LEVEL {isolation.upper()}")  # applies to the next one
        self.tracker.reset()
        await self.execute("START TRANSACTION")
        self.in_tx = True

    async def commit(self) -> None:
        if self.tracker.failed is not None:
            # InnoDB kept the transaction open after a statement-level rollback (1205, a duplicate
            # key...): committing would keep half of it. The caller rolls back.
            raise self.tracker.error(self.driver.handle.kind, "mysql", "commit")
        await self.execute("COMMIT")
        self.in_tx = False
        await self._release_named_locks()

    async def rollback(self) -> None:
        try:
            await self.execute("ROLLBACK")
        finally:
            self.in_tx = False
            self.tracker.reset()
            await self._release_named_locks()

    async def lock_for_transaction(self, name: str) -> None:
        """A named lock (``GET_LOCK``, per database) held until the transaction ends: InnoDB makes
        the waiters of a unique index entry deadlock when its holder rolls back (their shared locks
        become gap locks, and each insert waits for the others'), so reservers of one idempotency
        key queue here instead. Waits as long as a row lock would (``innodb_lock_wait_timeout``)."""
        if not self.in_tx or name in self.named_locks:
            return
        rows = (await self.execute(
            f"SELECT GET_LOCK({NAMED_LOCK}, @@SESSION.innodb_lock_wait_timeout)", (name,), "rows")).rows
        if not rows or rows[0][0] != 1:
            raise LockTimeout(
                f"Lock wait timeout in {self.driver.handle.kind} (mysql) runtime: another transaction held "
                f'"{name}" for longer than innodb_lock_wait_timeout.',
                backend_kind=self.driver.handle.kind, dialect="mysql", meta={"lock": name},
            )
        self.named_locks.append(name)

    async def _release_named_locks(self) -> None:
        """Give back the transaction's named locks; a connection where that fails is closed (the
        server frees a session's locks with it), never handed out still holding them."""
        if not self.named_locks:
            return
        names, self.named_locks = self.named_locks, []
        try:
            with anyio.CancelScope(shield=True):
                for name in names:
                    await self.execute(f"SELECT RELEASE_LOCK({NAMED_LOCK})", (name,), "rows")
        except Exception:  # noqa: BLE001 - the transaction itself ended; only its locks are at stake
            self.discard()

    def discard(self) -> None:
        """Close the socket now: the pool drops a closed connection instead of reusing it."""
        self.in_tx = False
        self.named_locks = []  # the server frees them with the session
        self.tracker.reset()
        try:
            self.conn.close()
        except Exception:  # noqa: BLE001 - closed already
            pass

    async def _replace(self) -> None:
        """Hand the dead connection back (the pool drops it) and take another one."""
        dead = self.conn
        try:
            dead.close()
        except Exception:  # noqa: BLE001
            pass
        with anyio.CancelScope(shield=True):
            await self.driver._release(dead)
        self.conn = await self.driver.client.acquire()
        self.restore = None
        self.restore = await self.driver._prepare(self.conn)

    async def _scalar(self, sql: str, args: Sequence[Any] = ()) -> Any:
        """One value of a bookkeeping query (not an app statement: no on_query event)."""
        async with self.conn.cursor() as cur:
            await cur.execute(sql, args if args else None)
            row = await cur.fetchone()
        return None if row is None else row[0]

    async def write_position(self) -> str | None:
        """MariaDB's binlog GTID position (every transaction committed so far); None on MySQL."""
        if not self.driver.mariadb:
            return None
        value = await self._scalar("SELECT @@gtid_binlog_pos")
        return str(value) if value else None

    async def replayed(self, position: str) -> bool | None:
        """Has this MariaDB replica applied ``position``? (MASTER_GTID_WAIT without waiting)"""
        if not self.driver.mariadb:
            return None
        value = await self._scalar("SELECT MASTER_GTID_WAIT(%s, 0)", (position,))
        return None if value is None else int(value) == 0

    async def replica_lag(self) -> float | None:
        """``Seconds_Behind_Master`` of ``SHOW SLAVE STATUS``; None when this server is no replica."""
        async with self.conn.cursor() as cur:
            await cur.execute("SHOW SLAVE STATUS")
            row = await cur.fetchone()
            names = [d[0] for d in cur.description or ()]
        if row is None or "Seconds_Behind_Master" not in names:
            return None
        value = row[names.index("Seconds_Behind_Master")]
        return None if value is None else float(value)

    async def cursor(self, compiled: Any, params: Sequence[Any], batch_size: int) -> RowCursor:
        """An unbuffered cursor (aiomysql / asyncmy ``SSCursor``): rows come off the wire a batch
        at a time. Until it closes, the connection can run nothing else (see ``_busy``)."""
        if self.streaming:
            raise _busy(self.driver)
        sql, args = compiled.bind(params)
        driver = self.driver
        started = time.perf_counter()
        cur = self.conn.cursor(_unbuffered_cursor_class(self.conn))
        if not hasattr(cur, "fetchmany"):
            cur = await cur  # aiomysql hands out a cursor through an awaitable
        try:
            await cur.execute(sql, args if args else None)
        except BaseException as exc:
            if driver.listeners:
                driver.emit(sql, len(args), started, 0, exc)
            with anyio.CancelScope(shield=True):
                await _close_quietly(cur)
            raise
        if driver.listeners:
            driver.emit(sql, len(args), started, -1, None)
        self.streaming = True
        return MysqlCursor(self, cur, batch_size)


def _deadline(seconds: float | None) -> Any:
    """``command_timeout``: aiomysql has no read timeout of its own, so a dead network would hang
    a statement forever. Past the deadline the read is cancelled (aiomysql then closes the
    connection) and TimeoutError (CONNECTION_ERROR) is raised."""
    return asyncio.timeout(seconds) if seconds else contextlib.nullcontext()


def _unbuffered_cursor_class(raw: Any) -> Any:
    """aiomysql's or asyncmy's ``SSCursor``, whichever library ``raw`` comes from."""
    import importlib

    asyncmy = type(raw).__module__.startswith("asyncmy")
    return importlib.import_module("asyncmy.cursors" if asyncmy else "aiomysql").SSCursor


def _busy(driver: MysqlDriver) -> UnsupportedError:
    return UnsupportedError(
        f"The {driver.handle.kind} (mysql) connection is streaming rows (orm.<model>.stream): MySQL cannot run "
        "another statement on it until the stream is closed. Finish or close the stream first, or run the other "
        "queries outside the transaction that holds the stream.",
        backend_kind=driver.handle.kind, dialect="mysql",
    )


async def _close_quietly(cur: Any) -> None:
    try:
        await cur.close()
    except Exception:  # noqa: BLE001 - the caller is raising the error that matters
        pass


class MysqlCursor(FetchManyCursor):
    """An open unbuffered result. Closing it early reads the rest of the rows off the wire and
    drops them (the protocol cannot abandon a result); a cancelled close drops the connection."""

    __slots__ = ("my",)

    def __init__(self, my: MysqlConnection, cur: Any, size: int) -> None:
        super().__init__(cur, size)
        self.my = my

    async def _release(self) -> None:
        try:
            await self.cur.close()
        except BaseException:
            self.my.conn.close()  # cancelled or failed mid-result: the protocol state is unknown, drop it
            raise
        finally:
            self.my.streaming = False


class _Checkout:
    """One connection of an aiomysql or asyncmy pool for one operation: the pooled branch of
    ``MysqlDriver._connection`` written as a class (no generator per checkout), and released
    without a shielded await when nothing is left to undo on it (no transaction, no app
    settings to restore)."""

    __slots__ = ("driver", "wrapped")

    def __init__(self, driver: MysqlDriver) -> None:
        self.driver = driver

    async def __aenter__(self) -> MysqlConnection:
        driver = self.driver
        raw = await driver.client.acquire()
        wrapped = self.wrapped = MysqlConnection(driver, raw)
        try:
            wrapped.restore = await driver._prepare(raw)
        except BaseException as exc:
            await self.__aexit__(type(exc), exc, None)
            raise
        wrapped.fresh = True
        return wrapped

    async def __aexit__(self, kind: Any, exc: BaseException | None, tb: Any) -> None:
        wrapped = self.wrapped
        if exc is not None and not isinstance(exc, Exception):
            wrapped.conn.close()  # cancelled mid-statement: the protocol state is unknown, drop it
        if not wrapped.in_tx and wrapped.restore is None:
            self.driver._release_now(wrapped.conn)  # _replace() may have moved it to another connection
            return
        await self.driver._hand_back(wrapped)


def _charset(raw: Any) -> str:
    return str(getattr(raw, "charset", None) or raw.character_set_name() or "")  # aiomysql / asyncmy


async def _set_charset(raw: Any, charset: str) -> None:
    """SET NAMES and the client-side encoding (aiomysql); SET NAMES alone on asyncmy, whose
    set_charset is broken (0.2.18) and whose client-side codec is utf-8 already."""
    if type(raw).__module__.startswith("asyncmy") or not hasattr(raw, "set_charset"):
        async with raw.cursor() as cur:
            await cur.execute(f"SET NAMES {charset}")
    else:
        await raw.set_charset(charset)


def server_version(info: str) -> tuple[int, ...]:
    """``10.11.19-MariaDB-0+deb12u1`` -> (10, 11, 19); () when the text has no version. MariaDB's
    handshake prefixes ``5.5.5-`` for old replication clients: that prefix is skipped."""
    m = re.match(r"(?:5\.5\.5-(?=\d+\.\d+.*mariadb))?(\d+)\.(\d+)(?:\.(\d+))?", info, re.I)
    return tuple(int(g) for g in m.groups() if g is not None) if m else ()


def is_closed(raw: Any) -> bool:
    """aiomysql has ``closed``; asyncmy has ``connected``."""
    closed = getattr(raw, "closed", None)
    if isinstance(closed, bool):
        return closed
    return not getattr(raw, "connected", True)


class MysqlDriver(Driver):
    """farmorm's driver for an ``aiomysql`` / ``asyncmy`` ``Pool`` or ``Connection``."""

    def __init__(self, schema: Schema, client: Any, *, handle_client: Any, owned: bool, pooled: bool,
                 kind: str = "aiomysql") -> None:
        super().__init__()
        self.schema = schema
        self.client = client
        self.owned = owned
        self.pooled = pooled
        self.handle = DriverHandle(kind, "mysql", handle_client, CAPABILITIES)
        self.mariadb = True
        self.autoinc_step = 1
        self.compiler = MysqlCompiler(schema, MysqlDialect())
        self._ready: weakref.WeakSet[Any] = weakref.WeakSet()
        #: the app's connections whose session settings differ from farmorm's (swapped per checkout)
        self._differs: weakref.WeakSet[Any] = weakref.WeakSet()
        self._lock = anyio.Lock(fast_acquire=True)  # no event-loop round trip when uncontended
        self._single = None if pooled else MysqlConnection(self, client)
        self._background: set[asyncio.Task[None]] = set()  # KILLs of cancelled statements
        #: seconds a statement may take before it is abandoned (``create_orm(..., command_timeout=)``)
        self.command_timeout: float | None = None
        #: an aiomysql or asyncmy pool (both ``Pool.release`` are synchronous, "NOT a coroutine"):
        #: checkouts are ``_Checkout``s, released without awaiting the pool
        self.quick_release = kind in ("aiomysql", "asyncmy") and pooled and hasattr(client, "release")
        #: aiomysql: writes values into the statement text as aiomysql would, with less dispatch
        #: per value (``literals``; imported here: it needs PyMySQL, which asyncmy alone lacks)
        self.literals: Callable[[Any, str, Sequence[Any]], str | None] | None = None
        if kind == "aiomysql":
            from .literals import interpolated

            self.literals = interpolated

    @classmethod
    async def open(cls, schema: Schema, client: Any, *, handle_client: Any, owned: bool, pooled: bool,
                   kind: str = "aiomysql", command_timeout: float | None = None) -> MysqlDriver:
        driver = cls(schema, client, handle_client=handle_client, owned=owned, pooled=pooled, kind=kind)
        driver.command_timeout = command_timeout
        async with driver.connection() as conn:
            assert isinstance(conn, MysqlConnection)
            info = conn.conn.get_server_info() or ""
            driver.mariadb = "mariadb" in info.lower()
            rows = (await conn.execute("SELECT @@auto_increment_increment", (), "rows")).rows
            driver.autoinc_step = int(rows[0][0]) if rows else 1
        # MariaDB 10.5+ returns inserted rows itself: one statement instead of a write program
        # (and DELETE … RETURNING since 10.0.5; MySQL 8 deletes through a read-then-delete program)
        driver.compiler = MysqlCompiler(schema, MysqlDialect(driver.mariadb),
                                        insert_returning=driver.mariadb and server_version(info) >= (10, 5),
                                        delete_returning=driver.mariadb and server_version(info) >= (10, 0, 5))
        return driver

    async def _prepare(self, raw: Any) -> Restore | None:
        """farmorm's session settings on ``raw``. A connection of a pool farmorm owns keeps them
        (set once); on the app's connection they are swapped in for this checkout: returns what
        ``_restore`` needs to put the app's back (None: nothing)."""
        if self.owned:
            if raw in self._ready:
                if not raw.get_autocommit():  # switched off in between
                    await raw.autocommit(True)
                return None
            if _charset(raw).lower() != "utf8mb4":
                await _set_charset(raw, "utf8mb4")
            async with raw.cursor() as cur:
                await cur.execute(SESSION_SETUP)
            if not raw.get_autocommit():
                await raw.autocommit(True)
            self._ready.add(raw)
            return None
        restore = Restore(_charset(raw), raw.get_autocommit())
        if restore.autocommit and restore.charset.lower() == "utf8mb4" and await self._runs_our_way(raw):
            return None  # the app configured its pool as farmorm runs: nothing to swap or restore
        try:
            if restore.charset.lower() != "utf8mb4":
                await _set_charset(raw, "utf8mb4")
            async with raw.cursor() as cur:
                await cur.execute(SESSION_SWAP)
        except BaseException:
            raw.close()  # half set up: never hand it back to the app like this
            raise
        return restore

    async def _runs_our_way(self, raw: Any) -> bool:
        """Does the app's connection already have farmorm's sql_mode and time_zone? Asked once per
        connection (a pool made with ``init_command`` setting them, autocommit and utf8mb4 then
        costs no statement per checkout); remembered like the set-up of an owned connection."""
        if raw in self._ready:
            return True
        if raw in self._differs:
            return False
        async with raw.cursor() as cur:
            await cur.execute("SELECT @@SESSION.sql_mode, @@SESSION.time_zone")
            mode, zone = await cur.fetchone()
        same = set(str(mode).split(",")) == set(SQL_MODE.split(",")) and zone in ("+00:00", "UTC")
        (self._ready if same else self._differs).add(raw)
        return same

    async def _restore(self, raw: Any, restore: Restore | None) -> None:
        """Put the app's session settings back on ``raw`` (saved by ``_prepare``) before it goes
        back to the app; a connection where that fails is closed, never returned changed."""
        if restore is None or is_closed(raw):
            return
        try:
            async with raw.cursor() as cur:
                await cur.execute(SESSION_RESTORE)
            if raw.get_autocommit() != restore.autocommit:
                # the server has the app's value already; asyncmy (0.2.18) ignores a status of 0
                # in an OK packet, so its own view still says autocommit: set it the library's way
                await raw.autocommit(restore.autocommit)
            if restore.charset.lower() != "utf8mb4":
                await _set_charset(raw, restore.charset)
        except BaseException:
            raw.close()
            raise

    def compile(self, node: Any) -> Any:
        return self.compiler.compile(node)

    def connection(self, *, write: bool = False, transaction: bool = False) -> AsyncContextManager[Connection]:
        if self.quick_release:
            return _Checkout(self)
        return self._connection()

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[Connection]:
        if not self.pooled:
            async with self._lock:
                assert self._single is not None
                restore = await self._prepare(self.client)
                try:
                    yield self._single
                finally:
                    with anyio.CancelScope(shield=True):
                        await self._restore(self.client, restore)
            return
        pool = self.client
        if not hasattr(pool, "release"):  # an adapter (a SQLAlchemy engine) with its own context manager
            async with pool.acquire() as raw:
                wrapped = MysqlConnection(self, raw)
                try:
                    wrapped.restore = await self._prepare(raw)
                    yield wrapped
                except BaseException as exc:
                    if not isinstance(exc, Exception):
                        raw.close()  # cancelled mid-statement: the protocol state is unknown, drop it
                    raise
                finally:
                    with anyio.CancelScope(shield=True):
                        if wrapped.in_tx and not is_closed(raw):
                            await wrapped.rollback()
                        await self._restore(raw, wrapped.restore)
            return
        raw = await pool.acquire()
        wrapped = MysqlConnection(self, raw)
        try:
            wrapped.restore = await self._prepare(raw)
            wrapped.fresh = True
            yield wrapped
        except BaseException as exc:
            if not isinstance(exc, Exception):
                wrapped.conn.close()  # cancelled mid-statement: the protocol state is unknown, drop it
            raise
        finally:
            await self._hand_back(wrapped)

    async def _hand_back(self, wrapped: MysqlConnection) -> None:
        """Undo what an operation left on its pooled connection (an open transaction, farmorm's
        session settings) and give it back, shielded so a cancelled caller never leaks it."""
        current = wrapped.conn  # _replace() may have moved the operation to another connection
        with anyio.CancelScope(shield=True):
            try:
                if wrapped.in_tx and not is_closed(current):
                    await wrapped.rollback()
                await self._restore(current, wrapped.restore)
            finally:
                await self._release(current)

    def acquire_is_immediate(self) -> bool:
        """A pool farmorm opened (aiomysql or asyncmy), with a free connection and no task inside
        its ``acquire()``: taking one awaits nothing (``_acquire`` waits only for its condition's
        lock, free here, or connects when no free connection is left), so the engine arms no
        acquire deadline for it."""
        if not (self.quick_release and self.owned):
            return False
        pool = self.client
        cond = getattr(pool, "_cond", None)
        return cond is not None and pool.freesize > 0 and pool.size >= pool.minsize and not cond.locked()

    def _release_now(self, raw: Any) -> None:
        """``Pool.release`` (not a coroutine) puts the connection back at once and returns what
        wakes a waiter (aiomysql: a task; asyncmy: a done future): nothing to wait for here, so no
        shielded await; a task is kept until it is done (``close`` waits for it)."""
        released = self.client.release(raw)
        if isinstance(released, asyncio.Task) and not released.done():
            self._background.add(released)
            released.add_done_callback(self._background.discard)
        if is_closed(raw):
            self._wake_waiters()

    async def _release(self, raw: Any) -> None:
        released = self.client.release(raw)  # aiomysql returns a future, asyncmy may not
        if inspect.isawaitable(released):
            await released
        if is_closed(raw):
            # aiomysql's Pool.release wakes the tasks waiting for a connection only when the
            # returned one is still open: after a dropped connection they would wait forever
            # with the pool below its max size. Wake one.
            self._wake_waiters()

    def _wake_waiters(self) -> None:
        wakeup = getattr(self.client, "_wakeup", None)
        if wakeup is None or getattr(self.client, "_closing", False):
            return
        task = asyncio.get_running_loop().create_task(wakeup())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def kill_statement(self, raw: Any) -> None:
        """``KILL CONNECTION <id>`` from a side connection, in the background (bounded): the
        cancelled statement stops on the server and the session's locks go with it."""
        try:
            thread_id = raw.thread_id()
        except Exception:  # noqa: BLE001 - not connected: nothing runs on the server
            return
        kwargs = dict(getattr(self.client, "_conn_kwargs", None) or {}) if self.pooled else {}
        if not kwargs:
            kwargs = {k: getattr(raw, a) for k, a in (("host", "host"), ("port", "port"), ("user", "user"),
                                                      ("password", "_password")) if hasattr(raw, a)}
        if not kwargs:
            return
        kwargs.pop("db", None)
        task = asyncio.get_running_loop().create_task(self._kill(type(raw).__module__, kwargs, thread_id))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _kill(self, module: str, kwargs: dict[str, Any], thread_id: int) -> None:
        import importlib

        library: Any = importlib.import_module("asyncmy" if module.startswith("asyncmy") else "aiomysql")
        conn = None
        try:
            with anyio.move_on_after(KILL_TIMEOUT):
                conn = await library.connect(**kwargs)
                async with conn.cursor() as cur:
                    await cur.execute(f"KILL CONNECTION {int(thread_id)}")
        except Exception:  # noqa: BLE001 - gone already (ER_NO_SUCH_THREAD), or the server is unreachable
            pass
        finally:
            if conn is not None:
                conn.close()

    def pool_status(self) -> dict[str, int] | None:
        if not self.pooled:
            return None
        pool = self.client
        return {"size": pool.size, "in_use": pool.size - pool.freesize, "max_size": pool.maxsize}

    def terminate(self) -> None:
        if not self.owned:
            return
        if self.pooled:
            self.client.terminate()
        else:
            self.client.close()

    def statements(self, schema: Schema) -> list[str]:
        return schema_statements(ddl_hooks(schema, self.mariadb), schema)

    async def push_schema(self, schema: Schema) -> None:
        # MySQL DDL commits implicitly, so statements go one by one, outside any transaction
        async with self.connection(write=True) as conn:
            assert isinstance(conn, MysqlConnection)
            # "table already exists" notes would make aiomysql run SHOW WARNINGS and warn
            await conn.execute("SET @farmorm_sql_notes = @@SESSION.sql_notes, SESSION sql_notes = 0")
            try:
                for stmt in self.statements(schema):
                    try:
                        await conn.execute(stmt)
                    except Exception as exc:
                        if stmt.startswith(("CREATE INDEX", "CREATE UNIQUE INDEX")) and exc.args and exc.args[0] == 1061:
                            continue  # ER_DUP_KEYNAME: the index exists already
                        raise
            finally:
                with anyio.CancelScope(shield=True):
                    await conn.execute("SET SESSION sql_notes = @farmorm_sql_notes, @farmorm_sql_notes = NULL")

    def map_error(self, exc: BaseException) -> OrmError | None:
        return map_error(exc, self.schema, self.handle.kind)

    async def close(self) -> None:
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        if not self.owned:
            return
        if self.pooled:
            self.client.close()
            await self.client.wait_closed()
        else:
            self.client.close()
