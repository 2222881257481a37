"""``render_drizzle_schema``: a Drizzle ORM TypeScript schema for ``pg``, ``mysql`` or ``sqlite``.

One ``export const <model> = pgTable|mysqlTable|sqliteTable("<table>", {...})`` per model (keys are
the field names as written, columns the mapped names), compound uniques and indexes in the table
callback (``uniqueIndex("<name>").on(table.a, table.b)``), PostgreSQL namespaces through
``pgSchema``, ``pgEnum("<table>_<column>_enum", [...])`` enums and a ``relations(...)`` block per
model, following the reference's column mapping.

Deliberate differences from the reference's text: imports list exactly the builders used; MySQL
enums are written inline as ``mysqlEnum("<column>", [...])`` (Drizzle's ``mysqlEnum`` is a
column builder, not a reusable type); a SQLite bigint default is a plain number (its ``integer``
column has no bigint mode). As in the reference, SQLite datetimes are ``integer(.., { mode:
"timestamp" })`` while farmorm's own SQLite runtime stores ISO-8601 text: a Drizzle app and
farmorm should not share a SQLite file's datetime columns.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import json
import math
import re
from typing import Literal

from ..core.errors import SchemaError
from ..schema.manifest import FieldMeta, ModelMeta, Schema

DrizzleDialect = Literal["pg", "mysql", "sqlite"]
DIALECTS: tuple[str, ...] = ("pg", "mysql", "sqlite")

_CORE = {"pg": "pg-core", "mysql": "mysql-core", "sqlite": "sqlite-core"}
_FACTORY = {"pg": "pgTable", "mysql": "mysqlTable", "sqlite": "sqliteTable"}
_IMPORT_ORDER = {
    "pg": ["pgTable", "pgSchema", "pgEnum", "serial", "text", "boolean", "bigint", "integer",
           "numeric", "timestamp", "jsonb", "index", "uniqueIndex"],
    "mysql": ["mysqlTable", "mysqlEnum", "bigint", "decimal", "varchar", "text", "boolean", "int",
              "datetime", "json", "index", "uniqueIndex"],
    "sqlite": ["sqliteTable", "text", "integer", "index", "uniqueIndex"],
}


def camelize(value: str) -> str:
    """``users_tier_enum`` → ``usersTierEnum`` (the reference's camelize)."""
    text = re.sub(r"[^a-zA-Z0-9]+(.)", lambda m: m.group(1).upper(), value)
    text = re.sub(r"^[^a-zA-Z]+", "", text)
    return text[:1].lower() + text[1:]


def enum_symbol(model: ModelMeta, f: FieldMeta) -> str:
    """The exported enum constant, e.g. ``userTierEnum``."""
    return camelize(f"{model.name}_{f.name}_enum") or f"{model.name}Enum"


def _ts_literal(f: FieldMeta, dialect: str) -> str | None:
    """The ``.default(...)`` argument for ``f``, or None when there is none (JSON, callables)."""
    v = f.default
    if not f.has_default or callable(v) or v is None or f.kind == "json":
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if f.kind == "decimal":
        return json.dumps(str(v))
    if isinstance(v, int):
        return f"{v}n" if f.kind == "bigint" and dialect != "sqlite" else str(v)
    if isinstance(v, decimal.Decimal) or (isinstance(v, float) and math.isfinite(v)):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, _dt.datetime):
        stamp = v.astimezone(_dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return f"new Date({json.dumps(stamp)})"
    return None


def _id_column(f: FieldMeta, dialect: str, col: str, used: set[str]) -> str:
    if f.id_type == "integer":
        inc = f.generated == "increment"
        if dialect == "pg" and inc:
            used.add("serial")
            return f"serial({col}).primaryKey()"
        if dialect == "mysql":
            used.add("int")
            return f"int({col}).autoincrement().primaryKey()" if inc else f"int({col}).primaryKey()"
        used.add("integer")
        return f"integer({col}).primaryKey({{ autoIncrement: true }})" if inc else f"integer({col}).primaryKey()"
    if dialect == "mysql":
        used.add("varchar")
        return f"varchar({col}, {{ length: 191 }}).primaryKey()"
    used.add("text")
    return f"text({col}).primaryKey()"


def _base_column(model: ModelMeta, f: FieldMeta, dialect: str, indexed: bool, used: set[str]) -> str:
    col = json.dumps(f.column)
    kind = f.kind
    if kind == "enum" and dialect == "pg":
        return f"{enum_symbol(model, f)}({col})"
    if kind == "enum" and dialect == "mysql":
        used.add("mysqlEnum")
        return f"mysqlEnum({col}, [{', '.join(json.dumps(v) for v in f.enum_values or ())}])"
    if kind in ("string", "enum"):
        if dialect == "mysql" and (f.unique or f.references or indexed):
            used.add("varchar")
            return f"varchar({col}, {{ length: 191 }})"
        used.add("text")
        return f"text({col})"
    table: dict[str, dict[str, tuple[str, str]]] = {
        "boolean": {"pg": ("boolean", ""), "mysql": ("boolean", ""), "sqlite": ("integer", ', { mode: "boolean" }')},
        "integer": {"pg": ("integer", ""), "mysql": ("int", ""), "sqlite": ("integer", "")},
        "bigint": {"pg": ("bigint", ', { mode: "bigint" }'), "mysql": ("bigint", ', { mode: "bigint" }'),
                   "sqlite": ("integer", "")},
        "decimal": {"pg": ("numeric", ", { precision: 65, scale: 30 }"),
                    "mysql": ("decimal", ", { precision: 65, scale: 30 }"), "sqlite": ("text", "")},
        "json": {"pg": ("jsonb", ""), "mysql": ("json", ""), "sqlite": ("text", ', { mode: "json" }')},
        "datetime": {"pg": ("timestamp", ', { withTimezone: true, mode: "date" }'),
                     "mysql": ("datetime", ', { mode: "date" }'), "sqlite": ("integer", ', { mode: "timestamp" }')},
    }
    builder, opts = table[kind][dialect]
    used.add(builder)
    return f"{builder}({col}{opts})"


def _column(model: ModelMeta, f: FieldMeta, dialect: str, indexed: bool, used: set[str]) -> str:
    if f.kind == "id":
        text = _id_column(f, dialect, json.dumps(f.column), used)
    else:
        text = _base_column(model, f, dialect, indexed, used)
        if not f.nullable:
            text += ".notNull()"
        if f.unique:
            text += ".unique()"
        lit = _ts_literal(f, dialect)
        if lit is not None:
            text += f".default({lit})"
    if f.references:
        text += f".references(() => {f.references[0]}.{f.references[1]})"
    return f"  {f.name}: {text}"


def _table_block(model: ModelMeta, dialect: str, used: set[str]) -> str:
    indexed = {name for c in (*model.uniques, *model.indexes) for name in c.fields}
    lines = [_column(model, f, dialect, f.name in indexed, used) for f in model.fields.values()]
    constraints = []
    for c in (*model.uniques, *model.indexes):
        builder = "uniqueIndex" if c.unique else "index"
        used.add(builder)
        on = ", ".join(f"table.{name}" for name in c.fields)
        constraints.append(f"  {camelize(c.name) or 'constraint'}: {builder}({json.dumps(c.name)}).on({on})")
    target = f"{camelize(model.schema + '_schema') or 'dbSchema'}.table" if model.schema else _FACTORY[dialect]
    head = f"export const {model.name} = {target}({json.dumps(model.table)}, {{\n" + ",\n".join(lines) + "\n}"
    if not constraints:
        return head + ");"
    return head + ", (table) => ({\n" + ",\n".join(constraints) + "\n}));"


def _relations_block(model: ModelMeta) -> str | None:
    lines = []
    for rname, r in model.relations.items():
        if r.kind == "many_to_many":
            continue
        if r.kind == "belongs_to":
            lines.append(
                f"  {rname}: one({r.target}, {{ fields: [{model.name}.{r.local_field}], "
                f"references: [{r.target}.{r.remote_field}] }})"
            )
        elif r.kind == "has_one":
            lines.append(f"  {rname}: one({r.target})")
        else:
            lines.append(f"  {rname}: many({r.target})")
    if not lines:
        return None
    return (
        f"export const {model.name}Relations = relations({model.name}, ({{ one, many }}) => ({{\n"
        + ",\n".join(lines)
        + "\n}));"
    )


def render_drizzle_schema(schema: Schema, *, dialect: DrizzleDialect) -> str:
    """Render a Drizzle schema module (tables, enums, namespaces, relations) for ``schema``."""
    if dialect not in DIALECTS:
        raise ValueError(f'render_drizzle_schema() dialect must be "pg", "mysql" or "sqlite", got {dialect!r}.')
    models = list(schema.models.values())
    namespaces = list(dict.fromkeys(m.schema for m in models if m.schema))
    if namespaces and dialect != "pg":
        raise SchemaError(
            f'render_drizzle_schema(dialect="{dialect}") does not support schema-qualified tables '
            "in this configuration."
        )
    used: set[str] = {_FACTORY[dialect]}
    if namespaces:
        used.add("pgSchema")
    schema_blocks = [
        f"const {camelize(ns + '_schema') or 'dbSchema'} = pgSchema({json.dumps(ns)});" for ns in namespaces
    ]
    enum_blocks = []
    if dialect == "pg":
        for m in models:
            for f in m.fields.values():
                if f.kind == "enum" and f.enum_values:
                    used.add("pgEnum")
                    values = ", ".join(json.dumps(v) for v in f.enum_values)
                    db_name = f"{m.qualified_table.replace('.', '_')}_{f.column}_enum"
                    enum_blocks.append(f"export const {enum_symbol(m, f)} = pgEnum({json.dumps(db_name)}, [{values}]);")
    tables = [_table_block(m, dialect, used) for m in models]
    relations = [b for b in (_relations_block(m) for m in models) if b]
    names = [n for n in _IMPORT_ORDER[dialect] if n in used]
    imports = [f'import {{ {", ".join(names)} }} from "drizzle-orm/{_CORE[dialect]}";']
    if relations:
        imports.append('import { relations } from "drizzle-orm";')
    body = "\n\n".join([*schema_blocks, *enum_blocks, *tables, *relations])
    return "\n".join(imports) + "\n\n" + body + "\n"


__all__ = ["render_drizzle_schema", "camelize"]
