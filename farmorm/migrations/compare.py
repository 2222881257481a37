"""Schema-vs-database comparison on Alembic's ``compare_metadata``: the options every farmorm
migration context uses, and ``db doctor``'s drift report in plain words."""

from __future__ import annotations

import decimal
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from farmorm.generators.sqlalchemy import to_sqlalchemy_metadata
from farmorm.schema.manifest import Schema

from .urls import sqlalchemy_url, url_dialect


def _normalize_default(text: str | None) -> str | None:
    if text is None:
        return None
    out = str(text).strip()
    while out.startswith("(") and out.endswith(")"):  # MySQL keeps expression defaults in parens
        out = out[1:-1].strip()
    if len(out) >= 2 and out[0] == out[-1] == "'":
        out = out[1:-1].replace("''", "'")
    return out


def compare_server_default(context: Any, inspected_column: Any, metadata_column: Any,
                           inspected_default: str | None, metadata_default: Any,
                           rendered_metadata_default: str | None) -> bool | None:
    """Treat ``('x')`` and ``'x'``, or ``0.00`` and ``0.000…`` (DECIMAL), as the same default."""
    live, wanted = _normalize_default(inspected_default), _normalize_default(rendered_metadata_default)
    if live == wanted:
        return False
    if live is not None and wanted is not None:
        try:
            if decimal.Decimal(live) == decimal.Decimal(wanted):
                return False
        except decimal.InvalidOperation:
            pass
    return None  # let Alembic's own comparison decide


def _datetime_shape(t: Any, dialect: str) -> tuple[bool, int] | None:
    """(with time zone, fractional digits) of a datetime column type; None for other types."""
    if not isinstance(t, sa.DateTime):
        return None
    tz = bool(getattr(t, "timezone", False))
    if dialect in ("mysql", "mariadb"):
        return tz, int(getattr(t, "fsp", None) or 0)  # DATETIME is DATETIME(0)
    precision = getattr(t, "precision", None)
    return tz, 6 if precision is None else int(precision)  # timestamp is timestamp(6)


def _numeric_shape(t: Any) -> tuple[int | None, int | None] | None:
    if not isinstance(t, sa.Numeric) or isinstance(t, sa.Float):
        return None
    return getattr(t, "precision", None), getattr(t, "scale", None)


def compare_type(context: Any, inspected_column: Any, metadata_column: Any,
                 inspected_type: Any, metadata_type: Any) -> bool | None:
    """Exact type comparison where Alembic's is loose: a datetime's time zone and fractional digits
    (``DATETIME`` vs ``DATETIME(6)``, ``timestamp(0)`` vs ``timestamptz``) and a decimal's digits."""
    dialect = context.dialect.name
    live, wanted = _datetime_shape(inspected_type, dialect), _datetime_shape(metadata_type, dialect)
    if live is not None and wanted is not None:
        return live != wanted
    live_n, wanted_n = _numeric_shape(inspected_type), _numeric_shape(metadata_type)
    if live_n is not None and wanted_n is not None and wanted_n[0] is not None:
        return live_n != wanted_n
    return None  # Alembic's own comparison decides


def type_text(t: Any, dialect: Any) -> str:
    """A column type as the database spells it (``TIMESTAMP(0) WITHOUT TIME ZONE``, ``DATETIME(6)``)."""
    try:
        return str(t.compile(dialect=dialect))
    except Exception:  # a reflected type the dialect cannot compile: its repr still says what it is
        return repr(t)


def context_options(schema_names: set[str | None], dialect_name: str) -> dict[str, Any]:
    """``MigrationContext`` / ``context.configure`` options shared by env.py and ``db doctor``.

    MySQL needs the lenient default comparison (it keeps ``('x')`` and pads DECIMAL defaults);
    elsewhere Alembic's own comparison is exact (and a custom one trips over identity columns).
    """
    namespaced = any(n is not None for n in schema_names)

    def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
        if type_ == "schema":
            return name in schema_names
        return True

    opts: dict[str, Any] = {
        "compare_type": compare_type,
        "compare_server_default": compare_server_default if dialect_name in ("mysql", "mariadb") else True,
    }
    if namespaced:
        opts.update(include_schemas=True, include_name=include_name)
    return opts


def metadata_for(schema: Schema, dialect_name: str, mariadb: bool) -> sa.MetaData:
    """The target metadata for a connection's dialect (SQLAlchemy or farmorm dialect name)."""
    return to_sqlalchemy_metadata(schema, dialect=dialect_name, mariadb=mariadb)


