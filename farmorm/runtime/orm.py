"""The ORM client: ``create_orm``, ``orm.<model>``, transactions, batch, events, close."""

from __future__ import annotations

import asyncio
import functools
import itertools
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, AsyncIterator, Awaitable, Callable, Coroutine, Literal, Sequence, TypeVar, overload

from ..core.cache import PlanCache
from ..core.detect import resolve
from ..core.driver import Connection, Driver, DriverHandle, QueryEvent
from ..core.errors import CONNECTION_ERROR, OrmError, SchemaError, UnsupportedError, validation_error
from ..schema.manifest import Schema
from .executor import Executor
from .model import ModelClient
from .raw import RawClient
from .routing import Replica, ReplicaPolicy, Router
from .transaction import (
    Gate,
    Transaction,
    TxState,
    closed_transaction_error,
    enter_connection,
    pool_closed_error,
    stop_waiters,
)

if TYPE_CHECKING:
    from ..features.idempotency import IdempotencyClient
    from ..features.outbox import OutboxClient

_ids = itertools.count()
_T = TypeVar("_T")
#: the attributes a transaction-bound or primary-pinned variant of a client shares with it
_SHARED = ("schema", "_driver", "plan_cache", "_executor", "_var", "_fixed", "_router", "_pinned")


class Orm:
    """One client: a schema bound to a driver. ``orm.user`` is the model client of model ``user``."""

    def __init__(self, schema: Schema, driver: Driver, *, plan_cache_size: int = 1024,
                 replicas: Sequence[Driver] = (), router: Router | None = None) -> None:
        self.schema = schema
        self._driver = driver
        self.plan_cache = PlanCache(plan_cache_size)
        self._executor = Executor(driver, self.plan_cache)
        self._var: ContextVar[TxState | None] = ContextVar(f"farmorm_tx_{next(_ids)}", default=None)
        self._fixed: TxState | None = None
        #: read replicas: which one serves each read outside a transaction (see routing.py)
        if router is None and replicas:
            router = Router(driver, [Replica(i, r, None) for i, r in enumerate(replicas)], ReplicaPolicy())
        self._router: Router | None = router
        #: ``orm.primary()``: every read on the primary
        self._pinned = False
        #: builds a new primary driver with create_orm's options (``reconnect``); only on the root client
        self._connect: Callable[[Any], Awaitable[Driver]] | None = None
        for replica in router.drivers() if router is not None else ():
            replica.listeners = driver.listeners  # one on_query list: events from every server

    # -- model clients ---------------------------------------------------------------------
    def __getattr__(self, name: str) -> ModelClient:
        model = self.__dict__["schema"].models.get(name) if "schema" in self.__dict__ else None
        if model is None:
            raise AttributeError(f"{type(self).__name__!s} has no model or attribute {name!r}")
        client = ModelClient(self, model)
        self.__dict__[name] = client
        return client

    def model(self, name: str) -> ModelClient:
        """The model client for ``name`` (same as ``getattr(orm, name)``)."""
        if name not in self.schema.models:
            raise AttributeError(f"Unknown model {name!r}")
        return getattr(self, name)  # type: ignore[no-any-return]

    @property
    def driver(self) -> DriverHandle:
        """The frozen driver handle: ``kind``, ``dialect``, ``client``, ``capabilities``."""
        return self._driver.handle

    # -- connections -----------------------------------------------------------------------
    def _state(self) -> TxState | None:
        """The transaction level an operation on this client joins, or None (the root scope).

        A ``tx`` handle is pinned to its level (finished, it refuses work). The client itself
        follows the contextvar, which a task inherits from where it was started: a task that
        outlives the block it was started in falls back to the nearest level still open (the
        root scope when none is), as if it had been started there."""
        fixed = self._fixed
        if fixed is not None:
            return fixed
        state = self._var.get()
        while state is not None and not state.active:
            state = state.parent
        return state

    def _variant(self, **changes: Any) -> Orm:
        """A client sharing this one's driver, caches and transaction context, with ``changes``
        (its model clients are made anew: they are bound to the client they were made from)."""
        twin = object.__new__(type(self))
        twin.__dict__.update({k: self.__dict__[k] for k in _SHARED}, **changes)
        return twin

    def _bound(self, state: TxState) -> Orm:
        return self._variant(_fixed=state)

    def primary(self) -> Orm:
        """This client with every read on the primary (fresh data whatever the replicas' lag)."""
        if self._router is None:
            return self
        return self._variant(_pinned=True)

    async def reconnect(self, client: Any, *, timeout: float | None = 10.0) -> None:
        """Point this client's primary at ``client`` (a URL, pool or engine of the same runtime) without
        rebuilding it: after a failover to a server the old URL does not name. New operations use the
        new primary at once; operations in flight on the old one get ``timeout`` seconds (as in
        ``close()``), then the old pool farmorm opened is closed. Replicas are kept."""
        connect = self.__dict__.get("_connect")
        if connect is None or self._fixed is not None:
            raise UnsupportedError("reconnect() is a method of the client create_orm() returned, not of a transaction "
                                   "handle or an orm.primary() view.")
        old = self._driver
        new: Driver = await connect(client)
        mine, theirs = old.handle, new.handle
        if (theirs.kind, theirs.dialect) != (mine.kind, mine.dialect):
            await new.close()
            raise ValueError(f"reconnect() needs the same runtime: this client is {mine.kind} ({mine.dialect}), the new "
                             f"primary is {theirs.kind} ({theirs.dialect}).")
        new.acquire_timeout = old.acquire_timeout
        new.write_retries = old.write_retries
        new.listeners = old.listeners
        if getattr(old, "command_timeout", None) is not None and hasattr(new, "command_timeout"):
            new.command_timeout = old.command_timeout  # MySQL's own deadline
        self._driver = new
        self._executor = Executor(new, self.plan_cache)
        self.plan_cache.clear()  # plans were compiled by the old driver (same dialect; built anew anyway)
        if self._router is not None:
            self._router.primary = new
        old.closed = True
        stop_waiters(old)
        await _close_driver(old, timeout)

    def replica_status(self) -> dict[str, Any]:
        """The replicas' health (``healthy``, ``retry_in``, ``failures``, ``lag``, ``last_error``
        each) and how many reads went where (``reads``); empty without replicas."""
        router = self._router
        if router is None:
            return {"replicas": [], "reads": {}}
        return {"replicas": router.status(), "reads": dict(router.served)}

    async def _guard(self, awaitable: Awaitable[Any]) -> Any:
        """Await ``awaitable``, converting native errors to OrmError."""
        try:
            return await awaitable
        except OrmError:
            raise
        except Exception as exc:
            mapped = self._driver.map_error(exc)
            if mapped is None:
                raise
            raise mapped from exc

    def _scope(self, write: bool = False) -> _Scope:
        """The connection for one operation: the running transaction's, or one from the driver."""
        return _Scope(self, write)

    @asynccontextmanager
    async def _transaction_scope(self, needed: bool = True) -> AsyncIterator[Connection]:
        """A connection inside a transaction (a savepoint when one is running) if ``needed``."""
        if not needed:
            async with self._scope(write=True) as conn:
                yield conn
            return
        async with Transaction(self, None, None, 0) as tx:
            state = tx._state()
            assert state is not None
            try:
                yield state.conn
            except OrmError:
                raise
            except Exception as exc:  # a native error from a statement of this scope: map it as _Scope does
                mapped = self._driver.map_error(exc)
                if mapped is None:
                    raise
                raise mapped from exc

    # -- public API ------------------------------------------------------------------------
    @overload
    def transaction(self, fn: Callable[[Orm], Awaitable[_T]], *, isolation: str | None = None, retries: int = 0,
                    actor: str | None = None) -> Coroutine[Any, Any, _T]: ...

    @overload
    def transaction(self, fn: None = None, *, isolation: str | None = None, retries: int = 0,
                    actor: str | None = None) -> Transaction: ...

    def transaction(
        self,
        fn: Callable[[Orm], Awaitable[Any]] | None = None,
        *,
        isolation: str | None = None,
        retries: int = 0,
        actor: str | None = None,
    ) -> Transaction | Coroutine[Any, Any, Any]:
        """Run ``fn(tx)`` in a transaction (``await``), or open one for a block (``async with``).

        With ``fn`` the result is a real coroutine, so ``asyncio.create_task``, ``gather`` and
        ``wait_for`` take it; the arguments are checked at once, before it is awaited.
        Nested calls become savepoints; ``retries`` re-runs ``fn`` on retryable errors; ``actor``
        names who history rows (``model(history=True)``) record as the author of the changes."""
        tx = Transaction(self, fn, isolation, retries, actor)
        if fn is None:
            return tx
        if not callable(fn):
            raise validation_error(f"transaction() expects a callable fn(tx), got {fn!r}.")
        return tx.run()

    def on_commit(self, callback: Callable[[], Any]) -> None:
        """Run ``callback()`` (sync or async) after the outermost transaction commits; never after a
        rollback. Hooks of a rolled-back savepoint are dropped. When hooks fail, all of them still
        run, then the transaction raises COMMIT_HOOK_FAILED (``CommitHookFailed``): the data is committed."""
        state = self._state()
        if state is None or not state.active:
            raise validation_error("on_commit() needs a running transaction.")
        if not callable(callback):
            raise validation_error(f"on_commit() expects a callable, got {callback!r}.")
        state.hooks.append(callback)

    @property
    def raw(self) -> RawClient:
        """Hand-written statements with bound values only: ``await orm.raw.fetch(sql, *args)``,
        ``execute``; MongoDB ``command`` / ``aggregate``; ``async with orm.raw.connection()``.
        Reached as ``tx.raw`` they run on the transaction's connection (see ``farmorm.runtime.raw``)."""
        return RawClient(self.schema, self._driver, lambda: self._scope(write=True))

    @property
    def outbox(self) -> OutboxClient:
        """``tx.outbox.record(event_type, payload)`` (needs ``define_schema(..., outbox=True)``); see
        ``farmorm.outbox``."""
        from ..features.outbox import OutboxClient

        return OutboxClient(self)

    @property
    def idempotency(self) -> IdempotencyClient:
        """``await tx.idempotency.reserve(key, request_hash)`` (needs ``define_schema(..., idempotency=True)``);
        see ``farmorm.idempotency``."""
        from ..features.idempotency import IdempotencyClient

        return IdempotencyClient(self)

    async def batch(self, fns: Sequence[Callable[[Orm], Awaitable[Any]]]) -> list[Any]:
        """Run the callables in order inside one transaction; returns their results."""

        async def run(tx: Orm) -> list[Any]:
            return [await fn(tx) for fn in fns]

        return await self.transaction(run)

    def on_query(self, callback: Callable[[QueryEvent], Any]) -> Callable[[], None]:
        """Call ``callback(event)`` after every executed statement; returns an unsubscribe function."""
        listeners = self._driver.listeners
        listeners.append(callback)

        def unsubscribe() -> None:
            if callback in listeners:
                listeners.remove(callback)

        return unsubscribe

    async def close(self, timeout: float | None = 10.0) -> None:
        """Close what farmorm opened (a pool or connection made from a URL); never the app's client.

        New operations fail at once with CONNECTION_ERROR (``meta["reason"] == "pool_closed"``).
        Operations in flight get ``timeout`` seconds to finish; then their connections are closed
        under them (they fail with CONNECTION_ERROR). ``None`` waits for them. Idempotent."""
        drivers = [*(self._router.drivers() if self._router is not None else ()), self._driver]
        for driver in drivers:
            driver.closed = True
            stop_waiters(driver)
        errors: list[BaseException] = []
        for driver in drivers:
            try:
                await _close_driver(driver, timeout)
            except BaseException as exc:  # noqa: BLE001 - close every driver, then raise the first error
                errors.append(exc)
        if errors:
            raise errors[0]

    async def __aenter__(self) -> Orm:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    def __repr__(self) -> str:
        h = self.driver
        return f"<Orm {h.kind} ({h.dialect}) models={list(self.schema.models)}>"


