"""The no-foreign-key relation mode: references enforced by the ORM (``define_schema(..., foreign_keys=False)``).

Vitess / PlanetScale-style databases refuse FOREIGN KEY constraints, so with ``foreign_keys=False`` the
DDL and migrations create an index per reference column instead, and the ORM does what the
constraint did, in the same transaction as the write (a savepoint inside the caller's transaction):

- a write that sets a reference field (``create``, ``create_many``, ``update``, ``update_many``,
  ``upsert``) first reads the referenced rows with a row lock (``FOR UPDATE``, so a concurrent delete
  of the parent waits for this transaction, as the constraint's lock would make it) and refuses a
  value that matches none: FOREIGN_KEY_VIOLATION naming the model, the field and the target;
- a delete (``delete``, ``delete_many``, ``hard_delete*``) locks the rows it deletes and applies
  each referencing field's ``on_delete``: ``restrict`` / ``no action`` (the default) refuse while
  rows point at them, ``cascade`` deletes those rows (their own references applied in turn), ``set
  null`` clears the field.

A soft delete (``deleted_at``) is an update, as it is for a constraint: nothing cascades.
Changing a referenced key itself (``on_update``) is not emulated: keys that rows point at should
never change. Mongo needs a replica set for the same guarantees (transactions).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import msgspec

from ..core.errors import FOREIGN_KEY_VIOLATION, make_error
from ..query.parse import ALL_SCOPE, parse_read
from ..schema.manifest import FieldMeta, ModelMeta, Schema
from .transaction import transaction_scope
from .writes import Client

#: the methods whose data may set a reference field, and where their data is
_DATA = {"create": ("data",), "create_many": ("data",), "update": ("data",), "update_many": ("data",),
         "upsert": ("create", "update")}


def enforced(schema: Schema) -> bool:
    """True when the ORM, not the database, keeps references (``foreign_keys=False``)."""
    return not schema.foreign_keys


def outgoing(model: ModelMeta) -> list[FieldMeta]:
    """The model's reference fields."""
    return [f for f in model.fields.values() if f.references]


def incoming(schema: Schema, model: ModelMeta) -> list[tuple[ModelMeta, FieldMeta]]:
    """Every (model, field) whose reference points at ``model``."""
    return [(m, f) for m in schema.models.values() for f in m.fields.values()
            if f.references and f.references[0] == model.name]


def on_delete(field: FieldMeta) -> str:
    """The field's ``on_delete`` action, spelled ``restrict``, ``no action``, ``cascade`` or ``set null``."""
    action = getattr(field, "on_delete", None) or "no action"
    return str(action).strip().lower().replace("_", " ")


def needs_check(client: Client, method: str, kwargs: Mapping[str, Any]) -> bool:
    """Does this call have to run under enforcement (cheap: no I/O)?"""
    model = client.model
    if method == "_erase":
        return bool(incoming(client._schema, model))
    refs = {f.name for f in outgoing(model)}
    if not refs:
        return False
    for key in _DATA.get(method, ()):
        data = kwargs.get(key)
        rows = data if isinstance(data, Sequence) and not isinstance(data, (str, bytes, Mapping)) else [data]
        if any(isinstance(r, Mapping) and refs & r.keys() for r in rows):
            return True
    return False


async def run(client: Client, method: str, **kwargs: Any) -> Any:
    """Run ``client.<method>(**kwargs)`` with its references enforced, in one transaction."""
    inner = client._unchecked()
    async with transaction_scope(client._engine):
        if method == "_erase":
            return await _erase(inner, **kwargs)
        for key in _DATA[method]:
            data = kwargs.get(key)
            if data is not None:
                await check_targets(inner, data if isinstance(data, Sequence) and not isinstance(data, Mapping)
                                    else [data])
        return await getattr(inner, method)(**kwargs)


