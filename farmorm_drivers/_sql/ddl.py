"""DDL for ``push_schema``: create-if-missing tables, foreign keys, unique keys and indexes.

One renderer for every SQL dialect; types and syntax come from a ``DdlHooks`` per dialect.
String defaults are escaped (a default containing ``'`` or ``;`` is valid SQL).
"""

from __future__ import annotations

import datetime as _dt
import decimal
from dataclasses import dataclass

from farmorm.schema.manifest import FieldMeta, ModelMeta, Schema, dependency_order

from .dialect import SqlDialect


def sql_string(value: str) -> str:
    """A SQL string literal with quotes doubled."""
    return "'" + value.replace("'", "''") + "'"


@dataclass
class DdlHooks:
    """Per-dialect types and syntax for DDL."""

    dialect: SqlDialect
    types: dict[str, str]
    indexed_string_type: str | None = None  # mysql: text cannot be indexed without a length
    identity_pk: str = "INTEGER PRIMARY KEY AUTOINCREMENT"
    index_if_not_exists: bool = True
    enum_type: bool = False  # mysql: ENUM('a','b') instead of a CHECK
    bool_true: str = "1"
    bool_false: str = "0"
    table_suffix: str = ""
    string_collation: str = ""
    #: sqlite: a table-level ``CONSTRAINT name UNIQUE`` becomes ``sqlite_autoindex_<table>_N``, so
    #: unique keys are ``CREATE UNIQUE INDEX "<manifest name>"`` statements there
    unique_as_index: bool = False
    #: mysql: foreign-key indexes go inside CREATE TABLE (``INDEX name (col)``), so InnoDB uses
    #: them for the key instead of adding an index of its own named after the column
    inline_fk_indexes: bool = False
    #: the type of ``f.string(max_length=n)`` (``{n}``); empty: the plain string type
    varchar_template: str = ""
    #: the type of ``f.decimal(precision, scale)`` (``{p}``, ``{s}``); empty: the plain decimal type
    decimal_template: str = ""
    #: postgres: ``CREATE SCHEMA IF NOT EXISTS`` for the namespaces of ``table_name(..., schema=)``
    create_namespaces: bool = False

    def string(self, value: str) -> str:
        """A string literal (MySQL also doubles backslashes, an escape character there)."""
        return sql_string(value)

    def column_type(self, f: FieldMeta, typ: str) -> str:
        """The final column type of ``f`` (mysql: a foreign key must match the referenced type)."""
        return typ

    def index_column(self, column: str) -> str:
        """A column in an index's column list (a hook: SQLite needs a stricter quote there)."""
        return self.dialect.quote(column)

    def literal(self, f: FieldMeta) -> str | None:
        """The DEFAULT literal for ``f``, or None when the default is applied client-side only."""
        v = f.default
        if not f.has_default or callable(v) or f.kind == "json":
            return None
        if isinstance(v, bool):
            return self.bool_true if v else self.bool_false
        if isinstance(v, (int, decimal.Decimal)) and f.kind in ("integer", "bigint", "id"):
            return str(v)
        if isinstance(v, decimal.Decimal):
            return self.string(str(v))
        if isinstance(v, _dt.datetime):
            return None
        if isinstance(v, str):
            return self.string(v)
        return None


def _indexed_columns(model: ModelMeta) -> set[str]:
    cols: set[str] = set()
    for c in (*model.uniques, *model.indexes):
        cols.update(c.fields)
    return cols


