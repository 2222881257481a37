"""The read half of ``orm.<model>``: find_many … find_page, stream, count, aggregate, group_by.

Each method parses and validates first (``query/``: no I/O on bad input), then runs one statement
(plus one per relation level) on a connection from the engine's scope. ``ModelClient``
(``model.py``) adds the writes.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence, TypeVar, overload

import msgspec

from ..core.errors import RecordNotFound, not_found, validation_error
from ..query import nodes as n
from ..query.aggregate import parse_aggregate, parse_group_by, shape
from ..query.cursor import after_condition, decode_cursor, encode_cursor, page_order, reversed_order
from ..query.parse import parse_read, parse_where, scope_of, with_visibility
from ..query.plan import Read, strip_hidden
from ..query.writes import unique_lookup
from ..schema.manifest import ModelMeta, Schema
from .engine import Engine
from .stream import RecordStream
from .typed import Page, check_result_struct, check_struct, convert_results, read_page_as


#: a record type for ``as_=`` (``schema.struct("user")`` or a generated Struct)
S = TypeVar("S", bound=msgspec.Struct)


def _result_keys(layout: Mapping[str, Any], by: Sequence[str] = ()) -> list[str]:
    """The top-level keys of an aggregate / group_by result: the group fields, then each function shown."""
    keys = list(by)
    for agg in layout["shown"]:
        if agg.fn not in keys:
            keys.append(agg.fn)
    return keys


class ModelReads:
    """The reads of one model's client (see ``ModelClient``)."""

    __slots__ = ("_engine", "model", "_schema")

    def __init__(self, engine: Engine, schema: Schema, model: ModelMeta) -> None:
        self._engine = engine
        self.model = model
        self._schema = schema

    # the overloads type the records: dicts, or instances of the ``as_`` Struct
    @overload
    async def find_many(
        self, *, where: Any = None, select: Any = None, include: Any = None,
        order_by: Any = None, take: int | None = None, skip: int | None = None, distinct: Any = None,
        with_deleted: bool = False, with_archived: bool = False, as_: None = None,
    ) -> list[dict[str, Any]]: ...

    @overload
    async def find_many(
        self, *, where: Any = None, select: Any = None, include: Any = None,
        order_by: Any = None, take: int | None = None, skip: int | None = None, distinct: Any = None,
        with_deleted: bool = False, with_archived: bool = False, as_: type[S],
    ) -> list[S]: ...

    async def find_many(
        self, *, where: Any = None, select: Any = None, include: Any = None,
        order_by: Any = None, take: int | None = None, skip: int | None = None, distinct: Any = None,
        with_deleted: bool = False, with_archived: bool = False, as_: type | None = None,
    ) -> list[Any]:
        """Records matching ``where``, ordered and paged; relations as ``select``/``include`` ask.

        ``as_=SomeStruct`` (a ``msgspec.Struct`` class, e.g. ``schema.struct("user")``) returns
        Structs built straight from the rows instead of dicts (scalar fields only)."""
        read = parse_read(self._schema, self.model, where=where, select=select, include=include,
                          order_by=order_by, take=take, skip=skip, distinct=distinct,
                          scope=scope_of(self.model, with_deleted, with_archived))
        engine = self._engine
        if as_ is not None:
            check_struct(self.model, as_, read)
            async with engine.scope() as conn:
                return await engine.read_as(conn, read, as_)
        async with engine.scope() as conn:
            return await engine.read(conn, read)

    @overload
    async def find_first(
        self, *, where: Any = None, select: Any = None, include: Any = None,
        order_by: Any = None, skip: int | None = None, distinct: Any = None,
        with_deleted: bool = False, with_archived: bool = False, as_: None = None,
    ) -> dict[str, Any] | None: ...

    @overload
    async def find_first(
        self, *, where: Any = None, select: Any = None, include: Any = None,
        order_by: Any = None, skip: int | None = None, distinct: Any = None,
        with_deleted: bool = False, with_archived: bool = False, as_: type[S],
    ) -> S | None: ...

    async def find_first(
        self, *, where: Any = None, select: Any = None, include: Any = None,
        order_by: Any = None, skip: int | None = None, distinct: Any = None,
        with_deleted: bool = False, with_archived: bool = False, as_: type | None = None,
    ) -> Any:
        """The first record matching ``where`` in ``order_by`` order, or None (a Struct with ``as_``)."""
        return await self._first(parse_read(self._schema, self.model, where=where, select=select, include=include,
                                            order_by=order_by, take=1, skip=skip, distinct=distinct,
                                            scope=scope_of(self.model, with_deleted, with_archived)), as_)

    find_one = find_first

    @overload
    async def find_unique(self, *, where: Any, select: Any = None, include: Any = None,
                          with_deleted: bool = False, with_archived: bool = False,
                          as_: None = None) -> dict[str, Any] | None: ...

    @overload
    async def find_unique(self, *, where: Any, select: Any = None, include: Any = None,
                          with_deleted: bool = False, with_archived: bool = False,
                          as_: type[S]) -> S | None: ...

    async def find_unique(self, *, where: Any, select: Any = None, include: Any = None,
                          with_deleted: bool = False, with_archived: bool = False,
                          as_: type | None = None) -> Any:
        """The record with this id / unique field / compound unique, or None (a Struct with ``as_``)."""
        unique_lookup(self.model, where, "FindUnique")
        return await self._first(parse_read(self._schema, self.model, where=where, select=select, include=include,
                                            take=1, scope=scope_of(self.model, with_deleted, with_archived)), as_)

    async def _first(self, read: Read, as_: type | None) -> Any:
        """The one record of a one-row ``read`` (find_first, find_unique), or None; a Struct with ``as_``."""
        engine = self._engine
        if as_ is not None:
            check_struct(self.model, as_, read)
            async with engine.scope() as conn:
                typed = await engine.read_as(conn, read, as_)
            return typed[0] if typed else None
        async with engine.scope() as conn:
            rows = await engine.read(conn, read)
        return rows[0] if rows else None

    @overload
    async def find_unique_or_raise(self, *, where: Any, select: Any = None, include: Any = None,
                                   with_deleted: bool = False, with_archived: bool = False,
                                   as_: None = None) -> dict[str, Any]: ...

    @overload
    async def find_unique_or_raise(self, *, where: Any, select: Any = None, include: Any = None,
                                   with_deleted: bool = False, with_archived: bool = False,
                                   as_: type[S]) -> S: ...

    async def find_unique_or_raise(self, *, where: Any, select: Any = None, include: Any = None,
                                   with_deleted: bool = False, with_archived: bool = False,
                                   as_: type | None = None) -> Any:
        """``find_unique``, but NOT_FOUND (``RecordNotFound``, naming model and where) instead of None."""
        found = await self.find_unique(where=where, select=select, include=include, with_deleted=with_deleted,
                                       with_archived=with_archived, as_=as_)
        if found is None:
            raise self._not_found("FindUnique", where)
        return found

    @overload
    async def find_first_or_raise(
        self, *, where: Any = None, select: Any = None, include: Any = None,
        order_by: Any = None, skip: int | None = None, distinct: Any = None,
        with_deleted: bool = False, with_archived: bool = False, as_: None = None,
    ) -> dict[str, Any]: ...

    @overload
    async def find_first_or_raise(
        self, *, where: Any = None, select: Any = None, include: Any = None,
        order_by: Any = None, skip: int | None = None, distinct: Any = None,
        with_deleted: bool = False, with_archived: bool = False, as_: type[S],
    ) -> S: ...

    async def find_first_or_raise(
        self, *, where: Any = None, select: Any = None, include: Any = None,
        order_by: Any = None, skip: int | None = None, distinct: Any = None,
        with_deleted: bool = False, with_archived: bool = False, as_: type | None = None,
    ) -> Any:
        """``find_first``, but NOT_FOUND (``RecordNotFound``, naming model and where) instead of None."""
        found = await self.find_first(where=where, select=select, include=include, order_by=order_by, skip=skip,
                                      distinct=distinct, with_deleted=with_deleted, with_archived=with_archived,
                                      as_=as_)
        if found is None:
            raise self._not_found("FindFirst", where)
        return found

    def _not_found(self, operation: str, where: Any) -> RecordNotFound:
        handle = self._engine.handle
        return not_found(operation, self.model.name, where, handle.kind, handle.dialect)

    @overload
    def stream(
        self, *, where: Any = None, select: Any = None, include: Any = None, order_by: Any = None,
        take: int | None = None, skip: int | None = None, batch_size: int = 500, as_: None = None,
        with_deleted: bool = False, with_archived: bool = False,
    ) -> RecordStream[dict[str, Any]]: ...

    @overload
    def stream(
        self, *, where: Any = None, select: Any = None, include: Any = None, order_by: Any = None,
        take: int | None = None, skip: int | None = None, batch_size: int = 500, as_: type[S],
        with_deleted: bool = False, with_archived: bool = False,
    ) -> RecordStream[S]: ...

    def stream(
        self, *, where: Any = None, select: Any = None, include: Any = None, order_by: Any = None,
        take: int | None = None, skip: int | None = None, batch_size: int = 500, as_: type | None = None,
        with_deleted: bool = False, with_archived: bool = False,
    ) -> RecordStream[Any]:
        """Records matching ``where`` through a server-side cursor, ``batch_size`` rows per round trip:
        ``async with orm.user.stream(...) as rows: async for row in rows: ...`` (memory stays flat).

        Arguments are validated here, before any I/O; relations are refused (scalar fields only)."""
        model = self.model
        if type(batch_size) is not int or batch_size < 1:
            raise validation_error(
                f'Invalid batch_size on model "{model.name}": expected a positive integer, got {batch_size!r}.',
                model=model.name,
            )
        read = parse_read(self._schema, model, where=where, select=select, include=include,
                          order_by=order_by, take=take, skip=skip,
                          scope=scope_of(model, with_deleted, with_archived))
        if read.relations or read.counts:
            rels = ", ".join(f'"{r}"' for r in [*(r.name for r in read.relations), *(["_count"] if read.counts else [])])
            raise validation_error(
                f'A stream on model "{model.name}" reads scalar fields only; the query loads relations ({rels}). '
                "Stream the records, then load relations per batch with find_many(where=..., include=...).",
                model=model.name,
            )
        if as_ is not None:
            check_struct(model, as_, read)
        return RecordStream(self._engine, model.name, read, batch_size, as_)

    async def count(self, *, where: Any = None, with_deleted: bool = False, with_archived: bool = False) -> int:
        """How many records match ``where``."""
        params: list[Any] = []
        node = n.Count(self.model.name, self._where(where, params, scope_of(self.model, with_deleted, with_archived)))
        engine = self._engine
        async with engine.scope() as conn:
            return int(await engine.scalar(conn, node, params))

    @overload
    async def aggregate(
        self, *, where: Any = None, count: Any = None, sum: Any = None, avg: Any = None,  # noqa: A002
        min: Any = None, max: Any = None, with_deleted: bool = False, with_archived: bool = False,  # noqa: A002
        as_: None = None,
    ) -> dict[str, Any]: ...

    @overload
    async def aggregate(
        self, *, where: Any = None, count: Any = None, sum: Any = None, avg: Any = None,  # noqa: A002
        min: Any = None, max: Any = None, with_deleted: bool = False, with_archived: bool = False,  # noqa: A002
        as_: type[S],
    ) -> S: ...

    async def aggregate(
        self, *, where: Any = None, count: Any = None, sum: Any = None, avg: Any = None,  # noqa: A002
        min: Any = None, max: Any = None, with_deleted: bool = False, with_archived: bool = False,  # noqa: A002
        as_: type | None = None,
    ) -> Any:
        """count / sum / avg / min / max over the records matching ``where``, computed in the database:
        ``aggregate(sum={"total": True})`` -> ``{"sum": {"total": Decimal("…")}}`` (types: docs/queries.md).
        ``as_=SomeStruct``: the result as that Struct (nested Structs for the functions)."""
        node, params, layout = parse_aggregate(
            self._schema, self.model, where=where, specs={"count": count, "sum": sum, "avg": avg, "min": min, "max": max},
            scope=scope_of(self.model, with_deleted, with_archived))
        if as_ is not None:
            check_result_struct(self.model, as_, _result_keys(layout), "aggregate")
        engine = self._engine
        async with engine.scope() as conn:
            rows = await engine.rows(conn, node, params)
        result = shape(self.model, rows[0], layout)
        return result if as_ is None else convert_results(self.model, as_, [result], "aggregate")[0]

    @overload
    async def group_by(
        self, *, by: Any, where: Any = None, count: Any = None, sum: Any = None, avg: Any = None,  # noqa: A002
        min: Any = None, max: Any = None, having: Any = None, order_by: Any = None,  # noqa: A002
        take: int | None = None, skip: int | None = None, with_deleted: bool = False, with_archived: bool = False,
        as_: None = None,
    ) -> list[dict[str, Any]]: ...

    @overload
    async def group_by(
        self, *, by: Any, where: Any = None, count: Any = None, sum: Any = None, avg: Any = None,  # noqa: A002
        min: Any = None, max: Any = None, having: Any = None, order_by: Any = None,  # noqa: A002
        take: int | None = None, skip: int | None = None, with_deleted: bool = False, with_archived: bool = False,
        as_: type[S],
    ) -> list[S]: ...

    async def group_by(
        self, *, by: Any, where: Any = None, count: Any = None, sum: Any = None, avg: Any = None,  # noqa: A002
        min: Any = None, max: Any = None, having: Any = None, order_by: Any = None,  # noqa: A002
        take: int | None = None, skip: int | None = None, with_deleted: bool = False, with_archived: bool = False,
        as_: type | None = None,
    ) -> list[Any]:
        """Records grouped ``by`` fields, with aggregates per group, filtered by ``having``, ordered and
        paged: one statement (one pipeline on MongoDB). Rows: ``{"country": "DE", "sum": {"total": …}}``.
        ``as_=SomeStruct``: each row as that Struct."""
        node, params, layout = parse_group_by(
            self._schema, self.model, by=by, where=where,
            specs={"count": count, "sum": sum, "avg": avg, "min": min, "max": max},
            having=having, order_by=order_by, take=take, skip=skip,
            scope=scope_of(self.model, with_deleted, with_archived))
        if as_ is not None:
            check_result_struct(self.model, as_, _result_keys(layout, node.by), "group_by")
        engine = self._engine
        async with engine.scope() as conn:
            rows = await engine.rows(conn, node, params)
        shaped = [shape(self.model, r, layout, node.by) for r in rows]
        return shaped if as_ is None else convert_results(self.model, as_, shaped, "group_by")

    @overload
    async def find_page(
        self, *, where: Any = None, order_by: Any = None, first: int | None = None, after: str | None = None,
        last: int | None = None, before: str | None = None, select: Any = None, include: Any = None,
        with_deleted: bool = False, with_archived: bool = False, as_: None = None, distinct: Any = None,
    ) -> Page[dict[str, Any]]: ...

    @overload
    async def find_page(
        self, *, where: Any = None, order_by: Any = None, first: int | None = None, after: str | None = None,
        last: int | None = None, before: str | None = None, select: Any = None, include: Any = None,
        with_deleted: bool = False, with_archived: bool = False, as_: type[S], distinct: Any = None,
    ) -> Page[S]: ...

    async def find_page(
        self, *, where: Any = None, order_by: Any = None, first: int | None = None, after: str | None = None,
        last: int | None = None, before: str | None = None, select: Any = None, include: Any = None,
        with_deleted: bool = False, with_archived: bool = False, as_: type | None = None, distinct: Any = None,
    ) -> Page[Any]:
        """One page of a keyset (cursor) pagination: ``{"items": [...], "page": {...}}`` (see ``PageInfo``).

        The order is ``order_by`` plus the identity as tie-breaker. Forward: ``first`` records
        (default 20) ``after`` a cursor (the previous page's ``next_cursor``); backward: the
        ``last`` records ``before`` a cursor (the next page's ``prev_cursor``), still in page
        order. Rows inserted between pages never cause duplicates or gaps. ``as_``: items are
        Structs (see ``find_many``)."""
        model = self.model
        backward = last is not None or before is not None
        if backward and (first is not None or after is not None):
            raise validation_error(
                f'find_page on model "{model.name}" pages forward (first / after) or backward (last / before), '
                "not both in one call.",
                model=model.name,
            )
        if backward and distinct is not None:
            # the distinct pick is the first row of each combination in page order: a reversed read
            # would pick the last one, so distinct pages are read forward only
            raise validation_error(
                f'find_page on model "{model.name}" with distinct pages forward only (first / after).',
                model=model.name,
            )
        size = (last if last is not None else 20) if backward else (first if first is not None else 20)
        if type(size) is not int or size < 1:
            raise validation_error(
                f'Invalid {"last" if backward else "first"} on model "{model.name}": expected a positive integer, '
                f"got {size!r}.",
                model=model.name,
            )
        order = page_order(model, order_by)
        cursor = before if backward else after
        position = decode_cursor(model, order, cursor) if cursor is not None else None
        scope = scope_of(model, with_deleted, with_archived)
        read = parse_read(self._schema, model, where=where, select=select, include=include,
                          scope=scope, take=size + 1, distinct=distinct)
        if as_ is not None:
            check_struct(model, as_, read)
        base, params = read.node.where, read.params
        probe_params = list(params)  # for the other side's probe: the where's params, before the keyset's
        cond = base
        past: n.Condition | None = None
        if position is not None:
            keyset = after_condition(order, position, params, before=backward)
            if read.node.distinct:
                past = keyset  # pages over the distinct rows: the keyset applies after picking them
            else:
                cond = keyset if cond is None else n.And((cond, keyset))
        keys = tuple(o.field for o in order)
        shown = [c for c in read.node.columns if c not in read.hidden]
        extra = tuple(k for k in keys if k not in shown)
        columns = read.node.columns + tuple(k for k in extra if k not in read.node.columns)
        node = n.Select(model.name, columns, cond, reversed_order(order) if backward else order, read.node.take,
                        None, None, counts=read.node.counts, distinct=read.node.distinct, after=past)
        read = Read(node, params, read.relations, tuple(h for h in read.hidden if h not in extra), read.counts)
        engine = self._engine
        async with engine.scope() as conn:
            if as_ is not None:
                items, edges, more = await read_page_as(engine, conn, read, as_, size, backward)
            else:
                rows = await engine.read(conn, read)
                more = len(rows) > size
                items = rows[:size]
                if backward:
                    items.reverse()
                edges = [items[0], items[-1]] if items else []
            # the other side of the cursor: is there a row at or beyond it (one row, one key)?
            beyond = False
            if position is not None:
                beyond = await self._page_probe(conn, base, probe_params, order, position, not backward)
        start = encode_cursor(model, order, edges[0]) if edges else None
        end = encode_cursor(model, order, edges[-1]) if edges else None
        if extra and as_ is None:
            strip_hidden(items, extra)
        has_next, has_previous = (beyond, more) if backward else (more, beyond)
        return {"items": items, "page": {
            "next_cursor": end if has_next else None, "has_more": has_next,
            "prev_cursor": start if has_previous else None,
            "start_cursor": start, "end_cursor": end,
            "has_next_page": has_next, "has_previous_page": has_previous,
        }}

    async def _page_probe(self, conn: Any, base: n.Condition | None, params: list[Any],
                          order: tuple[n.OrderItem, ...], position: list[Any], before: bool) -> bool:
        """Whether a row matching ``base`` sits at the cursor ``position`` or beyond it (``before``:
        on the side before it): the far side of a page, for has_previous_page / has_next_page."""
        side = after_condition(order, position, params, before=before, inclusive=True)
        params.append(1)
        node = n.Select(self.model.name, (order[-1].field,), side if base is None else n.And((base, side)),
                        (), n.Param(len(params) - 1))
        return bool(await self._engine.rows(conn, node, params))

    def _where(self, where: Any, params: list[Any], scope: frozenset[str]) -> n.Condition | None:
        """``where`` plus the model's visibility conditions for ``scope``."""
        return with_visibility(self.model, parse_where(self._schema, self.model, where, params, scope), scope)