async def check_targets(client: Client, rows: Sequence[Mapping[str, Any]]) -> None:
    """Refuse reference values that match no row of their target (locking the rows that match)."""
    schema = client._schema
    for f in outgoing(client.model):
        wanted = {r[f.name] for r in rows if isinstance(r, Mapping) and _plain_value(r.get(f.name))}
        if not wanted:
            continue
        target_name, target_field = f.references  # type: ignore[misc]
        target = schema.models[target_name]
        found = await _locked(client, target, {target_field: {"in": sorted(wanted, key=repr)}}, (target_field,),
                              ALL_SCOPE, None)
        missing = wanted - {r[target_field] for r in found}
        if missing:
            raise make_error(
                FOREIGN_KEY_VIOLATION,
                f'Foreign key violation: "{client.model.name}.{f.name}" = {sorted(missing, key=repr)[0]!r} matches no '
                f'"{target_name}.{target_field}" (references are enforced by farmorm: foreign_keys=False).',
                meta={"model": client.model.name, "target": [f.name], "references": f"{target_name}.{target_field}",
                      "enforced_by": "orm"},
            )


def _plain_value(value: Any) -> bool:
    """A value to check: not None, not an atomic operation such as ``{"increment": 1}``."""
    return value is not None and not isinstance(value, Mapping)


async def _erase(client: Client, where: Any, scope: frozenset[str], first: bool) -> int:
    """Delete as ``client._erase`` does, after applying the ``on_delete`` of every row pointing here."""
    model = client.model
    schema = client._schema
    children = incoming(schema, model)
    keys = tuple(dict.fromkeys([*(model.identity or ()), *(f.references[1] for _, f in children)]))  # type: ignore[index]
    rows = await _locked(client, model, where, keys, scope, 1 if first else None)
    if not rows:
        return 0
    for child, f in children:
        values = sorted({r[f.references[1]] for r in rows if r.get(f.references[1]) is not None},  # type: ignore[index]
                        key=repr)
        if not values:
            continue
        action = on_delete(f)
        sub = client._sibling(child.name)  # enforced in turn: a cascade follows the children's children
        link = {f.name: {"in": values}}
        if action == "cascade":
            await sub.hard_delete_many(where=link)
        elif action == "set null":
            await sub.update_many(where=link, data={f.name: None}, with_deleted=child.soft_delete_field is not None,
                                  with_archived=child.archive_field is not None)
        elif await sub.count(where=link, with_deleted=child.soft_delete_field is not None,
                             with_archived=child.archive_field is not None):
            raise make_error(
                FOREIGN_KEY_VIOLATION,
                f'Foreign key violation: cannot delete from "{model.name}": rows of "{child.name}" still reference it '
                f'through "{child.name}.{f.name}" (on_delete={action!r}; references are enforced by farmorm: '
                "foreign_keys=False).",
                meta={"model": child.name, "target": [f.name], "references": f"{model.name}.{f.references[1]}",  # type: ignore[index]
                      "enforced_by": "orm"},
            )
    ident: tuple[str, ...] = tuple(model.identity or ())
    exact: dict[str, Any] = {"OR": [{k: r[k] for k in ident} for r in rows]}
    if len(ident) == 1:
        exact = {ident[0]: {"in": [r[ident[0]] for r in rows]}}
    return int(await client._erase(exact, ALL_SCOPE, False))


async def _locked(client: Client, model: ModelMeta, where: Any, fields: Sequence[str], scope: frozenset[str],
                  take: int | None) -> list[dict[str, Any]]:
    """``fields`` of the rows of ``model`` matching ``where``, read with ``FOR UPDATE`` in the running transaction."""
    engine = client._engine
    read = parse_read(client._schema, model, where=where, select={f: True for f in fields}, take=take, scope=scope)
    read.node = msgspec.structs.replace(read.node, lock="update")
    async with engine.scope() as conn:
        found: list[dict[str, Any]] = await engine.read(conn, read)
    return found
