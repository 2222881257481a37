"""Nested writes (Prisma's model): relation keys in ``create`` / ``update`` data, checked before I/O.

``split_nested`` separates a record's scalar fields from its relation operations and validates the
whole tree (every nested record's values, every unique lookup, every operation's shape) without
touching the database; ``runtime/nested.py`` runs the plan. Operations per relation kind:

- in ``create``: ``create``, ``connect``, ``connect_or_create`` on every relation kind;
- in ``update`` (to-many relations): ``create``, ``connect``, ``connect_or_create``, ``disconnect``,
  ``set``, ``update``, ``update_many``, ``delete``, ``delete_many``, ``upsert``.
"""

from __future__ import annotations

import datetime as _dt
import decimal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..core.errors import validation_error
from ..schema.manifest import FieldMeta, ModelMeta, RelationMeta, Schema
from .parse import parse_where
from .writes import create_values, unique_lookup, update_values

CREATE_OPS = ("create", "connect", "connect_or_create")
UPDATE_OPS = ("create", "connect", "connect_or_create", "disconnect", "set", "update", "update_many", "delete",
              "delete_many", "upsert")
#: operations whose items are unique lookups
_LOOKUPS = ("connect", "disconnect", "set", "delete")


@dataclass
class Nested:
    """One record of a nested write: its scalar values and its relation operations."""

    scalars: dict[str, Any]
    relations: list[tuple[RelationMeta, dict[str, list[Any]]]] = field(default_factory=list)

    @property
    def flat(self) -> bool:
        return not self.relations


def has_relations(model: ModelMeta, data: Any) -> bool:
    """Whether write data names a relation (the nested path) rather than scalar fields only."""
    # isdisjoint walks ``data`` in C: no generator per write
    return bool(model.relations) and isinstance(data, Mapping) and not model.relations.keys().isdisjoint(data)


def _stand_in(f: FieldMeta) -> Any:
    """A valid value for a foreign key the nesting sets, so the record validates before I/O."""
    kind = f.value_kind
    if kind in ("integer", "bigint") or (f.kind == "id" and f.id_type == "integer"):
        return 1
    if kind == "decimal":
        return decimal.Decimal(0)
    if kind == "datetime":
        return _dt.datetime(2000, 1, 1, tzinfo=_dt.timezone.utc)
    if kind == "boolean":
        return False
    if kind == "enum":
        return (f.enum_values or ("",))[0]
    return "0"


def _items(model: ModelMeta, rel: RelationMeta, op: str, value: Any) -> list[Any]:
    if isinstance(value, Mapping):
        return [value]
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        if not rel.to_many:
            raise validation_error(
                f'Nested {op} of relation "{rel.name}" on model "{model.name}" takes one record: '
                f'"{rel.name}" is {rel.kind}.', model=model.name, field=rel.name)
        return list(value)
    raise validation_error(
        f'Nested {op} of relation "{rel.name}" on model "{model.name}" expects a mapping or a list of mappings, '
        f"got {type(value).__name__}.", model=model.name, field=rel.name)


def _mapping(model: ModelMeta, rel: RelationMeta, op: str, item: Any, keys: tuple[str, ...]) -> Mapping[str, Any]:
    if not isinstance(item, Mapping) or (keys and set(item) != set(keys)):
        want = " and ".join(f'"{k}"' for k in keys) if keys else "a mapping"
        raise validation_error(
            f'Nested {op} of relation "{rel.name}" on model "{model.name}" expects {want} in each item, '
            f"got {item!r}.", model=model.name, field=rel.name)
    return item


