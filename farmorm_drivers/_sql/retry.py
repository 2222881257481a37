"""``write_retries``: re-run one unit of work that ran outside a transaction after a retryable error.

Outside a transaction each statement autocommits, and a driver's write program (MySQL's write +
re-read) runs in its own BEGIN ... COMMIT: either way one atomic unit that a retryable error
(deadlock victim, Galera certification failure, a node not ready) rolled back whole, so running
it again cannot apply it twice. Inside a transaction nothing is retried here: ``transaction(fn,
retries=n)`` re-runs the whole function.
"""

from __future__ import annotations

import random
from typing import Any, Awaitable, Callable, TypeVar

import anyio

from farmorm.core.driver import Driver
from farmorm.core.errors import COMMIT_UNKNOWN, OrmError

T = TypeVar("T")


async def run_retrying(driver: Driver, attempt: Callable[[], Awaitable[T]]) -> T:
    """``await attempt()``, again after a retryable error, up to ``driver.write_retries`` times."""
    tries = 0
    while True:
        try:
            return await attempt()
        except Exception as exc:
            if tries >= driver.write_retries:
                raise
            mapped: Any = exc if isinstance(exc, OrmError) else driver.map_error(exc)
            if mapped is None or not mapped.retryable or mapped.code == COMMIT_UNKNOWN:
                raise
            tries += 1
            await anyio.sleep(min(1.0, 0.01 * 2 ** (tries - 1)) * random.uniform(0.5, 1.5))
