"""``to_sqlalchemy_metadata``: the tables ``push_schema`` creates, as a SQLAlchemy ``MetaData``.

The metadata mirrors the DDL in ``farmorm_drivers/_sql/ddl.py`` column for column, so Alembic's
autogenerate sees no difference between a pushed database and the schema: the same types per
dialect (as type variants when no dialect is given), nullability, server defaults, primary keys,
foreign keys, and the manifest's names for every unique key (single-field ones too; unique
indexes on SQLite, as push creates them there), index and foreign-key index. Requires the ``migrations`` extra (``pip install 'farmorm[migrations]'``).
"""

from __future__ import annotations

import re
from typing import Any, Callable

import sqlalchemy as sa
from sqlalchemy.dialects import mysql as my
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.types import TypeEngine

from farmorm.schema.manifest import FieldMeta, ModelMeta, Schema
from farmorm_drivers._sql.ddl import column_sql

from .sql import ddl_hooks

#: dialect names accepted by ``to_sqlalchemy_metadata`` -> farmorm's dialect name
DIALECTS = {
    "sqlite": "sqlite",
    "postgres": "postgres",
    "postgresql": "postgres",
    "mysql": "mysql",
    "mariadb": "mysql",
}
#: farmorm dialect -> the SQLAlchemy dialect names a type variant is registered under
_SA_NAMES = {"postgres": ("postgresql",), "mysql": ("mysql", "mariadb"), "sqlite": ("sqlite",)}


def mysql_collation(mariadb: bool) -> str:
    """The binary NO PAD collation farmorm gives MySQL text (see ``farmorm_drivers.mysql.dialect``)."""
    return "utf8mb4_nopad_bin" if mariadb else "utf8mb4_0900_bin"


def _indexed(model: ModelMeta) -> set[str]:
    cols: set[str] = set()
    for c in (*model.uniques, *model.indexes):
        cols.update(c.fields)
    return cols


def _is_increment(f: FieldMeta) -> bool:
    return f.kind == "id" and f.id_type == "integer" and f.generated == "increment"


#: the type text farmorm's DDL writes -> the SQLAlchemy type that reflects the same way
_TYPES: dict[tuple[str, str], Any] = {
    ("postgres", "text"): sa.Text, ("postgres", "integer"): sa.Integer, ("postgres", "bigint"): sa.BigInteger,
    ("postgres", "boolean"): sa.Boolean, ("postgres", "jsonb"): pg.JSONB,
    ("postgres", "numeric(65,30)"): lambda: sa.Numeric(65, 30),
    ("postgres", "timestamptz"): lambda: pg.TIMESTAMP(timezone=True),
    ("sqlite", "text"): sa.Text, ("sqlite", "integer"): sa.Integer,
    ("mysql", "int"): my.INTEGER, ("mysql", "bigint"): my.BIGINT, ("mysql", "json"): my.JSON,
    ("mysql", "tinyint(1)"): lambda: my.TINYINT(display_width=1),
    ("mysql", "decimal(65,30)"): lambda: my.DECIMAL(65, 30), ("mysql", "datetime(6)"): lambda: my.DATETIME(fsp=6),
}
_TYPE_TEXT = re.compile(r"ENUM\((?:'(?:[^']|'')*'(?:, )?)*\)|[A-Za-z]+(?:\([^)]*\))?")
_COLLATE = re.compile(r"\bCOLLATE (\S+)")
_VARCHAR = re.compile(r"varchar\((\d+)\)")
_NUMERIC = re.compile(r"(numeric|decimal)\((\d+),(\d+)\)")


