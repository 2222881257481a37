"""The ``farmorm`` command (typer + rich): generate/check schema files, push, inspect, db, demo."""

from __future__ import annotations

import typer

from .db import db_app
from .generate import check, generate
from .runtime import demo, inspect, push

app = typer.Typer(
    name="farmorm",
    help="farmorm: one schema for PostgreSQL, MySQL, SQLite and MongoDB. Example: farmorm generate sql",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("generate")(generate)
app.command("check")(check)
app.command("push")(push)
app.command("inspect")(inspect)
app.command("demo")(demo)
app.add_typer(db_app, name="db")


def main() -> None:
    """Console-script entry point (``farmorm`` and ``python -m farmorm``)."""
    app()


__all__ = ["app", "main"]
