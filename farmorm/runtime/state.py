"""A transaction's state as the engine carries it: its connection, savepoint depth, turn-taking
gate, after-commit hooks and actor.

The running transaction's ``TxState`` travels in the engine's contextvar (see ``engine.py``);
``Transaction`` (``transaction.py``) makes and ends it.
"""

from __future__ import annotations

import asyncio
import collections
import inspect
from typing import Any, Callable

from ..core.driver import Connection
from ..core.errors import CommitHookFailed, OrmError, UnsupportedError


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
        #: outlives a savepoint block falls back to it (``Engine.state``)
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


def closed_transaction_error() -> OrmError:
    """UNSUPPORTED: an operation on the handle of a transaction that has ended."""
    return UnsupportedError(
        "This transaction has already finished; run further queries on the ORM client, not on its tx."
    )
