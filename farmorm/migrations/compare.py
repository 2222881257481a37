"""Schema-vs-database comparison on Alembic's ``compare_metadata``: the options every farmorm
migration context uses, and ``db doctor``'s drift report in plain words."""

from __future__ import annotations

import decimal
from typing import Any

import sqlalchemy as sa

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
        "compare_type": True,
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


def _describe_one(d: tuple[Any, ...]) -> str:
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
        return f"type mismatch on {_table(d[1], d[2])}.{d[3]}: database has {d[5]}, schema wants {d[6]}"
    if op == "modify_nullable":
        want = "NULL" if d[6] else "NOT NULL"
        return f"nullability mismatch on {_table(d[1], d[2])}.{d[3]}: schema wants {want}"
    if op == "modify_default":
        def text(v: Any) -> str:
            return "none" if v is None else str(getattr(v, "arg", v))
        return f"default mismatch on {_table(d[1], d[2])}.{d[3]}: database has {text(d[5])}, schema wants {text(d[6])}"
    return f"{op}: {d[1:]}"


def describe(diffs: list[Any]) -> list[str]:
    """One line per difference Alembic found (modify_* groups are flattened)."""
    out: list[str] = []
    for d in diffs:
        for item in d if isinstance(d, list) else [d]:
            if item[0] in ("modify_comment", "add_table_comment", "remove_table_comment"):
                continue  # farmorm writes no comments
            out.append(_describe_one(item))
    return out


async def diff_database(schema: Schema, url: str) -> list[str]:
    """Drift between ``schema`` and the live database at ``url``, described line by line."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy.ext.asyncio import create_async_engine

    url_dialect(url)
    engine = create_async_engine(sqlalchemy_url(url))
    names: set[str | None] = {None, *(m.schema for m in schema.models.values() if m.schema)}

    def run(conn: sa.Connection) -> list[Any]:
        md = metadata_for(schema, conn.dialect.name, bool(getattr(conn.dialect, "is_mariadb", False)))
        ctx = MigrationContext.configure(conn, opts=context_options(names, conn.dialect.name))
        diffs: list[Any] = compare_metadata(ctx, md)
        return diffs

    try:
        async with engine.connect() as conn:
            diffs = await conn.run_sync(run)
    finally:
        await engine.dispose()
    return describe(diffs)



__all__ = ["compare_server_default", "context_options", "metadata_for", "describe", "diff_database"]
