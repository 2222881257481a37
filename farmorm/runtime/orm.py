"""The ORM client: ``create_orm``, ``orm.<model>``, transactions, batch, events, close.

``Orm`` is a facade: every operation runs on its :class:`~farmorm.runtime.engine.Engine`.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Coroutine, Sequence, TypeVar, cast, overload

from ..core.cache import PlanCache
from ..core.detect import resolve
from ..core.driver import Driver, DriverHandle, QueryEvent
from ..core.errors import SchemaError, validation_error
from ..schema.manifest import Schema
from .engine import DEFAULT_ACQUIRE_TIMEOUT, Engine
from .extension import attribute, model_client_class
from .model import ModelClient
from .raw import RawClient
from .state import TxState
from .transaction import Transaction

_T = TypeVar("_T")


class Orm:
    """One client: a schema bound to a driver. ``orm.user`` is the model client of model ``user``;
    a name that is no model may be a feature's client (``orm.outbox``, see ``extension.py``)."""

    def __init__(self, schema: Schema, driver: Driver, *, plan_cache_size: int = 1024,
                 replicas: Sequence[Driver] = (), acquire_timeout: float | None = DEFAULT_ACQUIRE_TIMEOUT) -> None:
        self.schema = schema
        #: the layer under the public API (features and tooling reach it through ``engine_of(orm)``)
        self._engine = Engine(driver, PlanCache(plan_cache_size), replicas=replicas, acquire_timeout=acquire_timeout)

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
        """This client with every read on the primary (read-your-writes despite replica lag)."""
        engine = self._engine.on_primary()
        return self if engine is self._engine else Orm._on(self.schema, engine)

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
                     database_name: str | None = None, replicas: Sequence[Any] = (), **options: Any) -> Orm:
    """Bind ``schema`` to the raw client or pool the app already has (or a URL farmorm opens and owns).

    ``replicas`` are clients (or URLs) of read replicas of the same kind: reads outside a transaction
    go to them in turn; writes and everything inside a transaction go to ``client``, the primary."""
    if isinstance(replicas, (str, bytes)):
        raise TypeError("create_orm(replicas=...) expects a list of clients or URLs, not one string.")
    acquire_timeout = options.pop("acquire_timeout", DEFAULT_ACQUIRE_TIMEOUT)
    if acquire_timeout is not None and (isinstance(acquire_timeout, bool) or not isinstance(acquire_timeout, (int, float))
                                        or acquire_timeout <= 0):
        raise ValueError(f"acquire_timeout must be a positive number of seconds or None, got {acquire_timeout!r}")
    driver = await create_driver(schema, client, dialect=dialect, database_name=database_name, **options)
    readers: list[Driver] = []
    try:
        for replica in replicas:
            reader = await create_driver(schema, replica, dialect=dialect, database_name=database_name, **options)
            readers.append(reader)
            mine, theirs = driver.handle, reader.handle
            if (theirs.kind, theirs.dialect) != (mine.kind, mine.dialect):
                raise ValueError(
                    f"A read replica must use the primary's runtime: the primary is {mine.kind} ({mine.dialect}), "
                    f"replica {len(readers)} is {theirs.kind} ({theirs.dialect})."
                )
    except BaseException:
        for reader in readers:
            await reader.close()
        await driver.close()
        raise
    return Orm(schema, driver, replicas=readers, acquire_timeout=acquire_timeout)


create_orm_from_runtime = create_orm
