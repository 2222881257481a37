"""``render_drizzle_schema``: a Drizzle ORM TypeScript schema for ``pg``, ``mysql`` or ``sqlite``.

One ``export const <model> = pgTable|mysqlTable|sqliteTable("<table>", {...})`` per model (keys are
the field names as written, columns the mapped names), PostgreSQL namespaces through ``pgSchema``
and a ``relations(...)`` block per model. The tables describe the database ``push_schema`` builds
(``farmorm_drivers/_sql/ddl.py``), so a Drizzle app can share it with farmorm:

- enumerations are ``text(col, { enum: [...] })`` plus a table ``check("<table>_<column>_check",
  ...)`` on PostgreSQL and SQLite (the runtime's ``text`` + ``CHECK``), ``mysqlEnum`` on MySQL;
- integer ids and the integer foreign keys that reference them are ``bigint`` (PostgreSQL identity
  ``generatedByDefaultAsIdentity()``, MySQL ``autoincrement()``), as ``push_schema`` makes them;
- ``default_now()`` fields get ``.$defaultFn(() => new Date())``: the runtime fills them on
  create and the pushed column has no database default, so Drizzle must send the value too
  (``defaultNow()`` would leave it to a ``DEFAULT now()`` the pushed table does not have);
- SQLite datetimes are ``text`` holding farmorm's fixed-width ISO-8601 UTC text
  (``2026-01-01T00:00:00.000000+00:00``; the ``$defaultFn`` writes that format), MySQL ones
  ``datetime(.., { fsp: 6 })``;
- unique keys carry the manifest's names (a single ``.unique()`` is Drizzle's
  ``<table>_<column>_unique``, the same rule); compound ones are ``unique(name)`` (``uniqueIndex``
  on SQLite, where push creates unique indexes), and foreign keys no key or index starts with get
  the manifest's ``index("<table>_<column>_idx")``.

Other differences from the reference's text: imports list exactly the builders used; MySQL enums
are written inline (``mysqlEnum`` is a column builder); a SQLite bigint default is a plain number.
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
    "pg": ["pgTable", "pgSchema", "text", "varchar", "boolean", "bigint", "integer", "numeric", "timestamp", "jsonb",
           "index", "unique", "uniqueIndex", "check"],
    "mysql": ["mysqlTable", "mysqlEnum", "bigint", "decimal", "varchar", "text", "boolean", "int",
              "datetime", "json", "index", "unique", "uniqueIndex"],
    "sqlite": ["sqliteTable", "text", "integer", "index", "uniqueIndex", "check"],
}
#: farmorm's SQLite datetime text: ``new Date().toISOString()`` is ``...T00:00:00.000Z``
_SQLITE_NOW = '() => new Date().toISOString().replace("Z", "000+00:00")'


def camelize(value: str) -> str:
    """``users_tier_enum`` → ``usersTierEnum`` (the reference's camelize)."""
    text = re.sub(r"[^a-zA-Z0-9]+(.)", lambda m: m.group(1).upper(), value)
    text = re.sub(r"^[^a-zA-Z]+", "", text)
    return text[:1].lower() + text[1:]


def _sql_string(value: str) -> str:
    """A SQL string literal inside a TypeScript template (quotes doubled; backtick and ``${`` escaped)."""
    text = "'" + value.replace("'", "''") + "'"
    return text.replace("\\", "\\\\").replace("`", "\\`").replace("${", "\\${")


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


def _bigint(col: str, used: set[str]) -> str:
    used.add("bigint")
    return f'bigint({col}, {{ mode: "number" }})'


def _id_column(f: FieldMeta, dialect: str, col: str, used: set[str]) -> str:
    if f.id_type == "integer":
        inc = f.generated == "increment"
        if dialect == "pg":
            return _bigint(col, used) + ".primaryKey()" + (".generatedByDefaultAsIdentity()" if inc else "")
        if dialect == "mysql":
            return _bigint(col, used) + (".autoincrement().primaryKey()" if inc else ".primaryKey()")
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
    if kind == "enum" and dialect == "mysql":
        used.add("mysqlEnum")
        return f"mysqlEnum({col}, [{', '.join(json.dumps(v) for v in f.enum_values or ())}])"
    if kind == "enum":
        used.add("text")
        return f"text({col}, {{ enum: [{', '.join(json.dumps(v) for v in f.enum_values or ())}] }})"
    if kind == "string" and f.max_length is not None:
        if dialect == "sqlite":
            used.add("text")
            return f"text({col}, {{ length: {f.max_length} }})"
        used.add("varchar")
        return f"varchar({col}, {{ length: {f.max_length} }})"
    if kind == "string":
        if dialect == "mysql" and (f.unique or f.references or indexed):
            used.add("varchar")
            return f"varchar({col}, {{ length: 191 }})"
        used.add("text")
        return f"text({col})"
    if kind == "decimal" and f.precision is not None and dialect != "sqlite":
        builder = "numeric" if dialect == "pg" else "decimal"
        used.add(builder)
        return f"{builder}({col}, {{ precision: {f.precision}, scale: {f.scale or 0} }})"
    if f.column_kind == "bigint" and dialect != "sqlite":
        return _bigint(col, used)  # a foreign key to a bigint id is bigint, as push creates it
    table: dict[str, dict[str, tuple[str, str]]] = {
        "boolean": {"pg": ("boolean", ""), "mysql": ("boolean", ""), "sqlite": ("integer", ', { mode: "boolean" }')},
        "integer": {"pg": ("integer", ""), "mysql": ("int", ""), "sqlite": ("integer", "")},
        "bigint": {"pg": ("bigint", ', { mode: "bigint" }'), "mysql": ("bigint", ', { mode: "bigint" }'),
                   "sqlite": ("integer", "")},
        "decimal": {"pg": ("numeric", ", { precision: 65, scale: 30 }"),
                    "mysql": ("decimal", ", { precision: 65, scale: 30 }"), "sqlite": ("text", "")},
        "json": {"pg": ("jsonb", ""), "mysql": ("json", ""), "sqlite": ("text", ', { mode: "json" }')},
        "datetime": {"pg": ("timestamp", ', { withTimezone: true, mode: "date" }'),
                     "mysql": ("datetime", ', { mode: "date", fsp: 6 }'), "sqlite": ("text", "")},
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
        elif f.generated == "now":
            # the runtime fills it on create; the pushed column has no database default
            text += f".$defaultFn({_SQLITE_NOW if dialect == 'sqlite' else '() => new Date()'})"
    if f.references:
        actions = ", ".join(f'{key}: "{a}"' for key, a in (("onDelete", f.on_delete), ("onUpdate", f.on_update)) if a)
        opts = f", {{ {actions} }}" if actions else ""
        text += f".references(() => {f.references[0]}.{f.references[1]}{opts})"
    return f"  {f.name}: {text}"


def _table_block(model: ModelMeta, dialect: str, used: set[str]) -> str:
    indexed = {name for c in (*model.uniques, *model.indexes) for name in c.fields}
    lines = [_column(model, f, dialect, f.name in indexed, used) for f in model.fields.values()]
    constraints = []
    for c in (*model.uniques, *model.indexes, *model.foreign_key_indexes):
        builder = ("uniqueIndex" if dialect == "sqlite" else "unique") if c.unique else "index"
        used.add(builder)
        on = ", ".join(f"table.{name}" for name in c.fields)
        constraints.append(f"  {camelize(c.name) or 'constraint'}: {builder}({json.dumps(c.name)}).on({on})")
    if dialect != "mysql":
        for f in model.fields.values():
            if f.kind == "enum" and f.enum_values:
                used.add("check")
                name = f"{model.table}_{f.column}_check"  # PostgreSQL's name for the runtime's inline CHECK
                allowed = ", ".join(_sql_string(v) for v in f.enum_values)
                constraints.append(
                    f"  {camelize(name)}: check({json.dumps(name)}, sql`${{table.{f.name}}} in ({allowed})`)"
                )
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
    tables = [_table_block(m, dialect, used) for m in models]
    relations = [b for b in (_relations_block(m) for m in models) if b]
    names = [n for n in _IMPORT_ORDER[dialect] if n in used]
    imports = [f'import {{ {", ".join(names)} }} from "drizzle-orm/{_CORE[dialect]}";']
    core = [n for n, on in (("relations", bool(relations)), ("sql", "check" in used)) if on]
    if core:
        imports.append(f'import {{ {", ".join(core)} }} from "drizzle-orm";')
    body = "\n\n".join([*schema_blocks, *tables, *relations])
    return "\n".join(imports) + "\n\n" + body + "\n"


__all__ = ["render_drizzle_schema", "camelize"]
