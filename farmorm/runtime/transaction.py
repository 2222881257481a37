"""Transactions: ``await orm.transaction(fn)`` and ``async with orm.transaction() as tx``.

The transaction's connection travels in a per-client contextvar, so code in the same task (and
the tasks it starts) reuses it, while unrelated concurrent tasks never share it by accident.
Nested transactions become savepoints. Rollback and commit run in a shielded cancel scope so a
cancelled task never leaves a connection inside a transaction.
"""

from __future__ import annotations

import asyncio
import collections
import inspect
import random
import time
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Generator

import anyio

from ..core.errors import (
    COMMIT_UNKNOWN,
    CONNECTION_ERROR,
    DESCRIPTIONS,
    CommitHookFailed,
    OrmError,
    UnsupportedError,
    make_error,
    validation_error,
)

if TYPE_CHECKING:
    from ..core.driver import Connection, Driver
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
#: ``transaction(fn, retries=n)`` stops re-running ``fn`` once this many seconds have passed since
#: the first attempt (as MongoDB's drivers do), whatever ``n``: a conflict storm ends in an error
RETRY_TIME_CAP = 120.0


class Gate:
    """One operation at a time on a transaction's connection, whichever task runs it.

    A transaction handle can be shared by several tasks (``asyncio.gather`` of ``tx`` calls, a
    task started inside the block); a connection runs one statement at a time, so operations on
    it take turns here (asyncpg would raise "another operation is in progress"). Reentrant for the
    task that holds it: an operation that opens a nested transaction (a savepoint) passes."""

    __slots__ = ("owner", "depth", "waiters")

    def __init__(self) -> None:
        self.owner: asyncio.Task[Any] | None = None
        self.depth = 0
        self.waiters: collections.deque[tuple[asyncio.Future[None], asyncio.Task[Any] | None]] = collections.deque()

    async def acquire(self) -> None:
        task = asyncio.current_task()
        if self.owner is task and task is not None:
            self.depth += 1
            return
        if self.owner is None and not self.waiters:
            self.owner, self.depth = task, 1
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (fut, task)
        self.waiters.append(entry)
        try:
            await fut
        except BaseException:
            if fut.done() and not fut.cancelled():
                self.release()  # handed over just as we were cancelled: pass it on
            else:
                self.waiters.remove(entry)
            raise

    def release(self) -> None:
        self.depth -= 1
        if self.depth > 0:
            return
        self.owner = None
        while self.waiters:
            fut, task = self.waiters.popleft()
            if not fut.done():
                self.owner, self.depth = task, 1  # handed over: nobody can slip in before it runs
                fut.set_result(None)
                return


class TxState:
    """The connection of the running transaction and how deep the savepoints go."""

    __slots__ = ("conn", "depth", "active", "hooks", "actor", "gate", "parent")

    def __init__(self, conn: Connection, depth: int, actor: str | None = None, gate: Gate | None = None,
                 parent: TxState | None = None) -> None:
        self.conn = conn
        self.depth = depth
        self.active = True
        #: the enclosing level of a savepoint (None for the outermost transaction): a task that
        #: outlives a savepoint block falls back to it (``Orm._state``)
        self.parent = parent
        #: operations of this level take turns here; a savepoint level has its own gate and holds
        #: its parent's for as long as it is open
        self.gate = gate if gate is not None else Gate()
        #: ``tx.on_commit`` callbacks registered at this level (moved to the parent on release)
        self.hooks: list[Callable[[], Any]] = []
        #: ``orm.transaction(actor=...)``: who history rows name as the actor
        self.actor = actor




async def run_commit_hooks(hooks: list[Callable[[], Any]]) -> None:
    """Run after-commit hooks in order, every one of them; then, when any raised, raise
    COMMIT_HOOK_FAILED saying that the transaction committed (a failure must not pass unseen, and
    must not look like a failed transaction that a caller would run again)."""
    failed: list[Exception] = []
    for hook in hooks:
        try:
            result = hook()
            if inspect.isawaitable(result):
                await result
        except Exception as exc:  # noqa: BLE001 - collected: the next hooks still run
            failed.append(exc)
    if failed:
        raise commit_hook_failed(hooks, failed)


