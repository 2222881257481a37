"""The engine: the one object between the ORM's API and a driver.

Built from a driver (plus its read replicas), the plan cache and the transaction context, never
from ``Orm``. It owns:

- connection scope: ``scope()`` hands out the running transaction's connection (bound through the
  engine's contextvar, or fixed on a ``tx`` handle) or one from the driver; a read outside a
  transaction asks the :class:`~farmorm.runtime.routing.Router` for a replica, and a write tells it
  where the primary's log stands (read-your-writes);
- the runtime's state about each server (:class:`~farmorm.runtime.server.Server`): the acquire
  deadline, the tasks waiting for a connection, the closed state. Nothing of it is stored on the
  driver; ``reconnect()`` swaps the primary;
- error mapping: ``mapped(exc)`` is the one place a native error becomes an ``OrmError``, used by
  ``errors()`` (a context manager), ``guard()`` and the scope's exit;
- the plan cache and hydration (``plan``, ``rows``, ``read``, ...): a node compiles once per shape.

``ModelClient``, ``Transaction``, ``RecordStream``, the features and the test harness call these
public methods; ``Orm`` is a facade over one engine.
"""

from __future__ import annotations

import itertools
from contextvars import ContextVar
from typing import Any, Awaitable, Callable, Literal, Sequence

from ..core.cache import PlanCache
from ..core.driver import Connection, Driver, DriverHandle, QueryEvent
from ..core.errors import OrmError
from ..query.plan import Read, attach, collect_keys, nest_counts, stitch, strip_hidden
from .executor import Plan
from .routing import Replica, ReplicaPolicy, Router
from .server import DEFAULT_ACQUIRE_TIMEOUT, Server
from .state import Gate, TxState, closed_transaction_error

_ids = itertools.count()


class Engine:
    """See the module docstring. ``bound(state)`` and ``on_primary()`` are variants sharing
    everything but the fixed transaction and the replica choice."""

    __slots__ = ("driver", "primary", "router", "pinned", "plan_cache", "var", "fixed", "_build")

    def __init__(self, driver: Driver, plan_cache: PlanCache, *, replicas: Sequence[Driver | Replica] = (),
                 replica_policy: ReplicaPolicy | None = None,
                 acquire_timeout: float | None = DEFAULT_ACQUIRE_TIMEOUT) -> None:
        self.primary = Server(driver, acquire_timeout)
        #: read replicas: which one serves each read outside a transaction (``routing.py``); None without
        slots = [r if isinstance(r, Replica) else Replica(i, r, None, acquire_timeout) for i, r in enumerate(replicas)]
        for slot in slots:
            if slot.server is not None:
                slot.server.driver.listeners = driver.listeners  # one on_query list: events from every server
        self.router: Router | None = (
            Router(self.primary, slots, replica_policy or ReplicaPolicy(), on_open=self._share_listeners)
            if slots else None)
        #: ``orm.primary()``: every read on the primary
        self.pinned = False
        self.plan_cache = plan_cache
        #: the running transaction of this engine's task context
        self.var: ContextVar[TxState | None] = ContextVar(f"farmorm_tx_{next(_ids)}", default=None)
        #: the transaction a ``tx`` handle is bound to (whatever the context says)
        self.fixed: TxState | None = None
        self._use(driver)

    def _use(self, driver: Driver) -> None:
        self.driver = driver
        compile_ = driver.compile
        self._build: Callable[[Any], Plan] = lambda node: Plan(compile_(node))

    def _share_listeners(self, replica: Driver) -> None:
        replica.listeners = self.primary.driver.listeners

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
        if self.router is None:
            return self
        twin = self._variant()
        twin.pinned = True
        return twin

    async def reconnect(self, new: Driver, timeout: float | None) -> None:
        """Make ``new`` (a driver of the same runtime) the primary: new operations use it at once; the
        old one is closed after ``timeout`` seconds for the operations still running on it."""
        old = self.primary
        new.listeners = old.driver.listeners  # on_query subscribers keep hearing every statement
        self.primary = Server(new, old.acquire_timeout)
        self._use(new)
        self.plan_cache.clear()  # plans were compiled by the old driver (same dialect; built anew anyway)
        if self.router is not None:
            self.router.primary = self.primary
        old.closed = True
        old.stop_waiters()
        await old.close(timeout)

    def replica_status(self) -> dict[str, Any]:
        """The replicas' health and how many reads went where (``orm.replica_status()``)."""
        router = self.router
        if router is None:
            return {"replicas": [], "reads": {}}
        return {"replicas": router.status(), "reads": dict(router.served)}

    async def note_write(self, conn: Connection) -> None:
        """A write outside a transaction, or a COMMIT, ran on ``conn``: reads of this context wait for
        a replica that has replayed it (read-your-writes)."""
        if self.router is not None:
            await self.router.note_write(conn)

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
            if not child.relations and not child.counts:
                # a last level: its records are built and grouped by key in one pass (no per-row
                # lookup of the key, no helper column to strip afterwards)
                plan = self.plan(child.node)
                if rel.child_key in plan.compiled.columns:
                    result = await conn.run(plan.compiled, child.params)
                    attach(records, rel, plan.grouped(rel.child_key, child.hidden)(result.rows))
                    continue
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
        listeners = self.primary.driver.listeners  # one list, shared by every server (see __init__)
        listeners.append(callback)

        def unsubscribe() -> None:
            if callback in listeners:
                listeners.remove(callback)

        return unsubscribe

    async def close(self, timeout: float | None) -> None:
        """Refuse new operations, stop the waiting ones, then close every server's driver."""
        servers = [*(self.router.servers() if self.router is not None else ()), self.primary]
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

    __slots__ = ("engine", "write", "cm", "gate", "conn")

    def __init__(self, engine: Engine, write: bool) -> None:
        self.engine = engine
        self.write = write
        self.cm: Any = None
        self.gate: Gate | None = None
        self.conn: Connection | None = None

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
        router = engine.router
        if router is not None and not self.write and not engine.pinned:
            self.cm, conn = await router.read_connection()
            return conn
        driver = primary.driver
        self.cm = cm = driver.connection(write=self.write)
        try:
            if driver.acquire_is_immediate():
                # a free connection: no deadline to arm, no waiter for close() to stop
                self.conn = conn = await cm.__aenter__()
            else:
                self.conn = conn = await primary.wait(cm.__aenter__())
            return conn
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
                if exc is None and self.conn is not None and self.write and engine.router is not None:
                    await engine.router.note_write(self.conn)  # read-your-writes on the replicas
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
