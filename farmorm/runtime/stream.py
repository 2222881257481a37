"""``orm.<model>.stream(...)``: records read through a server-side cursor, a batch at a time.

A stream holds a connection (or the running transaction's) while it is open, so it is an async
context manager: ``async with orm.user.stream(...) as rows: async for row in rows: ...``. Leaving
the block however it is left (end of rows, ``break``, an exception, a cancellation) closes the
cursor and hands the connection back before the block's exception goes on. A bare
``async for row in orm.user.stream(...)`` is refused: Python does not close an async iterator a
loop breaks out of, and a stream must never keep a connection past its block.
"""

from __future__ import annotations

from typing import Any, Callable, Generic, Sequence, TypeVar

from ..core.driver import RowCursor
from ..query.plan import Read
from .engine import Engine, Scope

Builder = Callable[[Sequence[Sequence[Any]]], list[Any]]
#: the record type a stream yields: ``dict[str, Any]``, or the ``as_`` Struct
T = TypeVar("T")

_NOT_OPEN = ('A stream holds a database connection while it is open: use it as '
             '"async with orm.{model}.stream(...) as rows: async for row in rows: ...".')


class RecordStream(Generic[T]):
    """An open (or openable) stream of records (``T``: dicts, or the ``as_`` Struct); see the module docstring."""

    __slots__ = ("_engine", "_read", "_as", "_model", "batch_size", "_scope", "_cursor", "_build", "_buf", "_at",
                 "_state")

    def __init__(self, engine: Engine, model: str, read: Read, batch_size: int, as_: type | None) -> None:
        self._engine = engine
        self._model = model
        self._read = read
        self._as = as_
        self.batch_size = batch_size
        self._scope: Scope | None = None
        self._cursor: RowCursor | None = None
        self._build: Builder | None = None
        self._buf: list[T] = []
        self._at = 0
        self._state = "new"  # new -> open -> closed

    async def __aenter__(self) -> RecordStream[T]:
        if self._state != "new":
            raise RuntimeError("A stream can be opened once; call orm.<model>.stream(...) again for another pass.")
        self._state = "open"
        engine = self._engine
        plan = engine.plan(self._read.node)
        self._build = plan.hydrate if self._as is None else plan.hydrate_as(self._as)
        scope = engine.scope()
        conn = await scope.__aenter__()
        self._scope = scope
        try:
            self._cursor = await conn.cursor(plan.compiled, self._read.params, self.batch_size)
        except BaseException as exc:
            self._state = "closed"
            self._scope = None
            await scope.__aexit__(type(exc), exc, exc.__traceback__)  # maps a native error and raises it
            raise
        return self

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        await self._close(exc)

    async def aclose(self) -> None:
        """Close the cursor and release the connection now (leaving the ``async with`` block does it too)."""
        await self._close(None)

    async def _close(self, exc: BaseException | None) -> None:
        if self._state != "open":
            return
        self._state = "closed"
        self._buf = []
        cursor, scope = self._cursor, self._scope
        self._cursor = self._scope = None
        try:
            if cursor is not None:
                try:
                    await cursor.close()
                except Exception as cleanup:
                    if exc is None:
                        raise self._engine.mapped(cleanup) from cleanup
        finally:
            if scope is not None:
                # a cancellation reaches the driver (MySQL then drops a connection mid-result); the
                # body's own errors are the body's: nothing to map, the connection goes back as usual
                gone = exc if exc is not None and not isinstance(exc, Exception) else None
                await scope.__aexit__(None if gone is None else type(gone), gone, None)

    async def next_batch(self) -> list[T]:
        """The next batch of records (at most ``batch_size``); an empty list once the rows run out."""
        if self._state != "open":
            if self._state == "new":
                raise TypeError(_NOT_OPEN.format(model=self._model))
            return []
        if self._at < len(self._buf):  # records left over from record-by-record iteration
            rest = self._buf[self._at:]
            self._buf, self._at = [], 0
            return rest
        cursor = self._cursor
        assert cursor is not None and self._build is not None
        with self._engine.errors():
            rows = await cursor.fetch()
        return self._build(rows) if rows else []

    def batches(self) -> _Batches[T]:
        """Iterate batch by batch: ``async for batch in rows.batches(): ...`` (each a list of records)."""
        if self._state == "new":
            raise TypeError(_NOT_OPEN.format(model=self._model))
        return _Batches(self)

    def __aiter__(self) -> RecordStream[T]:
        if self._state == "new":
            raise TypeError(_NOT_OPEN.format(model=self._model))
        return self

    async def __anext__(self) -> T:
        buf = self._buf
        at = self._at
        if at < len(buf):
            self._at = at + 1
            return buf[at]
        buf = await self.next_batch()
        if not buf:
            raise StopAsyncIteration
        self._buf = buf
        self._at = 1
        return buf[0]

    def __repr__(self) -> str:
        return f"<RecordStream {self._model} {self._state} batch_size={self.batch_size}>"


class _Batches(Generic[T]):
    __slots__ = ("stream",)

    def __init__(self, stream: RecordStream[T]) -> None:
        self.stream = stream

    def __aiter__(self) -> _Batches[T]:
        return self

    async def __anext__(self) -> list[T]:
        batch = await self.stream.next_batch()
        if not batch:
            raise StopAsyncIteration
        return batch
