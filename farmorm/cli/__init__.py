"""The ``farmorm`` command (typer + rich): generate/check schema files, push, inspect, db, demo.

Failures print one line with a code and a hint (``farmorm.cli.errors``); ``--verbose`` adds the traceback.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import typer
from typer.core import TyperGroup

from farmorm.core.version import __version__

from .db import db_app
from .errors import report
from .generate import check, generate
from .runtime import demo, inspect, push


class _Command(TyperGroup):
    """The root group: turns any exception a command lets out into its one-line report and exit code."""

    def invoke(self, ctx: Any) -> Any:  # click.Context (typer vendors click from 0.24 on)
        try:
            return super().invoke(ctx)
        except Exception as exc:  # noqa: BLE001 - every failure is reported, never a raw traceback
            if type(exc).__module__.split(".")[0] in ("click", "typer"):
                raise  # exits, aborts and usage errors: click prints those itself (usage errors exit 2)
            verbose = bool(ctx.meta.get("farmorm.verbose")) or os.environ.get("FARMORM_DEBUG", "") not in ("", "0")
            command = str(ctx.meta.get("farmorm.command") or "")
            raise typer.Exit(report(exc, command=command, verbose=verbose, stream=sys.stderr)) from None


app = typer.Typer(
    name="farmorm",
    cls=_Command,
    help="farmorm: one schema for PostgreSQL, MySQL, SQLite and MongoDB. Example: farmorm generate sql",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"farmorm {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    verbose: bool = typer.Option(False, "--verbose", "--debug", "-v",
                                 help="On failure, print the full traceback too (also FARMORM_DEBUG=1)."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print farmorm's version and exit."),
) -> None:
    """farmorm: one schema for PostgreSQL, MySQL, SQLite and MongoDB. Example: farmorm generate sql"""
    ctx.meta["farmorm.verbose"] = verbose
    ctx.meta["farmorm.command"] = ctx.invoked_subcommand  # `db` refines it to `db generate`


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
