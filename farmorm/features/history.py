"""Record history: ``model(history=True)`` and the ``acting_as`` actor helper.

Every create/update/delete of a history model appends rows to the ``farmorm_history`` model in
the same transaction as the change (a savepoint when one is running), so both commit or roll back
together. ``before``/``after`` are JSON-safe snapshots (datetimes as ISO strings, decimals as str).

The feature attaches through the runtime's extension point: models declared with
``history=True`` are served by :class:`HistoryModelClient`, whose write methods validate as the
plain ones do, then run the plain change inside a transaction between snapshots.
"""

from __future__ import annotations

import base64
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, Iterator, Mapping, Sequence

from ..core.errors import validation_error
from ..query import mutations
from ..query.nested import has_relations
from ..query import nodes as n
from ..query.parse import ALL_SCOPE, parse_read, scope_of
from ..query.writes import check_returning, identity_of, identity_where, update_values, upsert_values
from ..runtime.extension import Extension, register
from ..runtime.model import ModelClient
from ..runtime.transaction import transaction_scope
from ..schema import fields as f
from ..schema.definition import ModelDef
from ..schema.manifest import ModelMeta
from ..schema.system import SystemModel, register_system_model

#: the model ``define_schema`` adds when a model uses ``history=True``
HISTORY_MODEL = "farmorm_history"


def _history_model() -> ModelDef:
    return ModelDef(
        table=HISTORY_MODEL,
        fields={
            "id": f.id(),
            "model": f.string(),
            "record_id": f.string(),
            "operation": f.enumeration(["create", "update", "delete"]),
            "before": f.json().nullable(),
            "after": f.json().nullable(),
            "actor": f.string().nullable(),
            "occurred_at": f.datetime().default_now(),
        },
        description="Append-only change history of the models declared with history=True.",
    )


register_system_model(SystemModel(HISTORY_MODEL, _history_model, model_option="history"))

_actor: ContextVar[str | None] = ContextVar("farmorm_history_actor", default=None)


@contextmanager
def acting_as(actor: str | None) -> Iterator[None]:
    """``with acting_as("ada"):`` history rows written inside name ``actor`` (unless the running
    transaction was opened with ``orm.transaction(actor=...)``, which wins)."""
    if actor is not None and not isinstance(actor, str):
        raise validation_error(f"Invalid actor {actor!r}: expected a string.")
    token = _actor.set(actor)
    try:
        yield
    finally:
        _actor.reset(token)


def current_actor() -> str | None:
    """The actor set by ``acting_as`` (None outside it)."""
    return _actor.get()