def commit_hook_failed(hooks: list[Callable[[], Any]], failed: list[Exception]) -> CommitHookFailed:
    first = failed[0]
    err = CommitHookFailed(
        f"The transaction committed; then {len(failed)} of its {len(hooks)} on_commit hook(s) failed "
        f"(first: {type(first).__name__}: {first}). The data is saved: do not run the transaction "
        "again; handle or retry the side effect itself.",
        retryable=False,
        meta={"committed": True, "hooks": len(hooks), "failed": len(failed),
              "errors": [f"{type(e).__name__}: {e}" for e in failed]},
    )
    err.exceptions = tuple(failed)
    err.__cause__ = ExceptionGroup("on_commit hooks failed after the commit", failed)
    return err


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
        return self.run().__await__()

    async def run(self) -> Any:
        """The function form: ``fn(tx)`` in a transaction, re-run on retryable errors."""
        attempt = 0
        nested = self.orm._state() is not None
        started = time.monotonic()
        while True:
            result: Any = None
            try:
                async with Transaction(self.orm, None, self.isolation, 0, self.actor) as tx:
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

    async def __aenter__(self) -> Orm:
        if self.retries:
            raise ValueError("retries= needs the function form: await orm.transaction(fn, retries=n)")
        orm = self.orm
        outer = orm._state()
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
                await orm._guard(outer.conn.savepoint(self._savepoint))
            except BaseException:
                outer.gate.release()
                raise
            self._state = TxState(outer.conn, outer.depth + 1, self.actor or outer.actor, parent=outer)
        else:
            if orm._driver.closed:
                raise pool_closed_error(orm._driver)
            self._stack = AsyncExitStack()
            began: Connection | None = None
            try:
                conn = await orm._guard(
                    enter_connection(orm._driver, self._stack.enter_async_context(
                        orm._driver.connection(write=True, transaction=True)))
                )
                began = conn
                await orm._guard(conn.begin(self.isolation))
            except BaseException:
                if began is not None:
                    # BEGIN failed or was cancelled in flight: it may have opened a transaction on
                    # the server, so the connection must not go back to the pool as it is
                    began.discard()
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
        gate = state.gate
        nested = self._savepoint is not None
        try:
            # wait for operations other tasks still run on this level, then end it
            await gate.acquire()
            with anyio.CancelScope(shield=True):
                if self._savepoint is not None:
                    if exc is None:
                        await orm._guard(conn.release_savepoint(self._savepoint))
                        if self._parent is not None:
                            self._parent.hooks.extend(state.hooks)
                    else:
                        try:
                            await orm._guard(conn.rollback_to_savepoint(self._savepoint))
                            await orm._guard(conn.release_savepoint(self._savepoint))
                        except Exception:  # noqa: BLE001 - the error that ended the block is the one to report
                            # the savepoint is gone: the server rolled the whole transaction back
                            # (InnoDB's deadlock victim, a lost connection), so rolling back to it
                            # fails ("SAVEPOINT ... does not exist"); the original error goes on,
                            # and the outer transaction fails when it next talks to the server
                            pass
                elif exc is None:
                    try:
                        await orm._guard(conn.commit())
                        committed = True
                        if orm._router is not None:  # read-your-writes on the replicas
                            await orm._router.note_write(conn)
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


async def enter_connection(driver: Driver, entering: Awaitable[Connection]) -> Connection:
    """Await ``entering`` (a driver's ``connection()`` being entered) within the driver's
    ``acquire_timeout``; past it, CONNECTION_ERROR with ``reason="pool_timeout"`` naming the pool."""
    if driver.acquire_is_immediate():
        return await entering  # nothing to wait for: no deadline, nobody for orm.close() to stop
    timeout = driver.acquire_timeout
    task = asyncio.current_task()
    waiting = _waiting(driver)
    if task is not None:
        waiting.add(task)  # orm.close() fails waiting callers at once (see stop_waiters)
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
                raise pool_timeout_error(driver, timeout) from None
            raise
    except asyncio.CancelledError:
        if task is not None and driver.closed and task in _stopped(driver):
            _stopped(driver).discard(task)
            task.uncancel()
            raise pool_closed_error(driver) from None
        raise
    finally:
        if task is not None:
            waiting.discard(task)


def _waiting(driver: Driver) -> set[asyncio.Task[Any]]:
    found: set[asyncio.Task[Any]] | None = driver.__dict__.get("_farmorm_waiting")
    if found is None:
        found = driver.__dict__["_farmorm_waiting"] = set()
    return found


def _stopped(driver: Driver) -> set[asyncio.Task[Any]]:
    found: set[asyncio.Task[Any]] | None = driver.__dict__.get("_farmorm_stopped")
    if found is None:
        found = driver.__dict__["_farmorm_stopped"] = set()
    return found


def stop_waiters(driver: Driver) -> int:
    """Fail every caller still waiting for a connection of ``driver`` (it is closing): they raise
    CONNECTION_ERROR (``reason="pool_closed"``) instead of waiting on a pool that is going away."""
    waiting = _waiting(driver)
    stopped = _stopped(driver)
    for task in list(waiting):
        if not task.done():
            stopped.add(task)
            task.cancel()
    return len(waiting)


def pool_timeout_error(driver: Driver, timeout: float) -> OrmError:
    status = driver.pool_status() or {}
    size, in_use, max_size = status.get("size"), status.get("in_use"), status.get("max_size")
    h = driver.handle
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


def pool_closed_error(driver: Driver) -> OrmError:
    h = driver.handle
    return make_error(
        CONNECTION_ERROR,
        f"{DESCRIPTIONS[CONNECTION_ERROR]} in {h.kind} ({h.dialect}) runtime: the client is closed (orm.close() "
        "was called); create a new one.",
        backend_kind=h.kind, dialect=h.dialect, retryable=False, meta={"reason": "pool_closed"},
    )


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


def closed_transaction_error() -> OrmError:
    return UnsupportedError(
        "This transaction has already finished; run further queries on the ORM client, not on its tx."
    )
