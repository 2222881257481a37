"""The engine: the one object between the ORM's API and a driver.

Built from a driver (plus its read replicas), the plan cache and the transaction context, never
from ``Orm``. It owns:

- connection scope: ``scope()`` hands out the running transaction's connection (bound through the
  engine's contextvar, or fixed on a ``tx`` handle) or one from the driver, a replica for reads;
- the runtime's state about each server (:class:`Server`): the acquire deadline, the tasks waiting
  for a connection, the closed state. Nothing of it is stored on the driver;
- error mapping: ``mapped(exc)`` is the one place a native error becomes an ``OrmError``, used by
  ``errors()`` (a context manager), ``guard()`` and the scope's exit;
- the plan cache and hydration (``plan``, ``rows``, ``read``, ...): a node compiles once per shape.

``ModelClient``, ``Transaction``, ``RecordStream``, the features and the test harness call these
public methods; ``Orm`` is a facade over one engine.
"""

from __future__ import annotations

import asyncio
import itertools
from contextvars import ContextVar
from typing import Any, Awaitable, Callable, Literal, Sequence

from ..core.cache import PlanCache
from ..core.driver import Connection, Driver, DriverHandle, QueryEvent
from ..core.errors import CONNECTION_ERROR, DESCRIPTIONS, OrmError, make_error
from ..query.plan import Read, collect_keys, nest_counts, stitch, strip_hidden
from .executor import Plan
from .state import Gate, TxState, closed_transaction_error

_ids = itertools.count()

#: seconds an operation waits for a pooled connection unless ``create_orm(acquire_timeout=)`` says
DEFAULT_ACQUIRE_TIMEOUT = 30.0


class Server:
    """One database server (the primary or a read replica) as the engine uses it: its driver and
    the runtime's own state about it (acquire deadline, waiting tasks, closed)."""

    __slots__ = ("driver", "acquire_timeout", "closed", "waiting", "stopped")

    def __init__(self, driver: Driver, acquire_timeout: float | None = DEFAULT_ACQUIRE_TIMEOUT) -> None:
        self.driver = driver
        #: seconds an operation waits for a pooled connection before CONNECTION_ERROR
        #: (``reason="pool_timeout"``); None waits forever
        self.acquire_timeout = acquire_timeout
        #: set by ``close()``: new operations fail at once with CONNECTION_ERROR (``reason="pool_closed"``)
        self.closed = False
        #: tasks waiting for a connection, and those ``close()`` cancelled (they raise pool_closed)
        self.waiting: set[asyncio.Task[Any]] = set()
        self.stopped: set[asyncio.Task[Any]] = set()

    async def enter(self, entering: Awaitable[Connection]) -> Connection:
        """Await ``entering`` (the driver's ``connection()`` being entered) within ``acquire_timeout``;
        past it, CONNECTION_ERROR with ``reason="pool_timeout"`` naming the pool."""
        if self.driver.acquire_is_immediate():
            return await entering  # nothing to wait for: no deadline, nobody for close() to stop
        timeout = self.acquire_timeout
        task = asyncio.current_task()
        waiting = self.waiting
        if task is not None:
            waiting.add(task)  # close() fails waiting callers at once (see stop_waiters)
        try:
            if timeout is None:
                return await entering
            # asyncio.timeout, not anyio's scope: aiomysql waits in asyncio.Condition.wait, which
            # re-raises a cancellation as a new CancelledError that anyio no longer recognizes
            deadline = asyncio.timeout(timeout)
            try:
                async with deadline:
                    return await entering
            except TimeoutError:
                if deadline.expired():
                    raise self.timeout_error(timeout) from None
                raise
        except asyncio.CancelledError:
            if task is not None and self.closed and task in self.stopped:
                self.stopped.discard(task)
                task.uncancel()
                raise self.closed_error() from None
            raise
        finally:
            if task is not None:
                waiting.discard(task)

    def stop_waiters(self) -> int:
        """Fail every caller still waiting for a connection (the server is closing): they raise
        CONNECTION_ERROR (``reason="pool_closed"``) instead of waiting on a pool that goes away."""
        for task in list(self.waiting):
            if not task.done():
                self.stopped.add(task)
                task.cancel()
        return len(self.waiting)

    async def close(self, timeout: float | None) -> None:
        """Close the driver; past ``timeout`` its connections are closed under running operations."""
        driver = self.driver
        if timeout is None:
            await driver.close()
            return
        try:
            async with asyncio.timeout(timeout):
                await driver.close()
            return
        except TimeoutError:
            pass
        driver.terminate()
        try:
            async with asyncio.timeout(max(timeout, 1.0)):
                await driver.close()
        except TimeoutError:
            pass

    def timeout_error(self, timeout: float) -> OrmError:
        status = self.driver.pool_status() or {}
        size, in_use, max_size = status.get("size"), status.get("in_use"), status.get("max_size")
        h = self.driver.handle
        pool = f"all {max_size} connections of the pool are in use" if max_size is not None else "the connection is in use"
        return make_error(
            CONNECTION_ERROR,
            f"{DESCRIPTIONS[CONNECTION_ERROR]} in {h.kind} ({h.dialect}) runtime: no connection within "
            f"acquire_timeout={timeout:g}s: {pool} (size {size}, in use {in_use}). Raise the pool size, shorten "
            "transactions, or avoid operations outside the running transaction while it holds a connection "
            "(pass the tx handle).",
            backend_kind=h.kind, dialect=h.dialect, retryable=False,
            meta={"reason": "pool_timeout", "acquire_timeout": timeout, "pool_size": size, "in_use": in_use,
                  "max_size": max_size},
        )

    def closed_error(self) -> OrmError:
        h = self.driver.handle
        return make_error(
            CONNECTION_ERROR,
            f"{DESCRIPTIONS[CONNECTION_ERROR]} in {h.kind} ({h.dialect}) runtime: the client is closed (orm.close() "
            "was called); create a new one.",
            backend_kind=h.kind, dialect=h.dialect, retryable=False, meta={"reason": "pool_closed"},
        )


