"""``orm.<model>``: the per-model query API (find_many … delete_many).

Each method parses and validates first (no I/O on bad input), then runs one statement per
operation (plus one per relation level) on a connection from the client's scope.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Sequence

from ..errors import RecordNotFound, validation_error
from ..query import nodes as n
from ..query.parse import parse_read, parse_where
from ..query.plan import Read, strip_hidden
from ..query.writes import create_values, unique_lookup, update_values, upsert_values
from ..schema.manifest import ModelMeta

if TYPE_CHECKING:
    from .orm import Orm

#: rows per INSERT in create_many, bounded by the smallest bind-parameter limit (SQLite: 32766)
MAX_BIND_PARAMS = 30000


class ModelClient:
    """Queries for one model; reached as ``orm.user``."""

    __slots__ = ("_orm", "model", "_schema")

    def __init__(self, orm: Orm, model: ModelMeta) -> None:
        self._orm = orm
        self.model = model
        self._schema = orm.schema

    def __repr__(self) -> str:
        return f"<ModelClient {self.model.name}>"

    # -- reads -----------------------------------------------------------------------------
    async def find_many(
        self, *, where: Any = None, select: Any = None, include: Any = None,
        order_by: Any = None, take: int | None = None, skip: int | None = None,
    ) -> list[dict[str, Any]]:
        """Records matching ``where``, ordered and paged; relations as ``select``/``include`` ask."""
        read = parse_read(self._schema, self.model, where=where, select=select, include=include,
                          order_by=order_by, take=take, skip=skip)
        orm = self._orm
        async with orm._scope() as conn:
            return await orm._executor.read(conn, read)

    async def find_first(
        self, *, where: Any = None, select: Any = None, include: Any = None,
        order_by: Any = None, skip: int | None = None,
    ) -> dict[str, Any] | None:
        """The first record matching ``where`` in ``order_by`` order, or None."""
        read = parse_read(self._schema, self.model, where=where, select=select, include=include,
                          order_by=order_by, take=1, skip=skip)
        orm = self._orm
        async with orm._scope() as conn:
            rows = await orm._executor.read(conn, read)
        return rows[0] if rows else None

    find_one = find_first

    async def find_unique(self, *, where: Any, select: Any = None, include: Any = None) -> dict[str, Any] | None:
        """The record with this id / unique field / compound unique, or None."""
        unique_lookup(self.model, where, "FindUnique")
        read = parse_read(self._schema, self.model, where=where, select=select, include=include, take=1)
        orm = self._orm
        async with orm._scope() as conn:
            rows = await orm._executor.read(conn, read)
        return rows[0] if rows else None

    async def count(self, *, where: Any = None) -> int:
        """How many records match ``where``."""
        params: list[Any] = []
        node = n.Count(self.model.name, parse_where(self._schema, self.model, where, params))
        orm = self._orm
        async with orm._scope() as conn:
            return int(await orm._executor.scalar(conn, node, params))

    # -- writes ----------------------------------------------------------------------------
    async def create(self, *, data: Mapping[str, Any], select: Any = None, include: Any = None) -> dict[str, Any]:
        """Insert one record (defaults applied) and return it, in one round trip."""
        values = create_values(self.model, data)
        read = parse_read(self._schema, self.model, select=select, include=include)
        node = n.Insert(self.model.name, tuple(values), 1, read.node.columns)
        orm = self._orm
        async with orm._scope(write=True) as conn:
            rows = await orm._executor.rows(conn, node, list(values.values()))
            return (await self._finish(conn, read, rows))[0]

    async def create_many(self, *, data: Sequence[Mapping[str, Any]], select: Any = None) -> list[dict[str, Any]]:
        """Insert many records with one multi-row INSERT in one transaction; returns them in input order."""
        if isinstance(data, Mapping) or not isinstance(data, Sequence):
            raise validation_error(f'create_many on model "{self.model.name}" expects a list of records in "data".',
                                   model=self.model.name)
        if not data:
            return []
        rows = [create_values(self.model, d) for d in data]
        read = parse_read(self._schema, self.model, select=select)
        columns = [f for f in self.model.fields if any(f in r for r in rows)]
        generated = [f.name for f in self.model.fields.values() if f.generated == "increment"]
        for g in generated:
            if g in columns and not all(g in r for r in rows):
                raise validation_error(
                    f'create_many on model "{self.model.name}" cannot mix records with and without "{g}".',
                    model=self.model.name, field=g,
                )
        flat = [[r.get(c) for c in columns] for r in rows]
        per_chunk = max(1, MAX_BIND_PARAMS // max(1, len(columns))) if columns else 1
        # the identity is always read back (hidden if not selected) so records can be re-ordered
        extra = tuple(f for f in self.model.identity or () if f not in read.node.columns)
        returning = read.node.columns + extra
        orm = self._orm
        out: list[dict[str, Any]] = []
        async with orm._transaction_scope(len(flat) > per_chunk) as conn:
            for start in range(0, len(flat), per_chunk):
                chunk = flat[start:start + per_chunk]
                node = n.Insert(self.model.name, tuple(columns), len(chunk), returning)
                params = [v for row in chunk for v in row]
                out.extend(self._in_input_order(await orm._executor.rows(conn, node, params), chunk, columns))
            if extra:
                strip_hidden(out, extra)
            return await self._finish(conn, read, out)

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

    async def _finish(self, conn: Any, read: Read, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if read.relations and records:
            await self._orm._executor.load_relations(conn, read, records)
        if read.hidden:
            strip_hidden(records, read.hidden)
        return records

    async def update(self, *, where: Any, data: Mapping[str, Any], select: Any = None,
                     include: Any = None) -> dict[str, Any] | None:
        """Update the first record matching ``where``; returns it, or None when nothing matched."""
        values = update_values(self.model, data)
        if not values:
            return await self.find_first(where=where, select=select, include=include)
        read = parse_read(self._schema, self.model, select=select, include=include)
        params: list[Any] = list(values.values())
        value_params = tuple(n.Param(i) for i in range(len(params)))
        cond = parse_where(self._schema, self.model, where, params)
        node = n.Update(self.model.name, tuple(values), value_params, cond, True, read.node.columns)
        orm = self._orm
        async with orm._scope(write=True) as conn:
            rows = await orm._executor.rows(conn, node, params)
            if not rows:
                return None
            return (await self._finish(conn, read, rows[:1]))[0]

    async def update_many(self, *, where: Any, data: Mapping[str, Any]) -> int:
        """Update every record matching ``where``; returns how many."""
        values = update_values(self.model, data)
        params: list[Any] = list(values.values())
        value_params = tuple(n.Param(i) for i in range(len(params)))
        cond = parse_where(self._schema, self.model, where, params)
        if cond is None:
            raise validation_error(f'Update on model "{self.model.name}" requires a where clause.',
                                   model=self.model.name)
        if not values:
            return 0
        node = n.Update(self.model.name, tuple(values), value_params, cond, False)
        orm = self._orm
        async with orm._scope(write=True) as conn:
            return await orm._executor.rowcount(conn, node, params)

    async def upsert(self, *, where: Any, create: Mapping[str, Any], update: Mapping[str, Any] | None = None,
                     select: Any = None, include: Any = None) -> dict[str, Any]:
        """Insert ``create``, or update the record ``where`` names with ``update``: one native statement."""
        create_vals, update_vals, conflict = upsert_values(self.model, where, create, update)
        read = parse_read(self._schema, self.model, select=select, include=include)
        params: list[Any] = list(create_vals.values())
        values = tuple(n.Param(i) for i in range(len(params)))
        update_params = []
        for v in update_vals.values():
            params.append(v)
            update_params.append(n.Param(len(params) - 1))
        node = n.Upsert(self.model.name, tuple(create_vals), values, conflict, tuple(update_vals),
                        tuple(update_params), read.node.columns)
        orm = self._orm
        async with orm._scope(write=True) as conn:
            rows = await orm._executor.rows(conn, node, params)
            if not rows:  # a backend that reports no row re-reads by the lookup
                rows = await orm._executor.read(conn, parse_read(self._schema, self.model, where=where, take=1))
            if not rows:
                raise RecordNotFound(f'Upsert on model "{self.model.name}" wrote no record matching its where clause.',
                                     backend_kind=orm.driver.kind, dialect=orm.driver.dialect)
            return (await self._finish(conn, read, rows[:1]))[0]

    async def delete(self, *, where: Any) -> int:
        """Delete the first record matching ``where``; returns 1, or 0 when nothing matched."""
        params: list[Any] = []
        cond = parse_where(self._schema, self.model, where, params)
        node = n.Delete(self.model.name, cond, True)
        orm = self._orm
        async with orm._scope(write=True) as conn:
            return min(1, await orm._executor.rowcount(conn, node, params))

    async def delete_many(self, *, where: Any) -> int:
        """Delete every record matching ``where`` (an empty where is refused); returns how many."""
        params: list[Any] = []
        cond = parse_where(self._schema, self.model, where, params)
        if cond is None:
            raise validation_error(f'Delete on model "{self.model.name}" requires a where clause.',
                                   model=self.model.name)
        node = n.Delete(self.model.name, cond, False)
        orm = self._orm
        async with orm._scope(write=True) as conn:
            return await orm._executor.rowcount(conn, node, params)

