"""One database server (the primary or a read replica) as the engine uses it: its driver and the
runtime's own state about it. Nothing of it is stored on the driver object.

- ``enter()`` takes a connection from the driver within the acquire deadline (``acquire_timeout``),
  registered as a waiter so that ``close()`` can fail it at once;
- ``closed``: set by ``orm.close()`` (and by ``orm.reconnect()`` on the old primary); new operations
  fail with CONNECTION_ERROR (``reason="pool_closed"``);
- ``close()`` closes the driver, terminating connections still in use past the timeout.
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable

from ..core.driver import Connection, Driver
from ..core.errors import CONNECTION_ERROR, DESCRIPTIONS, OrmError, make_error

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
        return await self.wait(entering)

    async def wait(self, entering: Awaitable[Connection]) -> Connection:
        """``enter()`` once the driver said a connection is not free right now: the deadline is
        armed and the task registered as a waiter."""
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
