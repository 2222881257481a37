"""The fake driver and its connection: every call is logged, every statement answered by the handler."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Callable, Sequence, Union

from farmorm.core.driver import Capabilities, Compiled, Connection, Driver, DriverHandle, Result, Returning
from farmorm.core.errors import DESCRIPTIONS, OrmError, make_error
from farmorm.query import nodes as n

#: what the handler answers: rows (sequences aligned with the node's columns), a Result, or an
#: exception to raise as the database would (a FakeError maps to its code)
Answer = Union[Sequence[Sequence[Any]], Result, BaseException]
Handler = Callable[[Any, Sequence[Any]], Answer]

CAPABILITIES = Capabilities(
    supports_transactions=True,
    supports_json=True,
    supports_dates=True,
    supports_booleans=True,
    upsert="native",
    returning=Returning(create=True, update=True, delete=False),
    savepoints=True,
)


class FakeError(Exception):
    """A native error of the fake database: ``map_error`` turns it into the OrmError of ``code``."""

    def __init__(self, code: str, message: str = "fake database error") -> None:
        super().__init__(message)
        self.code = code


class FakeCompiled(Compiled):
    """A "compiled" node: the node itself, with the columns its rows carry."""

    def __init__(self, node: Any) -> None:
        self.node = node
        self.statement = type(node).__name__
        self.columns = _columns(node)
        self.decoders = (None,) * len(self.columns)


def _columns(node: Any) -> tuple[str, ...]:
    if isinstance(node, n.Select):
        return node.columns
    if isinstance(node, (n.Insert, n.Update, n.Upsert)):
        return node.returning
    if isinstance(node, n.Count):
        return ("count",)
    return ()


def _no_rows(node: Any, params: Sequence[Any]) -> Answer:
    return Result([], 0)


class FakeConnection(Connection):
    """One checkout: statements go to the handler; transaction control is logged."""

    def __init__(self, driver: FakeDriver, write: bool) -> None:
        self.driver = driver
        self.write = write
        self.discarded = False

    async def run(self, compiled: FakeCompiled, params: Sequence[Any]) -> Result:
        driver = self.driver
        driver.log.append(("run", compiled.node, tuple(params)))
        if driver.delay:
            await asyncio.sleep(driver.delay)
        answer = driver.handler(compiled.node, params)
        if isinstance(answer, BaseException):
            raise answer
        if isinstance(answer, Result):
            return answer
        rows = [list(r) for r in answer]
        return Result(rows, len(rows))

    async def begin(self, isolation: str | None = None) -> None:
        self.driver.log.append(("begin", isolation))

    async def commit(self) -> None:
        self.driver.log.append(("commit",))
        if self.driver.fail_commit is not None:
            raise self.driver.fail_commit

    async def rollback(self) -> None:
        self.driver.log.append(("rollback",))

    async def savepoint(self, name: str) -> None:
        self.driver.log.append(("savepoint", name))

    async def release_savepoint(self, name: str) -> None:
        self.driver.log.append(("release_savepoint", name))

    async def rollback_to_savepoint(self, name: str) -> None:
        self.driver.log.append(("rollback_to_savepoint", name))

    def discard(self) -> None:
        self.discarded = True
        self.driver.log.append(("discard",))


class FakeDriver(Driver):
    """A backend played by ``handler``; ``pool_size`` connections at most (None: unlimited)."""

    def __init__(self, schema: Any, handler: Handler | None = None, *, pool_size: int | None = None,
                 client: Any = None) -> None:
        super().__init__()
        self.schema = schema
        self.handler: Handler = handler or _no_rows
        self.handle = DriverHandle("fake", "fake", client if client is not None else handler, CAPABILITIES)
        self.log: list[tuple[Any, ...]] = []
        self.compiles = 0
        self.pool = asyncio.Semaphore(pool_size) if pool_size else None
        self.pool_size = pool_size
        self.in_use = 0
        self.delay = 0.0
        self.fail_commit: BaseException | None = None
        self.closed_calls = 0

    def compile(self, node: Any) -> FakeCompiled:
        self.compiles += 1
        return FakeCompiled(node)

    @asynccontextmanager
    async def connection(self, *, write: bool = False, transaction: bool = False) -> AsyncIterator[Connection]:
        if self.pool is not None:
            await self.pool.acquire()
        self.in_use += 1
        self.log.append(("connect", write))
        try:
            yield FakeConnection(self, write)
        finally:
            self.in_use -= 1
            self.log.append(("release", write))
            if self.pool is not None:
                self.pool.release()

    def map_error(self, exc: BaseException) -> OrmError | None:
        if isinstance(exc, FakeError):
            return make_error(exc.code, f"{DESCRIPTIONS.get(exc.code, exc.code)} in fake runtime: {exc}",
                              backend_kind="fake", dialect="fake", meta={"original_message": str(exc)})
        return None

    def pool_status(self) -> dict[str, int] | None:
        if self.pool_size is None:
            return None
        return {"size": self.pool_size, "in_use": self.in_use, "max_size": self.pool_size}

    async def close(self) -> None:
        self.closed_calls += 1

    def statements(self) -> list[Any]:
        """The nodes run so far, in order."""
        return [entry[1] for entry in self.log if entry[0] == "run"]
