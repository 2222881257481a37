"""Read plans: a root ``Select`` plus one batched follow-up ``Select`` per relation level.

The parser builds these; the executor runs them. A relation level is one query whatever the
number of parent rows: its ``Link`` filters ``target.key IN (parent keys)`` and the rows are
stitched back onto their parents here, in Python, by key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..schema.manifest import RelationMeta
from .nodes import Select

#: Name of the extra last column a many-to-many level returns: the parent key it belongs to.
LINK_COLUMN = "\x00link"
#: Prefix of a relation-count column (``select={"_count": {...}}``); nested under ``"_count"``
COUNT_PREFIX = "\x00count:"


@dataclass(slots=True)
class Read:
    """A ``Select`` node, its params, its relation levels and the helper columns to drop afterwards."""

    node: Select
    params: list[Any]
    relations: tuple[RelationRead, ...] = ()
    hidden: tuple[str, ...] = ()
    #: relation names counted (``select={"_count": ...}``): their columns move under ``"_count"``
    counts: tuple[str, ...] = ()


@dataclass(slots=True)
class RelationRead:
    """One relation level. ``read.params[0]`` is the slot for the parent keys (filled per run)."""

    name: str
    meta: RelationMeta
    read: Read
    parent_key: str
    child_key: str  # a child column, or LINK_COLUMN for many-to-many
    single: bool


def collect_keys(records: list[dict[str, Any]], key: str) -> list[Any]:
    """The distinct non-null values of ``key`` over ``records``, in first-seen order."""
    seen: dict[Any, None] = {}
    for r in records:
        v = r[key]
        if v is not None:
            seen[v] = None
    return list(seen)


def stitch(parents: list[dict[str, Any]], rel: RelationRead, children: list[dict[str, Any]]) -> None:
    """Attach ``children`` to their ``parents`` under ``rel.name`` (a record/None or a list)."""
    ck = rel.child_key
    if rel.single:
        first = {c[ck]: c for c in reversed(children)}  # the earliest child of a key wins
        one = first.get
        name, pk = rel.name, rel.parent_key
        for p in parents:
            p[name] = one(p[pk])
        return
    grouped: dict[Any, list[dict[str, Any]]] = {}
    get = grouped.get
    for c in children:
        k = c[ck]
        group = get(k)
        if group is None:
            grouped[k] = [c]
        else:
            group.append(c)
    attach(parents, rel, grouped)


def attach(parents: list[dict[str, Any]], rel: RelationRead, grouped: dict[Any, list[dict[str, Any]]]) -> None:
    """Attach children already grouped by key (``grouped``, each group in ``order_by`` order) to
    their ``parents`` under ``rel.name``: a to-one parent gets the first child of its key or None,
    a to-many parent its own list. The first parent of a key takes the group itself (no copy), a
    later parent with the same key (a record reached twice through a many-to-many level) a copy."""
    pk = rel.parent_key
    name = rel.name
    get = grouped.get
    if rel.single:
        for p in parents:
            group = get(p[pk])
            p[name] = None if group is None else group[0]
        return
    given: dict[Any, None] = {}
    for p in parents:
        k = p[pk]
        group = get(k)
        if group is None:
            p[name] = []
        elif k in given:
            p[name] = list(group)
        else:
            given[k] = None
            p[name] = group


def strip_hidden(records: list[dict[str, Any]], hidden: tuple[str, ...]) -> None:
    """Drop the helper columns a plan added only to join relation levels."""
    for r in records:
        for h in hidden:
            r.pop(h, None)


def nest_counts(records: list[dict[str, Any]], counts: tuple[str, ...]) -> None:
    """Move the relation-count columns of ``records`` under ``record["_count"][relation]``."""
    keys = [(COUNT_PREFIX + c, c) for c in counts]
    for r in records:
        r["_count"] = {name: int(r.pop(key) or 0) for key, name in keys}