class Engine:
    """See the module docstring. ``bound(state)`` and ``on_primary()`` are variants sharing
    everything but the fixed transaction and the replicas."""

    __slots__ = ("driver", "primary", "replicas", "plan_cache", "var", "fixed", "_turn", "_build")

    def __init__(self, driver: Driver, plan_cache: PlanCache, *, replicas: Sequence[Driver] = (),
                 acquire_timeout: float | None = DEFAULT_ACQUIRE_TIMEOUT) -> None:
        self.driver = driver
        self.primary = Server(driver, acquire_timeout)
        #: read replicas: reads outside a transaction go to the next one in turn (round robin)
        self.replicas: tuple[Server, ...] = tuple(Server(r, acquire_timeout) for r in replicas)
        self.plan_cache = plan_cache
        #: the running transaction of this engine's task context
        self.var: ContextVar[TxState | None] = ContextVar(f"farmorm_tx_{next(_ids)}", default=None)
        #: the transaction a ``tx`` handle is bound to (whatever the context says)
        self.fixed: TxState | None = None
        self._turn = itertools.count()
        compile_ = driver.compile
        self._build: Callable[[Any], Plan] = lambda node: Plan(compile_(node))

    @property
    def handle(self) -> DriverHandle:
        """The driver's frozen handle (``orm.driver``)."""
        return self.driver.handle

    # -- variants ------------------------------------------------------------------------------
    def _variant(self) -> Engine:
        twin = object.__new__(Engine)
        for name in Engine.__slots__:
            object.__setattr__(twin, name, getattr(self, name))
        return twin

    def bound(self, state: TxState) -> Engine:
        """This engine with every operation on the transaction ``state`` (a ``tx`` handle's engine)."""
        twin = self._variant()
        twin.fixed = state
        return twin

    def on_primary(self) -> Engine:
        """This engine with every read on the primary (``orm.primary()``)."""
        if not self.replicas:
            return self
        twin = self._variant()
        twin.replicas = ()
        return twin

    # -- transaction context -------------------------------------------------------------------
    def state(self) -> TxState | None:
        """The transaction level an operation joins, or None (the root scope).

        A ``tx`` handle is pinned to its level (finished, it refuses work). The client itself
        follows the contextvar, which a task inherits from where it was started: a task that
        outlives the block it was started in falls back to the nearest level still open (the
        root scope when none is), as if it had been started there."""
        fixed = self.fixed
        if fixed is not None:
            return fixed
        state = self.var.get()
        while state is not None and not state.active:
            state = state.parent
        return state

    # -- connections ---------------------------------------------------------------------------
    def scope(self, write: bool = False) -> Scope:
        """``async with engine.scope() as conn``: the running transaction's connection, or one from
        the driver (a replica's for a read outside a transaction); native errors leave it mapped."""
        return Scope(self, write)

    def read_server(self) -> Server:
        """The server for a read outside a transaction: the next replica, or the primary."""
        replicas = self.replicas
        if not replicas:
            return self.primary
        return replicas[next(self._turn) % len(replicas)]

    # -- errors --------------------------------------------------------------------------------
    def mapped(self, exc: BaseException) -> BaseException:
        """``exc`` as an OrmError when the driver recognizes it as a database error, else ``exc``."""
        if isinstance(exc, OrmError):
            return exc
        found = self.driver.map_error(exc)
        return exc if found is None else found

    def errors(self) -> MapErrors:
        """``with engine.errors(): await ...``: native errors raised inside leave as OrmErrors."""
        return MapErrors(self)

    async def guard(self, awaitable: Awaitable[Any]) -> Any:
        """Await ``awaitable``, converting native errors to OrmError."""
        with MapErrors(self):
            return await awaitable

    # -- plans and hydration ---------------------------------------------------------------------
    def plan(self, node: Any) -> Plan:
        """The compiled statement and row builder of ``node`` (compiled once per shape, then cached)."""
        return self.plan_cache.get(node, self._build)  # type: ignore[no-any-return]

    async def rows(self, conn: Connection, node: Any, params: Sequence[Any]) -> list[dict[str, Any]]:
        """Run ``node`` and hydrate its rows into records."""
        plan = self.plan(node)
        result = await conn.run(plan.compiled, params)
        return plan.hydrate(result.rows)

    async def scalar(self, conn: Connection, node: Any, params: Sequence[Any]) -> Any:
        """Run ``node`` and return the first column of its first row (None without rows)."""
        plan = self.plan(node)
        result = await conn.run(plan.compiled, params)
        return result.rows[0][0] if result.rows else None

    async def rowcount(self, conn: Connection, node: Any, params: Sequence[Any]) -> int:
        """Run ``node`` and return how many rows it affected."""
        plan = self.plan(node)
        result = await conn.run(plan.compiled, params)
        return int(result.rowcount)

    async def read_as(self, conn: Connection, read: Read, cls: type) -> list[Any]:
        """Run a scalar read plan and build ``cls`` Structs from its rows (``as_=``; no relations)."""
        plan = self.plan(read.node)
        result = await conn.run(plan.compiled, read.params)
        return plan.hydrate_as(cls)(result.rows)

    async def read(self, conn: Connection, read: Read) -> list[dict[str, Any]]:
        """Run a read plan: the root query, then one query per relation level."""
        records = await self.rows(conn, read.node, read.params)
        if read.relations and records:
            await self.load_relations(conn, read, records)
        if read.counts:
            nest_counts(records, read.counts)
        if read.hidden:
            strip_hidden(records, read.hidden)
        return records

    async def load_relations(self, conn: Connection, read: Read, records: list[dict[str, Any]]) -> None:
        """Load every relation level of ``read`` for ``records``: one query per level."""
        for rel in read.relations:
            keys = collect_keys(records, rel.parent_key)
            if not keys:
                empty: Any = None if rel.single else []
                for r in records:
                    r[rel.name] = empty if empty is None else []
                continue
            child = rel.read
            child.params[0] = keys
            children = await self.rows(conn, child.node, child.params)
            if child.relations and children:
                await self.load_relations(conn, child, children)
            stitch(records, rel, children)
            if child.counts:
                nest_counts(children, child.counts)
            if child.hidden:
                strip_hidden(children, child.hidden)

    # -- events and lifecycle --------------------------------------------------------------------
    def subscribe(self, callback: Callable[[QueryEvent], Any]) -> Callable[[], None]:
        """Call ``callback(event)`` after every statement on any server; returns an unsubscribe function."""
        lists = [s.driver.listeners for s in (self.primary, *self.replicas)]
        for listeners in lists:
            listeners.append(callback)

        def unsubscribe() -> None:
            for listeners in lists:
                if callback in listeners:
                    listeners.remove(callback)

        return unsubscribe

    async def close(self, timeout: float | None) -> None:
        """Refuse new operations, stop the waiting ones, then close every server's driver."""
        servers = [*self.replicas, self.primary]
        for server in servers:
            server.closed = True
            server.stop_waiters()
        errors: list[BaseException] = []
        for server in servers:
            try:
                await server.close(timeout)
            except BaseException as exc:  # noqa: BLE001 - close every driver, then raise the first error
                errors.append(exc)
        if errors:
            raise errors[0]


