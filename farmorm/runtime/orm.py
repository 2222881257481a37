"""The ORM client: ``create_orm``, ``orm.<model>``, transactions, batch, events, close.

``Orm`` is a facade: every operation runs on its :class:`~farmorm.runtime.engine.Engine`.
"""

from __future__ import annotations

import functools
from typing import Any, Awaitable, Callable, Coroutine, Sequence, TypeVar, cast, overload

from ..core.cache import PlanCache
from ..core.detect import resolve
from ..core.driver import Driver, DriverHandle, QueryEvent
from ..core.errors import CONNECTION_ERROR, OrmError, SchemaError, UnsupportedError, validation_error
from ..schema.manifest import Schema
from .engine import Engine
from .extension import attribute, model_client_class
from .model import ModelClient
from .raw import RawClient
from .routing import Replica, ReplicaPolicy
from .server import DEFAULT_ACQUIRE_TIMEOUT
from .state import TxState
from .transaction import Transaction

_T = TypeVar("_T")


class Orm:
    """One client: a schema bound to a driver. ``orm.user`` is the model client of model ``user``;
    a name that is no model may be a feature's client (``orm.outbox``, see ``extension.py``)."""

    def __init__(self, schema: Schema, driver: Driver, *, plan_cache_size: int = 1024,
                 replicas: Sequence[Driver | Replica] = (), replica_policy: ReplicaPolicy | None = None,
                 acquire_timeout: float | None = DEFAULT_ACQUIRE_TIMEOUT) -> None:
        self.schema = schema
        #: the layer under the public API (features and tooling reach it through ``engine_of(orm)``)
        self._engine = Engine(driver, PlanCache(plan_cache_size), replicas=replicas, replica_policy=replica_policy,
                              acquire_timeout=acquire_timeout)
        #: builds a new primary driver with create_orm's options (``reconnect``); only on the root client
        self._connect: Callable[[Any], Awaitable[Driver]] | None = None

    @classmethod
    def _on(cls, schema: Schema, engine: Engine) -> Orm:
        """A client of ``schema`` on ``engine`` (a transaction-bound or primary-pinned variant); its
        model clients are made anew, bound to that engine."""
        twin = object.__new__(cls)
        twin.schema = schema
        twin._engine = engine
        return twin

    # -- model clients ---------------------------------------------------------------------
    def __getattr__(self, name: str) -> ModelClient:
        schema: Schema | None = self.__dict__.get("schema")
        if schema is None:
            raise AttributeError(f"{type(self).__name__!s} has no attribute {name!r}")
        model = schema.models.get(name)
        if model is None:
            ext = attribute(name)
            if ext is not None:  # typed as a model client for mypy's sake: models are the common case
                return cast(ModelClient, ext.client(self))
            raise AttributeError(f"{type(self).__name__!s} has no model or attribute {name!r}")
        client = model_client_class(model, ModelClient)(self._engine, schema, model)
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
        return self._engine.handle

    @property
    def plan_cache(self) -> PlanCache:
        """The compiled-plan cache (LRU keyed by the value-free node; ``hits``/``misses`` counters)."""
        return self._engine.plan_cache

    @property
    def _driver(self) -> Driver:
        """The primary's driver object (tooling and white-box tests reach the native client through it)."""
        return self._engine.driver

    # -- connections -----------------------------------------------------------------------
    def _bound(self, state: TxState) -> Orm:
        return Orm._on(self.schema, self._engine.bound(state))

    def primary(self) -> Orm:
        """This client with every read on the primary (fresh data whatever the replicas' lag)."""
        engine = self._engine.on_primary()
        return self if engine is self._engine else Orm._on(self.schema, engine)

    async def reconnect(self, client: Any, *, timeout: float | None = 10.0) -> None:
        """Point this client's primary at ``client`` (a URL, pool or engine of the same runtime) without
        rebuilding it: after a failover to a server the old URL does not name. New operations use the
        new primary at once; operations in flight on the old one get ``timeout`` seconds (as in
        ``close()``), then the old pool farmorm opened is closed. Replicas are kept."""
        connect = self.__dict__.get("_connect")
        if connect is None:
            raise UnsupportedError("reconnect() is a method of the client create_orm() returned, not of a transaction "
                                   "handle or an orm.primary() view.")
        new: Driver = await connect(client)
        mine, theirs = self._engine.handle, new.handle
        if (theirs.kind, theirs.dialect) != (mine.kind, mine.dialect):
            await new.close()
            raise ValueError(f"reconnect() needs the same runtime: this client is {mine.kind} ({mine.dialect}), the new "
                             f"primary is {theirs.kind} ({theirs.dialect}).")
        await self._engine.reconnect(new, timeout)

    def replica_status(self) -> dict[str, Any]:
        """The replicas' health (``healthy``, ``retry_in``, ``failures``, ``lag``, ``last_error``
        each) and how many reads went where (``reads``); empty without replicas."""
        return self._engine.replica_status()

    # -- public API ------------------------------------------------------------------------
    @overload
    def transaction(self, fn: Callable[[Orm], Awaitable[_T]], *, isolation: str | None = None, retries: int = 0,
                    actor: str | None = None) -> Coroutine[Any, Any, _T]: ...

    @overload
    def transaction(self, fn: None = None, *, isolation: str | None = None, retries: int = 0,
                    actor: str | None = None) -> Transaction[Orm]: ...

    def transaction(
        self,
        fn: Callable[[Orm], Awaitable[Any]] | None = None,
        *,
        isolation: str | None = None,
        retries: int = 0,
        actor: str | None = None,
    ) -> Transaction[Orm] | Coroutine[Any, Any, Any]:
        """Run ``fn(tx)`` in a transaction (``await``), or open one for a block (``async with``).

        With ``fn`` the result is a real coroutine, so ``asyncio.create_task``, ``gather`` and
        ``wait_for`` take it; the arguments are checked at once, before it is awaited.
        Nested calls become savepoints; ``retries`` re-runs ``fn`` on retryable errors; ``actor``
        names who history rows (``model(history=True)``) record as the author of the changes."""
        tx = Transaction(self._engine, self._bound, fn, isolation, retries, actor)
        if fn is None:
            return tx
        if not callable(fn):
            raise validation_error(f"transaction() expects a callable fn(tx), got {fn!r}.")
        return tx.run()

    def on_commit(self, callback: Callable[[], Any]) -> None:
        """Run ``callback()`` (sync or async) after the outermost transaction commits; never after a
        rollback. Hooks of a rolled-back savepoint are dropped. When hooks fail, all of them still
        run, then the transaction raises COMMIT_HOOK_FAILED (``CommitHookFailed``): the data is committed."""
        state = self._engine.state()
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
        engine = self._engine
        return RawClient(self.schema, engine.driver, lambda: engine.scope(write=True))

    async def batch(self, fns: Sequence[Callable[[Orm], Awaitable[Any]]]) -> list[Any]:
        """Run the callables in order inside one transaction; returns their results."""

        async def run(tx: Orm) -> list[Any]:
            return [await fn(tx) for fn in fns]

        return await self.transaction(run)

    def on_query(self, callback: Callable[[QueryEvent], Any]) -> Callable[[], None]:
        """Call ``callback(event)`` after every executed statement; returns an unsubscribe function."""
        return self._engine.subscribe(callback)

    async def close(self, timeout: float | None = 10.0) -> None:
        """Close what farmorm opened (a pool or connection made from a URL); never the app's client.

        New operations fail at once with CONNECTION_ERROR (``meta["reason"] == "pool_closed"``).
        Operations in flight get ``timeout`` seconds to finish; then their connections are closed
        under them (they fail with CONNECTION_ERROR). ``None`` waits for them. Idempotent."""
        await self._engine.close(timeout)

    async def __aenter__(self) -> Orm:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    def __repr__(self) -> str:
        h = self.driver
        return f"<Orm {h.kind} ({h.dialect}) models={list(self.schema.models)}>"


