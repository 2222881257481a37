"""What a generated ``migrations/env.py`` calls: run Alembic online (async engine) or offline.

env.py stays a short, readable file the app owns; the connection handling lives here so a farmorm
upgrade fixes it for every project. ``build_metadata(dialect_name, mariadb)`` is env.py's own
function that turns the config's schemas into ``to_sqlalchemy_metadata``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Callable

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from farmorm.config import load_config
from farmorm.schema.manifest import Schema, merge_schemas

from .compare import context_options
from .urls import resolve_url, sqlalchemy_url, url_dialect

BuildMetadata = Callable[[str, bool], sa.MetaData]


def farmorm_config(alembic_config: Any) -> dict[str, Any]:
    """The farmorm config env.py works from: the CLI passes its path, else alembic.ini names it."""
    path = alembic_config.attributes.get("farmorm_config_path")
    if path is None:
        name = alembic_config.get_main_option("farmorm_config") or "farmorm_config.py"
        base = Path(alembic_config.config_file_name or ".").resolve().parent
        path = base / name
    return load_config(path)


def config_schema(config: dict[str, Any]) -> Schema:
    """The config's schemas merged into one."""
    return merge_schemas(*config.get("schemas") or [])


def database_url(alembic_config: Any, config: dict[str, Any]) -> str:
    """The URL to migrate: the CLI's choice, else ``$DATABASE_URL``, else the config's."""
    return alembic_config.attributes.get("farmorm_url") or resolve_url(None, config)


def run_migrations(context: Any, url: str, schema: Schema, build_metadata: BuildMetadata) -> None:
    """Run the pending Alembic operation against ``url`` with metadata built for its dialect."""
    names: set[str | None] = {None, *(m.schema for m in schema.models.values() if m.schema)}
    attributes = context.config.attributes

    def options(dialect_name: str) -> dict[str, Any]:
        opts = context_options(names, dialect_name)
        for hook in ("on_version_apply", "process_revision_directives"):  # set by farmorm's commands
            if attributes.get(hook) is not None:
                opts[hook] = attributes[hook]
        return opts

    if context.is_offline_mode():
        dialect = url_dialect(url)
        context.configure(
            url=sqlalchemy_url(url), target_metadata=build_metadata(dialect, True),
            literal_binds=True, dialect_opts={"paramstyle": "named"}, **options(dialect),
        )
        with context.begin_transaction():
            context.run_migrations()
        return

    def do_run(connection: sa.Connection) -> None:
        mariadb = bool(getattr(connection.dialect, "is_mariadb", False))
        metadata = build_metadata(connection.dialect.name, mariadb)
        opts = options(connection.dialect.name)
        if connection.dialect.name == "sqlite":
            opts["transactional_ddl"] = True  # with transactional_sqlite_ddl: all or nothing
        context.configure(connection=connection, target_metadata=metadata, **opts)
        with context.begin_transaction():
            context.run_migrations()

    async def run_async() -> None:
        engine = create_async_engine(sqlalchemy_url(url), poolclass=sa.NullPool)
        if engine.dialect.name == "sqlite":
            transactional_sqlite_ddl(engine.sync_engine)
        try:
            async with engine.connect() as connection:
                await connection.run_sync(do_run)
                await connection.commit()
        finally:
            await engine.dispose()

    asyncio.run(run_async())


def transactional_sqlite_ddl(engine: sa.Engine) -> None:
    """SQLite DDL is transactional, but the sqlite3 module commits before it unless told not to:
    take BEGIN over from it (SQLAlchemy's documented recipe), so a failed migration step rolls the
    earlier steps back (RELIABILITY.md T29) instead of leaving them applied."""

    @sa.event.listens_for(engine, "connect")
    def _no_implicit_begin(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @sa.event.listens_for(engine, "begin")
    def _begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


__all__ = ["farmorm_config", "config_schema", "database_url", "run_migrations", "transactional_sqlite_ddl"]