class _Scope:
    """``async with orm._scope() as conn``: a class, not a generator, because it runs on every
    operation (an @asynccontextmanager costs a generator and its wrapper per call)."""

    __slots__ = ("orm", "write", "cm", "gate", "conn")

    def __init__(self, orm: Orm, write: bool) -> None:
        self.orm = orm
        self.write = write
        self.cm: Any = None
        self.gate: Gate | None = None
        self.conn: Connection | None = None

    async def __aenter__(self) -> Connection:
        orm = self.orm
        state = orm._state()
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
            if orm._fixed is not None:
                raise closed_transaction_error()
            state = orm._state()
        if orm._driver.closed:
            raise pool_closed_error(orm._driver)
        router = orm._router
        if router is not None and not self.write and not orm._pinned:
            _, self.cm, conn = await router.read_connection()
            return conn
        driver = orm._driver
        self.cm = cm = driver.connection(write=self.write)
        try:
            self.conn = conn = await enter_connection(driver, cm.__aenter__())
            return conn
        except OrmError:
            raise
        except Exception as exc:
            raise _mapped(orm._driver, exc) from exc

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> Literal[False]:
        gate, self.gate = self.gate, None
        if gate is not None:
            gate.release()
        if isinstance(exc, Exception) and self.orm._driver.closed:
            # orm.close() cut this operation off: say so, whatever the driver raised
            try:
                if self.cm is not None:
                    await self.cm.__aexit__(exc_type, exc, tb)
            except Exception:  # noqa: BLE001 - the connection is going away with the pool
                pass
            raise pool_closed_error(self.orm._driver) from exc
        try:
            if self.cm is not None:
                if exc is None and self.write and self.conn is not None and self.orm._router is not None:
                    await self.orm._router.note_write(self.conn)  # read-your-writes on the replicas
                await self.cm.__aexit__(exc_type, exc, tb)
        except OrmError:
            raise
        except Exception as cleanup:
            if exc is None:
                raise _mapped(self.orm._driver, cleanup) from cleanup
        if exc is None or isinstance(exc, OrmError) or not isinstance(exc, Exception):
            return False
        mapped = self.orm._driver.map_error(exc)
        if mapped is None:
            return False
        raise mapped from exc