def _table(schema: str | None, name: str) -> str:
    return f"{schema}.{name}" if schema else name


def _describe_one(d: tuple[Any, ...], dialect: Any = None) -> str:
    op = d[0]
    if op in ("add_table", "remove_table"):
        t = d[1]
        return f"{'missing' if op == 'add_table' else 'extra'} table {_table(t.schema, t.name)}"
    if op in ("add_column", "remove_column"):
        return f"{'missing' if op == 'add_column' else 'extra'} column {_table(d[1], d[2])}.{d[3].name}"
    if op in ("add_index", "remove_index"):
        ix = d[1]
        cols = ", ".join(c.name for c in ix.columns) or ", ".join(str(e) for e in ix.expressions)
        return f"{'missing' if op == 'add_index' else 'extra'} index {ix.name} on {_table(ix.table.schema, ix.table.name)}({cols})"
    if op in ("add_constraint", "remove_constraint", "add_fk", "remove_fk"):
        c = d[1]
        what = "foreign key" if op.endswith("fk") else "unique constraint"
        cols = ", ".join(col.name for col in c.columns)
        name = f" {c.name}" if c.name else ""
        return f"{'missing' if op.startswith('add') else 'extra'} {what}{name} on {_table(c.table.schema, c.table.name)}({cols})"
    if op == "modify_type":
        live, wanted = (type_text(t, dialect) for t in (d[5], d[6])) if dialect is not None else (d[5], d[6])
        return f"type mismatch on {_table(d[1], d[2])}.{d[3]}: database has {live}, schema wants {wanted}"
    if op == "modify_nullable":
        want = "NULL" if d[6] else "NOT NULL"
        return f"nullability mismatch on {_table(d[1], d[2])}.{d[3]}: schema wants {want}"
    if op == "modify_default":
        def text(v: Any) -> str:
            return "none" if v is None else str(getattr(v, "arg", v))
        return f"default mismatch on {_table(d[1], d[2])}.{d[3]}: database has {text(d[5])}, schema wants {text(d[6])}"
    return f"{op}: {d[1:]}"


def describe(diffs: list[Any], dialect: Any = None) -> list[str]:
    """One line per difference Alembic found (modify_* groups are flattened); with the connection's
    ``dialect``, types are spelled as that database writes them."""
    out: list[str] = []
    for d in diffs:
        for item in d if isinstance(d, list) else [d]:
            if item[0] in ("modify_comment", "add_table_comment", "remove_table_comment"):
                continue  # farmorm writes no comments
            out.append(_describe_one(item, dialect))
    return out


_MYSQL_COLLATIONS = sa.text(
    "SELECT table_name, column_name, collation_name FROM information_schema.columns "
    "WHERE table_schema = DATABASE() AND collation_name IS NOT NULL"
)


def collation_drift(conn: sa.Connection, md: sa.MetaData) -> list[str]:
    """MySQL text columns whose collation is not the schema's (a table made from other DDL may use
    the server's case-insensitive default, so a unique key would refuse ``CASE@x.dev`` beside
    ``case@x.dev``). Reflection omits a collation equal to the table's, so read the catalog."""
    live = {(r[0], r[1]): r[2] for r in conn.execute(_MYSQL_COLLATIONS)}
    out = []
    for table in md.tables.values():
        for col in table.columns:
            wanted = getattr(col.type, "collation", None)
            have = live.get((table.name, col.name))
            if wanted and have and have != wanted:
                out.append(f"collation mismatch on {table.name}.{col.name}: database has {have}, schema wants {wanted}")
    return out


async def diff_database(schema: Schema, url: str) -> list[str]:
    """Drift between ``schema`` and the live database at ``url``, described line by line."""
    url_dialect(url)
    engine = create_async_engine(sqlalchemy_url(url))
    names: set[str | None] = {None, *(m.schema for m in schema.models.values() if m.schema)}

    def run(conn: sa.Connection) -> list[str]:
        md = metadata_for(schema, conn.dialect.name, bool(getattr(conn.dialect, "is_mariadb", False)))
        ctx = MigrationContext.configure(conn, opts=context_options(names, conn.dialect.name))
        lines = describe(compare_metadata(ctx, md), conn.dialect)
        if conn.dialect.name in ("mysql", "mariadb"):
            lines += collation_drift(conn, md)
        return lines

    try:
        async with engine.connect() as conn:
            return await conn.run_sync(run)
    finally:
        await engine.dispose()



__all__ = ["compare_server_default", "compare_type", "context_options", "metadata_for", "describe", "diff_database",
           "collation_drift", "type_text"]
