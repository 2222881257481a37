"""Shared pieces of the ``farmorm`` command: consoles, config loading, URLs, progress, exits."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Coroutine, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from farmorm.config import ConfigError, load_config
from farmorm.core.errors import SchemaError
from farmorm.migrations.urls import UrlError, resolve_url
from farmorm.schema.manifest import Schema, merge_schemas

T = TypeVar("T")

#: plain output: exact messages must not be wrapped, highlighted or read as markup
out = Console(soft_wrap=True, highlight=False, markup=False)
err = Console(stderr=True, soft_wrap=True, highlight=False, markup=False)

DEFAULT_CONFIG = "farmorm_config.py"
ConfigOption = typer.Option(DEFAULT_CONFIG, "-c", "--config", help="Path of the config file.")
UrlOption = typer.Option(None, "--url", help="Database URL (else $DATABASE_URL, else the config's database_url).")


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``message`` to stderr and exit with ``code``."""
    err.print(message)
    raise typer.Exit(code)


def config_at(path: str) -> dict[str, Any]:
    """Load the config file or exit with its error."""
    try:
        return load_config(path)
    except ConfigError as exc:
        fail(str(exc))


def schema_of(config: dict[str, Any]) -> Schema:
    """The config's schemas merged; exits on no schemas or a duplicate model."""
    schemas = list(config.get("schemas") or [])
    if not schemas:
        fail(f"No schemas found in {config['path']}")
    try:
        return merge_schemas(*schemas)
    except SchemaError as exc:
        fail(str(exc))


def url_for(flag: str | None, config: dict[str, Any] | None) -> str:
    """The database URL from --url, $DATABASE_URL or the config; exits when there is none."""
    try:
        return resolve_url(flag, config)
    except UrlError as exc:
        fail(str(exc))


def relative(config: dict[str, Any], path: str | Path) -> Path:
    """``path`` resolved against the config file's folder."""
    p = Path(path).expanduser()
    return (p if p.is_absolute() else Path(config["root"]) / p).resolve()


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from a synchronous command."""
    return asyncio.run(coro)


def progress() -> Progress:
    """A rich progress display (spinner, description, bar, elapsed time) on stderr."""
    return Progress(
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(), console=Console(stderr=True), transient=False,
    )


__all__ = ["out", "err", "fail", "config_at", "schema_of", "url_for", "relative", "run", "progress",
           "ConfigOption", "UrlOption", "DEFAULT_CONFIG"]