def column_sql(h: DdlHooks, model: ModelMeta, f: FieldMeta, indexed: set[str]) -> str:
    """One column definition: name, type, keys, nullability, default and enum check."""
    q = h.dialect.quote
    parts = [q(f.column)]
    if f.kind == "id" and f.id_type == "integer" and f.generated == "increment":
        parts.append(h.identity_pk)
        return " ".join(parts)
    kind = f.value_kind
    needs_index = f.unique or f.is_id or f.references is not None or f.name in indexed
    if f.kind == "enum" and h.enum_type:
        typ = "ENUM(" + ", ".join(h.string(v) for v in f.enum_values or ()) + ")"
    elif kind == "string" and f.max_length is not None and f.kind == "string" and h.varchar_template:
        typ = h.varchar_template.format(n=f.max_length)
    elif kind == "string" and needs_index and h.indexed_string_type:
        typ = h.indexed_string_type
    elif f.is_id and kind == "integer":
        typ = h.types["bigint"]  # integer ids are validated as 64-bit values
    elif kind == "decimal" and f.precision is not None and h.decimal_template:
        typ = h.decimal_template.format(p=f.precision, s=f.scale or 0)
    elif f.column_kind:
        typ = h.types[f.column_kind]  # a foreign key has its referenced column's type (bigint ids)
    else:
        typ = h.types[kind if f.kind != "enum" else "string"]
    if kind == "string" and h.string_collation:
        typ += " " + h.string_collation
    parts.append(h.column_type(f, typ))
    if f.is_id:
        parts.append("PRIMARY KEY")
    if not f.nullable:
        parts.append("NOT NULL")
    lit = h.literal(f)
    if lit is not None:
        parts.append(f"DEFAULT {lit}")
    if f.kind == "enum" and not h.enum_type:
        values = ", ".join(h.string(v) for v in f.enum_values or ())
        parts.append(f"CHECK ({q(f.column)} IN ({values}))")
    return " ".join(parts)


def create_table_sql(h: DdlHooks, schema: Schema, model: ModelMeta) -> str:
    q = h.dialect.quote
    indexed = _indexed_columns(model)
    lines = [column_sql(h, model, f, indexed) for f in model.fields.values()]
    for f in model.fields.values():
        if f.references and schema.foreign_keys:  # foreign_keys=False: the ORM enforces them (indexed below)
            tmodel = schema.models[f.references[0]]
            tcol = tmodel.fields[f.references[1]].column
            actions = "".join(f" ON {event} {action.upper()}" for event, action in
                              (("DELETE", f.on_delete), ("UPDATE", f.on_update)) if action)
            lines.append(f"FOREIGN KEY ({q(f.column)}) REFERENCES {h.dialect.table(tmodel)} ({q(tcol)}){actions}")
    if not h.unique_as_index:
        for c in (*model.field_uniques, *model.uniques):
            lines.append(f"CONSTRAINT {q(c.name)} UNIQUE ({', '.join(q(col) for col in c.columns)})")
    if h.inline_fk_indexes:
        for c in model.foreign_key_indexes:
            lines.append(f"INDEX {q(c.name)} ({', '.join(q(col) for col in c.columns)})")
    body = ",\n  ".join(lines)
    return f"CREATE TABLE IF NOT EXISTS {h.dialect.table(model)} (\n  {body}\n){h.table_suffix}"


def create_index_sql(h: DdlHooks, model: ModelMeta) -> list[str]:
    q = h.dialect.quote
    out = []
    keys = [*model.field_uniques, *model.uniques] if h.unique_as_index else []
    fk_indexes = [] if h.inline_fk_indexes else list(model.foreign_key_indexes)
    for c in (*keys, *model.indexes, *fk_indexes):
        ine = "IF NOT EXISTS " if h.index_if_not_exists else ""
        target = h.dialect.table(model)
        name = q(c.name)
        cols = ", ".join(h.index_column(col) for col in c.columns)
        out.append(f"CREATE {'UNIQUE ' if c.unique else ''}INDEX {ine}{name} ON {target} ({cols})")
    return out


def schema_statements(h: DdlHooks, schema: Schema) -> list[str]:
    """Every statement ``push_schema`` runs, in order (namespaces first where the hooks create them)."""
    out: list[str] = []
    if h.create_namespaces:
        namespaces = sorted({m.schema for m in schema.models.values() if m.schema})
        out += [f"CREATE SCHEMA IF NOT EXISTS {h.dialect.quote(ns)}" for ns in namespaces]
    for m in dependency_order(schema):
        out.append(create_table_sql(h, schema, m))
        out.extend(create_index_sql(h, m))
    return out
