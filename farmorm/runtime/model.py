"""``orm.<model>``: the per-model query API; the reads come from ``reads.py``, the writes are here.

Each write turns its arguments into a node with ``query/mutations.py`` (validated first: no I/O on
bad input), then runs one statement per operation (plus one per relation level) on a connection
from the engine's scope. The steps more than one write shares are in ``writes.py``; nested writes
(relation operations in ``data``) in ``nested.py``; reference enforcement in ``references.py``.
"""

from __future__ import annotations

from typing import Any, Literal, Mapping, Sequence, overload

from ..core.errors import RecordNotFound
from ..query import mutations
from ..query import nodes as n
from ..query.nested import has_relations
from ..query.parse import ALL_SCOPE, scope_of
from ..query.plan import strip_hidden
from ..query.values import utc_now
from ..query.writes import check_returning, identity_of, update_values
from ..schema.manifest import ModelMeta, Schema
from . import references
from .engine import Engine
from .extension import model_client_class
from .nested import create_nested, update_nested
from .reads import ModelReads
from .transaction import transaction_scope
from .writes import count_written, delete_returning, finish, lifecycle_field, update_versioned


class ModelClient(ModelReads):
    """Queries for one model; reached as ``orm.user``: the reads (``reads.py``) and the writes. A
    feature may serve a model with a subclass (see ``runtime/extension.py``): the write methods and
    ``_stamp``/``_erase`` are its hooks. Besides them, only ``_unchecked`` and ``_sibling`` are
    private: what ``writes.Client`` asks of a client for reference checks and nested writes."""

    __slots__ = ("_refs",)

    def __init__(self, engine: Engine, schema: Schema, model: ModelMeta) -> None:
        super().__init__(engine, schema, model)
        #: ``define_schema(..., foreign_keys=False)``: writes check references (see references.py)
        self._refs = references.enforced(schema)

    def __repr__(self) -> str:
        return f"<ModelClient {self.model.name}>"

    def _unchecked(self) -> ModelClient:
        """This client without reference enforcement (references.py calls it for the write itself)."""
        inner = type(self)(self._engine, self._schema, self.model)
        inner._refs = False
        return inner

    def _sibling(self, name: str) -> ModelClient:
        """The client of model ``name`` on the same engine (and transaction binding)."""
        meta = self._schema.models[name]
        return model_client_class(meta, ModelClient)(self._engine, self._schema, meta)

    # -- writes: query/mutations.py turns the arguments into a node; these run it -----------------
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
            return await create_nested(self, data, select, include, how)
        engine = self._engine
        if how != "record":
            m = mutations.create_cheap(self.model, data, how)
            async with engine.scope(write=True) as conn:
                if m.node.returning:
                    return identity_of(self.model, (await engine.rows(conn, m.node, m.params))[0])
                await engine.rowcount(conn, m.node, m.params)
            return mutations.inserted_id(self.model, m) if how == "id" else None
        m = mutations.create(self._schema, self.model, data, select, include)
        async with engine.scope(write=True) as conn:
            rows = await engine.rows(conn, m.node, m.params)
            return (await finish(engine, conn, m.read, rows))[0]

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
        if data and self._refs and references.needs_check(self, "create_many", {"data": data}):
            return await references.run(self, "create_many", data=data, select=select, returning=returning)
        engine = self._engine
        bulk = mutations.create_many(self._schema, self.model, data, select, how, engine.driver.max_bind_params)
        if bulk is None:
            return 0 if how == "count" else []
        model = self.model
        out: list[dict[str, Any]] = []
        count = 0
        async with transaction_scope(engine, len(bulk.chunks) > 1) as conn:
            for chunk in bulk.chunks:
                if chunk.node.returning:
                    back = await engine.rows(conn, chunk.node, chunk.params)
                    out.extend(mutations.in_input_order(model, back, chunk.params, bulk.columns))
                else:
                    done = await engine.rowcount(conn, chunk.node, chunk.params)
                    count += done if done >= 0 else chunk.node.rows
            if how == "records":
                if bulk.hidden:
                    strip_hidden(out, bulk.hidden)
                return await finish(engine, conn, bulk.read, out)
        if how == "count":
            return count
        return [identity_of(model, r) for r in out] if out else mutations.known_ids(model, bulk)

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
            return await update_nested(self, where, data, select, include, expected_version, with_deleted,
                                       with_archived, how)
        values = update_values(self.model, data)
        scope = scope_of(self.model, with_deleted, with_archived)
        if self._refs and references.needs_check(self, "update", {"data": data}):
            return await references.run(
                self, "update", where=where, data=data, select=select, include=include, expected_version=expected_version,
                with_deleted=with_deleted, with_archived=with_archived, returning=returning)
        engine = self._engine
        if how == "count":
            if not values or expected_version is not None:
                done = await self.update(where=where, data=data, expected_version=expected_version,
                                         with_deleted=with_deleted, with_archived=with_archived)
                return 0 if done is None else 1
            m = mutations.update_count(self._schema, self.model, where, values, scope)
            async with engine.scope(write=True) as conn:
                return min(1, await engine.rowcount(conn, m.node, m.params))
        if expected_version is not None:
            return await update_versioned(engine, self._schema, self.model, where, values, select, include,
                                          expected_version, scope)
        if not values:
            found: dict[str, Any] | None = await self.find_first(where=where, select=select, include=include,
                                                                 with_deleted=with_deleted, with_archived=with_archived)
            return found
        m = mutations.update_first(self._schema, self.model, where, values, scope, select, include)
        async with engine.scope(write=True) as conn:
            rows = await engine.rows(conn, m.node, m.params)
            if not rows:
                return None
            return (await finish(engine, conn, m.read, rows[:1]))[0]

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

    async def update_many(self, *, where: Any, data: Mapping[str, Any], with_deleted: bool = False,
                          with_archived: bool = False) -> int:
        """Update every record matching ``where``; returns how many (a version field goes up by 1)."""
        m = mutations.update_many(self._schema, self.model, where, data,
                                  scope_of(self.model, with_deleted, with_archived))
        if m is None:
            return 0
        if self._refs and references.needs_check(self, "update_many", {"data": data}):
            return await references.run(self, "update_many", where=where, data=data,  # type: ignore[no-any-return]
                                        with_deleted=with_deleted, with_archived=with_archived)
        engine = self._engine
        async with engine.scope(write=True) as conn:
            return await engine.rowcount(conn, m.node, m.params)

    async def upsert(self, *, where: Any, create: Mapping[str, Any], update: Mapping[str, Any] | None = None,
                     select: Any = None, include: Any = None) -> dict[str, Any]:
        """Insert ``create``, or update the record ``where`` names with ``update``: one native statement."""
        m = mutations.upsert(self._schema, self.model, where, create, update, select, include)
        if self._refs and references.needs_check(self, "upsert", {"create": create, "update": update}):
            return await references.run(self, "upsert", where=where, create=create,  # type: ignore[no-any-return]
                                        update=update, select=select, include=include)
        engine = self._engine
        async with engine.scope(write=True) as conn:
            rows = await engine.rows(conn, m.node, m.params)
            if not rows:  # a backend that reports no row re-reads by the lookup
                rows = await engine.read(conn, mutations.upsert_reread(self._schema, self.model, where))
            if not rows:
                raise RecordNotFound(f'Upsert on model "{self.model.name}" wrote no record matching its where clause.',
                                     backend_kind=engine.handle.kind, dialect=engine.handle.dialect)
            return (await finish(engine, conn, m.read, rows[:1]))[0]

    # -- deletes and the record lifecycle (soft delete, archive) ------------------------------
    async def _stamp(self, field: str, value: Any, where: Any, scope: frozenset[str], *, first: bool,
                     operation: str, extra: n.Condition | None = None) -> int:
        """Set ``field`` (deleted_at / archived_at) to ``value`` on the matching rows; returns how many."""
        return await count_written(self._engine, mutations.stamp(self._schema, self.model, field, value, where, scope,
                                                                  first=first, operation=operation, extra=extra), first)

    async def _erase(self, where: Any, scope: frozenset[str], first: bool) -> int:
        """Delete the matching rows for good; returns how many."""
        m = mutations.erase(self._schema, self.model, where, scope, first)
        if self._refs and references.needs_check(self, "_erase", {}):
            return await references.run(self, "_erase", where=where, scope=scope, first=first)  # type: ignore[no-any-return]
        return await count_written(self._engine, m, first)

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
            return await delete_returning(self, where, scope, select, include)
        if sd is not None:
            return await self._stamp(sd, utc_now(), where, scope, first=True, operation="Delete")
        return await self._erase(where, scope, True)

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

    async def restore(self, *, where: Any, with_archived: bool = False) -> int:
        """Undo soft deletes: clear ``deleted_at`` on every soft-deleted record matching ``where``."""
        sd = lifecycle_field(self.model, self.model.soft_delete_field, "soft_delete", "restore")
        return await self._stamp(sd, None, where, scope_of(self.model, True, with_archived), first=False,
                                 operation="Restore", extra=n.IsNull(sd, negated=True))

    async def archive(self, *, where: Any) -> int:
        """Archive every live, not yet archived record matching ``where`` (``archived_at`` = now)."""
        af = lifecycle_field(self.model, self.model.archive_field, "archive", "archive")
        return await self._stamp(af, utc_now(), where, frozenset(), first=False, operation="Archive")

    async def unarchive(self, *, where: Any) -> int:
        """Bring archived records matching ``where`` back (``archived_at`` cleared); returns how many."""
        af = lifecycle_field(self.model, self.model.archive_field, "archive", "unarchive")
        return await self._stamp(af, None, where, frozenset({"archived"}), first=False, operation="Unarchive",
                                 extra=n.IsNull(af, negated=True))

