"""The cursor of a streamed read on a driver cursor: `fetchmany` (aiomysql/asyncmy, aiosqlite, psycopg), or a subclass's `fetch`."""

from __future__ import annotations

import abc
from typing import Any, Sequence

from farmorm.core.driver import RowCursor


class FetchManyCursor(RowCursor):
    """Rows from ``cur.fetchmany(size)``; ``close()`` runs the driver's ``_release()`` once."""

    __slots__ = ("cur", "size", "done")

    def __init__(self, cur: Any, size: int) -> None:
        self.cur = cur
        self.size = size
        self.done = False

    async def fetch(self) -> Sequence[Any]:
        if self.done:
            return []
        rows: Sequence[Any] = await self.cur.fetchmany(self.size)
        return rows

    async def close(self) -> None:
        if self.done:
            return
        self.done = True
        await self._release()

    @abc.abstractmethod
    async def _release(self) -> None:
        """Close the driver cursor and give the connection back to ordinary statements."""
