"""The resolved schema's parts: fields, relations, constraints and models (``define_schema`` builds them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from .definition import RelationKind
from .fields import MISSING, FieldKind


@dataclass(frozen=True)
class FieldMeta:
    """A resolved field: logical ``name``, physical ``column`` and everything writes and reads need."""

    name: str
    column: str
    kind: FieldKind
    id_type: str | None
    nullable: bool
    unique: bool
    generated: str | None
    default: Any
    references: tuple[str, str] | None
    description: str | None
    enum_values: tuple[str, ...] | None
    #: the column's kind where it differs from ``kind``: an ``integer`` foreign key to a 64-bit
    #: column (an integer id or a bigint) is stored and validated as ``"bigint"``, like its target
    column_kind: str | None = None
    #: ``f.decimal(precision, scale)``: the column's digits; None for the default numeric(65, 30)
    precision: int | None = None
    scale: int | None = None
    #: ``f.string(max_length=n)``: at most ``n`` characters (``varchar(n)``)
    max_length: int | None = None
    #: ``references(..., on_delete=, on_update=)``: "cascade", "set null", "restrict", "no action"
    on_delete: str | None = None
    on_update: str | None = None

    @property
    def has_default(self) -> bool:
        return self.default is not MISSING

    @property
    def is_id(self) -> bool:
        return self.kind == "id"

    @property
    def value_kind(self) -> str:
        """The kind that decides value handling: integer ids behave like integers, string ids like strings."""
        if self.kind == "id":
            return "integer" if self.id_type == "integer" else "string"
        return self.kind


@dataclass(frozen=True)
class RelationMeta:
    """A resolved relation. Records match where ``target[remote_field] == this[local_field]``;
    for many-to-many through ``through``: ``through[through_from] == this[local_field]`` and
    ``target[remote_field] == through[through_to]``."""

    name: str
    kind: RelationKind
    model: str
    target: str
    local_field: str
    remote_field: str
    through: str | None = None
    through_from: str | None = None
    through_to: str | None = None

    @property
    def to_many(self) -> bool:
        return self.kind in ("has_many", "many_to_many")


@dataclass(frozen=True)
class ConstraintMeta:
    """A unique key or index with its deterministic name."""

    name: str
    fields: tuple[str, ...]
    columns: tuple[str, ...]
    unique: bool


@dataclass(frozen=True)
class ModelMeta:
    """A resolved model."""

    name: str
    table: str
    schema: str | None
    qualified_table: str
    fields: Mapping[str, FieldMeta]
    relations: Mapping[str, RelationMeta]
    uniques: tuple[ConstraintMeta, ...]
    indexes: tuple[ConstraintMeta, ...]
    description: str | None
    id_field: str | None
    identity: tuple[str, ...] | None
    #: the nullable datetime that marks a soft-deleted record (``model(soft_delete=True)``)
    soft_delete_field: str | None = None
    #: the nullable datetime that marks an archived record (``model(archive=True)``)
    archive_field: str | None = None
    #: the optimistic-concurrency counter (``f.version()``)
    version_field: str | None = None
    #: ``model(history=True)``: writes append rows to the ``farmorm_history`` model
    history: bool = False
    #: one unique key per single-field ``.unique()`` (not the id), named by the manifest rule
    #: (``<table>_<column>_unique``) so every backend carries the same name
    field_uniques: tuple[ConstraintMeta, ...] = ()
    #: an index per foreign-key column no declared unique key or index already starts with
    #: (``<table>_<column>_idx``): PostgreSQL and SQLite do not index foreign keys themselves
    foreign_key_indexes: tuple[ConstraintMeta, ...] = ()

    def field(self, name: str) -> FieldMeta:
        return self.fields[name]
