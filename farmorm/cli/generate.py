"""``farmorm generate <target>`` and ``farmorm check <target>``: render schema files, or verify them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from farmorm import generators as g
from farmorm.generators.client import render_client
from farmorm.generators.python import render_python_models

from .common import ConfigOption, config_at, fail, out, relative, schema_of

TARGETS = ("prisma", "drizzle", "sql", "sqlalchemy", "python", "client")
TARGET_HELP = "prisma, drizzle, sql, sqlalchemy, python or client (the typed client)."
OutOption = typer.Option(None, "--out", help="Output file (relative to the current folder); overrides the config target's out.")


def _render(target: str, schema: Any, options: dict[str, Any], current: str | None) -> str:
    """The text the ``target`` file should hold (Prisma "block" mode keeps the rest of the file)."""
    if target == "prisma":
        kwargs = {k: options[k] for k in ("provider", "datasource_name", "generator_name") if k in options}
        text = g.render_prisma_schema(schema, **kwargs)
        if options.get("mode", "block") == "block" and current and current.strip():
            return g.replace_generated_block(current=current, label="prisma", content=text)
        return text
    if target == "drizzle":
        return g.render_drizzle_schema(schema, dialect=options.get("dialect", "pg"))
    if target == "sql":
        extra = {"mariadb": bool(options["mariadb"])} if "mariadb" in options else {}
        return g.render_safe_sql(schema, dialect=options.get("dialect", "postgres"), **extra)
    if target == "python":
        return render_python_models(schema)
    if target == "client":
        return render_client(schema)
    # lazy on purpose: SQLAlchemy is an optional dependency (the ``migrations`` extra)
    from farmorm.generators.sqlalchemy import render_sqlalchemy_source

    return render_sqlalchemy_source(schema, dialect=options.get("dialect"))


def _prepare(target: str, config_path: str, out_path: str | None = None) -> tuple[Path, str | None, str]:
    if target not in TARGETS:
        fail(f'Unknown target "{target}". Expected one of: {", ".join(TARGETS)}.', "USAGE_ERROR")
    config = config_at(config_path)
    schema = schema_of(config)
    options = dict((config.get("targets") or {}).get(target) or {})
    if out_path is not None:
        path = Path(out_path).expanduser().resolve()
    elif not options.get("out"):
        fail(f'Target "{target}" is not configured.', "CONFIG_ERROR",
             f'Add targets={{"{target}": {{"out": "PATH"}}}} to define_config, or pass --out PATH.')
    else:
        path = relative(config, options["out"])
    current = path.read_text(encoding="utf-8") if path.is_file() else None
    try:
        return path, current, _render(target, schema, dict(options), current)
    except (ValueError, TypeError) as exc:
        fail(str(exc), getattr(exc, "code", "SCHEMA_ERROR"))


def generate(
    target: str = typer.Argument(..., help=TARGET_HELP),
    config: str = ConfigOption,
    out_file: str | None = OutOption,
) -> None:
    """Write the TARGET file configured in the config's targets (or --out).

    Example: farmorm generate prisma -c farmorm_config.py; farmorm generate python --out models.py
    """
    path, _, text = _prepare(target, config, out_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    out.print(f"Generated {target} output at {path}")


def check(
    target: str = typer.Argument(..., help=TARGET_HELP),
    config: str = ConfigOption,
    out_file: str | None = OutOption,
) -> None:
    """Exit 1 when the TARGET file differs from what generate would write.

    Example: farmorm check sql  (in CI, after changing the schema)
    """
    path, current, text = _prepare(target, config, out_file)
    if current != text:
        out.print(f"{target} output is out of date: {path}")
        raise typer.Exit(1)
    out.print(f"{target} output is up to date.")
