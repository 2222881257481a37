"""Transactions: ``await orm.transaction(fn)`` and ``async with orm.transaction() as tx``.

The transaction's connection travels in a per-client contextvar, so code in the same task (and
the tasks it starts) reuses it, while unrelated concurrent tasks never share it by accident.
Nested transactions become savepoints. Rollback and commit run in a shielded cancel scope so a
cancelled task never leaves a connection inside a transaction.
"""

from __future__ import annotations

import inspect
import logging
import random
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Generator

import anyio

from ..errors import OrmError, UnsupportedError, validation_error

if TYPE_CHECKING:
    from ..driver import Connection
    from .orm import Orm

#: Accepted ``isolation=`` values; drivers receive the canonical SQL spelling (SQLite is always
#: serializable and accepts any of them).
ISOLATION_LEVELS = {
    "read_uncommitted": "read uncommitted",
    "read_committed": "read committed",
    "repeatable_read": "repeatable read",
    "serializable": "serializable",
}

BACKOFF_BASE = 0.01
BACKOFF_CAP = 1.0


class TxState:
    """The connection of the running transaction and how deep the savepoints go."""

    __slots__ = ("conn", "depth", "active", "hooks", "actor")

    def __init__(self, conn: Connection, depth: int, actor: str | None = None) -> None:
        self.conn = conn
        self.depth = depth
        self.active = True
        #: ``tx.on_commit`` callbacks registered at this level (moved to the parent on release)
        self.hooks: list[Callable[[], Any]] = []
        #: ``orm.transaction(actor=...)``: who history rows name as the actor
        self.actor = actor


logger = logging.getLogger("farmorm")


async def run_commit_hooks(hooks: list[Callable[[], Any]]) -> None:
    """Run after-commit hooks in order; a failure is logged, never raised (the commit happened)."""
    for hook in hooks:
        try:
            result = hook()
            if inspect.isawaitable(result):
                await result
        except Exception:  # noqa: BLE001 - reported, the transaction already committed
            logger.exception("farmorm: an on_commit hook failed after the transaction committed: %r", hook)


def canonical_isolation(isolation: str | None) -> str | None:
    """Validate ``isolation=`` before any I/O; returns the SQL spelling ("read committed", ...)."""
    if isolation is None:
        return None
    key = str(isolation).strip().lower().replace(" ", "_").replace("-", "_")
    level = ISOLATION_LEVELS.get(key)
    if level is None:
        raise validation_error(
            f'Invalid isolation level "{isolation}". Use one of: {", ".join(ISOLATION_LEVELS)}.',
            isolation=isolation,
        )
    return level


def backoff(attempt: int) -> float:
    """Jittered exponential backoff, capped."""
    return min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 1)) * random.uniform(0.5, 1.5)


class Transaction:
    """Awaitable (function form, with retries) and async context manager (block form)."""

    def __init__(self, orm: Orm, fn: Callable[[Orm], Awaitable[Any]] | None, isolation: str | None,
                 retries: int, actor: str | None = None) -> None:
        if type(retries) is not int or retries < 0:
            raise validation_error(f"Invalid retries {retries!r}: expected a non-negative integer.")
        self.orm = orm
        self.fn = fn
        self.isolation = canonical_isolation(isolation)
        self.retries = retries
        if actor is not None and not isinstance(actor, str):
            raise validation_error(f"Invalid actor {actor!r}: expected a string.")
        self.actor = actor
        self._stack: AsyncExitStack | None = None
        self._state: TxState | None = None
        self._token: Any = None
        self._savepoint: str | None = None
        self._parent: TxState | None = None

    def __await__(self) -> Generator[Any, None, Any]:
        if self.fn is None:
            raise TypeError("await orm.transaction(fn) needs a function; use `async with orm.transaction() as tx:`")
        return self._run().__await__()

    async def _run(self) -> Any:
        attempt = 0
        nested = self.orm._state() is not None
        while True:
            try:
                async with Transaction(self.orm, None, self.isolation, 0, self.actor) as tx:
                    return await self.fn(tx)  # type: ignore[misc]
            except OrmError as exc:
                if nested or not exc.retryable or attempt >= self.retries:
                    raise
                attempt += 1
                await anyio.sleep(backoff(attempt))

    async def __aenter__(self) -> Orm:
        if self.retries:
            raise ValueError("retries= needs the function form: await orm.transaction(fn, retries=n)")
        orm = self.orm
        outer = orm._state()
        if outer is not None:
            self._parent = outer
            self._savepoint = f"farmorm_sp_{outer.depth + 1}"
            await orm._guard(outer.conn.savepoint(self._savepoint))
            self._state = TxState(outer.conn, outer.depth + 1, self.actor or outer.actor)
        else:
            self._stack = AsyncExitStack()
            try:
                conn = await orm._guard(
                    self._stack.enter_async_context(orm._driver.connection(write=True, transaction=True))
                )
                await orm._guard(conn.begin(self.isolation))
            except BaseException:
                with anyio.CancelScope(shield=True):
                    await self._stack.aclose()
                raise
            self._state = TxState(conn, 0, self.actor)
        self._token = orm._var.set(self._state)
        return orm._bound(self._state)

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        orm = self.orm
        state = self._state
        assert state is not None
        orm._var.reset(self._token)
        conn = state.conn
        committed = False
        try:
            with anyio.CancelScope(shield=True):
                if self._savepoint is not None:
                    if exc is None:
                        await orm._guard(conn.release_savepoint(self._savepoint))
                        if self._parent is not None:
                            self._parent.hooks.extend(state.hooks)
                    else:
                        await orm._guard(conn.rollback_to_savepoint(self._savepoint))
                        await orm._guard(conn.release_savepoint(self._savepoint))
                elif exc is None:
                    try:
                        await orm._guard(conn.commit())
                        committed = True
                    except BaseException:
                        await _quiet_rollback(conn)
                        raise
                else:
                    await _quiet_rollback(conn)
        finally:
            state.active = False
            hooks, state.hooks = state.hooks, []
            if self._stack is not None:
                with anyio.CancelScope(shield=True):
                    await self._stack.aclose()
        if committed and hooks:
            await run_commit_hooks(hooks)


async def _quiet_rollback(conn: Connection) -> None:
    """Roll back, keeping the original error when the rollback itself fails (lost connection)."""
    try:
        await conn.rollback()
    except Exception:  # noqa: BLE001 - the caller is already raising the error that matters
        pass


def closed_transaction_error() -> OrmError:
    return UnsupportedError(
        "This transaction has already finished; run further queries on the ORM client, not on its tx."
    )
