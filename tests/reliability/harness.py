"""The reliability harness (RELIABILITY.md §3): fault proxy, admin connection, leak checks, history.

Everything here is plain asyncio plus the raw drivers; nothing is copied from third-party test
suites. The pytest fixtures that wire it together live in ``tests/reliability/conftest.py``.

Fixtures (conftest.py)
======================
``backend``
    ``"sqlite" | "postgres" | "mysql" | "mongo"``, parametrized over ``selected_backends()``
    (``FARMORM_BACKENDS``); skipped with the reason when unusable, a failure when listed in
    ``FARMORM_REQUIRE`` (same rules as ``tests/conftest.py``). Mongo runs on mongomock unless
    ``FARMORM_MONGO_URL`` is set: use ``requires(backend, "real_mongo")`` to gate server-only cases.
``rig``
    A :class:`Rig` for the test: one fresh database (``TestDatabase``) created on first use, ORMs
    on it (``await rig.orm(...)``), fault proxies (``await rig.proxy()``), the :class:`Admin`
    (``await rig.admin()``). At teardown it runs :func:`assert_clean` on every ORM it made, closes
    them, drops the database, then checks threads, fds, ResourceWarnings and loop errors against
    the baseline taken at setup (:class:`LeakBaseline`). Every test in this directory also gets a
    hard pytest-timeout (60 s default, 900 s under ``-m soak``; override with
    ``@pytest.mark.timeout(n)``), runs with ``error::ResourceWarning``, and with the loop in debug
    mode.
``orm``
    ``await rig.orm()``: the :data:`ACCOUNTS` schema pushed and seeded (ids 1..10, balance 100).

Making ORMs: ``await rig.orm(schema=ACCOUNTS, *, seed=True, pool=4, min_pool=None, via=proxy,
tag=None, acquire_timeout=..., command_timeout=None, **create_orm_options)``
    ``pool`` is the pool's max size (min defaults to ``pool`` so the pool is warm; SQLite and
    Mongo ignore it). ``via=`` routes the ORM through a :class:`FaultProxy`. ``tag`` (default
    ``rig.tag``, unique per test) names the sessions: PostgreSQL ``application_name``, MySQL
    ``program_name`` (MariaDB without performance_schema cannot show it; the admin finds sessions
    by the test's database name instead, which is unique per test too). ``rig.url(tag=, via=)``
    gives the URL alone.

Helpers in this module
======================
:class:`FaultProxy`
    ``proxy = await FaultProxy.start(host, port)`` (or ``await rig.proxy()`` for the backend's
    server); ``proxy.url(url)`` rewrites a URL's host:port to the proxy. Faults, applying to the
    open and future connections: ``blackhole()`` (forward nothing, no FIN / RST),
    ``restore()`` (clear every fault), ``drop_after(n_bytes, direction="s2c"|"c2s")`` (reset the
    connection that carries the n-th byte from now), ``reset()`` (RST every open connection with
    ``SO_LINGER 0``: what a server restart looks like to the client), ``delay(ms, direction)``,
    ``drop_next_server_reply(match=b"COMMIT")`` (forward the next client message containing
    ``match``, swallow the server's reply, reset the connection: the ambiguous commit),
    ``refuse(True)`` (reset new connections at once). ``proxy.connections`` counts open pairs,
    ``proxy.events`` logs what was done, ``await proxy.close()``.
:class:`Admin`
    A raw, never pooled connection to the backend's server (not to the test database):
    ``sessions(tag=None)`` (the test database's server sessions, optionally only one tag's),
    ``kill(session_id)``, ``kill_all(tag=None)``, ``open_transactions(tag=None)`` (PG sessions
    ``idle in transaction``, InnoDB's active transactions from ``SHOW ENGINE INNODB STATUS`` (not
    ``information_schema.innodb_trx``: a cache that goes stale while others wait on locks), a held
    SQLite write lock),
    ``running(tag=None)`` (sessions executing a statement), ``fetch(sql, *args)`` /
    ``execute(sql, *args)`` on the server, ``hold_lock(table, id)`` (an async context manager
    holding a row lock from another session). SQLite has no server: ``open_transactions`` probes
    the file's write lock, the session calls return ``[]``.
:func:`assert_clean`
    ``await assert_clean(orm, admin=None, tag=None)``: pool ``in_use == 0`` and ``size <= max``;
    no open transaction on the server from the test's sessions. Retries for a short grace (a
    release may be in flight) and then fails with what it saw.
:class:`LeakBaseline`
    ``baseline = LeakBaseline.take()``; ``await baseline.assert_restored()``: thread and fd counts
    back to the baseline within a grace, no ResourceWarning / unraisable exception, no loop
    exception-handler report ("Task was destroyed but it is pending", asyncpg's "Resetting
    connection with an active transaction", ...).
:class:`History`
    ``async with history.op("insert", key) as rec: rec.result = await ...``: records
    ``(op, args, result, status in {ok, fail, unknown}, t_start, t_end, error)``; a cancellation,
    a lost connection or COMMIT_UNKNOWN makes ``unknown``, another OrmError ``fail``. Then
    ``history.ok("insert")`` etc.
Other helpers
    ``raw(orm, sql, *args)`` runs SQL on the ORM's own connection scope (the running transaction
    inside one); ``slow_sql(backend, seconds)`` a statement that runs that long (``pg_sleep``,
    ``SLEEP``, a recursive CTE on SQLite); ``pool_status(orm)``; ``within(seconds)`` a hang guard
    (``asyncio.timeout`` that fails with a message); ``requires(backend, *caps)`` skips a case a
    backend cannot run, with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import re
import socket
import sqlite3
import struct
import threading
import time
import uuid
import warnings
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Awaitable, Callable, Iterator, Literal, Sequence
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest

from farmorm import define_schema, model
from farmorm import fields as f
from farmorm.core.errors import OrmError
from farmorm.runtime.orm import Orm, engine_of
from farmorm.testing.databases import _mysql_args, server_url

# --------------------------------------------------------------------------------------- schema

#: ``account``: ``n`` 1..10 (unique), ``balance`` 100 each (total 1000) when seeded; ``marker``:
#: free rows with a ``tag`` (not unique, so a duplicate write is countable).
ACCOUNTS = define_schema(
    account=model(
        table="accounts",
        fields={
            "id": f.id(),
            "n": f.integer().unique(),
            "balance": f.integer(),
        },
    ),
    marker=model(
        table="markers",
        fields={
            "id": f.id(),
            "tag": f.string(),
            "payload": f.string().default(""),
        },
    ),
)
SEED_ACCOUNTS = 10
SEED_BALANCE = 100


async def seed_accounts(orm: Orm, n: int = SEED_ACCOUNTS, balance: int = SEED_BALANCE) -> None:
    await orm.account.create_many(data=[{"n": i, "balance": balance} for i in range(1, n + 1)])


async def balances(orm: Orm) -> dict[int, int]:
    rows = await orm.account.find_many(order_by={"n": "asc"})
    return {r["n"]: r["balance"] for r in rows}


def new_tag(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


# --------------------------------------------------------------------------------------- helpers


@contextlib.asynccontextmanager
async def within(seconds: float, what: str = "operation") -> AsyncIterator[None]:
    """A hang guard: fail (not hang) when the block takes longer than ``seconds``."""
    try:
        async with asyncio.timeout(seconds):
            yield
    except TimeoutError:
        pytest.fail(f"{what} did not finish within {seconds}s (hang)")


def requires(backend: str, *needs: str) -> None:
    """Skip the running case when ``backend`` lacks one of ``needs`` (with the reason)."""
    real_mongo = bool(os.environ.get("FARMORM_MONGO_URL"))
    reasons = {
        "server": (backend in ("postgres", "mysql") or (backend == "mongo" and real_mongo),
                   "needs a database server (SQLite is in-process; Mongo is mongomock without FARMORM_MONGO_URL)"),
        "sql": (backend in ("postgres", "mysql", "sqlite"), "a SQL statement case"),
        "network": (backend in ("postgres", "mysql") or (backend == "mongo" and real_mongo),
                    "needs a TCP connection to a server to put a FaultProxy on"),
        "kill_session": (backend in ("postgres", "mysql"),
                         "needs a server session that an admin can kill (pg_terminate_backend / KILL CONNECTION)"),
        "transactions": (backend in ("postgres", "mysql", "sqlite") or (backend == "mongo" and real_mongo),
                         "needs real transactions (mongomock has none: capabilities.supports_transactions is False)"),
        "pool": (backend in ("postgres", "mysql", "sqlite"),
                 "needs a connection pool farmorm hands out (the Mongo driver has none: pymongo pools inside)"),
        "real_mongo": (backend != "mongo" or real_mongo, "needs a real MongoDB server: set FARMORM_MONGO_URL"),
        "mongo_server": (backend == "mongo" and real_mongo, "a MongoDB-server case: set FARMORM_MONGO_URL"),
    }
    for need in needs:
        ok, reason = reasons[need]
        if not ok:
            pytest.skip(f"{backend}: {reason}")


async def raw(orm: Orm, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """Run ``sql`` on the ORM's own connection scope (inside its transaction when ``orm`` is a tx)."""
    async with engine_of(orm).scope(write=True) as conn:
        conn.app_sql()  # the app's own SQL, as orm.raw runs it (the release resets the session)
        result = await conn.execute(sql, args, "rows")  # type: ignore[attr-defined]
    return [tuple(r) for r in result.rows]


