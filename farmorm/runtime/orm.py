"""The ORM client: ``create_orm``, ``orm.<model>``, transactions, batch, events, close."""

from __future__ import annotations

import itertools
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any, AsyncIterator, Awaitable, Callable, Sequence

from ..cache import PlanCache
from ..detect import resolve
from ..driver import Connection, Driver, DriverHandle, QueryEvent
from ..errors import OrmError, SchemaError, validation_error
from ..schema.manifest import Schema
from .executor import Executor
from .model import ModelClient
from .transaction import Transaction, TxState, closed_transaction_error

_ids = itertools.count()


class Orm:
    """One client: a schema bound to a driver. ``orm.user`` is the model client of model ``user``."""

    def __init__(self, schema: Schema, driver: Driver, *, plan_cache_size: int = 1024,
                 replicas: Sequence[Driver] = ()) -> None:
        self.schema = schema
        self._driver = driver
        self.plan_cache = PlanCache(plan_cache_size)
        self._executor = Executor(driver, self.plan_cache)
        self._var: ContextVar[TxState | None] = ContextVar(f"farmorm_tx_{next(_ids)}", default=None)
        self._fixed: TxState | None = None
        #: read replicas: reads outside a transaction go to the next one in turn (round robin)
        self._replicas: tuple[Driver, ...] = tuple(replicas)
        self._turn = itertools.count()
        for replica in self._replicas:
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
        return self._fixed or self._var.get()

    def _bound(self, state: TxState) -> Orm:
        tx = object.__new__(type(self))
        tx.__dict__.update(
            schema=self.schema, _driver=self._driver, plan_cache=self.plan_cache,
            _executor=self._executor, _var=self._var, _fixed=state,
            _replicas=self._replicas, _turn=self._turn,
        )
        return tx

    def _read_driver(self) -> Driver:
        """The driver for a read outside a transaction: the next replica, or the primary."""
        replicas = self._replicas
        if not replicas:
            return self._driver
        return replicas[next(self._turn) % len(replicas)]

    def primary(self) -> Orm:
        """This client with every read on the primary (read-your-writes despite replica lag)."""
        if not self._replicas:
            return self
        pinned = object.__new__(type(self))
        pinned.__dict__.update(
            schema=self.schema, _driver=self._driver, plan_cache=self.plan_cache,
            _executor=self._executor, _var=self._var, _fixed=self._fixed, _replicas=(), _turn=self._turn,
        )
        return pinned

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
    def transaction(
        self,
        fn: Callable[[Orm], Awaitable[Any]] | None = None,
        *,
        isolation: str | None = None,
        retries: int = 0,
        actor: str | None = None,
    ) -> Transaction:
        """Run ``fn(tx)`` in a transaction (``await``), or open one for a block (``async with``).

        Nested calls become savepoints; ``retries`` re-runs ``fn`` on retryable errors; ``actor``
        names who history rows (``model(history=True)``) record as the author of the changes."""
        return Transaction(self, fn, isolation, retries, actor)

    def on_commit(self, callback: Callable[[], Any]) -> None:
        """Run ``callback()`` (sync or async) after the outermost transaction commits; never after a
        rollback. Hooks of a rolled-back savepoint are dropped. A hook failure is logged, not raised."""
        state = self._state()
        if state is None or not state.active:
            raise validation_error("on_commit() needs a running transaction.")
        if not callable(callback):
            raise validation_error(f"on_commit() expects a callable, got {callback!r}.")
        state.hooks.append(callback)

    async def batch(self, fns: Sequence[Callable[[Orm], Awaitable[Any]]]) -> list[Any]:
        """Run the callables in order inside one transaction; returns their results."""

        async def run(tx: Orm) -> list[Any]:
            return [await fn(tx) for fn in fns]

        return await self.transaction(run)  # type: ignore[no-any-return]

    def on_query(self, callback: Callable[[QueryEvent], Any]) -> Callable[[], None]:
        """Call ``callback(event)`` after every executed statement; returns an unsubscribe function."""
        listeners = self._driver.listeners
        listeners.append(callback)

        def unsubscribe() -> None:
            if callback in listeners:
                listeners.remove(callback)

        return unsubscribe

    async def close(self) -> None:
        """Close what farmorm opened (a pool or connection made from a URL); never the app's client."""
        try:
            for replica in self._replicas:
                await replica.close()
        finally:
            await self._driver.close()

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

    __slots__ = ("orm", "write", "cm")

    def __init__(self, orm: Orm, write: bool) -> None:
        self.orm = orm
        self.write = write
        self.cm: Any = None

    async def __aenter__(self) -> Connection:
        orm = self.orm
        state = orm._state()
        if state is not None:
            if not state.active:
                raise closed_transaction_error()
            return state.conn
        driver = orm._driver if self.write or not orm._replicas else orm._read_driver()
        self.cm = cm = driver.connection(write=self.write)
        try:
            return await cm.__aenter__()
        except OrmError:
            raise
        except Exception as exc:
            raise _mapped(orm._driver, exc) from exc

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        try:
            if self.cm is not None:
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
                     database_name: str | None = None, replicas: Sequence[Any] = (), **options: Any) -> Orm:
    """Bind ``schema`` to the raw client or pool the app already has (or a URL farmorm opens and owns).

    ``replicas`` are clients (or URLs) of read replicas of the same kind: reads outside a transaction
    go to them in turn; writes and everything inside a transaction go to ``client``, the primary."""
    if isinstance(replicas, (str, bytes)):
        raise TypeError("create_orm(replicas=...) expects a list of clients or URLs, not one string.")
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
    return Orm(schema, driver, replicas=readers)


create_orm_from_runtime = create_orm