def _column_type(schema: Schema, model: ModelMeta, f: FieldMeta, dialect: str, mariadb: bool) -> TypeEngine[Any]:
    """The column type ``push_schema`` gives ``f`` on ``dialect``, read off the DDL it runs."""
    hooks = ddl_hooks(schema, dialect, mariadb)  # farmorm's own: default literals as push writes them
    line = column_sql(hooks, model, f, _indexed(model))[len(hooks.dialect.quote(f.column)):].strip()
    match = _TYPE_TEXT.match(line)
    text = match.group(0) if match else ""
    collate = _COLLATE.search(line)
    if text.upper().startswith("ENUM("):
        return my.ENUM(*(f.enum_values or ()))
    key = re.sub(r"\s+", "", text.lower())
    varchar = _VARCHAR.fullmatch(key)
    if dialect == "mysql" and (key == "text" or varchar):
        coll = collate.group(1) if collate else None
        return my.TEXT(collation=coll) if varchar is None else my.VARCHAR(int(varchar.group(1)), collation=coll)
    if dialect == "postgres" and varchar:
        return sa.String(int(varchar.group(1)))
    numeric = _NUMERIC.fullmatch(key)
    if numeric and dialect in ("postgres", "mysql"):
        digits = int(numeric.group(2)), int(numeric.group(3))
        return sa.Numeric(*digits) if dialect == "postgres" else my.DECIMAL(*digits)
    factory = _TYPES.get((dialect, key))
    if factory is None:
        raise ValueError(f'No SQLAlchemy type for the {dialect} column type "{text}" of "{model.name}.{f.name}".')
    made: TypeEngine[Any] = factory()
    return made


def _generic_type(f: FieldMeta) -> TypeEngine[Any]:
    """The portable base type a variant set hangs on (used for unknown dialects)."""
    if (f.is_id and f.value_kind == "integer") or f.column_kind == "bigint":
        return sa.BigInteger()
    makers: dict[str, Callable[[], TypeEngine[Any]]] = {
        "string": (lambda: sa.String(f.max_length)) if f.max_length else sa.Text, "enum": sa.Text, "integer": sa.Integer, "bigint": sa.BigInteger,
        "boolean": sa.Boolean, "json": sa.JSON, "datetime": lambda: sa.DateTime(timezone=True),
        "decimal": lambda: sa.Numeric(f.precision or 65, 30 if f.precision is None else f.scale),
    }
    return makers[f.value_kind]()


def _build_type(schema: Schema, model: ModelMeta, f: FieldMeta, dialect: str | None, mariadb: bool) -> TypeEngine[Any]:
    if dialect is not None:
        return _column_type(schema, model, f, dialect, mariadb)
    typ = _generic_type(f)
    for name, sa_names in _SA_NAMES.items():
        typ = typ.with_variant(_column_type(schema, model, f, name, mariadb), *sa_names)
    return typ


def _server_default(hooks: Any, f: FieldMeta) -> Any:
    if _is_increment(f):
        return None
    lit = hooks.literal(f)
    return sa.text(lit) if lit is not None else None


def _column(schema: Schema, model: ModelMeta, f: FieldMeta, dialect: str | None, hooks: Any, mariadb: bool) -> sa.Column[Any]:
    args: list[Any] = []
    if f.references and schema.foreign_keys:  # foreign_keys=False: migrations create no FOREIGN KEY
        target = schema.models[f.references[0]]
        prefix = f"{target.schema}." if target.schema else ""
        args.append(sa.ForeignKey(
            f"{prefix}{target.table}.{target.fields[f.references[1]].column}",
            ondelete=f.on_delete.upper() if f.on_delete else None,
            onupdate=f.on_update.upper() if f.on_update else None,
        ))
    kwargs: dict[str, Any] = {
        "primary_key": f.is_id,
        "nullable": f.nullable and not f.is_id,
        "server_default": _server_default(hooks, f),
    }
    if _is_increment(f):
        kwargs["autoincrement"] = True
        # SQLite's INTEGER PRIMARY KEY AUTOINCREMENT carries no NOT NULL (it is the rowid)
        kwargs["nullable"] = dialect == "sqlite"
        if dialect in (None, "postgres"):
            args.append(sa.Identity())
    elif f.is_id:
        kwargs["autoincrement"] = False
    return sa.Column(f.column, _build_type(schema, model, f, dialect, mariadb), *args, **kwargs)


