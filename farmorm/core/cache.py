"""The plan cache: an LRU owned by one ORM client, keyed by value-free nodes."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Hashable


class PlanCache:
    """LRU of compiled plans; ``hits`` and ``misses`` count lookups so tests can prove reuse."""

    __slots__ = ("_data", "maxsize", "hits", "misses")

    def __init__(self, maxsize: int = 1024) -> None:
        self._data: OrderedDict[Hashable, Any] = OrderedDict()
        self.maxsize = maxsize
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, build: Callable[[Hashable], Any]) -> Any:
        """Return the cached plan for ``key``, building (and caching) it on a miss."""
        data = self._data
        try:
            value = data[key]
        except KeyError:
            self.misses += 1
            value = data[key] = build(key)
            if len(data) > self.maxsize:
                data.popitem(last=False)
            return value
        self.hits += 1
        data.move_to_end(key)
        return value

    def clear(self) -> None:
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._data

    def __repr__(self) -> str:
        return f"PlanCache(size={len(self)}, hits={self.hits}, misses={self.misses})"
