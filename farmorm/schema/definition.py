"""What users write: ``model(...)``, ``table_name(...)`` and the four relation helpers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Mapping, Sequence

from ..core.errors import SchemaError
from .fields import FieldBuilder

RelationKind = Literal["belongs_to", "has_one", "has_many", "many_to_many"]


@dataclass(frozen=True)
class TableName:
    """A table name with an optional schema namespace (PostgreSQL only at run time)."""

    name: str
    schema: str | None = None


def table_name(name: str, schema: str | None = None) -> TableName:
    """Name a table, optionally inside a schema namespace: ``table_name("events", schema="audit")``."""
    clean = name.strip() if isinstance(name, str) else ""
    if not clean:
        raise SchemaError("table_name() requires a non-empty table name.")
    if "." in clean:
        raise SchemaError(
            "table_name() table name values cannot contain \".\". Pass the table name and schema separately."
        )
    ns = None
    if schema is not None:
        ns = schema.strip()
        if not ns:
            raise SchemaError("table_name() requires a non-empty schema name when one is given.")
        if "." in ns:
            raise SchemaError(
                "table_name() schema name values cannot contain \".\". Pass the table name and schema separately."
            )
    return TableName(clean, ns)


@dataclass(frozen=True)
class RelationDef:
    """A declared relation; ``define_schema`` resolves its join fields."""

    kind: RelationKind
    target: str
    foreign_key: str | None = None
    through: str | None = None
    from_: str | None = None
    to: str | None = None


def belongs_to(target: str, *, foreign_key: str) -> RelationDef:
    """This model holds ``foreign_key`` pointing at one ``target`` record."""
    return RelationDef("belongs_to", target, foreign_key=foreign_key)


def has_one(target: str, *, foreign_key: str) -> RelationDef:
    """One ``target`` record holds ``foreign_key`` pointing back at this model."""
    return RelationDef("has_one", target, foreign_key=foreign_key)


def has_many(target: str, *, foreign_key: str) -> RelationDef:
    """Many ``target`` records hold ``foreign_key`` pointing back at this model."""
    return RelationDef("has_many", target, foreign_key=foreign_key)


def many_to_many(target: str, *, through: str, from_: str, to: str) -> RelationDef:
    """Records linked through the join model ``through`` (``from_`` → this model, ``to`` → target)."""
    return RelationDef("many_to_many", target, through=through, from_=from_, to=to)


@dataclass(frozen=True)
class ModelDef:
    """A model as written by the user; ``define_schema`` turns it into a ``ModelMeta``."""

    table: str | TableName
    fields: Mapping[str, FieldBuilder]
    relations: Mapping[str, RelationDef] = field(default_factory=dict)
    constraints: Mapping[str, Sequence[Sequence[str]]] = field(default_factory=dict)
    description: str | None = None
    soft_delete: bool = False
    archive: bool = False
    history: bool = False


def model(
    *,
    table: str | TableName,
    fields: Mapping[str, FieldBuilder],
    relations: Mapping[str, RelationDef] | None = None,
    constraints: Mapping[str, Sequence[Sequence[str]]] | None = None,
    description: str | None = None,
    soft_delete: bool = False,
    archive: bool = False,
    history: bool = False,
) -> ModelDef:
    """Declare a model: its table, fields, relations and compound unique keys / indexes.

    ``soft_delete=True`` adds a nullable ``deleted_at`` datetime (``delete`` sets it, reads skip
    such rows); ``archive=True`` adds ``archived_at`` (``archive``/``unarchive``, reads skip them);
    ``history=True`` appends a ``farmorm_history`` row for every create/update/delete."""
    for label, flag in (("soft_delete", soft_delete), ("archive", archive), ("history", history)):
        if not isinstance(flag, bool):
            raise SchemaError(f"model() {label} must be True or False, got {flag!r}.")
    if not isinstance(fields, Mapping) or not fields:
        raise SchemaError("model() requires at least one field.")
    for name, builder in fields.items():
        if not isinstance(builder, FieldBuilder):
            raise SchemaError(f'Field "{name}" must be built with a farmorm.fields builder.')
    unknown = set(constraints or {}) - {"unique", "indexes"}
    if unknown:
        raise SchemaError(
            f"model() constraints accept \"unique\" and \"indexes\", got {sorted(unknown)}."
        )
    return ModelDef(
        table=table,
        fields=dict(fields),
        relations=dict(relations or {}),
        constraints={k: [list(c) for c in v] for k, v in (constraints or {}).items()},
        description=description,
        soft_delete=soft_delete,
        archive=archive,
        history=history,
    )