class MapErrors:
    """``with engine.errors():`` a class, not a generator: it wraps statements on hot paths."""

    __slots__ = ("engine",)

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> Literal[False]:
        if exc is None or isinstance(exc, OrmError) or not isinstance(exc, Exception):
            return False
        mapped = self.engine.driver.map_error(exc)
        if mapped is None:
            return False
        raise mapped from exc


class Scope:
    """``async with engine.scope() as conn``: a class, not a generator, because it runs on every
    operation (an @asynccontextmanager costs a generator and its wrapper per call)."""

    __slots__ = ("engine", "write", "cm", "gate")

    def __init__(self, engine: Engine, write: bool) -> None:
        self.engine = engine
        self.write = write
        self.cm: Any = None
        self.gate: Gate | None = None

    async def __aenter__(self) -> Connection:
        engine = self.engine
        state = engine.state()
        while state is not None:
            if not state.active:
                raise closed_transaction_error()
            # tasks sharing the transaction take turns on its connection
            await state.gate.acquire()
            if state.active:
                self.gate = state.gate
                return state.conn
            state.gate.release()
            # the block ended while this task waited: a tx handle refuses, the client itself
            # falls back to the enclosing level (or the root scope) as a task outliving it does
            if engine.fixed is not None:
                raise closed_transaction_error()
            state = engine.state()
        primary = engine.primary
        if primary.closed:
            raise primary.closed_error()
        server = primary if self.write or not engine.replicas else engine.read_server()
        self.cm = cm = server.driver.connection(write=self.write)
        try:
            return await server.enter(cm.__aenter__())
        except OrmError:
            raise
        except Exception as exc:
            raise engine.mapped(exc) from exc

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> Literal[False]:
        gate, self.gate = self.gate, None
        if gate is not None:
            gate.release()
        engine = self.engine
        if isinstance(exc, Exception) and engine.primary.closed:
            # orm.close() cut this operation off: say so, whatever the driver raised
            try:
                if self.cm is not None:
                    await self.cm.__aexit__(exc_type, exc, tb)
            except Exception:  # noqa: BLE001 - the connection is going away with the pool
                pass
            raise engine.primary.closed_error() from exc
        try:
            if self.cm is not None:
                await self.cm.__aexit__(exc_type, exc, tb)
        except OrmError:
            raise
        except Exception as cleanup:
            if exc is None:
                raise engine.mapped(cleanup) from cleanup
        if exc is None or isinstance(exc, OrmError) or not isinstance(exc, Exception):
            return False
        mapped = engine.driver.map_error(exc)
        if mapped is None:
            return False
        raise mapped from exc
