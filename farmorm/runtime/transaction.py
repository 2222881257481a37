"""Transactions: ``await orm.transaction(fn)`` and ``async with orm.transaction() as tx``.

The transaction's connection travels in a per-client contextvar, so code in the same task (and
the tasks it starts) reuses it, while unrelated concurrent tasks never share it by accident.
Nested transactions become savepoints. Rollback and commit run in a shielded cancel scope so a
cancelled task never leaves a connection inside a transaction.
"""

from __future__ import annotations

import asyncio
import random
import time
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, AsyncIterator, Awaitable, Callable, Generator, Generic, TypeVar

import anyio

from ..core.driver import Connection
from ..core.errors import (
    COMMIT_UNKNOWN,
    CONNECTION_ERROR,
    DESCRIPTIONS,
    CommitHookFailed,
    OrmError,
    make_error,
    validation_error,
)
from .engine import Engine
from .state import TxState, closed_transaction_error, run_commit_hooks

#: what a transaction hands its body: ``Orm`` for ``orm.transaction()``
H = TypeVar("H")

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
#: ``transaction(fn, retries=n)`` stops re-running ``fn`` once this many seconds have passed since
#: the first attempt (as MongoDB's drivers do), whatever ``n``: a conflict storm ends in an error
RETRY_TIME_CAP = 120.0


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
    return min(BACKOFF_CAP, BACKOFF_BASE * 2.0 ** (attempt - 1)) * random.uniform(0.5, 1.5)


class Transaction(Generic[H]):
    """Awaitable (function form, with retries) and async context manager (block form).

    Runs on ``engine``; the block (or ``fn``) gets ``handle(state)``, a client bound to the
    transaction (``Orm._bound`` for ``orm.transaction()``)."""

    def __init__(self, engine: Engine, handle: Callable[[TxState], H], fn: Callable[[H], Awaitable[Any]] | None,
                 isolation: str | None, retries: int, actor: str | None = None) -> None:
        if type(retries) is not int or retries < 0:
            raise validation_error(f"Invalid retries {retries!r}: expected a non-negative integer.")
        self.engine = engine
        self.handle = handle
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
        return self.run().__await__()

    async def run(self) -> Any:
        """The function form: ``fn(tx)`` in a transaction, re-run on retryable errors."""
        attempt = 0
        nested = self.engine.state() is not None
        started = time.monotonic()
        while True:
            result: Any = None
            try:
                async with Transaction(self.engine, self.handle, None, self.isolation, 0, self.actor) as tx:
                    result = await self.fn(tx)  # type: ignore[misc]
                return result
            except CommitHookFailed as exc:
                exc.result = result  # committed: what fn returned is still the caller's
                raise
            except OrmError as exc:
                if nested or not _may_rerun(exc) or attempt >= self.retries:
                    raise
                attempt += 1
                delay = backoff(attempt)
                if time.monotonic() - started + delay > RETRY_TIME_CAP:
                    raise
                await anyio.sleep(delay)

    async def __aenter__(self) -> H:
        if self.retries:
            raise ValueError("retries= needs the function form: await orm.transaction(fn, retries=n)")
        engine = self.engine
        outer = engine.state()
        if outer is not None:
            if not outer.active:
                raise closed_transaction_error()
            self._parent = outer
            self._savepoint = f"farmorm_sp_{outer.depth + 1}"
            # the savepoint holds the outer level's gate until it is released, so another task
            # sharing the outer transaction cannot interleave statements into it; operations inside
            # the savepoint (from any task it starts) take turns on the savepoint's own gate
            await outer.gate.acquire()
            try:
                await engine.guard(outer.conn.savepoint(self._savepoint))
            except BaseException:
                outer.gate.release()
                raise
            self._state = TxState(outer.conn, outer.depth + 1, self.actor or outer.actor, parent=outer)
        else:
            primary = engine.primary
            if primary.closed:
                raise primary.closed_error()
            self._stack = AsyncExitStack()
            began: Connection | None = None
            try:
                conn = await engine.guard(
                    primary.enter(self._stack.enter_async_context(
                        primary.driver.connection(write=True, transaction=True)))
                )
                began = conn
                await engine.guard(conn.begin(self.isolation))
            except BaseException:
                if began is not None:
                    # BEGIN failed or was cancelled in flight: it may have opened a transaction on
                    # the server, so the connection must not go back to the pool as it is
                    began.discard()
                with anyio.CancelScope(shield=True):
                    await self._stack.aclose()
                raise
            self._state = TxState(conn, 0, self.actor)
        self._token = engine.var.set(self._state)
        return self.handle(self._state)

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        engine = self.engine
        state = self._state
        assert state is not None
        engine.var.reset(self._token)
        conn = state.conn
        committed = False
        gate = state.gate
        nested = self._savepoint is not None
        try:
            # wait for operations other tasks still run on this level, then end it
            await gate.acquire()
            with anyio.CancelScope(shield=True):
                if self._savepoint is not None:
                    if exc is None:
                        await engine.guard(conn.release_savepoint(self._savepoint))
                        if self._parent is not None:
                            self._parent.hooks.extend(state.hooks)
                    else:
                        try:
                            await engine.guard(conn.rollback_to_savepoint(self._savepoint))
                            await engine.guard(conn.release_savepoint(self._savepoint))
                        except Exception:  # noqa: BLE001 - the error that ended the block is the one to report
                            # the savepoint is gone: the server rolled the whole transaction back
                            # (InnoDB's deadlock victim, a lost connection), so rolling back to it
                            # fails ("SAVEPOINT ... does not exist"); the original error goes on,
                            # and the outer transaction fails when it next talks to the server
                            pass
                elif exc is None:
                    try:
                        await engine.guard(conn.commit())
                        committed = True
                        await engine.note_write(conn)  # read-your-writes on the replicas
                    except OrmError as err:
                        if err.code != CONNECTION_ERROR:
                            await _quiet_rollback(conn)
                            raise
                        # the connection broke while COMMIT was in flight: it may have committed
                        conn.discard()
                        raise commit_unknown(err) from err
                    except BaseException:
                        # cancelled while COMMIT was in flight: the outcome is unknown and so is the
                        # protocol state; never hand this connection out again
                        conn.discard()
                        raise
                else:
                    await _quiet_rollback(conn)
        finally:
            state.active = False
            if gate.owner is asyncio.current_task():
                gate.release()
            if nested:
                assert self._parent is not None
                self._parent.gate.release()  # the outer level's turn, taken by __aenter__
            hooks, state.hooks = state.hooks, []
            if self._stack is not None:
                with anyio.CancelScope(shield=True):
                    await self._stack.aclose()
        if committed and hooks:
            await run_commit_hooks(hooks)


