"""Write arguments -> nodes: one function per write (create, create_many, update, upsert, delete).

Each validates its arguments against the model (every bad input an ``OrmError`` naming model and
field, before any I/O) and returns the value-free node with its params list, plus the ``Read``
describing what to read back. The runtime (``runtime/model.py`` and ``runtime/writes.py``) only
runs what these return.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from ..core.driver import DriverHandle
from ..core.errors import OrmError, RecordNotFound, VersionConflict, validation_error
from ..schema.manifest import ModelMeta, Schema
from . import nodes as n
from .parse import ALL_SCOPE, parse_read, parse_where, with_visibility
from .plan import Read
from .writes import (
    assignments, create_flat, create_values, identity_of, unique_lookup, update_values, upsert_values,
)


class Mutation:
    """A write ready to run: ``node`` with ``params``, and ``read`` (what the caller reads back).
    (A plain slotted class: it is made on every write.)"""

    __slots__ = ("node", "params", "read")

    def __init__(self, node: Any, params: list[Any], read: Read | None = None) -> None:
        self.node = node
        self.params = params
        self.read = read


@dataclass(frozen=True, slots=True)
class BulkInsert:
    """``create_many``: one INSERT per chunk of rows (each under the driver's bind limit); each
    chunk's params are its rows' values, row by row, in ``columns`` order (``writes.create_flat``)."""

    chunks: list[Mutation]
    columns: tuple[str, ...]
    read: Read
    #: identity fields read back only to re-order records, hidden from the result
    hidden: tuple[str, ...]


def increments(model: ModelMeta) -> tuple[str, ...]:
    """The fields every update of ``model`` raises by one (its version field)."""
    return (model.version_field,) if model.version_field else ()


def required(model: ModelMeta, cond: n.Condition | None, operation: str) -> None:
    """A many-record write refuses an empty where (it would touch every record)."""
    if cond is None:
        raise validation_error(f'{operation} on model "{model.name}" requires a where clause.', model=model.name)


#: where a model keeps the read-back shape of a write without select / include (the whole record)
_WHOLE_RECORD = "_farmorm_write_read"


def write_read(schema: Schema, model: ModelMeta, select: Any, include: Any, operation: str) -> Read:
    """The read-back shape of a write: relation counts are a read's (``find_*``), refused here.
    The whole record's shape (no select / include, every create's) is parsed once per model."""
    if select is None and include is None:
        whole: Read | None = vars(model).get(_WHOLE_RECORD)
        if whole is None:  # a frozen dataclass: its __dict__ takes derived data (see writes._plans)
            whole = vars(model)[_WHOLE_RECORD] = parse_read(schema, model)
        return whole
    read = parse_read(schema, model, select=select, include=include)
    if read.counts:
        raise validation_error(
            f'{operation} on model "{model.name}" cannot return "_count"; read the record back with '
            "find_unique(select={\"_count\": ...}).",
            model=model.name, field="_count",
        )
    return read


def where_visible(schema: Schema, model: ModelMeta, where: Any, params: list[Any],
                  scope: frozenset[str]) -> n.Condition | None:
    """``where`` plus the model's visibility conditions for ``scope`` (soft delete, archive)."""
    return with_visibility(model, parse_where(schema, model, where, params, scope), scope)


def create(schema: Schema, model: ModelMeta, data: Any, select: Any, include: Any) -> Mutation:
    """``create``: one INSERT returning the selected columns."""
    values = create_values(model, data)
    read = write_read(schema, model, select, include, "create")
    return Mutation(n.Insert(model.name, tuple(values), 1, read.node.columns), list(values.values()), read)


def create_cheap(model: ModelMeta, data: Any, how: str) -> Mutation:
    """``create(returning="id" | "none")``: an INSERT returning the generated id at most (nothing
    when the id is known before the insert, or not wanted)."""
    values = create_values(model, data)
    ident = model.identity or ()
    # client-side ids: nothing to read back (one id field, the usual case, tested without a generator)
    known = ident[0] in values if len(ident) == 1 else all(f in values for f in ident)
    return Mutation(n.Insert(model.name, tuple(values), 1, () if how == "none" or known else tuple(ident)),
                    list(values.values()))


def inserted_id(model: ModelMeta, m: Mutation) -> Any:
    """The id of the record ``m`` (a ``create_cheap`` that read nothing back) inserted, as
    ``identity_of`` gives it: the value of a one-field identity, else a dict of its fields."""
    ident = model.identity or ()
    columns = m.node.columns
    if len(ident) == 1:
        return m.params[columns.index(ident[0])]
    return {f: m.params[columns.index(f)] for f in ident}


