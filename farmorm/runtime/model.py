"""``orm.<model>``: the per-model query API (find_many … delete_many).

Each method parses and validates first (no I/O on bad input), then runs one statement per
operation (plus one per relation level) on a connection from the client's scope.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, AsyncContextManager, Literal, Mapping, Sequence, TypeVar, overload

import msgspec

from ..core.errors import RecordNotFound, VersionConflict, not_found, validation_error
from ..query import nodes as n
from ..query.aggregate import parse_aggregate, parse_group_by, shape
from ..query.cursor import after_condition, decode_cursor, encode_cursor, page_order, reversed_order
from ..query.parse import ALL_SCOPE, parse_read, parse_where, scope_of, with_visibility
from ..query.plan import Read, strip_hidden
from ..query.values import utc_now
from ..query.writes import (
    assignments, check_returning, create_rows, create_values, identity_of, unique_lookup, update_values, upsert_values,
)
from ..schema.manifest import ModelMeta
from ..query.nested import has_relations, split_nested
from .nested import create_level, run_relation
from . import references
from .stream import RecordStream
from .typed import Page, check_result_struct, check_struct, convert_results, read_page_as

if TYPE_CHECKING:
    from .orm import Orm

#: a record type for ``as_=`` (``schema.struct("user")`` or a generated Struct)
S = TypeVar("S", bound=msgspec.Struct)

#: rows per INSERT in create_many, bounded by the smallest bind-parameter limit (SQLite: 32766)
MAX_BIND_PARAMS = 30000


def _result_keys(layout: Mapping[str, Any], by: Sequence[str] = ()) -> list[str]:
    """The top-level keys of an aggregate / group_by result: the group fields, then each function shown."""
    keys = list(by)
    for agg in layout["shown"]:
        if agg.fn not in keys:
            keys.append(agg.fn)
    return keys


class ModelClient:
    """Queries for one model; reached as ``orm.user``."""

    __slots__ = ("_orm", "model", "_schema", "_in_history", "_refs")

    def __init__(self, orm: Orm, model: ModelMeta) -> None:
        self._orm = orm
        self.model = model
        self._schema = orm.schema
        self._in_history = False
        #: ``define_schema(..., foreign_keys=False)``: writes check references (see references.py)
        self._refs = references.enforced(orm.schema)

    def _unchecked(self) -> ModelClient:
        """This client without reference enforcement (references.py calls it for the write itself)."""
        inner = ModelClient(self._orm, self.model)
        inner._in_history = self._in_history
        inner._refs = False
        return inner

    # -- record history (model(history=True)) ----------------------------------------------------
    def _plain(self) -> ModelClient:
        """This client without history writing (the history wrappers call it for the change itself)."""
        plain = ModelClient(self._orm, self.model)
        plain._in_history = True
        plain._refs = self._refs
        return plain

    def _ident(self, record: Mapping[str, Any]) -> dict[str, Any]:
        return {f: record[f] for f in self.model.identity or ()}

    def _ids_where(self, records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        ident = self.model.identity or ()
        if len(ident) == 1:
            return {ident[0]: {"in": [r[ident[0]] for r in records]}}
        return {"OR": [self._ident(r) for r in records]}

    async def _snapshots(self, where: Any, scope: frozenset[str], take: int | None = None) -> list[dict[str, Any]]:
        """Full records (every field) matching ``where``, read on the running transaction."""
        orm = self._orm
        async with orm._scope() as conn:
            return await orm._executor.read(
                conn, parse_read(self._schema, self.model, where=where, take=take, scope=scope))

    async def _write_history(self, entries: list[tuple[str, dict[str, Any] | None, dict[str, Any] | None]]) -> None:
        if not entries:
            return
        from ..features.history import HISTORY_MODEL, current_actor, json_safe

        orm = self._orm
        state = orm._state()
        actor = (state.actor if state is not None else None) or current_actor()
        ident = self.model.identity or ()
        rows = []
        for operation, before, after in entries:
            rec = after if after is not None else before
            assert rec is not None
            key = [rec[f] for f in ident]
            rows.append({
                "model": self.model.name,
                "record_id": str(key[0]) if len(key) == 1 else ":".join(str(k) for k in key),
                "operation": operation,
                "before": json_safe(before),
                "after": json_safe(after),
                "actor": actor,
            })
        await orm.model(HISTORY_MODEL).create_many(data=rows)

    async def _history_create(self, data: Mapping[str, Any], select: Any, include: Any) -> dict[str, Any]:
        async with self._orm._transaction_scope():
            full = await self._plain().create(data=data)
            await self._write_history([("create", None, full)])
            if select is None and include is None:
                return full
            shaped: dict[str, Any] = (await self._plain().find_many(
                where=self._ident(full), select=select, include=include, with_deleted=True, with_archived=True,
                take=1))[0]
            return shaped

    async def _history_create_many(self, data: Sequence[Mapping[str, Any]], select: Any) -> list[dict[str, Any]]:
        async with self._orm._transaction_scope():
            full = await self._plain().create_many(data=data)
            await self._write_history([("create", None, r) for r in full])
            if select is None:
                return full
            ident = self.model.identity or ()
            extra = {f: True for f in ident}
            shown = await self._plain().find_many(where=self._ids_where(full), select={**select, **extra},
                                                  with_deleted=True, with_archived=True)
            by_key = {tuple(r[f] for f in ident): r for r in shown}
            out = [by_key[tuple(r[f] for f in ident)] for r in full]
            hide = [f for f in ident if not select.get(f)]
            return [{k: v for k, v in r.items() if k not in hide} for r in out]

    async def _history_update(self, where: Any, data: Mapping[str, Any], select: Any, include: Any,
                              expected_version: Any, scope: frozenset[str], with_deleted: bool,
                              with_archived: bool) -> dict[str, Any] | None:
        async with self._orm._transaction_scope():
            before = await self._snapshots(where, scope, take=1)
            if not before:
                if expected_version is None:
                    return None
                target = where  # the plain path explains the miss (NOT_FOUND)
            else:
                target = self._ident(before[0])
            result = await self._plain().update(where=target, data=data, select=select, include=include,
                                                expected_version=expected_version, with_deleted=with_deleted,
                                                with_archived=with_archived)
            if before:
                after = await self._snapshots(target, ALL_SCOPE, take=1)
                await self._write_history([("update", before[0], after[0] if after else None)])
            return result

    async def _history_upsert(self, where: Any, create: Mapping[str, Any], update: Mapping[str, Any] | None,
                              select: Any, include: Any) -> dict[str, Any]:
        async with self._orm._transaction_scope():
            before = await self._snapshots(where, ALL_SCOPE, take=1)
            result = await self._plain().upsert(where=where, create=create, update=update, select=select,
                                                include=include)
            after = await self._snapshots(where, ALL_SCOPE, take=1)
            if after:
                await self._write_history([("update" if before else "create", before[0] if before else None,
                                            after[0])])
            return result

    async def _history_many(self, where: Any, scope: frozenset[str], operation: str, change: Any, *,
                            first: bool = False, gone: bool = False, keep: Any = None) -> int:
        """Read the affected rows (one query), change exactly those, re-read them unless erased,
        and append one history row each (one create_many), all in one transaction."""
        async with self._orm._transaction_scope():
            before = await self._snapshots(where, scope, take=1 if first else None)
            if keep is not None:
                before = [r for r in before if keep(r)]
            if not before:
                return 0
            count = await change(self._ids_where(before))
            if gone:
                await self._write_history([(operation, r, None) for r in before])
                return int(count)
            after = {tuple(self._ident(r).values()): r
                     for r in await self._snapshots(self._ids_where(before), ALL_SCOPE)}
            await self._write_history([(operation, r, after.get(tuple(self._ident(r).values())))
                                       for r in before])
            return int(count)

    def __repr__(self) -> str:
        return f"<ModelClient {self.model.name}>"

    # -- reads -----------------------------------------------------------------------------
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
        orm = self._orm
        if as_ is not None:
            check_struct(self.model, as_, read)
            async with orm._scope() as conn:
                return await orm._executor.read_as(conn, read, as_)
        async with orm._scope() as conn:
            return await orm._executor.read(conn, read)

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
        read = parse_read(self._schema, self.model, where=where, select=select, include=include,
                          order_by=order_by, take=1, skip=skip, distinct=distinct,
                          scope=scope_of(self.model, with_deleted, with_archived))
        orm = self._orm
        if as_ is not None:
            check_struct(self.model, as_, read)
            async with orm._scope() as conn:
                typed = await orm._executor.read_as(conn, read, as_)
            return typed[0] if typed else None
        async with orm._scope() as conn:
            rows = await orm._executor.read(conn, read)
        return rows[0] if rows else None

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
        read = parse_read(self._schema, self.model, where=where, select=select, include=include, take=1,
                          scope=scope_of(self.model, with_deleted, with_archived))
        orm = self._orm
        if as_ is not None:
            check_struct(self.model, as_, read)
            async with orm._scope() as conn:
                typed = await orm._executor.read_as(conn, read, as_)
            return typed[0] if typed else None
        async with orm._scope() as conn:
            rows = await orm._executor.read(conn, read)
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
        handle = self._orm.driver
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
        return RecordStream(self._orm, model.name, read, batch_size, as_)

    async def count(self, *, where: Any = None, with_deleted: bool = False, with_archived: bool = False) -> int:
        """How many records match ``where``."""
        params: list[Any] = []
        node = n.Count(self.model.name, self._where(where, params, scope_of(self.model, with_deleted, with_archived)))
        orm = self._orm
        async with orm._scope() as conn:
            return int(await orm._executor.scalar(conn, node, params))

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
        orm = self._orm
        async with orm._scope() as conn:
            rows = await orm._executor.rows(conn, node, params)
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
        orm = self._orm
        async with orm._scope() as conn:
            rows = await orm._executor.rows(conn, node, params)
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
        orm = self._orm
        async with orm._scope() as conn:
            if as_ is not None:
                items, edges, more = await read_page_as(orm._executor, conn, read, as_, size, backward)
            else:
                rows = await orm._executor.read(conn, read)
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
        return bool(await self._orm._executor.rows(conn, node, params))

    def _where(self, where: Any, params: list[Any], scope: frozenset[str]) -> n.Condition | None:
        """``where`` plus the model's visibility conditions for ``scope``."""
        return with_visibility(self.model, parse_where(self._schema, self.model, where, params, scope), scope)

    # -- writes ----------------------------------------------------------------------------
    @overload
    async def create(self, *, data: Mapping[str, Any], select: Any = None, include: Any = None,
                     returning: Literal["record"] = "record") -> dict[str, Any]: ...

    @overload
    async def create(self, *, data: Mapping[str, Any], select: None = None, include: None = None,
                     returning: Literal["id", "none"]) -> Any: ...

    async def create(self, *, data: Mapping[str, Any], select: Any = None, include: Any = None,
                     returning: str = "record") -> Any:
        """Insert one record (defaults applied) and return it, in one round trip.

        ``returning="id"`` returns only its id (a dict for a compound identity) and ``"none"``
        nothing: the cheap path, with no read-back where the id is known before the insert."""
        if self._refs and references.needs_check(self, "create", {"data": data}):
            return await references.run(self, "create", data=data, select=select, include=include, returning=returning)
        how = check_returning(self.model, "create", returning, select, include)
        if has_relations(self.model, data):
            return await self._create_nested(data, select, include, how)
        if how != "record":
            return await self._create_cheap(data, how)
        if self.model.history and not self._in_history:
            return await self._history_create(data, select, include)
        values = create_values(self.model, data)
        read = self._plain_read(select, include, "create")
        node = n.Insert(self.model.name, tuple(values), 1, read.node.columns)
        orm = self._orm
        async with orm._scope(write=True) as conn:
            rows = await orm._executor.rows(conn, node, list(values.values()))
            return (await self._finish(conn, read, rows))[0]

    async def _create_nested(self, data: Mapping[str, Any], select: Any, include: Any, how: str) -> Any:
        """create() with relation operations: the whole tree in one transaction, one multi-row
        INSERT per level (see ``runtime/nested.py``); the result read back when select/include ask."""
        plan = split_nested(self._schema, self.model, data)
        self._plain_read(select, include, "create")  # checked before any I/O
        async with self._atomic():
            record = (await create_level(self._orm, self.model, [plan]))[0]
            if select is not None or include is not None:
                record = (await self.find_many(where=self._ident(record), select=select, include=include,
                                               with_deleted=True, with_archived=True, take=1))[0]
        if how == "record":
            return record
        return identity_of(self.model, record) if how == "id" else None

    async def _update_nested(self, where: Any, data: Mapping[str, Any], select: Any, include: Any,
                             expected_version: Any, with_deleted: bool, with_archived: bool, how: str) -> Any:
        """update() with to-many relation operations, in one transaction: the record's own fields
        first (None / 0 when nothing matches, and nothing else runs), then each relation's operations."""
        plan = split_nested(self._schema, self.model, data, update=True)
        self._plain_read(select, include, "update")
        parse_where(self._schema, self.model, where, [], scope_of(self.model, with_deleted, with_archived))
        async with self._atomic():
            keys = {rel.local_field: True for rel, _ in plan.relations} | {f: True for f in self.model.identity or ()}
            if plan.scalars or expected_version is not None:
                record = await self.update(where=where, data=plan.scalars, select=keys,
                                           expected_version=expected_version, with_deleted=with_deleted,
                                           with_archived=with_archived)
            else:
                # lock the record (FOR UPDATE where rows lock) so concurrent nested writes on one
                # record take turns instead of deadlocking on its children
                read = parse_read(self._schema, self.model, where=where, select=keys, take=1,
                                  scope=scope_of(self.model, with_deleted, with_archived))
                locked = Read(msgspec.structs.replace(read.node, lock="update"), read.params, read.relations,
                              read.hidden, read.counts)
                async with self._orm._scope(write=True) as conn:
                    found = await self._orm._executor.read(conn, locked)
                record = found[0] if found else None
            if record is None:
                return 0 if how == "count" else None
            for rel, ops in plan.relations:
                await run_relation(self._orm, rel, record, ops)
            if how == "count":
                return 1
            return (await self.find_many(where=self._ident(record), select=select, include=include,
                                         with_deleted=True, with_archived=True, take=1))[0]

    def _atomic(self) -> AsyncContextManager[Any]:
        """A nested write's transaction: its own, or a savepoint in the running one; a backend
        without savepoints (MongoDB) joins the running transaction as it is."""
        orm = self._orm
        if orm._state() is not None and not orm.driver.capabilities.savepoints:
            return orm._scope(write=True)
        return orm._transaction_scope()

    async def _create_cheap(self, data: Mapping[str, Any], how: str) -> Any:
        model = self.model
        if model.history and not self._in_history:
            full = await self._history_create(data, None, None)
            return identity_of(model, full) if how == "id" else None
        values = create_values(model, data)
        ident = tuple(model.identity or ())
        known = all(f in values for f in ident)  # client-side ids: nothing to read back
        node = n.Insert(model.name, tuple(values), 1, () if how == "none" or known else ident)
        orm = self._orm
        async with orm._scope(write=True) as conn:
            if node.returning:
                return identity_of(model, (await orm._executor.rows(conn, node, list(values.values())))[0])
            await orm._executor.rowcount(conn, node, list(values.values()))
        return identity_of(model, values) if how == "id" else None

    @overload
    async def create_many(self, *, data: Sequence[Mapping[str, Any]], select: Any = None,
                          returning: Literal["records"] = "records") -> list[dict[str, Any]]: ...

    @overload
    async def create_many(self, *, data: Sequence[Mapping[str, Any]], select: None = None,
                          returning: Literal["ids"]) -> list[Any]: ...

    @overload
    async def create_many(self, *, data: Sequence[Mapping[str, Any]], select: None = None,
                          returning: Literal["count"]) -> int: ...

    async def create_many(self, *, data: Sequence[Mapping[str, Any]], select: Any = None,
                          returning: str = "records") -> Any:
        """Insert many records with one multi-row INSERT in one transaction; returns them in input order.

        The cheap path: ``returning="count"`` returns how many were inserted, ``"ids"`` their ids
        in input order; the INSERT then reads nothing back when the ids are known before it
        (client-side ids), and only the ids otherwise."""
        how = check_returning(self.model, "create_many", returning, select, None)
        if isinstance(data, Mapping) or not isinstance(data, Sequence):
            raise validation_error(f'create_many on model "{self.model.name}" expects a list of records in "data".',
                                   model=self.model.name)
        if not data:
            return 0 if how == "count" else []
        if self._refs and references.needs_check(self, "create_many", {"data": data}):
            return await references.run(self, "create_many", data=data, select=select, returning=returning)
        if self.model.history and not self._in_history:
            full = await self._history_create_many(data, select)
            if how == "records":
                return full
            return len(full) if how == "count" else [identity_of(self.model, r) for r in full]
        rows = create_rows(self.model, data)  # the key checks once per key set, not per row
        read = self._plain_read(select, None, "create_many")
        columns = [f for f in self.model.fields if any(f in r for r in rows)]
        generated = [f.name for f in self.model.fields.values() if f.generated == "increment"]
        for g in generated:
            if g in columns and not all(g in r for r in rows):
                raise validation_error(
                    f'create_many on model "{self.model.name}" cannot mix records with and without "{g}".',
                    model=self.model.name, field=g,
                )
        flat = [[r.get(c) for c in columns] for r in rows]
        max_binds = getattr(self._orm._driver, "max_bind_params", MAX_BIND_PARAMS)  # SQLite: its runtime limit
        per_chunk = max(1, max_binds // max(1, len(columns))) if columns else 1
        if how != "records":
            return await self._create_many_cheap(rows, columns, flat, per_chunk, how)
        # the identity is always read back (hidden if not selected) so records can be re-ordered
        extra = tuple(f for f in self.model.identity or () if f not in read.node.columns)
        read_back = read.node.columns + extra
        orm = self._orm
        out: list[dict[str, Any]] = []
        async with orm._transaction_scope(len(flat) > per_chunk) as conn:
            for start in range(0, len(flat), per_chunk):
                chunk = flat[start:start + per_chunk]
                node = n.Insert(self.model.name, tuple(columns), len(chunk), read_back)
                params = [v for row in chunk for v in row]
                out.extend(self._in_input_order(await orm._executor.rows(conn, node, params), chunk, columns))
            if extra:
                strip_hidden(out, extra)
            return await self._finish(conn, read, out)

    async def _create_many_cheap(self, rows: list[dict[str, Any]], columns: list[str], flat: list[list[Any]],
                                 per_chunk: int, how: str) -> Any:
        """``create_many(returning="count" | "ids")``: the INSERTs read back nothing, or only the ids
        the database generates."""
        model = self.model
        ident = tuple(model.identity or ())
        known = all(f in columns for f in ident)
        returning = () if how == "count" or known else ident
        orm = self._orm
        count = 0
        ids: list[Any] = []
        async with orm._transaction_scope(len(flat) > per_chunk) as conn:
            for start in range(0, len(flat), per_chunk):
                chunk = flat[start:start + per_chunk]
                node = n.Insert(model.name, tuple(columns), len(chunk), returning)
                params = [v for row in chunk for v in row]
                if returning:
                    back = self._in_input_order(await orm._executor.rows(conn, node, params), chunk, columns)
                    ids.extend(identity_of(model, r) for r in back)
                else:
                    done = await orm._executor.rowcount(conn, node, params)
                    count += done if done >= 0 else len(chunk)
        if how == "count":
            return count
        return ids if returning else [identity_of(model, r) for r in rows]

    def _in_input_order(self, records: list[dict[str, Any]], rows: list[list[Any]], columns: list[str]) -> list[dict[str, Any]]:
        """RETURNING order is not guaranteed everywhere: put records back in input order."""
        ident = self.model.identity or ()
        if len(records) <= 1 or not ident:
            return records
        if all(f in columns for f in ident) and all(f in records[0] for f in ident):
            pos = [columns.index(f) for f in ident]
            by_key = {tuple(r[f] for f in ident): r for r in records}
            try:
                return [by_key[tuple(row[p] for p in pos)] for row in rows]
            except KeyError:
                return records
        if len(ident) == 1 and ident[0] in records[0]:
            return sorted(records, key=lambda r: r[ident[0]])  # generated ids grow in insert order
        return records

    def _plain_read(self, select: Any, include: Any, operation: str) -> Read:
        """The read-back shape of a write: relation counts are a read's (``find_*``), refused here."""
        read = parse_read(self._schema, self.model, select=select, include=include)
        if read.counts:
            raise validation_error(
                f'{operation} on model "{self.model.name}" cannot return "_count"; read the record back with '
                "find_unique(select={\"_count\": ...}).",
                model=self.model.name, field="_count",
            )
        return read

    async def _finish(self, conn: Any, read: Read, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if read.relations and records:
            await self._orm._executor.load_relations(conn, read, records)
        if read.hidden:
            strip_hidden(records, read.hidden)
        return records

    def _increments(self) -> tuple[str, ...]:
        return (self.model.version_field,) if self.model.version_field else ()

    def _required(self, cond: n.Condition | None, operation: str) -> None:
        if cond is None:
            raise validation_error(f'{operation} on model "{self.model.name}" requires a where clause.',
                                   model=self.model.name)

    @overload
    async def update(self, *, where: Any, data: Mapping[str, Any], select: Any = None, include: Any = None,
                     expected_version: int | None = None, with_deleted: bool = False,
                     with_archived: bool = False, returning: Literal["record"] = "record") -> dict[str, Any] | None: ...

    @overload
    async def update(self, *, where: Any, data: Mapping[str, Any], select: None = None, include: None = None,
                     expected_version: int | None = None, with_deleted: bool = False,
                     with_archived: bool = False, returning: Literal["count"]) -> int: ...

    async def update(self, *, where: Any, data: Mapping[str, Any], select: Any = None, include: Any = None,
                     expected_version: int | None = None, with_deleted: bool = False,
                     with_archived: bool = False, returning: str = "record") -> Any:
        """Update the first record matching ``where``; returns it, or None when nothing matched.

        With ``expected_version=n`` (models with an ``f.version()`` field) the update applies only
        if the record is still at version ``n``: VERSION_CONFLICT otherwise, NOT_FOUND when gone.
        ``returning="count"`` returns 1 or 0 instead, from one UPDATE that reads nothing back (the
        cheap path; on MySQL/MariaDB ``UPDATE … LIMIT 1`` instead of a locked read, the write and a re-read)."""
        how = check_returning(self.model, "update", returning, select, include)
        if has_relations(self.model, data):
            return await self._update_nested(where, data, select, include, expected_version, with_deleted,
                                             with_archived, how)
        values = update_values(self.model, data)
        scope = scope_of(self.model, with_deleted, with_archived)
        if self._refs and references.needs_check(self, "update", {"data": data}):
            return await references.run(
                self, "update", where=where, data=data, select=select, include=include, expected_version=expected_version,
                with_deleted=with_deleted, with_archived=with_archived, returning=returning)
        if how == "count":
            if not values or expected_version is not None or (self.model.history and not self._in_history):
                done = await self.update(where=where, data=data, expected_version=expected_version,
                                         with_deleted=with_deleted, with_archived=with_archived)
                return 0 if done is None else 1
            params: list[Any] = []
            columns, value_params, arith = assignments(values, params)
            node = n.Update(self.model.name, columns, value_params, self._where(where, params, scope), True, (),
                            self._increments(), arith)
            orm = self._orm
            async with orm._scope(write=True) as conn:
                return min(1, await orm._executor.rowcount(conn, node, params))
        if self.model.history and (values or expected_version is not None) and not self._in_history:
            return await self._history_update(where, data, select, include, expected_version, scope,
                                              with_deleted, with_archived)
        if expected_version is not None:
            return await self._update_versioned(where, values, select, include, expected_version, scope)
        if not values:
            found: dict[str, Any] | None = await self.find_first(where=where, select=select, include=include,
                                                                 with_deleted=with_deleted, with_archived=with_archived)
            return found
        read = self._plain_read(select, include, "update")
        params = []
        columns, value_params, arith = assignments(values, params)
        cond = self._where(where, params, scope)
        node = n.Update(self.model.name, columns, value_params, cond, True, read.node.columns,
                        self._increments(), arith)
        orm = self._orm
        async with orm._scope(write=True) as conn:
            rows = await orm._executor.rows(conn, node, params)
            if not rows:
                return None
            return (await self._finish(conn, read, rows[:1]))[0]

    async def update_or_raise(self, *, where: Any, data: Mapping[str, Any], select: Any = None,
                              include: Any = None, expected_version: int | None = None,
                              with_deleted: bool = False, with_archived: bool = False) -> dict[str, Any]:
        """``update``, but NOT_FOUND (``RecordNotFound``, naming model and where) instead of None
        when nothing matches (Prisma's ``update``)."""
        found = await self.update(where=where, data=data, select=select, include=include,
                                  expected_version=expected_version, with_deleted=with_deleted,
                                  with_archived=with_archived)
        if found is None:
            raise self._not_found("Update", where)
        return found

    async def _update_versioned(self, where: Any, values: dict[str, Any], select: Any, include: Any,
                                expected: Any, scope: frozenset[str]) -> dict[str, Any]:
        """Compare-and-increment in one statement, then read back (or explain the miss)."""
        model = self.model
        vf = model.version_field
        if vf is None:
            raise validation_error(
                f'Update on model "{model.name}" got expected_version, but the model has no version field. '
                "Declare one with f.version().",
                model=model.name,
            )
        if type(expected) is not int or expected < 1:
            raise validation_error(
                f'Invalid expected_version on model "{model.name}": expected a positive integer, got {expected!r}.',
                model=model.name, field=vf,
            )
        unique_lookup(model, where, "Update with expected_version")
        read = parse_read(self._schema, model, where=where, select=select, include=include, take=1, scope=scope)
        params: list[Any] = []
        columns, value_params, arith = assignments(values, params)
        cond = self._where(where, params, scope)
        params.append(expected)
        check = n.Compare(vf, "eq", n.Param(len(params) - 1))
        cond = check if cond is None else n.And((cond, check))
        # first=False: the where names one record, and the version test stays in the UPDATE's own
        # WHERE, re-checked by the database against the latest row version under concurrency
        node = n.Update(model.name, columns, value_params, cond, False, (), (vf,), arith)
        orm = self._orm
        async with orm._transaction_scope() as conn:
            if await orm._executor.rowcount(conn, node, params):
                rows = await orm._executor.read(conn, read)
                if rows:
                    return rows[0]
            current = await orm._executor.read(
                conn, parse_read(self._schema, model, where=where, select={vf: True}, take=1, scope=scope))
        handle = orm.driver
        if current:
            actual = current[0][vf]
            raise VersionConflict(
                f'Version conflict on model "{model.name}": expected version {expected}, '
                f"but the record is at version {actual}.",
                backend_kind=handle.kind, dialect=handle.dialect,
                meta={"model": model.name, "expected_version": expected, "actual_version": actual},
            )
        raise RecordNotFound(
            f'Update on model "{model.name}" found no record matching its where clause.',
            backend_kind=handle.kind, dialect=handle.dialect, meta={"model": model.name},
        )

    async def update_many(self, *, where: Any, data: Mapping[str, Any], with_deleted: bool = False,
                          with_archived: bool = False) -> int:
        """Update every record matching ``where``; returns how many (a version field goes up by 1)."""
        values = update_values(self.model, data)
        scope = scope_of(self.model, with_deleted, with_archived)
        params: list[Any] = []
        columns, value_params, arith = assignments(values, params)
        cond = parse_where(self._schema, self.model, where, params, scope)
        self._required(cond, "Update")
        if not values:
            return 0
        if self._refs and references.needs_check(self, "update_many", {"data": data}):
            return await references.run(self, "update_many", where=where, data=data,  # type: ignore[no-any-return]
                                        with_deleted=with_deleted, with_archived=with_archived)
        if self.model.history and not self._in_history:
            return await self._history_many(where, scope, "update", lambda w: self._plain().update_many(
                where=w, data=data, with_deleted=with_deleted, with_archived=with_archived))
        node = n.Update(self.model.name, columns, value_params, with_visibility(self.model, cond, scope),
                        False, (), self._increments(), arith)
        orm = self._orm
        async with orm._scope(write=True) as conn:
            return await orm._executor.rowcount(conn, node, params)

    async def upsert(self, *, where: Any, create: Mapping[str, Any], update: Mapping[str, Any] | None = None,
                     select: Any = None, include: Any = None) -> dict[str, Any]:
        """Insert ``create``, or update the record ``where`` names with ``update``: one native statement."""
        create_vals, update_vals, conflict = upsert_values(self.model, where, create, update)
        if self._refs and references.needs_check(self, "upsert", {"create": create, "update": update}):
            return await references.run(self, "upsert", where=where, create=create,  # type: ignore[no-any-return]
                                        update=update, select=select, include=include)
        if self.model.history and not self._in_history:
            return await self._history_upsert(where, create, update, select, include)
        read = self._plain_read(select, include, "upsert")
        params: list[Any] = list(create_vals.values())
        values = tuple(n.Param(i) for i in range(len(params)))
        update_columns, update_params, update_arith = assignments(update_vals, params)
        node = n.Upsert(self.model.name, tuple(create_vals), values, conflict, update_columns,
                        update_params, read.node.columns, self._increments(), update_arith)
        orm = self._orm
        async with orm._scope(write=True) as conn:
            rows = await orm._executor.rows(conn, node, params)
            if not rows:  # a backend that reports no row re-reads by the lookup
                rows = await orm._executor.read(conn, parse_read(self._schema, self.model, where=where, take=1,
                                                                 scope=ALL_SCOPE))
            if not rows:
                raise RecordNotFound(f'Upsert on model "{self.model.name}" wrote no record matching its where clause.',
                                     backend_kind=orm.driver.kind, dialect=orm.driver.dialect)
            return (await self._finish(conn, read, rows[:1]))[0]

    # -- deletes and the record lifecycle (soft delete, archive) ------------------------------
    async def _stamp(self, field: str, value: Any, where: Any, scope: frozenset[str], *, first: bool,
                     operation: str, extra: n.Condition | None = None) -> int:
        """Set ``field`` (deleted_at / archived_at) to ``value`` on the matching rows; returns how many."""
        params: list[Any] = [value]
        cond = parse_where(self._schema, self.model, where, params, scope)
        if not first:
            self._required(cond, operation)
        cond = with_visibility(self.model, cond, scope)
        if extra is not None:
            cond = extra if cond is None else n.And((cond, extra))
        if self.model.history and not self._in_history:
            return await self._history_many(
                where, scope, "delete" if operation == "Delete" else "update",
                lambda w: self._plain()._stamp(field, value, w, scope, first=first, operation=operation,
                                               extra=extra),
                first=first, keep=(lambda r: r.get(field) is not None) if extra is not None else None)
        node = n.Update(self.model.name, (field,), (n.Param(0),), cond, first, (), self._increments())
        orm = self._orm
        async with orm._scope(write=True) as conn:
            count = await orm._executor.rowcount(conn, node, params)
        return min(1, count) if first else count

    async def _erase(self, where: Any, scope: frozenset[str], first: bool) -> int:
        params: list[Any] = []
        cond = parse_where(self._schema, self.model, where, params, scope)
        if not first:
            self._required(cond, "Delete")
        if self._refs and references.needs_check(self, "_erase", {}):
            return await references.run(self, "_erase", where=where, scope=scope, first=first)  # type: ignore[no-any-return]
        if self.model.history and not self._in_history:
            return await self._history_many(where, scope, "delete",
                                            lambda w: self._plain()._erase(w, scope, first), first=first, gone=True)
        node = n.Delete(self.model.name, with_visibility(self.model, cond, scope), first)
        orm = self._orm
        async with orm._scope(write=True) as conn:
            count = await orm._executor.rowcount(conn, node, params)
        return min(1, count) if first else count

    @overload
    async def delete(self, *, where: Any, with_archived: bool = False, select: None = None,
                     include: None = None) -> int: ...

    @overload
    async def delete(self, *, where: Any, with_archived: bool = False, select: Any,
                     include: Any = None) -> dict[str, Any] | None: ...

    @overload
    async def delete(self, *, where: Any, with_archived: bool = False, select: None = None,
                     include: Any) -> dict[str, Any] | None: ...

    async def delete(self, *, where: Any, with_archived: bool = False, select: Any = None,
                     include: Any = None) -> Any:
        """Delete the first record matching ``where`` (soft-delete it on ``soft_delete`` models); 1 or 0.

        With ``select`` / ``include`` it returns the deleted record (as it was), or None when
        nothing matched: one ``DELETE … RETURNING`` where the backend has it."""
        scope = scope_of(self.model, False, with_archived)
        sd = self.model.soft_delete_field
        if select is not None or include is not None:
            return await self._delete_returning(where, scope, select, include)
        if sd is not None:
            return await self._stamp(sd, utc_now(), where, scope, first=True, operation="Delete")
        return await self._erase(where, scope, True)

    async def _delete_returning(self, where: Any, scope: frozenset[str], select: Any,
                                include: Any) -> dict[str, Any] | None:
        model = self.model
        read = parse_read(self._schema, model, where=where, select=select, include=include, take=1, scope=scope)
        if read.relations or model.history or model.soft_delete_field is not None:
            # relations are read before the delete (a cascade would take them), as is the record a
            # history row or a soft delete needs: read, then delete exactly that record, in one transaction
            async with self._orm._transaction_scope():
                ident = tuple(model.identity or ())
                extra = {f: True for f in ident}
                full = await self.find_first(where=where, select=({**select, **extra} if select else None),
                                             include=include if select is None else None,
                                             with_archived="archived" in scope)
                if full is None:
                    return None
                await self.delete(where={f: full[f] for f in ident}, with_archived=True)
                hide = [f for f in ident if select is not None and not select.get(f)]
                return {k: v for k, v in full.items() if k not in hide}
        node = n.Delete(model.name, read.node.where, True, read.node.columns)
        orm = self._orm
        async with orm._scope(write=True) as conn:
            rows = await orm._executor.rows(conn, node, read.params)
        if read.hidden:
            strip_hidden(rows, read.hidden)
        return rows[0] if rows else None

    async def delete_many(self, *, where: Any, with_archived: bool = False) -> int:
        """Delete every record matching ``where`` (an empty where is refused); returns how many.

        On ``soft_delete`` models the records are soft-deleted (``deleted_at`` set to now)."""
        scope = scope_of(self.model, False, with_archived)
        sd = self.model.soft_delete_field
        if sd is not None:
            return await self._stamp(sd, utc_now(), where, scope, first=False, operation="Delete")
        return await self._erase(where, scope, False)

    async def hard_delete(self, *, where: Any) -> int:
        """Erase the first record matching ``where``, soft-deleted and archived ones included; 1 or 0."""
        return await self._erase(where, ALL_SCOPE, True)

    async def hard_delete_many(self, *, where: Any) -> int:
        """Erase every record matching ``where``, soft-deleted and archived ones included; returns how many."""
        return await self._erase(where, ALL_SCOPE, False)

    def _option(self, field: str | None, option: str, operation: str) -> str:
        if field is None:
            raise validation_error(
                f'{operation}() on model "{self.model.name}" needs the model option {option}=True.',
                model=self.model.name,
            )
        return field

    async def restore(self, *, where: Any, with_archived: bool = False) -> int:
        """Undo soft deletes: clear ``deleted_at`` on every soft-deleted record matching ``where``."""
        sd = self._option(self.model.soft_delete_field, "soft_delete", "restore")
        return await self._stamp(sd, None, where, scope_of(self.model, True, with_archived), first=False,
                                 operation="Restore", extra=n.IsNull(sd, negated=True))

    async def archive(self, *, where: Any) -> int:
        """Archive every live, not yet archived record matching ``where`` (``archived_at`` = now)."""
        af = self._option(self.model.archive_field, "archive", "archive")
        return await self._stamp(af, utc_now(), where, frozenset(), first=False, operation="Archive")

    async def unarchive(self, *, where: Any) -> int:
        """Bring archived records matching ``where`` back (``archived_at`` cleared); returns how many."""
        af = self._option(self.model.archive_field, "archive", "unarchive")
        return await self._stamp(af, None, where, frozenset({"archived"}), first=False, operation="Unarchive",
                                 extra=n.IsNull(af, negated=True))