def json_safe(value: Any) -> Any:
    """``value`` with datetimes/dates as ISO strings, decimals as str, bytes as base64."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)

__all__ = ["HISTORY_MODEL", "acting_as", "current_actor", "json_safe", "HistoryModelClient"]


class HistoryModelClient(ModelClient):
    """``orm.<model>`` of a ``history=True`` model: every write appends history rows with it."""

    __slots__ = ()

    # -- the writes: the plain client's checks first (same errors, before any I/O), then history --
    async def create(self, *, data: Mapping[str, Any], select: Any = None, include: Any = None,
                     returning: str = "record") -> Any:
        how = check_returning(self.model, "create", returning, select, include)
        if has_relations(self.model, data):  # the nested levels write each record's history themselves
            return await super().create(data=data, select=select, include=include,
                                        returning=returning)  # type: ignore[call-overload]
        if how != "record":  # the cheap path still writes the full record's history
            full = await self._history_create(data, None, None)
            return identity_of(self.model, full) if how == "id" else None
        return await self._history_create(data, select, include)

    async def create_many(self, *, data: Sequence[Mapping[str, Any]], select: Any = None,
                          returning: str = "records") -> Any:
        how = check_returning(self.model, "create_many", returning, select, None)
        if isinstance(data, Mapping) or not isinstance(data, Sequence):
            await super().create_many(data=data, select=select)  # refused as the plain client refuses it
        if not data:
            return 0 if how == "count" else []
        full = await self._history_create_many(data, select)
        if how == "records":
            return full
        return len(full) if how == "count" else [identity_of(self.model, r) for r in full]

    async def update(self, *, where: Any, data: Mapping[str, Any], select: Any = None, include: Any = None,
                     expected_version: int | None = None, with_deleted: bool = False,
                     with_archived: bool = False, returning: str = "record") -> Any:
        how = check_returning(self.model, "update", returning, select, include)
        if has_relations(self.model, data):  # the record's own fields come back here, through update
            return await super().update(where=where, data=data, select=select, include=include,  # type: ignore[call-overload]
                                        expected_version=expected_version, with_deleted=with_deleted,
                                        with_archived=with_archived, returning=returning)
        values = update_values(self.model, data)
        if how == "count":
            done = await self.update(where=where, data=data, expected_version=expected_version,
                                     with_deleted=with_deleted, with_archived=with_archived)
            return 0 if done is None else 1
        if not values and expected_version is None:
            return await super().update(where=where, data=data, select=select, include=include,
                                        with_deleted=with_deleted, with_archived=with_archived)
        scope = scope_of(self.model, with_deleted, with_archived)
        return await self._history_update(where, data, select, include, expected_version, scope,
                                          with_deleted, with_archived)

    async def update_many(self, *, where: Any, data: Mapping[str, Any], with_deleted: bool = False,
                          with_archived: bool = False) -> int:
        scope = scope_of(self.model, with_deleted, with_archived)
        if mutations.update_many(self._schema, self.model, where, data, scope) is None:  # checks first
            return 0
        return await self._history_many(where, scope, "update", lambda w: self._plain().update_many(
            where=w, data=data, with_deleted=with_deleted, with_archived=with_archived))

    async def upsert(self, *, where: Any, create: Mapping[str, Any], update: Mapping[str, Any] | None = None,
                     select: Any = None, include: Any = None) -> dict[str, Any]:
        upsert_values(self.model, where, create, update)
        return await self._history_upsert(where, create, update, select, include)

    async def _stamp(self, field: str, value: Any, where: Any, scope: frozenset[str], *, first: bool,
                     operation: str, extra: n.Condition | None = None) -> int:
        mutations.stamp(self._schema, self.model, field, value, where, scope, first=first, operation=operation,
                        extra=extra)  # the plain client's checks, before any I/O
        return await self._history_many(
            where, scope, "delete" if operation == "Delete" else "update",
            lambda w: self._plain()._stamp(field, value, w, scope, first=first, operation=operation, extra=extra),
            first=first, keep=(lambda r: r.get(field) is not None) if extra is not None else None)

    async def _erase(self, where: Any, scope: frozenset[str], first: bool) -> int:
        mutations.erase(self._schema, self.model, where, scope, first)  # the plain client's checks
        return await self._history_many(where, scope, "delete",
                                        lambda w: self._plain()._erase(w, scope, first), first=first, gone=True)

    # -- the history rows -------------------------------------------------------------------------
    def _plain(self) -> ModelClient:
        """This model's plain client (no history writing): it makes the change itself."""
        plain = ModelClient(self._engine, self._schema, self.model)
        plain._refs = self._refs  # references are checked once, where the change is made
        return plain

    def _ids_where(self, records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        ident = self.model.identity or ()
        if len(ident) == 1:
            return {ident[0]: {"in": [r[ident[0]] for r in records]}}
        return {"OR": [identity_where(self.model, r) for r in records]}

    async def _snapshots(self, where: Any, scope: frozenset[str], take: int | None = None) -> list[dict[str, Any]]:
        """Full records (every field) matching ``where``, read on the running transaction."""
        engine = self._engine
        async with engine.scope() as conn:
            return await engine.read(
                conn, parse_read(self._schema, self.model, where=where, take=take, scope=scope))

    async def _write_history(self, entries: list[tuple[str, dict[str, Any] | None, dict[str, Any] | None]]) -> None:
        if not entries:
            return
        state = self._engine.state()
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
        await ModelClient(self._engine, self._schema, self._schema.models[HISTORY_MODEL]).create_many(data=rows)

    async def _history_create(self, data: Mapping[str, Any], select: Any, include: Any) -> dict[str, Any]:
        async with transaction_scope(self._engine):
            full = await self._plain().create(data=data)
            await self._write_history([("create", None, full)])
            if select is None and include is None:
                return full
            shaped: dict[str, Any] = (await self._plain().find_many(
                where=identity_where(self.model, full), select=select, include=include, with_deleted=True, with_archived=True,
                take=1))[0]
            return shaped

    async def _history_create_many(self, data: Sequence[Mapping[str, Any]], select: Any) -> list[dict[str, Any]]:
        async with transaction_scope(self._engine):
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
        async with transaction_scope(self._engine):
            before = await self._snapshots(where, scope, take=1)
            if not before:
                if expected_version is None:
                    return None
                target = where  # the plain path explains the miss (NOT_FOUND)
            else:
                target = identity_where(self.model, before[0])
            result = await self._plain().update(where=target, data=data, select=select, include=include,
                                                expected_version=expected_version, with_deleted=with_deleted,
                                                with_archived=with_archived)
            if before:
                after = await self._snapshots(target, ALL_SCOPE, take=1)
                await self._write_history([("update", before[0], after[0] if after else None)])
            return result

    async def _history_upsert(self, where: Any, create: Mapping[str, Any], update: Mapping[str, Any] | None,
                              select: Any, include: Any) -> dict[str, Any]:
        async with transaction_scope(self._engine):
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
        async with transaction_scope(self._engine):
            before = await self._snapshots(where, scope, take=1 if first else None)
            if keep is not None:
                before = [r for r in before if keep(r)]
            if not before:
                return 0
            count = await change(self._ids_where(before))
            if gone:
                await self._write_history([(operation, r, None) for r in before])
                return int(count)
            after = {tuple(identity_where(self.model, r).values()): r
                     for r in await self._snapshots(self._ids_where(before), ALL_SCOPE)}
            await self._write_history([(operation, r, after.get(tuple(identity_where(self.model, r).values())))
                                       for r in before])
            return int(count)


class History(Extension):
    """Serves ``history=True`` models with :class:`HistoryModelClient`."""

    def model_client(self, model: ModelMeta) -> type[ModelClient] | None:
        return HistoryModelClient if model.history else None


register(History())
