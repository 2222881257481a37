"""Runs nodes on a connection: plan-cache lookup, execution, hydration and relation levels.

Hydration works from a per-shape plan built once: the result column names and the few columns
that need a converter. A column that needs none costs nothing per row.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from ..core.cache import PlanCache
from ..core.driver import Compiled, Connection, Driver
from ..query.plan import Read, collect_keys, nest_counts, stitch, strip_hidden


def row_builder(names: Sequence[str], decoders: Sequence[Callable[[Any], Any] | None]) -> Callable[[Sequence[Sequence[Any]]], list[dict[str, Any]]]:
    """Generate, once per shape, a function turning rows into records.

    Each record is one dict display with the converters inlined only where a column needs one,
    so an identity column costs a tuple index and nothing else. The source is built from schema
    field names (validated identifiers, written with repr) and never from user values."""
    env: dict[str, Any] = {}
    items = []
    for i, (name, fn) in enumerate(zip(names, decoders)):
        if fn is None:
            items.append(f"{name!r}: r[{i}]")
        else:
            env[f"d{i}"] = fn
            items.append(f"{name!r}: (None if r[{i}] is None else d{i}(r[{i}]))")
    src = f"def build(rows):\n    return [{{{', '.join(items)}}} for r in rows]\n"
    exec(compile(src, "<farmorm row builder>", "exec"), env)  # noqa: S102 - trusted source, see above
    return env["build"]  # type: ignore[no-any-return]


def struct_builder(names: Sequence[str], decoders: Sequence[Callable[[Any], Any] | None],
                   cls: type) -> Callable[[Sequence[Sequence[Any]]], list[Any]]:
    """Generate, once per (shape, Struct class), a function turning rows into ``cls`` instances
    (``as_=``): the Struct is called with the row's columns, positionally in the Struct's field
    order as long as they line up, by keyword after a field the row does not carry (left to its
    default), so no intermediate dict is built. Names come from the schema and the Struct's own
    fields (checked against each other before any I/O by ``check_struct``), never from user values."""
    import inspect

    at = {name: i for i, name in enumerate(names)}
    env: dict[str, Any] = {"C": cls}
    args = []
    keywords = False
    for name, p in inspect.signature(cls).parameters.items():
        i = at.get(name)
        if i is None:
            keywords = True
            continue
        keywords = keywords or p.kind is p.KEYWORD_ONLY
        fn = decoders[i]
        if fn is None:
            value = f"r[{i}]"
        else:
            env[f"d{i}"] = fn
            value = f"(None if r[{i}] is None else d{i}(r[{i}]))"
        args.append(f"{name}={value}" if keywords else value)
    src = f"def build(rows):\n    return [C({', '.join(args)}) for r in rows]\n"
    exec(compile(src, "<farmorm struct builder>", "exec"), env)  # noqa: S102 - trusted source, see above
    return env["build"]  # type: ignore[no-any-return]


class Plan:
    """A compiled statement plus its hydration function."""

    __slots__ = ("compiled", "hydrate", "typed")

    def __init__(self, compiled: Compiled) -> None:
        self.compiled = compiled
        self.hydrate = row_builder(compiled.columns, compiled.decoders)
        self.typed: dict[type, Callable[[Sequence[Sequence[Any]]], list[Any]]] | None = None

    def hydrate_as(self, cls: type) -> Callable[[Sequence[Sequence[Any]]], list[Any]]:
        """The row builder for Struct class ``cls`` (``as_=``), built on first use."""
        typed = self.typed
        if typed is None:
            typed = self.typed = {}
        build = typed.get(cls)
        if build is None:
            build = typed[cls] = struct_builder(self.compiled.columns, self.compiled.decoders, cls)
        return build


class Executor:
    """Per-client executor: owns nothing but references to the driver and the plan cache."""

    __slots__ = ("driver", "cache", "_build")

    def __init__(self, driver: Driver, cache: PlanCache) -> None:
        self.driver = driver
        self.cache = cache
        compile_ = driver.compile
        self._build = lambda node: Plan(compile_(node))

    def plan(self, node: Any) -> Plan:
        return self.cache.get(node, self._build)  # type: ignore[no-any-return]

    async def rows(self, conn: Connection, node: Any, params: Sequence[Any]) -> list[dict[str, Any]]:
        """Run ``node`` and hydrate its rows into records."""
        plan = self.plan(node)
        result = await conn.run(plan.compiled, params)
        return plan.hydrate(result.rows)

    async def scalar(self, conn: Connection, node: Any, params: Sequence[Any]) -> Any:
        plan = self.plan(node)
        result = await conn.run(plan.compiled, params)
        return result.rows[0][0] if result.rows else None

    async def rowcount(self, conn: Connection, node: Any, params: Sequence[Any]) -> int:
        plan = self.plan(node)
        result = await conn.run(plan.compiled, params)
        return int(result.rowcount)

    async def read_as(self, conn: Connection, read: Read, cls: type) -> list[Any]:
        """Run a scalar read plan and build ``cls`` Structs from its rows (``as_=``; no relations)."""
        plan = self.plan(read.node)
        result = await conn.run(plan.compiled, read.params)
        return plan.hydrate_as(cls)(result.rows)

    async def read(self, conn: Connection, read: Read) -> list[dict[str, Any]]:
        """Run a read plan: the root query, then one query per relation level."""
        records = await self.rows(conn, read.node, read.params)
        if read.relations and records:
            await self.load_relations(conn, read, records)
        if read.counts:
            nest_counts(records, read.counts)
        if read.hidden:
            strip_hidden(records, read.hidden)
        return records

    async def load_relations(self, conn: Connection, read: Read, records: list[dict[str, Any]]) -> None:
        """Load every relation level of ``read`` for ``records``: one query per level."""
        for rel in read.relations:
            keys = collect_keys(records, rel.parent_key)
            if not keys:
                empty: Any = None if rel.single else []
                for r in records:
                    r[rel.name] = empty if empty is None else []
                continue
            child = rel.read
            child.params[0] = keys
            children = await self.rows(conn, child.node, child.params)
            if child.relations and children:
                await self.load_relations(conn, child, children)
            stitch(records, rel, children)
            if child.counts:
                nest_counts(children, child.counts)
            if child.hidden:
                strip_hidden(children, child.hidden)
