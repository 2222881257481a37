"""``farmorm push``, ``farmorm inspect <url>`` and ``farmorm demo``."""

from __future__ import annotations

from typing import Any, Optional

import msgspec
import typer
from rich.table import Table

from farmorm.core.detect import HINT as DETECTION_HINT
from farmorm.core.detect import inspect_database_runtime
from farmorm.core.errors import OrmError
from farmorm.demo import main as demo_main
from farmorm.migrations.urls import redact
from farmorm.setup import RuntimeSetupError, push_schema

from .common import ConfigOption, UrlOption, config_at, fail, out, probe, progress, run, schema_of, url_for
from .errors import EXIT_DATABASE, EXIT_FAILED

URL_HINT = ("Use sqlite:///PATH, postgresql://USER@HOST:5432/DB, mysql://USER@HOST:3306/DB or "
            "mongodb://HOST:27017/DB, with the extra of its driver installed (pip install 'farmorm[postgres]').")


async def push_with_progress(schema: Any, url: str, label: str = "Pushing") -> None:
    """``push_schema`` with a progress bar over the models it creates."""
    with progress() as bar:
        task = bar.add_task(f"{label} {len(schema.models)} models", total=len(schema.models))
        try:
            await push_schema(schema, url)
        except RuntimeSetupError as exc:
            fail(str(exc), "SETUP_ERROR", code=EXIT_DATABASE)
        except OrmError:
            raise
        except ValueError as exc:  # no driver serves the URL
            fail(str(exc).split(" " + DETECTION_HINT, 1)[0], "URL_ERROR", URL_HINT)
        bar.update(task, completed=len(schema.models))


def push(config: str = ConfigOption, url: Optional[str] = UrlOption) -> None:
    """Create the missing tables, keys and indexes of the schema (safe to run again).

    Example: farmorm push --url postgresql://postgres@127.0.0.1:5432/app
    """
    cfg = config_at(config)
    schema = schema_of(cfg)
    target = url_for(url, cfg)
    run(push_with_progress(schema, target))
    out.print(f"Pushed {len(schema.models)} models to {_redact(target)}")


def _redact(url: str) -> str:
    return redact(url)


def _flatten(prefix: str, value: Any, rows: list[tuple[str, str]]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else k, v, rows)
    else:
        rows.append((prefix, str(value)))


def inspect(url: str = typer.Argument(..., help="A database URL, e.g. sqlite:///app.db.")) -> None:
    """Print which runtime serves URL (the detection report) and its capabilities.

    Example: farmorm inspect sqlite:///app.db
    """
    report = inspect_database_runtime(url)
    out.print(report.summary)
    if report.hint:
        out.print(report.hint)
    for cand in report.candidates:
        verdict = "matched" if cand.matched else "; ".join(cand.reasons) or "no match"
        out.print(f"  {cand.kind}: {verdict}")
    if report.runtime is None:
        raise typer.Exit(EXIT_FAILED)
    caps = run(probe(url))  # a connection failure is reported by the CLI's error handler
    table = Table(title="Capabilities")
    table.add_column("capability")
    table.add_column("value")
    rows: list[tuple[str, str]] = []
    _flatten("", caps, rows)
    for key, value in rows:
        table.add_row(key, value)
    out.print(table)


def demo(url: Optional[str] = typer.Argument(None, help="Database URL (default sqlite:///farmorm-demo.db).")) -> None:
    """Run the farmorm tour: schema, push, writes, queries, relations, transactions.

    Example: farmorm demo sqlite:///:memory:
    """
    raise typer.Exit(demo_main([url] if url else []))


__all__ = ["push", "inspect", "demo", "push_with_progress"]