async def _quiet_rollback(conn: Connection) -> None:
    """Roll back, keeping the original error when the rollback itself fails (lost connection);
    a connection whose rollback failed or was cancelled is discarded, never reused."""
    try:
        await conn.rollback()
    except Exception:  # noqa: BLE001 - the caller is already raising the error that matters
        conn.discard()
    except BaseException:
        conn.discard()
        raise


@asynccontextmanager
async def transaction_scope(engine: Engine, needed: bool = True) -> AsyncIterator[Connection]:
    """A connection inside a transaction (a savepoint when one is running) if ``needed``, else the
    operation's ordinary write connection; native errors of its statements leave mapped."""
    if not needed:
        async with engine.scope(write=True) as conn:
            yield conn
        return
    async with Transaction(engine, _own_state, None, None, 0) as state:
        with engine.errors():
            yield state.conn


def _own_state(state: TxState) -> TxState:
    return state


def _may_rerun(exc: OrmError) -> bool:
    """``transaction(fn, retries=)`` re-runs ``fn`` after a retryable error, and after a lost
    connection before COMMIT was sent (nothing was committed). Never after COMMIT_UNKNOWN."""
    if exc.code == COMMIT_UNKNOWN:
        return False
    if exc.retryable:
        return True
    return exc.code == CONNECTION_ERROR and exc.meta.get("reason") not in ("pool_closed", "pool_timeout")


def commit_unknown(cause: OrmError) -> OrmError:
    """COMMIT_UNKNOWN for a connection lost while COMMIT was in flight."""
    where = f"{cause.backend_kind} ({cause.dialect})" if cause.dialect else str(cause.backend_kind)
    return make_error(
        COMMIT_UNKNOWN,
        f"{DESCRIPTIONS[COMMIT_UNKNOWN]} in {where} runtime: the connection was lost while COMMIT was in "
        "flight, so the transaction may or may not have committed. farmorm does not retry it; check "
        f"whether its writes landed before doing them again. ({cause.meta.get('original_message', cause.message)})",
        backend_kind=cause.backend_kind, dialect=cause.dialect, retryable=False,
        meta={"commit_state": "unknown", "in_transaction": True,
              "original_message": cause.meta.get("original_message", cause.message)},
    )