def slow_sql(backend: str, seconds: float) -> str:
    """A statement that runs about ``seconds`` on ``backend`` (and returns one row)."""
    if backend == "postgres":
        return f"SELECT pg_sleep({seconds})"
    if backend == "mysql":
        return f"SELECT SLEEP({seconds})"
    if backend == "sqlite":
        n = int(seconds * 4_000_000)  # ~4M rows/s here; long enough, and interruptible
        return f"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {n}) SELECT max(x) FROM c"
    raise ValueError(f"no slow statement on {backend}")


def tagged_sql(backend: str, tag: str) -> str:
    """``SELECT '<tag>'`` (for stale-result checks: the reply must carry the caller's own tag)."""
    return f"SELECT '{tag}'"


@dataclass
class PoolStatus:
    size: int
    in_use: int
    max_size: int


def pool_status(orm: Orm) -> PoolStatus | None:
    """The pool's counters (``None`` when farmorm has no pool to look at: Mongo)."""
    driver = orm._driver
    status = getattr(driver, "pool_status", None)
    if status is not None:
        got = status()
        if got is not None:
            return PoolStatus(got["size"], got["in_use"], got["max_size"])
    return _introspect_pool(driver)


def _introspect_pool(driver: Any) -> PoolStatus | None:
    kind = driver.handle.dialect
    if kind == "postgres" and getattr(driver, "is_pool", False) and hasattr(driver.target, "get_size"):
        pool = driver.target
        return PoolStatus(pool.get_size(), pool.get_size() - pool.get_idle_size(), pool.get_max_size())
    if kind == "mysql" and getattr(driver, "pooled", False):
        pool = driver.client
        return PoolStatus(pool.size, pool.size - pool.freesize, pool.maxsize)
    if kind == "sqlite":
        return PoolStatus(1, 1 if driver._lock.locked() else 0, 1)
    return None