def split_nested(schema: Schema, model: ModelMeta, data: Any, *, update: bool = False,
                 set_by_parent: str | None = None) -> Nested:
    """Validate a (possibly nested) write's data; ``set_by_parent`` names the foreign key a
    nesting parent fills in (refused in the data, stood in for the checks)."""
    if not isinstance(data, Mapping):
        raise validation_error(f'"data" on model "{model.name}" must be a mapping, got {type(data).__name__}.',
                               model=model.name)
    scalars = {k: v for k, v in data.items() if k not in model.relations}
    out = Nested(scalars)
    set_here: list[str] = [set_by_parent] if set_by_parent else []
    for name, ops in data.items():
        rel = model.relations.get(name)
        if rel is None:
            continue
        allowed = UPDATE_OPS if update else CREATE_OPS
        if update and not rel.to_many:
            raise validation_error(
                f'Nested writes in update on model "{model.name}" apply to to-many relations; "{name}" is {rel.kind}. '
                f"Write the {rel.target} record with its own model client.", model=model.name, field=name)
        if not isinstance(ops, Mapping) or not ops:
            raise validation_error(
                f'Relation "{name}" on model "{model.name}" takes nested operations ({", ".join(allowed)}), '
                f"got {ops!r}.", model=model.name, field=name)
        target = schema.models[rel.target]
        plan: dict[str, list[Any]] = {}
        for op, value in ops.items():
            if op not in allowed:
                raise validation_error(
                    f'Unknown nested operation "{op}" for relation "{name}" on model "{model.name}". '
                    f"Use one of: {', '.join(allowed)}.", model=model.name, field=name)
            if op == "delete_many" and isinstance(value, Mapping):
                value = [value]
            plan[op] = [_check_item(schema, model, rel, target, op, item, update)
                        for item in _items(model, rel, op, value)]
        if rel.kind == "many_to_many" and {"create", "connect", "connect_or_create", "set", "upsert"} & set(plan):
            # the links are rows of the through model holding the two keys only: it must take them
            through = schema.models[rel.through or ""]
            ends = (rel.through_from or "", rel.through_to or "")
            create_values(through, {k: _stand_in(through.fields[k]) for k in ends})
        if rel.kind == "belongs_to":
            set_here.append(rel.local_field)
        if rel.kind in ("has_many", "has_one") and ({"disconnect", "set"} & set(plan)) \
                and not target.fields[rel.remote_field].nullable:
            raise validation_error(
                f'Cannot disconnect "{name}" records on model "{model.name}": their field '
                f'"{rel.remote_field}" on model "{target.name}" cannot be null. Delete them instead.',
                model=model.name, field=name)
        out.relations.append((rel, plan))
    for fk in set_here:
        if fk in scalars:
            raise validation_error(
                f'Field "{fk}" on model "{model.name}" is set by the nested write; leave it out of data.',
                model=model.name, field=fk)
    stand = {fk: _stand_in(model.fields[fk]) for fk in set_here}
    if update:
        update_values(model, scalars)
    else:
        create_values(model, {**scalars, **stand})
    return out


def _check_item(schema: Schema, model: ModelMeta, rel: RelationMeta, target: ModelMeta, op: str, item: Any,
                update: bool) -> Any:
    child_fk = rel.remote_field if rel.kind in ("has_many", "has_one") else None
    if op == "create":
        return split_nested(schema, target, item, set_by_parent=child_fk)
    if op in _LOOKUPS:
        unique_lookup(target, item, f'Nested {op} of "{rel.name}"')
        return dict(_mapping(model, rel, op, item, ()))
    if op == "connect_or_create":
        m = _mapping(model, rel, op, item, ("where", "create"))
        unique_lookup(target, m["where"], f'Nested connect_or_create of "{rel.name}"')
        return {"where": dict(m["where"]), "create": split_nested(schema, target, m["create"], set_by_parent=child_fk)}
    if op in ("update", "update_many"):
        m = _mapping(model, rel, op, item, ("where", "data"))
        if op == "update":
            unique_lookup(target, m["where"], f'Nested update of "{rel.name}"')
        else:
            parse_where(schema, target, m["where"], [])
        update_values(target, m["data"])
        return {"where": m["where"], "data": dict(m["data"])}
    if op == "delete_many":
        parse_where(schema, target, _mapping(model, rel, op, item, ()), [])
        return dict(item)
    # upsert
    m = _mapping(model, rel, op, item, ("where", "create", "update"))
    unique_lookup(target, m["where"], f'Nested upsert of "{rel.name}"')
    update_values(target, m["update"])
    return {"where": dict(m["where"]), "create": split_nested(schema, target, m["create"], set_by_parent=child_fk),
            "update": dict(m["update"])}