def create_many(schema: Schema, model: ModelMeta, data: Any, select: Any, how: str,
                max_bind_params: int) -> BulkInsert | None:
    """``create_many``: multi-row INSERTs of at most ``max_bind_params`` parameters each, returning
    the records (``how="records"``), the generated ids (``"ids"``, none when known) or nothing
    (``"count"``); None for no data."""
    if isinstance(data, Mapping) or not isinstance(data, Sequence):
        raise validation_error(f'create_many on model "{model.name}" expects a list of records in "data".',
                               model=model.name)
    if not data:
        return None
    columns, flat = create_flat(model, data)  # the key checks once per key set, no dict per record
    read = write_read(schema, model, select, None, "create_many")
    width = len(columns)
    per_chunk = max(1, max_bind_params // width) if width else 1
    ident = tuple(model.identity or ())
    if how == "records":
        # the identity is always read back (hidden if not selected) so records can be re-ordered
        hidden = tuple(f for f in ident if f not in read.node.columns)
        returning = read.node.columns + hidden
    else:
        hidden = ()
        returning = () if how == "count" or all(f in columns for f in ident) else ident
    if len(data) <= per_chunk:  # one INSERT: its params are the whole list
        return BulkInsert([Mutation(n.Insert(model.name, columns, len(data), returning), flat)], columns, read, hidden)
    chunks = []
    for start in range(0, len(data), per_chunk):
        rows = min(per_chunk, len(data) - start)
        chunks.append(Mutation(n.Insert(model.name, columns, rows, returning),
                               flat[start * width:(start + rows) * width]))
    return BulkInsert(chunks, columns, read, hidden)


def in_input_order(model: ModelMeta, records: list[dict[str, Any]], params: Sequence[Any],
                   columns: Sequence[str]) -> list[dict[str, Any]]:
    """RETURNING order is not guaranteed everywhere: put the records an INSERT with ``params``
    (row by row in ``columns`` order) returned back in input order."""
    ident = model.identity or ()
    if len(records) <= 1 or not ident:
        return records
    if all(f in columns for f in ident) and all(f in records[0] for f in ident):
        width = len(columns)
        if len(ident) == 1:
            f = ident[0]
            given = list(params[columns.index(f)::width])
            back = [r[f] for r in records]
        else:
            given = list(zip(*(params[columns.index(f)::width] for f in ident)))
            back = [tuple([r[f] for f in ident]) for r in records]
        if back == given:  # the usual case: the rows came back in the order they were written
            return records
        by_key = dict(zip(back, records))
        try:
            return [by_key[k] for k in given]
        except KeyError:
            return records
    if len(ident) == 1 and ident[0] in records[0]:
        return sorted(records, key=lambda r: r[ident[0]])  # generated ids grow in insert order
    return records


def known_ids(model: ModelMeta, bulk: BulkInsert) -> list[Any]:
    """The ids of the records ``bulk`` inserted, when they are values it bound (client-side ids)."""
    ident = tuple(model.identity or ())
    width = len(bulk.columns)
    out: list[Any] = []
    for chunk in bulk.chunks:
        if len(ident) == 1:
            out.extend(chunk.params[bulk.columns.index(ident[0])::width])
        else:
            keys = zip(*(chunk.params[bulk.columns.index(f)::width] for f in ident))
            out.extend(dict(zip(ident, key)) for key in keys)
    return out


def update_first(schema: Schema, model: ModelMeta, where: Any, values: Mapping[str, Any], scope: frozenset[str],
                 select: Any, include: Any) -> Mutation:
    """``update``: the first matching record, returning the selected columns."""
    read = write_read(schema, model, select, include, "update")
    params: list[Any] = []
    columns, value_params, arith = assignments(values, params)
    cond = where_visible(schema, model, where, params, scope)
    return Mutation(n.Update(model.name, columns, value_params, cond, True, read.node.columns, increments(model),
                             arith), params, read)


def update_count(schema: Schema, model: ModelMeta, where: Any, values: Mapping[str, Any],
                 scope: frozenset[str]) -> Mutation:
    """``update(returning="count")``: the first matching record, reading nothing back."""
    params: list[Any] = []
    columns, value_params, arith = assignments(values, params)
    cond = where_visible(schema, model, where, params, scope)
    return Mutation(n.Update(model.name, columns, value_params, cond, True, (), increments(model), arith), params)


def update_versioned(schema: Schema, model: ModelMeta, where: Any, values: Mapping[str, Any], select: Any,
                     include: Any, expected: Any, scope: frozenset[str]) -> Mutation:
    """``update(expected_version=n)``: compare-and-increment in one UPDATE (``read`` reads it back)."""
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
    read = parse_read(schema, model, where=where, select=select, include=include, take=1, scope=scope)
    params: list[Any] = []
    columns, value_params, arith = assignments(values, params)
    cond = where_visible(schema, model, where, params, scope)
    params.append(expected)
    check = n.Compare(vf, "eq", n.Param(len(params) - 1))
    cond = check if cond is None else n.And((cond, check))
    # first=False: the where names one record, and the version test stays in the UPDATE's own
    # WHERE, re-checked by the database against the latest row version under concurrency
    return Mutation(n.Update(model.name, columns, value_params, cond, False, (), (vf,), arith), params, read)


def version_read(schema: Schema, model: ModelMeta, where: Any, scope: frozenset[str]) -> Read:
    """After a versioned update matched nothing: the record's current version, to explain the miss."""
    assert model.version_field is not None
    return parse_read(schema, model, where=where, select={model.version_field: True}, take=1, scope=scope)


def version_miss(model: ModelMeta, expected: Any, current: Mapping[str, Any] | None, handle: DriverHandle) -> OrmError:
    """VERSION_CONFLICT naming both versions when the record is there, NOT_FOUND when it is gone."""
    if current is not None:
        actual = current[model.version_field or ""]
        return VersionConflict(
            f'Version conflict on model "{model.name}": expected version {expected}, '
            f"but the record is at version {actual}.",
            backend_kind=handle.kind, dialect=handle.dialect,
            meta={"model": model.name, "expected_version": expected, "actual_version": actual},
        )
    return RecordNotFound(
        f'Update on model "{model.name}" found no record matching its where clause.',
        backend_kind=handle.kind, dialect=handle.dialect, meta={"model": model.name},
    )


def update_many(schema: Schema, model: ModelMeta, where: Any, data: Any, scope: frozenset[str]) -> Mutation | None:
    """``update_many``: every matching record; None when ``data`` changes nothing."""
    values = update_values(model, data)
    params: list[Any] = []
    columns, value_params, arith = assignments(values, params)
    cond = parse_where(schema, model, where, params, scope)
    required(model, cond, "Update")
    if not values:
        return None
    return Mutation(n.Update(model.name, columns, value_params, with_visibility(model, cond, scope), False, (),
                             increments(model), arith), params)


def upsert(schema: Schema, model: ModelMeta, where: Any, create: Any, update: Any, select: Any,
           include: Any) -> Mutation:
    """``upsert``: one native insert-or-update returning the selected columns."""
    create_vals, update_vals, conflict = upsert_values(model, where, create, update)
    read = write_read(schema, model, select, include, "upsert")
    params: list[Any] = list(create_vals.values())
    values = tuple(n.Param(i) for i in range(len(params)))
    update_columns, update_params, update_arith = assignments(update_vals, params)
    return Mutation(n.Upsert(model.name, tuple(create_vals), values, conflict, update_columns, update_params,
                             read.node.columns, increments(model), update_arith), params, read)


def upsert_reread(schema: Schema, model: ModelMeta, where: Any) -> Read:
    """The read by the upsert's lookup, for a backend that reports no row from the upsert itself."""
    return parse_read(schema, model, where=where, take=1, scope=ALL_SCOPE)


def stamp(schema: Schema, model: ModelMeta, field: str, value: Any, where: Any, scope: frozenset[str], *,
          first: bool, operation: str, extra: n.Condition | None = None) -> Mutation:
    """Set ``field`` (deleted_at / archived_at) to ``value`` on the matching records."""
    params: list[Any] = [value]
    cond = parse_where(schema, model, where, params, scope)
    if not first:
        required(model, cond, operation)
    cond = with_visibility(model, cond, scope)
    if extra is not None:
        cond = extra if cond is None else n.And((cond, extra))
    return Mutation(n.Update(model.name, (field,), (n.Param(0),), cond, first, (), increments(model)), params)


def erase(schema: Schema, model: ModelMeta, where: Any, scope: frozenset[str], first: bool) -> Mutation:
    """Delete the matching records for good."""
    params: list[Any] = []
    cond = parse_where(schema, model, where, params, scope)
    if not first:
        required(model, cond, "Delete")
    return Mutation(n.Delete(model.name, with_visibility(model, cond, scope), first), params)


def delete_returning(schema: Schema, model: ModelMeta, where: Any, scope: frozenset[str], select: Any,
                     include: Any) -> Mutation:
    """``delete(select=...)``: one DELETE returning the selected columns of the first match (``read``:
    its shape; a caller reads first instead when ``read`` has relations)."""
    read = parse_read(schema, model, where=where, select=select, include=include, take=1, scope=scope)
    return Mutation(n.Delete(model.name, read.node.where, True, read.node.columns), read.params, read)