def _enum_check(f: FieldMeta, dialect: str | None) -> sa.CheckConstraint | None:
    """The CHECK push adds for an enum on PostgreSQL and SQLite (MySQL uses an ENUM type)."""
    if f.kind != "enum" or dialect == "mysql":
        return None
    check = sa.CheckConstraint(sa.column(f.column).in_(list(f.enum_values or ())))
    if dialect is None:
        check = check.ddl_if(dialect=("postgresql", "sqlite"))  # type: ignore[arg-type]
    return check


def _table(md: sa.MetaData, schema: Schema, model: ModelMeta, dialect: str | None, mariadb: bool) -> sa.Table:
    hooks = ddl_hooks(schema, dialect or "postgres", mariadb)
    items: list[Any] = [_column(schema, model, f, dialect, hooks, mariadb) for f in model.fields.values()]
    items.extend(c for c in (_enum_check(f, dialect) for f in model.fields.values()) if c is not None)
    keys = (*model.field_uniques, *model.uniques)
    if dialect == "sqlite":  # push creates them as named unique indexes there (see DdlHooks.unique_as_index)
        items.extend(sa.Index(c.name, *c.columns, unique=True) for c in keys)
    else:
        items.extend(sa.UniqueConstraint(*c.columns, name=c.name) for c in keys)
    items.extend(sa.Index(c.name, *c.columns) for c in (*model.indexes, *model.foreign_key_indexes))
    kwargs: dict[str, Any] = {}
    if dialect in (None, "mysql"):
        kwargs.update(mysql_engine="InnoDB", mysql_charset="utf8mb4", mysql_collate=mysql_collation(mariadb))
    if dialect in (None, "sqlite") and any(_is_increment(f) for f in model.fields.values()):
        kwargs["sqlite_autoincrement"] = True
    return sa.Table(model.table, md, *items, schema=model.schema, **kwargs)


def to_sqlalchemy_metadata(schema: Schema, *, dialect: str | None = None, mariadb: bool = True,
                           metadata: sa.MetaData | None = None) -> sa.MetaData:
    """A ``MetaData`` describing exactly the tables, keys and indexes ``push_schema`` creates.

    ``dialect`` ("postgres", "mysql"/"mariadb", "sqlite") gives that dialect's exact types and
    default literals; without it types carry one variant per dialect and defaults are PostgreSQL's.
    ``mariadb`` picks MariaDB's or MySQL 8's binary collation for MySQL text columns.
    """
    if not isinstance(schema, Schema):
        raise TypeError("to_sqlalchemy_metadata() expects a schema made by define_schema().")
    key = DIALECTS.get(dialect) if dialect is not None else None
    if dialect is not None and key is None:
        raise ValueError(f'Unknown dialect "{dialect}". Expected one of: postgres, mysql, sqlite.')
    if dialect == "mariadb":
        mariadb = True
    if key in ("mysql", "sqlite"):
        for m in schema.models.values():
            if m.schema:
                raise ValueError(
                    f'to_sqlalchemy_metadata(dialect="{dialect}") does not support schema-qualified '
                    f'tables (model "{m.name}"). Use PostgreSQL for table_name(..., schema=...).'
                )
    md = metadata if metadata is not None else sa.MetaData()
    done: set[str] = set()

    def add(m: ModelMeta) -> None:
        # referenced tables first, like push_schema, so create_all / Alembic order matches
        if m.name in done:
            return
        done.add(m.name)
        for f in m.fields.values():
            if f.references and f.references[0] != m.name:
                add(schema.models[f.references[0]])
        _table(md, schema, m, key, mariadb)

    for m in schema.models.values():
        add(m)
    return md


def _type_source(t: TypeEngine[Any]) -> str:
    if isinstance(t, pg.JSONB):
        return "postgresql.JSONB()"
    mod = type(t).__module__
    prefix = "postgresql." if ".postgresql" in mod else "mysql." if ".mysql" in mod else "sa."
    return prefix + repr(t)