async def _close_driver(driver: Driver, timeout: float | None) -> None:
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


def _mapped(driver: Driver, exc: BaseException) -> BaseException:
    mapped = driver.map_error(exc)
    return exc if mapped is None else mapped


async def create_driver(schema: Schema, client: Any, *, dialect: str | None = None,
                        database_name: str | None = None, **options: Any) -> Driver:
    """Detect ``client`` and build the matching driver (see ``create_orm``)."""
    if not isinstance(schema, Schema):
        raise TypeError("create_orm() expects a schema made by define_schema().")
    module, detected = resolve(client)
    if dialect is not None:
        detected = type(detected)(detected.kind, detected.client, dialect, detected.source)
    if detected.dialect is None and getattr(module, "dialect", None) != "mongo" and getattr(module, "needs_dialect", False):
        raise ValueError(
            f"Could not determine the database dialect for the detected {detected.kind} runtime. "
            'Pass a "dialect" option explicitly.'
        )
    driver: Driver = await module.create_driver(schema, detected, database_name=database_name, **options)
    try:
        for m in schema.models.values():
            if not m.identity:
                raise SchemaError(
                    f'Model "{m.name}" requires an "id" field or a unique field for the {driver.runtime_label} runtime.'
                )
        driver.check_schema(schema)
    except BaseException:
        await driver.close()
        raise
    return driver


