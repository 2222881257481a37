"""``farmorm db ...``: Alembic migrations (init, generate, migrate, downgrade), seed, reset, doctor.

Alembic and SQLAlchemy are optional (the ``migrations`` extra): the commands import
``farmorm.migrations.commands`` / ``safety`` / ``compare`` and SQLAlchemy inside their bodies, so
``farmorm --help``, ``db seed`` and ``db migrate`` on MongoDB work without them.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Optional

import typer

from farmorm.core.errors import OrmError
from farmorm.features.factories import Seed, SeedRegistry, define_seed
from farmorm.migrations.scaffold import init_migrations
from farmorm.migrations.urls import UrlError, is_local, redact, resolve_url, sqlalchemy_url, url_dialect
from farmorm.runtime import engine_of
from farmorm.runtime.orm import create_orm

from .common import (ConfigOption, UrlOption, check_database, config_at, err, fail, out, progress, run, schema_of,
                     url_for)
from .errors import EXIT_DATABASE, EXIT_USER_CODE, CliError, explain
from .runtime import push_with_progress

db_app = typer.Typer(
    help="Migrations on Alembic, seeding, reset and drift checks. Example: farmorm db migrate",
    no_args_is_help=True,
)


@db_app.callback()
def _db(ctx: typer.Context) -> None:
    """Migrations on Alembic, seeding, reset and drift checks. Example: farmorm db migrate"""
    ctx.meta["farmorm.command"] = f"db {ctx.invoked_subcommand}"


def _alembic(cfg: dict[str, Any], url: str, *, connect: bool = True) -> Any:
    """The Alembic config for the project, after checking that the URL is one migrations drive and
    (``connect``) that the database answers: a missing database fails with MISSING_SCHEMA, not
    with a SQLAlchemy traceback."""
    try:
        url_dialect(url)
    except UrlError as exc:
        fail(str(exc), "URL_ERROR", "On MongoDB, `farmorm db migrate` syncs indexes; the other db commands are SQL-only.")
    from farmorm.migrations.commands import MigrationsNotInitialized, alembic_config

    try:
        acfg = alembic_config(cfg, url)
    except MigrationsNotInitialized as exc:
        fail(str(exc), "NOT_INITIALIZED", "Run `farmorm db init` in the config's folder.")
    if connect:
        check_database(url)
    return acfg


@db_app.command("init")
def init(config: str = ConfigOption,
         directory: str = typer.Option("migrations", "--dir", help="Folder for env.py and versions/.")) -> None:
    """Create the migrations folder, alembic.ini and an env.py built on the config's schemas.

    Example: farmorm db init -c farmorm_config.py
    """
    cfg = config_at(config)
    written = init_migrations(cfg["root"], cfg["path"], directory)
    for path in written:
        out.print(f"Created {path}")
    if not written:
        out.print("Migrations are already initialized.")


@db_app.command("generate")
def generate(message: str = typer.Option(..., "-m", "--message", help="Revision message."),
             config: str = ConfigOption, url: Optional[str] = UrlOption,
             rename: Optional[list[str]] = typer.Option(
                 None, "--rename", help="TABLE.OLD:NEW: a renamed column, altered in place instead of drop + add (repeatable)."),
             allow_data_loss: bool = typer.Option(
                 False, "--allow-data-loss", help="Write the revision even when it drops a table or column holding data."),
             allow_empty: bool = typer.Option(
                 False, "--allow-empty", help="Write a revision even when the schema has no changes (for a data migration).")) -> None:
    """Autogenerate a revision from the schema's difference with the live database, checked for safety.

    Refused (nothing written, exit 1): dropping a table or column that holds data (unless
    --allow-data-loss), a required column without a default on a table with rows, no changes at all
    (unless --allow-empty). Example: farmorm db generate -m "add user bio"
    Example: farmorm db generate -m "rename name" --rename users.name:full_name
    """
    from farmorm.migrations.commands import revision
    from farmorm.migrations.safety import Rename, RenameError

    cfg = config_at(config)
    schema_of(cfg)
    try:
        renames = [Rename.parse(r) for r in rename or []]
        paths, found = revision(_alembic(cfg, url_for(url, cfg)), message, renames=renames,
                                allow_data_loss=allow_data_loss, allow_empty=allow_empty)
    except RenameError as exc:
        fail(str(exc), "RENAME_ERROR", "`farmorm db doctor` lists the columns the schema adds and the database has extra.")
    for line in found.renamed:
        out.print(f"Renames column {line}")
    for line in found.warnings:
        err.print(f"warning: {line}")
    if found.refusals:
        listed = "No revision written:" + "".join(f"\n  - {r}" for r in found.refusals)
        if found.empty and len(found.refusals) == 1:
            fail(listed, "NO_CHANGES", "Pass --allow-empty for an empty revision.")
        fail(listed, "UNSAFE_MIGRATION", "Change the schema as the message says"
             + (", or pass --allow-data-loss if losing that data is intended." if found.data_loss else "."))
    for path in paths:
        out.print(f"Generated migration at {path}")
    if found.warnings:
        out.print("Review the revision before you apply it.")


def _step(direction: str, target: str, config: str, url: Optional[str]) -> None:
    from farmorm.migrations import commands

    cfg = config_at(config)
    schema_of(cfg)
    acfg = _alembic(cfg, url_for(url, cfg))
    if direction == "up":
        total = commands.pending(acfg, commands.current_revision(acfg), target if target != "head" else "heads")
        if total == 0:
            out.print("Database is up to date.")
            return
    else:
        total = 1 if target == "-1" else 0
    applied: list[str] = []
    with progress() as bar:
        task = bar.add_task("Migrating" if direction == "up" else "Downgrading", total=total or None)

        def on_step(rev: str) -> None:
            applied.append(rev)
            bar.advance(task)

        (commands.upgrade if direction == "up" else commands.downgrade)(acfg, target, on_step)
    verb = "Applied" if direction == "up" else "Reverted"
    out.print(f"{verb} {len(applied)} migration{'s' if len(applied) != 1 else ''}.")


def _is_mongo(url: str) -> bool:
    return url.split(":", 1)[0].lower() in ("mongodb", "mongodb+srv", "mongomock")


async def _sync_mongo_indexes(schema: Any, url: str, prune: bool) -> dict[str, list[str]]:
    orm = await create_orm(schema, url)
    try:
        return await engine_of(orm).driver.sync_indexes(schema, prune=prune)  # type: ignore[attr-defined,no-any-return]
    finally:
        await orm.close()


@db_app.command("migrate")
def migrate(config: str = ConfigOption, url: Optional[str] = UrlOption,
            to: str = typer.Option("head", "--to", help="Target revision."),
            prune: bool = typer.Option(False, "--prune", help="MongoDB: drop indexes the schema does not declare.")) -> None:
    """Apply pending migrations (upgrade to head). On MongoDB: sync collections and indexes.

    Example: farmorm db migrate --url sqlite:///app.db
    Example: farmorm db migrate --url mongodb://localhost:27017/app --prune
    """
    cfg = config_at(config)
    schema = schema_of(cfg)
    target_url = url_for(url, cfg)
    if _is_mongo(target_url):
        report = run(_sync_mongo_indexes(schema, target_url, prune))
        for name in report["created"]:
            out.print(f"Created index {name}")
        for name in report["extra"]:
            verb = "Dropped" if name in report["dropped"] else "Extra index (use --prune to drop)"
            out.print(f"{verb} {name}" if verb == "Dropped" else f"{verb}: {name}")
        if not report["created"] and not report["extra"]:
            out.print("Indexes are in sync.")
        return
    _step("up", to, config, url)


@db_app.command("downgrade")
def downgrade(config: str = ConfigOption, url: Optional[str] = UrlOption,
              to: str = typer.Option("-1", "--to", help="Target revision (default: one step back).")) -> None:
    """Step back one migration (or to --to).

    Example: farmorm db downgrade
    """
    _step("down", to, config, url)


@db_app.command("seed")
def seed(config: str = ConfigOption, url: Optional[str] = UrlOption,
         only: Optional[list[str]] = typer.Option(
             None, "--only", help="Run only these seeds (repeat the option or separate names with commas).")) -> None:
    """Run the config's seeds (``define_seed`` / ``seeds=``) and its ``seed(orm)`` coroutine, in order.

    Each seed runs in its own transaction. The config's ``seed(orm)`` counts as a seed named "seed".
    Example: farmorm db seed --url sqlite:///app.db
    Example: farmorm db seed --only users,posts
    """
    cfg = config_at(config)
    schema = schema_of(cfg)
    fn = cfg.get("seed")
    try:
        registry = SeedRegistry(cfg.get("seeds") or ())
        if callable(fn) and not isinstance(fn, Seed) and "seed" not in registry.names:
            registry.add(define_seed("seed", run=fn))
        names = [n.strip() for item in (only or []) for n in item.split(",") if n.strip()]
        chosen = registry.select(names)
    except OrmError as exc:
        fail(f"{exc.message} ({cfg['path']})", exc.code)
    if not registry.names:
        fail(f"No seed function or seeds in {cfg['path']}: define `async def seed(orm)` or seeds with "
             "define_seed(...), or pass seed= / seeds=[...] to define_config.", "CONFIG_ERROR")
    target = url_for(url, cfg)

    async def go() -> None:
        orm = await create_orm(schema, target)
        done: list[str] = []

        def finished(s: Seed) -> None:
            done.append(s.name)
            bar.advance(task)

        try:
            with progress() as bar:
                task = bar.add_task("Seeding", total=len(chosen))
                await registry.run(orm, [s.name for s in chosen], on_done=finished)
        except Exception as exc:  # noqa: BLE001 - the seed is the project's code: report which one failed
            failing = chosen[len(done)].name if len(done) < len(chosen) else "?"
            cause = explain(exc, "db seed")
            if cause.exit_code == EXIT_DATABASE and cause.code in ("CONNECTION_ERROR", "MISSING_SCHEMA", "MISSING_TABLE"):
                raise
            code = cause.code if isinstance(exc, OrmError) else "SEED_FAILED"
            detail = cause.message if isinstance(exc, OrmError) else f"{type(exc).__name__}: {exc}"
            raise CliError(f'Seed "{failing}" failed, its transaction was rolled back: {detail}', code=code,
                           hint=f"Seeds done before it stay committed: {', '.join(done) or 'none'}.",
                           exit_code=EXIT_USER_CODE) from exc
        finally:
            await orm.close()

    run(go())
    if list(registry.names) == ["seed"]:
        out.print("Seeded the database.")
    else:
        out.print(f"Seeded the database: {', '.join(s.name for s in chosen)}.")


async def _drop_everything(schema: Any, url: str) -> int:
    import sqlalchemy as sa
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(sqlalchemy_url(url), poolclass=sa.NullPool)
    names = [None, *sorted({m.schema for m in schema.models.values() if m.schema})]

    def drop(conn: sa.Connection) -> int:
        md = sa.MetaData()
        for ns in names:
            if ns is None or sa.inspect(conn).has_schema(ns):
                md.reflect(conn, schema=ns)
        md.drop_all(conn)
        return len(md.tables)

    try:
        async with engine.begin() as conn:
            return await conn.run_sync(drop)
    finally:
        await engine.dispose()


@db_app.command("reset")
def reset(config: str = ConfigOption, url: Optional[str] = UrlOption,
          yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation.")) -> None:
    """Drop every table and push the schema again (local databases only).

    Example: farmorm db reset --yes --url sqlite:///dev.db
    Refuses a non-local URL unless FARMORM_ALLOW_DATABASE_RESET=true.
    """
    cfg = config_at(config)
    schema = schema_of(cfg)
    target = url_for(url, cfg)
    if not is_local(target) and os.environ.get("FARMORM_ALLOW_DATABASE_RESET", "").lower() != "true":
        fail(f"Refusing to reset non-local database {redact(target)}. "
             "Set FARMORM_ALLOW_DATABASE_RESET=true to allow it.", "REFUSED")
    if not yes:
        if not sys.stdin.isatty():
            fail("db reset drops every table: pass --yes to confirm.", "REFUSED")
        typer.confirm(f"Drop every table in {redact(target)}?", abort=True)
    dropped = run(_drop_everything(schema, target))
    run(push_with_progress(schema, target, "Re-pushing"))
    stamped = ""
    if (cfg["root"] / "alembic.ini").is_file():
        from farmorm.migrations import commands

        acfg = _alembic(cfg, target)
        if commands.has_revisions(acfg):
            commands.stamp(acfg, "heads")
            stamped = " and stamped the latest migration"
    out.print(f"Reset {redact(target)}: dropped {dropped} tables, pushed {len(schema.models)} models{stamped}.")


@db_app.command("current")
def current(config: str = ConfigOption, url: Optional[str] = UrlOption) -> None:
    """Print the revision the database is at, and whether it is the newest.

    Example: farmorm db current --url sqlite:///app.db
    """
    from farmorm.migrations import commands

    cfg = config_at(config)
    acfg = _alembic(cfg, url_for(url, cfg))
    rev = commands.current_revision(acfg)
    newest = commands.heads(acfg)
    if rev is None:
        out.print("The database has no revision (never migrated or stamped)."
                  + (f" Newest: {', '.join(newest)}." if newest else ""))
    elif rev in newest:
        out.print(f"{rev} (head): the database is up to date.")
    else:
        pending = commands.pending(acfg, rev, "heads")
        out.print(f"{rev}: {pending} revision{'s' if pending != 1 else ''} to apply (newest {', '.join(newest)}).")


@db_app.command("history")
def history(config: str = ConfigOption, url: Optional[str] = UrlOption) -> None:
    """List the revisions, newest first; the database's current one is marked when a URL is known.

    Example: farmorm db history
    """
    from farmorm.migrations import commands

    cfg = config_at(config)
    try:
        target: str | None = resolve_url(url, cfg)
    except UrlError:
        target = None
    acfg = _alembic(cfg, target or "sqlite://", connect=target is not None)
    rev = commands.current_revision(acfg) if target else None
    scripts = commands.history(acfg)
    if not scripts:
        out.print("No revisions yet: `farmorm db generate -m MESSAGE` writes the first.")
    for script in scripts:
        marks = [m for m, on in (("head", script.is_head), ("current", script.revision == rev)) if on]
        tag = f" ({', '.join(marks)})" if marks else ""
        parent = script.down_revision or "<base>"
        out.print(f"{parent} -> {script.revision}{tag}: {script.doc}")


@db_app.command("stamp")
def stamp(revision: str = typer.Argument("head", help="Revision to record: an id, head or base."),
          config: str = ConfigOption, url: Optional[str] = UrlOption) -> None:
    """Record REVISION as the database's current one without running it (adopting an existing database).

    Example: farmorm db stamp head   (the database was made by `farmorm push`)
    """
    from farmorm.migrations import commands

    cfg = config_at(config)
    acfg = _alembic(cfg, url_for(url, cfg))
    commands.stamp(acfg, revision)
    now = commands.current_revision(acfg)
    out.print(f"Stamped the database at {now or 'base'}.")


@db_app.command("doctor")
def doctor(config: str = ConfigOption, url: Optional[str] = UrlOption) -> None:
    """Report drift between the schema and the live database; exit 1 when there is any.

    Example: farmorm db doctor --url postgresql://postgres@127.0.0.1:5432/app
    """
    from farmorm.migrations.compare import diff_database

    cfg = config_at(config)
    schema = schema_of(cfg)
    target = url_for(url, cfg)
    check_database(target)
    lines = run(diff_database(schema, target))
    if not lines:
        out.print("No drift: the database matches the schema.")
        return
    out.print(f"Drift found ({len(lines)}):")
    for line in lines:
        out.print(f"  - {line}")
    raise typer.Exit(1)


__all__ = ["db_app"]