def _column_source(schema: Schema, model: ModelMeta, col: sa.Column[Any], dialect: str | None, mariadb: bool) -> str:
    f = next(f for f in model.fields.values() if f.column == col.name)
    if dialect is not None:
        typ = _type_source(_column_type(schema, model, f, dialect, mariadb))
    else:
        typ = _type_source(_generic_type(f))
        for d, names in _SA_NAMES.items():
            variant = _type_source(_column_type(schema, model, f, d, mariadb))
            if variant != typ:
                typ += f".with_variant({variant}, {', '.join(repr(n) for n in names)})"
    parts = [repr(col.name), typ]
    for fk in col.foreign_keys:
        extra = "".join(f", {k}={v!r}" for k, v in (("ondelete", fk.ondelete), ("onupdate", fk.onupdate)) if v)
        parts.append(f"sa.ForeignKey({fk.target_fullname!r}{extra})")
    if col.identity is not None:
        parts.append("sa.Identity()")
    if col.primary_key:
        parts.append("primary_key=True")
        parts.append(f"autoincrement={col.autoincrement!r}")
    parts.append(f"nullable={col.nullable!r}")
    if col.unique:
        parts.append("unique=True")
    if isinstance(col.server_default, sa.DefaultClause):
        parts.append(f"server_default=sa.text({col.server_default.arg.text!r})")  # type: ignore[union-attr]
    return f"    sa.Column({', '.join(parts)}),"


def _constraint_order(c: Any) -> tuple[int, str]:
    """Checks first (by their column), then unique keys by name: the order the text is written in."""
    if isinstance(c, sa.CheckConstraint):
        return 0, str(getattr(c.sqltext, "left", c.sqltext))
    return 1, str(c.name or "")


def render_sqlalchemy_source(schema: Schema, *, dialect: str | None = None, mariadb: bool = True) -> str:
    """Python source declaring ``metadata`` with the same tables as ``to_sqlalchemy_metadata``."""
    md = to_sqlalchemy_metadata(schema, dialect=dialect, mariadb=mariadb)
    by_table = {(m.schema, m.table): m for m in schema.models.values()}
    out = [
        '"""SQLAlchemy metadata for the farmorm schema (generated by `farmorm generate sqlalchemy`; do not edit)."""',
        "",
        "import sqlalchemy as sa",
        "from sqlalchemy.dialects import mysql, postgresql  # noqa: F401",
        "",
        "metadata = sa.MetaData()",
    ]
    for table in md.tables.values():
        model = by_table[(table.schema, table.name)]
        out += ["", f"{model.name} = sa.Table(", f"    {table.name!r},", "    metadata,"]
        out += [_column_source(schema, model, col, dialect, mariadb) for col in table.columns]
        for c in sorted(table.constraints, key=_constraint_order):  # a set: sort, so the text is stable
            if isinstance(c, sa.CheckConstraint):
                values = ", ".join(repr(v) for v in c.sqltext.right.value)
                col = c.sqltext.left.name
                cond = ".ddl_if(dialect=('postgresql', 'sqlite'))" if dialect is None else ""
                out.append(f"    sa.CheckConstraint(sa.column({col!r}).in_([{values}])){cond},")
            elif isinstance(c, sa.UniqueConstraint) and c.name:
                cols = ", ".join(repr(x.name) for x in c.columns)
                out.append(f"    sa.UniqueConstraint({cols}, name={c.name!r}),")
        for ix in sorted(table.indexes, key=lambda i: str(i.name)):
            cols = ", ".join(repr(x.name) for x in ix.columns)
            unique = ", unique=True" if ix.unique else ""
            out.append(f"    sa.Index({ix.name!r}, {cols}{unique}),")
        if table.schema:
            out.append(f"    schema={table.schema!r},")
        out.extend(f"    {k}={v!r}," for k, v in sorted(table.kwargs.items()))
        out.append(")")
    return "\n".join(out) + "\n"


__all__ = ["to_sqlalchemy_metadata", "render_sqlalchemy_source", "mysql_collation"]