async def create_orm(schema: Schema, client: Any, *, dialect: str | None = None,
                     database_name: str | None = None, replicas: Sequence[Any] = (),
                     replica_policy: ReplicaPolicy | None = None, **options: Any) -> Orm:
    """Bind ``schema`` to the raw client or pool the app already has (or a URL farmorm opens and owns).

    ``replicas`` are clients (or URLs) of read replicas of the same kind: reads outside a transaction
    go to them in turn; writes and everything inside a transaction go to ``client``, the primary.
    ``replica_policy`` (a ``ReplicaPolicy``) says what happens when a replica is down or behind: by
    default reads fall back to the primary, and read your own writes (see docs/scaling-out.md). A
    replica that cannot be reached at start-up is opened on a later read, once it is up.
    ``write_retries=n`` re-runs a statement that ran outside a transaction (one atomic unit) up to n
    times after a retryable error: Galera certification conflicts, deadlock victims, a node not
    ready (PostgreSQL and MySQL drivers)."""
    if isinstance(replicas, (str, bytes)):
        raise TypeError("create_orm(replicas=...) expects a list of clients or URLs, not one string.")
    if replica_policy is not None and not isinstance(replica_policy, ReplicaPolicy):
        raise TypeError(f"create_orm(replica_policy=...) expects a farmorm.ReplicaPolicy, got {replica_policy!r}")
    acquire_timeout = options.pop("acquire_timeout", Driver.acquire_timeout)
    if acquire_timeout is not None and (isinstance(acquire_timeout, bool) or not isinstance(acquire_timeout, (int, float))
                                        or acquire_timeout <= 0):
        raise ValueError(f"acquire_timeout must be a positive number of seconds or None, got {acquire_timeout!r}")
    write_retries = options.pop("write_retries", 0)
    if type(write_retries) is not int or write_retries < 0:
        raise ValueError(f"write_retries must be a non-negative integer, got {write_retries!r}")
    driver = await create_driver(schema, client, dialect=dialect, database_name=database_name, **options)
    driver.acquire_timeout = acquire_timeout
    driver.write_retries = write_retries
    if options.get("command_timeout") is not None and hasattr(driver, "command_timeout"):
        driver.command_timeout = options["command_timeout"]  # drivers whose client has no such option (MySQL)

    async def open_replica(index: int, target: Any) -> Driver:
        reader = await create_driver(schema, target, dialect=dialect, database_name=database_name, **options)
        reader.acquire_timeout = acquire_timeout
        reader.write_retries = write_retries
        mine, theirs = driver.handle, reader.handle
        if (theirs.kind, theirs.dialect) != (mine.kind, mine.dialect):
            await reader.close()
            raise ValueError(
                f"A read replica must use the primary's runtime: the primary is {mine.kind} ({mine.dialect}), "
                f"replica {index + 1} is {theirs.kind} ({theirs.dialect})."
            )
        return reader

    slots: list[Replica] = []
    try:
        for i, replica in enumerate(replicas):
            opener = functools.partial(open_replica, i, replica)
            try:
                slots.append(Replica(i, await opener(), opener))
            except OrmError as exc:
                if exc.code != CONNECTION_ERROR:
                    raise
                # down at start-up: the client starts anyway; a later read opens it once it is up
                slot = Replica(i, None, opener)
                slot.failures, slot.last_error = 1, exc.message
                slots.append(slot)
    except BaseException:
        for slot in slots:
            if slot.driver is not None:
                await slot.driver.close()
        await driver.close()
        raise
    router = None
    if slots:
        def share_listeners(reader: Driver) -> None:
            reader.listeners = driver.listeners

        router = Router(driver, slots, replica_policy or ReplicaPolicy(), on_open=share_listeners)
    orm = Orm(schema, driver, router=router)
    # orm.reconnect(client): a new primary built with the same options
    orm._connect = functools.partial(create_driver, schema, dialect=dialect, database_name=database_name, **options)
    return orm


create_orm_from_runtime = create_orm