def engine_of(orm: Orm) -> Engine:
    """The engine under ``orm``: connection scope, plans, error mapping (see ``engine.py``). A
    function, not a client attribute, so that it takes no name a model could have."""
    return orm._engine


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
    acquire_timeout = options.pop("acquire_timeout", DEFAULT_ACQUIRE_TIMEOUT)
    if acquire_timeout is not None and (isinstance(acquire_timeout, bool) or not isinstance(acquire_timeout, (int, float))
                                        or acquire_timeout <= 0):
        raise ValueError(f"acquire_timeout must be a positive number of seconds or None, got {acquire_timeout!r}")
    write_retries = options.pop("write_retries", 0)
    if type(write_retries) is not int or write_retries < 0:
        raise ValueError(f"write_retries must be a non-negative integer, got {write_retries!r}")
    async def connect(target: Any) -> Driver:
        """A driver made with these options: the primary, a replica, or ``reconnect``'s new primary."""
        made = await create_driver(schema, target, dialect=dialect, database_name=database_name, **options)
        made.write_retries = write_retries  # a declared setting the SQL connections honour (core/driver.py)
        return made

    driver = await connect(client)

    async def open_replica(index: int, target: Any) -> Driver:
        reader = await connect(target)
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
                slots.append(Replica(i, await opener(), opener, acquire_timeout))
            except OrmError as exc:
                if exc.code != CONNECTION_ERROR:
                    raise
                # down at start-up: the client starts anyway; a later read opens it once it is up
                slot = Replica(i, None, opener, acquire_timeout)
                slot.failures, slot.last_error = 1, exc.message
                slots.append(slot)
    except BaseException:
        for slot in slots:
            if slot.server is not None:
                await slot.server.driver.close()
        await driver.close()
        raise
    orm = Orm(schema, driver, replicas=slots, replica_policy=replica_policy, acquire_timeout=acquire_timeout)
    orm._connect = connect  # orm.reconnect(client): a new primary built with the same options
    return orm


create_orm_from_runtime = create_orm