# --------------------------------------------------------------------------------------- proxy

Direction = Literal["c2s", "s2c"]


class _Pair:
    """One proxied connection: the client side and the upstream (server) side."""

    def __init__(self, proxy: FaultProxy, client: asyncio.StreamWriter, upstream: asyncio.StreamWriter) -> None:
        self.proxy = proxy
        self.client = client
        self.upstream = upstream
        self.closed = False
        self.swallow_reply = False
        self.tasks: list[asyncio.Task[None]] = []

    def reset(self) -> None:
        """RST both sides (SO_LINGER 0, then abort)."""
        if self.closed:
            return
        self.closed = True
        for w in (self.client, self.upstream):
            with contextlib.suppress(Exception):
                sock = w.get_extra_info("socket")
                if sock is not None:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            with contextlib.suppress(Exception):
                w.transport.abort()
        self.proxy._pairs.discard(self)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for w in (self.client, self.upstream):
            with contextlib.suppress(Exception):
                w.close()
        self.proxy._pairs.discard(self)


class FaultProxy:
    """An asyncio TCP proxy on 127.0.0.1 in front of a database server, with injectable faults."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.host = "127.0.0.1"
        self.port = 0
        self._server: asyncio.base_events.Server | None = None
        self._pairs: set[_Pair] = set()
        self._blackhole = False
        self._refuse = False
        self._delay: dict[str, float] = {"c2s": 0.0, "s2c": 0.0}
        self._drop_after: dict[str, int | None] = {"c2s": None, "s2c": None}
        self._drop_reply_match: bytes | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        #: (time, event) of every fault applied, for failure messages
        self.events: list[tuple[float, str]] = []
        self.bytes: dict[str, int] = {"c2s": 0, "s2c": 0}
        self.accepted = 0

    @classmethod
    async def start(cls, target_host: str, target_port: int) -> FaultProxy:
        proxy = cls(target_host, target_port)
        proxy._server = await asyncio.start_server(proxy._accept, proxy.host, 0)
        proxy.port = proxy._server.sockets[0].getsockname()[1]
        return proxy

    def url(self, url: str) -> str:
        """``url`` with its host:port replaced by the proxy's."""
        parts = urlsplit(url)
        auth = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
        return urlunsplit((parts.scheme, f"{auth}{self.host}:{self.port}", parts.path, parts.query, parts.fragment))

    @property
    def connections(self) -> int:
        return len(self._pairs)

    def _log(self, what: str) -> None:
        self.events.append((time.monotonic(), what))

    # -- faults -------------------------------------------------------------------------------
    def blackhole(self) -> None:
        """Forward nothing in either direction (no FIN, no RST): the network just went quiet."""
        self._blackhole = True
        self._log("blackhole")

    def restore(self) -> None:
        """Clear every fault (connections broken meanwhile stay broken)."""
        self._blackhole = False
        self._refuse = False
        self._delay = {"c2s": 0.0, "s2c": 0.0}
        self._drop_after = {"c2s": None, "s2c": None}
        self._drop_reply_match = None
        self._log("restore")

    def refuse(self, on: bool = True) -> None:
        """Reset new connections as soon as they arrive (the server is down)."""
        self._refuse = on
        self._log(f"refuse={on}")

    def delay(self, ms: float, direction: Direction = "s2c") -> None:
        """Hold every chunk going ``direction`` for ``ms`` milliseconds before forwarding it."""
        self._delay[direction] = ms / 1000.0
        self._log(f"delay {ms}ms {direction}")

    def drop_after(self, n_bytes: int, direction: Direction = "s2c") -> None:
        """Reset the connection that carries the ``n_bytes``-th byte going ``direction`` from now
        (the bytes before it are forwarded)."""
        self._drop_after[direction] = n_bytes
        self._log(f"drop_after {n_bytes} {direction}")

    def reset(self) -> int:
        """RST every open connection; returns how many (a server restart, as the client sees it)."""
        pairs = list(self._pairs)
        for pair in pairs:
            pair.reset()
        self._log(f"reset {len(pairs)}")
        return len(pairs)

    def drop_next_server_reply(self, match: bytes = b"COMMIT") -> None:
        """Forward the next client message that contains ``match``, swallow the server's reply to
        it, and reset that connection: the client cannot know whether the statement took effect."""
        self._drop_reply_match = match
        self._log(f"drop_next_server_reply {match!r}")

    # -- plumbing ----------------------------------------------------------------------------
    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        if self._refuse:
            _Pair(self, writer, writer).reset()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError:
            _Pair(self, writer, writer).reset()
            return
        pair = _Pair(self, writer, up_writer)
        self._pairs.add(pair)
        for src, dst, direction in ((reader, up_writer, "c2s"), (up_reader, writer, "s2c")):
            task = asyncio.get_running_loop().create_task(self._pump(pair, src, dst, direction))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pump(self, pair: _Pair, src: asyncio.StreamReader, dst: asyncio.StreamWriter, direction: str) -> None:
        try:
            while not pair.closed:
                data = await src.read(65536)
                if not data:
                    pair.close()
                    return
                if self._blackhole:
                    continue  # dropped on the floor
                if self._delay[direction]:
                    await asyncio.sleep(self._delay[direction])
                    if pair.closed or self._blackhole:
                        return
                limit = self._drop_after[direction]
                if limit is not None:
                    if len(data) >= limit:
                        self._drop_after[direction] = None
                        if limit:
                            dst.write(data[:limit])
                            with contextlib.suppress(Exception):
                                await dst.drain()
                        self._log(f"dropped {direction} after {self.bytes[direction] + limit} bytes")
                        self.bytes[direction] += limit
                        pair.reset()
                        return
                    self._drop_after[direction] = limit - len(data)
                if direction == "c2s" and self._drop_reply_match is not None and self._drop_reply_match in data:
                    self._drop_reply_match = None
                    pair.swallow_reply = True
                    self._log("request forwarded, its reply will be swallowed")
                elif direction == "s2c" and pair.swallow_reply:
                    self._log("server reply swallowed, connection reset")
                    pair.reset()
                    return
                self.bytes[direction] += len(data)
                dst.write(data)
                await dst.drain()
        except (ConnectionError, OSError, asyncio.IncompleteReadError):
            pair.reset()
        except asyncio.CancelledError:
            pair.reset()
            raise

    async def close(self) -> None:
        for pair in list(self._pairs):
            pair.reset()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


