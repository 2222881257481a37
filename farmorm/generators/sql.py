"""``render_safe_sql``: the create-if-missing DDL ``push_schema`` runs, as a script to review and apply.

One source: the statements are exactly those the runtime's drivers run
(``farmorm_drivers/_sql/ddl.py`` with each dialect's hooks), each ended with ``;`` and separated
by a blank line. So a database built from the script is the database ``push_schema`` builds:
the same types (MySQL ``DATETIME(6)``, ``BIGINT`` ids and foreign keys to them, PostgreSQL
``bigint`` identities), the same binary, case-sensitive MySQL collation and ``utf8mb4`` tables,
the same constraint and index names (the manifest's), enum checks, literal defaults and
foreign-key indexes. ``tests/unit/test_generators_sql.py`` compares the two on every database.

MySQL has two collations: ``mariadb=True`` (the default) writes MariaDB's ``utf8mb4_nopad_bin``,
``mariadb=False`` MySQL 8's ``utf8mb4_0900_bin`` (``dialect="mariadb"`` is the same as
``dialect="mysql", mariadb=True``). MySQL has no ``CREATE INDEX IF NOT EXISTS``: re-running
the script fails on its ``CREATE INDEX`` statements (``push_schema`` ignores error 1061 there).

Datetime literals, callables and JSON values have no database default, as in ``push_schema``:
the runtime fills them (``default_now`` and generated ids likewise).
"""

from __future__ import annotations

from typing import Literal

from farmorm_drivers._sql.ddl import DdlHooks, schema_statements
from farmorm_drivers.mysql.dialect import ddl_hooks as my_hooks
from farmorm_drivers.postgres.dialect import ddl_hooks as pg_hooks
from farmorm_drivers.sqlite.dialect import ddl_hooks as lite_hooks

from ..core.errors import SchemaError
from ..schema.manifest import Schema

SqlDialectName = Literal["postgres", "mysql", "mariadb", "sqlite"]
DIALECTS: tuple[str, ...] = ("postgres", "mysql", "mariadb", "sqlite")


def check_dialect(dialect: str) -> None:
    """Refuse a dialect name other than ``postgres``, ``mysql`` (``mariadb``) or ``sqlite``."""
    if dialect not in DIALECTS:
        raise ValueError(
            f'render_safe_sql() dialect must be "postgres", "mysql", "mariadb" or "sqlite", got {dialect!r}.'
        )


def ddl_hooks(schema: Schema, dialect: str, mariadb: bool = True) -> DdlHooks:
    """The DDL hooks ``push_schema`` uses for ``dialect`` (the one source of both texts)."""
    if dialect == "postgres":
        return pg_hooks()
    if dialect in ("mysql", "mariadb"):
        return my_hooks(schema, mariadb or dialect == "mariadb")
    return lite_hooks()


def safe_sql_statements(schema: Schema, *, dialect: SqlDialectName, mariadb: bool = True) -> list[str]:
    """The statements of :func:`render_safe_sql`, in order, each ending with ``;``."""
    check_dialect(dialect)
    if dialect != "postgres" and any(m.schema for m in schema.models.values()):
        raise SchemaError(
            f'render_safe_sql(dialect="{dialect}") does not support schema-qualified tables '
            "in this configuration."
        )
    return [f"{stmt};" for stmt in schema_statements(ddl_hooks(schema, dialect, mariadb), schema)]


def render_safe_sql(schema: Schema, *, dialect: SqlDialectName, mariadb: bool = True) -> str:
    """Render the create-if-missing DDL ``push_schema`` runs for ``schema`` on ``dialect``."""
    return "\n\n".join(safe_sql_statements(schema, dialect=dialect, mariadb=mariadb)) + "\n"


__all__ = ["render_safe_sql", "safe_sql_statements"]
