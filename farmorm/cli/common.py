"""Shared pieces of the ``farmorm`` command: consoles, config loading, URLs, progress, exits."""

from __future__ import annotations

import asyncio
import traceback
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Coroutine, Iterator, NoReturn, TypeVar

import msgspec
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from farmorm import create_orm, define_schema, model
from farmorm import fields
from farmorm.config import ConfigError, load_config
from farmorm.core.errors import SchemaError
from farmorm.migrations.urls import UrlError, resolve_url
from farmorm.schema.manifest import Schema, merge_schemas

from .errors import EXIT_FAILED, EXTRAS, CliError

T = TypeVar("T")

#: plain output: exact messages must not be wrapped, highlighted or read as markup
out = Console(soft_wrap=True, highlight=False, markup=False)
err = Console(stderr=True, soft_wrap=True, highlight=False, markup=False)

DEFAULT_CONFIG = "farmorm_config.py"
ConfigOption = typer.Option(DEFAULT_CONFIG, "-c", "--config", help="Path of the config file.")
UrlOption = typer.Option(None, "--url", help="Database URL (else $DATABASE_URL, else the config's database_url).")


def fail(message: str, category: str = "FAILED", hint: str | None = None, code: int = EXIT_FAILED) -> NoReturn:
    """Stop the command: ``error [category]: message`` (and ``hint: ...``) on stderr, exit ``code``."""
    raise CliError(message, code=category, hint=hint, exit_code=code)


def config_at(path: str) -> dict[str, Any]:
    """Load the config file or exit with its error (the file is user code: any exception is its error)."""
    try:
        return load_config(path)
    except ConfigError as exc:
        fail(str(exc), "CONFIG_ERROR", "Pass the config file with -c PATH, or run in its folder.")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] in EXTRAS:
            raise
        fail(f"The config file {path} failed to load: {exc}", "CONFIG_ERROR",
             "Is the app's package importable from the config's folder?")
    except Exception as exc:  # noqa: BLE001 - the config file is the project's code
        where = _user_frame(exc)
        fail(f"The config file {path} failed to load: {type(exc).__name__}: {exc}{where}", "CONFIG_ERROR")


def _user_frame(exc: BaseException) -> str:
    """`` (file:line)`` of the innermost frame outside farmorm, for errors raised by project code."""
    package = str(Path(__file__).resolve().parents[1])  # farmorm/
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith(package)
              and "/importlib/" not in f.filename and not f.filename.startswith("<frozen")]
    if isinstance(exc, SyntaxError) and exc.filename:
        return f" ({exc.filename}:{exc.lineno})"
    return f" ({frames[-1].filename}:{frames[-1].lineno})" if frames else ""


def schema_of(config: dict[str, Any]) -> Schema:
    """The config's schemas merged; exits on no schemas or a duplicate model."""
    schemas = list(config.get("schemas") or [])
    if not schemas:
        fail(f"No schemas found in {config['path']}", "CONFIG_ERROR",
             "Pass define_config(schemas=[schema, ...]) in the config file.")
    try:
        return merge_schemas(*schemas)
    except SchemaError as exc:
        fail(str(exc), "SCHEMA_ERROR")


def url_for(flag: str | None, config: dict[str, Any] | None) -> str:
    """The database URL from --url, $DATABASE_URL or the config; exits when there is none."""
    try:
        return resolve_url(flag, config)
    except UrlError as exc:
        fail(str(exc), "URL_ERROR")


async def probe(url: str) -> dict[str, Any]:
    """Connect once with farmorm's own driver and return its capabilities: an unreachable server or a
    missing database fails here with its ``OrmError`` code, before a longer tool (Alembic) starts."""
    schema = define_schema(probe=model(table="farmorm_cli_probe", fields={"id": fields.id()}))
    orm = await create_orm(schema, url)
    try:
        caps: dict[str, Any] = msgspec.to_builtins(orm.driver.capabilities)
        return caps
    finally:
        await orm.close()


def check_database(url: str) -> None:
    """``probe(url)`` before a migration command; a URL no farmorm driver takes (a SQLAlchemy URL
    such as ``postgresql+psycopg://``) is left for Alembic to report."""
    try:
        run(probe(url))
    except ValueError:
        pass


def relative(config: dict[str, Any], path: str | Path) -> Path:
    """``path`` resolved against the config file's folder."""
    p = Path(path).expanduser()
    return (p if p.is_absolute() else Path(config["root"]) / p).resolve()


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from a synchronous command."""
    return asyncio.run(coro)


@contextmanager
def progress() -> Iterator[Progress]:
    """A rich progress display (spinner, description, bar, elapsed time) on stderr; erased on failure,
    so a failing command leaves only its error."""
    bar = Progress(
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(), console=Console(stderr=True), transient=False,
    )
    with bar:
        try:
            yield bar
        except BaseException:
            bar.live.transient = True
            raise


__all__ = ["out", "err", "fail", "probe", "check_database", "config_at", "schema_of", "url_for", "relative", "run",
           "progress", "ConfigOption", "UrlOption", "DEFAULT_CONFIG"]