# --------------------------------------------------------------------------------------- admin


class Admin:
    """A raw, never pooled, admin connection to the backend's server.

    Sessions are found by the test database's name (unique per test) and, optionally, by the tag
    the ORM set (PostgreSQL ``application_name``)."""

    def __init__(self, backend: str, database: str, *, sqlite_path: str | None = None) -> None:
        self.backend = backend
        self.database = database
        self.sqlite_path = sqlite_path
        self.conn: Any = None

    @classmethod
    async def open(cls, backend: str, database: str, *, sqlite_path: str | None = None) -> Admin:
        admin = cls(backend, database, sqlite_path=sqlite_path)
        if backend == "postgres":
            import asyncpg

            admin.conn = await asyncpg.connect(server_url("postgres"), server_settings={"application_name": "farmorm-admin"})
        elif backend == "mysql":
            import aiomysql

            admin.conn = await aiomysql.connect(**_mysql_args(server_url("mysql")))
        return admin

    async def close(self) -> None:
        conn, self.conn = self.conn, None
        if conn is None:
            return
        if self.backend == "postgres":
            await conn.close()
        elif self.backend == "mysql":
            conn.close()

    async def fetch(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        """Rows of ``sql`` run on the server (``$1`` placeholders on PG, ``%s`` on MySQL)."""
        if self.backend == "postgres":
            return [tuple(r) for r in await self.conn.fetch(sql, *args)]
        if self.backend == "mysql":
            async with self.conn.cursor() as cur:
                await cur.execute(sql, args or None)
                return [tuple(r) for r in await cur.fetchall()]
        if self.backend == "sqlite":
            assert self.sqlite_path is not None
            with contextlib.closing(sqlite3.connect(self.sqlite_path, timeout=1)) as conn:
                return [tuple(r) for r in conn.execute(sql, args).fetchall()]
        return []

    async def execute(self, sql: str, *args: Any) -> None:
        if self.backend == "postgres":
            await self.conn.execute(sql, *args)
        elif self.backend == "mysql":
            async with self.conn.cursor() as cur:
                await cur.execute(sql, args or None)
        elif self.backend == "sqlite":
            assert self.sqlite_path is not None
            with contextlib.closing(sqlite3.connect(self.sqlite_path, timeout=1, isolation_level=None)) as conn:
                conn.execute(sql, args)

    async def sessions(self, tag: str | None = None) -> list[dict[str, Any]]:
        """The server sessions on the test database (``id``, ``state``, ``query``, ``tag``)."""
        if self.backend == "postgres":
            rows = await self.conn.fetch(
                "SELECT pid, state, query, application_name, backend_xid::text FROM pg_stat_activity "
                "WHERE datname = $1 AND pid <> pg_backend_pid() AND backend_type = 'client backend' "
                "AND ($2::text IS NULL OR application_name = $2)", self.database, tag)
            return [{"id": r[0], "state": r[1], "query": r[2], "tag": r[3], "xid": r[4]} for r in rows]
        if self.backend == "mysql":
            rows = await self.fetch(
                "SELECT ID, COMMAND, INFO, STATE FROM information_schema.PROCESSLIST "
                "WHERE DB = %s AND ID <> CONNECTION_ID()", self.database)
            return [{"id": r[0], "state": r[1], "query": r[2], "tag": None, "detail": r[3]} for r in rows]
        return []

    async def running(self, tag: str | None = None) -> list[dict[str, Any]]:
        """Sessions executing a statement right now."""
        out = []
        for s in await self.sessions(tag):
            if self.backend == "postgres" and s["state"] == "active":
                out.append(s)
            elif self.backend == "mysql" and s["state"] not in ("Sleep",) and s["query"]:
                out.append(s)
        return out

    async def kill(self, session_id: Any) -> None:
        if self.backend == "postgres":
            await self.conn.fetchval("SELECT pg_terminate_backend($1)", session_id)
        elif self.backend == "mysql":
            with contextlib.suppress(Exception):  # already gone: ER_NO_SUCH_THREAD
                await self.execute(f"KILL CONNECTION {int(session_id)}")
        else:
            raise NotImplementedError(f"no sessions to kill on {self.backend}")

    async def kill_all(self, tag: str | None = None) -> int:
        victims = await self.sessions(tag)
        for s in victims:
            await self.kill(s["id"])
        return len(victims)

    async def open_transactions(self, tag: str | None = None) -> list[dict[str, Any]]:
        """Transactions left open on the test database (``[]`` when clean)."""
        if self.backend == "postgres":
            return [s for s in await self.sessions(tag) if (s["state"] or "").startswith("idle in transaction")]
        if self.backend == "mysql":
            # INFORMATION_SCHEMA.INNODB_TRX is a cache InnoDB may not refresh (it goes stale
            # while other sessions wait on locks); SHOW ENGINE INNODB STATUS is built on demand
            ours = {s["id"] for s in await self.sessions()}
            status = (await self.fetch("SHOW ENGINE INNODB STATUS"))[0][2]
            found = []
            for block in status.split("---TRANSACTION ")[1:]:
                if ", ACTIVE" not in block.split("\n", 1)[0]:
                    continue
                m = re.search(r"(?:MySQL|MariaDB) thread id (\d+)", block)
                if m and int(m.group(1)) in ours:
                    found.append({"id": int(m.group(1)), "state": block.split("\n", 1)[0]})
            return found
        if self.backend == "sqlite" and self.sqlite_path and os.path.exists(self.sqlite_path):
            # a write transaction left open holds the RESERVED lock: BEGIN IMMEDIATE cannot get it
            conn = sqlite3.connect(self.sqlite_path, timeout=0, isolation_level=None)
            try:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("ROLLBACK")
            except sqlite3.OperationalError as exc:
                return [{"id": "sqlite-write-lock", "state": str(exc)}]
            finally:
                conn.close()
        return []

    @contextlib.asynccontextmanager
    async def hold_lock(self, table: str, n: int) -> AsyncIterator[None]:
        """Hold a row lock (``n`` = the ``accounts.n`` value) from another session for the block."""
        if self.backend == "postgres":
            import asyncpg

            conn = await asyncpg.connect(_database_url("postgres", self.database))
            try:
                async with conn.transaction():
                    await conn.execute(f'SELECT 1 FROM "{table}" WHERE n = $1 FOR UPDATE', n)
                    yield
            finally:
                await conn.close()
        elif self.backend == "mysql":
            import aiomysql

            conn = await aiomysql.connect(**_mysql_args(_database_url("mysql", self.database)))
            try:
                async with conn.cursor() as cur:
                    await cur.execute("START TRANSACTION")
                    await cur.execute(f"SELECT 1 FROM `{table}` WHERE n = %s FOR UPDATE", (n,))
                    try:
                        yield
                    finally:
                        await cur.execute("ROLLBACK")
            finally:
                conn.close()
        elif self.backend == "sqlite":
            assert self.sqlite_path is not None
            conn = sqlite3.connect(self.sqlite_path, timeout=1, isolation_level=None, check_same_thread=False)
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield
                finally:
                    conn.execute("ROLLBACK")
            finally:
                conn.close()
        else:
            raise NotImplementedError(f"no row locks on {self.backend}")

    async def can_update(self, table: str, ns: Sequence[int], lock_timeout_s: float = 1.0) -> bool:
        """An ``UPDATE ... SET balance = balance WHERE n IN (...)`` from another session, with a
        short lock timeout: True when it got the locks (nobody holds them)."""
        ids = ", ".join(str(int(n)) for n in ns)
        if self.backend == "postgres":
            import asyncpg

            conn = await asyncpg.connect(_database_url("postgres", self.database))
            try:
                await conn.execute(f"SET lock_timeout = '{int(lock_timeout_s * 1000)}ms'")
                await conn.execute(f'UPDATE "{table}" SET balance = balance WHERE n IN ({ids})')
                return True
            except asyncpg.LockNotAvailableError:
                return False
            finally:
                await conn.close()
        if self.backend == "mysql":
            import aiomysql
            import pymysql

            conn = await aiomysql.connect(**_mysql_args(_database_url("mysql", self.database)))
            try:
                async with conn.cursor() as cur:
                    await cur.execute(f"SET SESSION innodb_lock_wait_timeout = {max(1, int(lock_timeout_s))}")
                    await cur.execute(f"UPDATE `{table}` SET balance = balance WHERE n IN ({ids})")
                return True
            except pymysql.err.OperationalError as exc:
                if exc.args and exc.args[0] == 1205:
                    return False
                raise
            finally:
                conn.close()
        if self.backend == "sqlite":
            assert self.sqlite_path is not None
            conn = sqlite3.connect(self.sqlite_path, timeout=lock_timeout_s, isolation_level=None)
            try:
                conn.execute(f'UPDATE "{table}" SET balance = balance WHERE n IN ({ids})')
                return True
            except sqlite3.OperationalError:
                return False
            finally:
                conn.close()
        return True


def _database_url(backend: str, database: str) -> str:
    parts = urlsplit(server_url(backend))
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


def with_query(url: str, **params: Any) -> str:
    """``url`` with ``params`` added to (or replacing) its query string."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update({k: str(v) for k, v in params.items() if v is not None})
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


# --------------------------------------------------------------------------------------- checks


async def assert_clean(orm: Orm, admin: Admin | None = None, tag: str | None = None, *, grace: float = 3.0) -> None:
    """No connection checked out, pool within its bounds, no open transaction on the server.

    A release may still be in flight (a shielded rollback, asyncpg's reset): the checks are
    retried for ``grace`` seconds before failing with what they saw."""
    deadline = time.monotonic() + grace
    while True:
        problems: list[str] = []
        status = pool_status(orm)
        if status is not None:
            if status.in_use != 0:
                problems.append(f"pool in_use={status.in_use} (expected 0)")
            if status.size > status.max_size:
                problems.append(f"pool size={status.size} > max={status.max_size}")
        if admin is not None:
            try:
                open_tx = await admin.open_transactions(tag)
            except Exception as exc:  # noqa: BLE001 - report, do not hide the real problem
                problems.append(f"could not list open transactions: {exc!r}")
            else:
                if open_tx:
                    problems.append(f"transactions left open on the server: {open_tx}")
        if not problems:
            return
        if time.monotonic() >= deadline:
            pytest.fail("assert_clean: " + "; ".join(problems))
        await asyncio.sleep(0.05)


def _fd_count() -> int:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:  # not Linux
        import psutil

        return int(psutil.Process().num_fds())


def _threads() -> list[threading.Thread]:
    # the loop's default executor (getaddrinfo) keeps its idle workers until the loop closes: not a leak
    return [t for t in threading.enumerate() if not t.name.startswith("asyncio_")]


@dataclass
class LeakBaseline:
    """Threads, fds and loop errors at the start of a test, to compare with at its end."""

    threads: int
    fds: int
    loop_errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[warnings.WarningMessage] = field(default_factory=list)
    _previous_handler: Any = None
    _loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def take(cls) -> LeakBaseline:
        gc.collect()
        base = cls(threads=len(_threads()), fds=_fd_count())
        loop = asyncio.get_running_loop()
        base._loop = loop
        base._previous_handler = loop.get_exception_handler()

        def handler(lp: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
            base.loop_errors.append(context)
            lp.default_exception_handler(context)

        loop.set_exception_handler(handler)
        return base

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.set_exception_handler(self._previous_handler)

    async def assert_restored(self, grace: float = 5.0, *, allow_loop_errors: Callable[[dict[str, Any]], bool] | None = None) -> None:
        deadline = time.monotonic() + grace
        while True:
            gc.collect()
            await asyncio.sleep(0.02)
            threads, fds = len(_threads()), _fd_count()
            if threads <= self.threads and fds <= self.fds:
                break
            if time.monotonic() >= deadline:
                names = sorted(t.name for t in _threads())
                pytest.fail(
                    f"resource leak: threads {threads} (baseline {self.threads}: {names}), "
                    f"fds {fds} (baseline {self.fds}: {_fd_list()})"
                )
            await asyncio.sleep(0.05)
        errors = [c for c in self.loop_errors
                  if not known_upstream_noise(c) and not (allow_loop_errors and allow_loop_errors(c))]
        if errors:
            pytest.fail("the event loop reported: " + "; ".join(_describe(c) for c in errors))


def known_upstream_noise(context: dict[str, Any]) -> bool:
    """Loop reports that are a library's own and harmless, so they do not fail every test:

    * asyncpg: a connect cancelled during its TLS probe (``sslmode=prefer``) leaves
      ``TLSUpgradeProto.on_data`` with "unexpected connection_lost() call" unretrieved; the
      socket is closed (the fd check still runs)."""
    if context.get("message") != "Future exception was never retrieved":
        return False
    tb = getattr(context.get("future"), "_source_traceback", None) or []
    return any("TLSUpgradeProto" in (frame.line or "") for frame in tb) and \
        "unexpected connection_lost" in repr(context.get("exception"))


def _describe(context: dict[str, Any]) -> str:
    import traceback

    parts = [str(context.get("message"))]
    if context.get("exception") is not None:
        parts.append(repr(context["exception"]))
    for key in ("future", "task", "handle"):
        obj = context.get(key)
        tb = getattr(obj, "_source_traceback", None)
        if tb:
            parts.append(f"{key} created at:\n" + "".join(traceback.format_list(tb[-12:])))
    return " | ".join(parts)


def _fd_list() -> list[str]:
    out = []
    with contextlib.suppress(OSError):
        for name in os.listdir("/proc/self/fd"):
            with contextlib.suppress(OSError):
                out.append(os.readlink(f"/proc/self/fd/{name}"))
    return out


# --------------------------------------------------------------------------------------- history

Status = Literal["ok", "fail", "unknown"]
#: codes after which the outcome of a write is unknown (it may or may not have been applied)
UNKNOWN_CODES = frozenset({"CONNECTION_ERROR", "COMMIT_UNKNOWN", "QUERY_TIMEOUT"})


@dataclass
class Op:
    op: str
    args: Any
    t_start: float
    t_end: float = 0.0
    status: Status = "unknown"
    result: Any = None
    error: BaseException | None = None


class History:
    """A Jepsen-style history of operations (K6): ok / fail / unknown with their timings."""

    def __init__(self) -> None:
        self.ops: list[Op] = []

    @contextlib.asynccontextmanager
    async def op(self, name: str, args: Any = None) -> AsyncIterator[Op]:
        rec = Op(name, args, time.monotonic())
        self.ops.append(rec)
        try:
            yield rec
        except asyncio.CancelledError as exc:
            rec.status, rec.error = "unknown", exc
            raise
        except OrmError as exc:
            rec.status = "unknown" if exc.code in UNKNOWN_CODES else "fail"
            rec.error = exc
            raise
        except BaseException as exc:
            rec.status, rec.error = "unknown", exc
            raise
        else:
            rec.status = "ok"
        finally:
            rec.t_end = time.monotonic()

    def with_status(self, status: Status, name: str | None = None) -> list[Op]:
        return [o for o in self.ops if o.status == status and (name is None or o.op == name)]

    def ok(self, name: str | None = None) -> list[Op]:
        return self.with_status("ok", name)

    def failed(self, name: str | None = None) -> list[Op]:
        return self.with_status("fail", name)

    def unknown(self, name: str | None = None) -> list[Op]:
        return self.with_status("unknown", name)

    def summary(self) -> dict[str, int]:
        out: dict[str, int] = {"ok": 0, "fail": 0, "unknown": 0}
        for o in self.ops:
            out[o.status] += 1
        return out

    def latencies(self, name: str | None = None) -> list[float]:
        return sorted(o.t_end - o.t_start for o in self.ops if name is None or o.op == name)


def percentile(values: Sequence[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


@contextlib.contextmanager
def no_resource_warnings() -> Iterator[list[warnings.WarningMessage]]:
    """Record ResourceWarnings raised in the block (the caller asserts the list is empty)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        yield caught


async def gather_settled(aws: Sequence[Awaitable[Any]]) -> list[Any]:
    """``asyncio.gather(..., return_exceptions=True)`` that also collects CancelledError."""
    return await asyncio.gather(*aws, return_exceptions=True)
