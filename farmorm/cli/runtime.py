"""``farmorm push``, ``farmorm inspect <url>`` and ``farmorm demo``."""

from __future__ import annotations

from typing import Any, Optional

import msgspec
import typer
from rich.table import Table

from .common import ConfigOption, UrlOption, config_at, fail, out, progress, run, schema_of, url_for


async def push_with_progress(schema: Any, url: str, label: str = "Pushing") -> None:
    """``push_schema`` with a progress bar over the models it creates."""
    from farmorm.setup import RuntimeSetupError, push_schema

    with progress() as bar:
        task = bar.add_task(f"{label} {len(schema.models)} models", total=len(schema.models))
        try:
            await push_schema(schema, url)
        except (RuntimeSetupError, ValueError) as exc:
            bar.stop()
            fail(str(exc))
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
    from farmorm.migrations.urls import redact

    return redact(url)


def _flatten(prefix: str, value: Any, rows: list[tuple[str, str]]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else k, v, rows)
    else:
        rows.append((prefix, str(value)))


async def _capabilities(url: str) -> dict[str, Any]:
    from farmorm import define_schema, model
    from farmorm import fields as f
    from farmorm.runtime.orm import create_orm

    probe = define_schema(probe=model(table="farmorm_inspect_probe", fields={"id": f.id()}))
    orm = await create_orm(probe, url)
    try:
        caps: dict[str, Any] = msgspec.to_builtins(orm.driver.capabilities)
        return caps
    finally:
        await orm.close()


def inspect(url: str = typer.Argument(..., help="A database URL, e.g. sqlite:///app.db.")) -> None:
    """Print which runtime serves URL (the detection report) and its capabilities.

    Example: farmorm inspect sqlite:///app.db
    """
    from farmorm.core.detect import inspect_database_runtime

    report = inspect_database_runtime(url)
    out.print(report.summary)
    if report.hint:
        out.print(report.hint)
    for cand in report.candidates:
        verdict = "matched" if cand.matched else "; ".join(cand.reasons) or "no match"
        out.print(f"  {cand.kind}: {verdict}")
    if report.runtime is None:
        raise typer.Exit(1)
    try:
        caps = run(_capabilities(url))
    except Exception as exc:  # noqa: BLE001 - any connection failure is reported, not a traceback
        fail(f"Could not connect to {_redact(url)}: {exc}")
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
    from farmorm.demo import main as demo_main

    raise typer.Exit(demo_main([url] if url else []))


__all__ = ["push", "inspect", "demo", "push_with_progress"]
