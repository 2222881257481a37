"""How the ``farmorm`` command fails: one short message with a code and a hint, never a traceback.

Every exception that leaves a command goes through :func:`explain`, which turns it into a
:class:`CliError` (an ``OrmError`` keeps its code; a missing optional dependency becomes the exact
``pip install`` line; anything unexpected is ``INTERNAL_ERROR``). ``--verbose`` / ``--debug`` (or
``FARMORM_DEBUG=1``) print the traceback as well. URLs in every message have their password masked.
The exit codes are documented in docs/cli.md#errors-and-exit-codes and pinned by tests/cli/test_cli_errors.py.
"""

from __future__ import annotations

import re
import traceback
from typing import TextIO

from farmorm.core.errors import OrmError

EXIT_OK = 0
#: the command ran and says no: a check is stale, drift found, a refused operation, a config error
EXIT_FAILED = 1
#: click's own: an unknown command or option, a missing argument
EXIT_USAGE = 2
#: the database: unreachable, missing, or an error it raised
EXIT_DATABASE = 3
#: an optional dependency (an extra) is not installed
EXIT_DEPENDENCY = 4
#: the project's own code failed (a seed)
EXIT_USER_CODE = 5
#: a bug in farmorm (EX_SOFTWARE)
EXIT_INTERNAL = 70

#: importable module -> the extra that installs it
EXTRAS = {
    "aiosqlite": "sqlite",
    "asyncpg": "postgres",
    "psycopg": "psycopg",
    "psycopg_pool": "psycopg",
    "aiomysql": "mysql",
    "pymysql": "mysql",
    "asyncmy": "asyncmy",
    "pymongo": "mongo",
    "bson": "mongo",
    "motor": "mongo",
    "alembic": "migrations",
    "sqlalchemy": "sqlalchemy",
    "opentelemetry": "otel",
    "pytest": "testing",
    "pytest_asyncio": "testing",
    "fastapi": "fastapi",
    "litestar": "litestar",
}

#: OrmError codes that mean "the database is not there / not reachable" (exit 3 and a hint)
DATABASE_HINTS = {
    "CONNECTION_ERROR": "Is the database server running, and are the host, port, user and password in the URL right?",
    "MISSING_SCHEMA": "Create the database first (e.g. `createdb NAME` or `CREATE DATABASE NAME`), or fix its name in the URL.",
    "MISSING_TABLE": "Create the tables first: `farmorm push` or `farmorm db migrate`.",
    "READ_ONLY": "The server or connection is read-only: point --url at the primary.",
}

_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)(?P<pw>[^@\s]+)(?P<at>@)")


def mask(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ``***``."""
    return _PASSWORD.sub(lambda m: f"{m['head']}***{m['at']}", text)


class CliError(Exception):
    """A failure the command reports as ``error [CODE]: message`` plus ``hint: ...``, then exits."""

    def __init__(self, message: str, *, code: str = "FAILED", hint: str | None = None,
                 exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.hint = hint
        self.exit_code = exit_code

    def render(self) -> str:
        """The lines printed on stderr (passwords masked)."""
        text = f"error [{self.code}]: {self.message}"
        if self.hint:
            text += f"\nhint: {self.hint}"
        return mask(text)


def missing_dependency(module: str, command: str) -> CliError:
    """The error for ``module`` not being installed while running ``command``."""
    top = module.split(".", 1)[0]
    extra = EXTRAS.get(top)
    if top == "sqlalchemy" and command.startswith("db"):
        extra = "migrations"  # the db commands need Alembic too
    where = f"`farmorm {command}`" if command else "farmorm"
    if extra is None:
        return CliError(f"{where} needs the Python module {top!r}, which is not installed.",
                        code="MISSING_DEPENDENCY", hint=f"pip install {top}", exit_code=EXIT_DEPENDENCY)
    return CliError(f"{where} needs {top}, which is not installed.", code="MISSING_DEPENDENCY",
                    hint=f"pip install 'farmorm[{extra}]'", exit_code=EXIT_DEPENDENCY)


def _from_orm_error(exc: OrmError) -> CliError:
    hint = DATABASE_HINTS.get(exc.code)
    if hint is not None:
        return CliError(exc.message, code=exc.code, hint=hint, exit_code=EXIT_DATABASE)
    exit_code = EXIT_FAILED if exc.code in ("VALIDATION_ERROR", "UNSUPPORTED") else EXIT_DATABASE
    return CliError(exc.message, code=exc.code, exit_code=exit_code)


def _sqlalchemy_error(exc: BaseException) -> CliError | None:
    """A database error raised through SQLAlchemy (Alembic, ``db doctor``): its driver's message."""
    try:
        from sqlalchemy.exc import DBAPIError, SQLAlchemyError
    except ImportError:
        return None
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        return CliError(str(exc.orig).strip() or type(exc.orig).__name__, code="DATABASE_ERROR",
                        exit_code=EXIT_DATABASE)
    if isinstance(exc, SQLAlchemyError):
        return CliError(str(exc).split("\n", 1)[0], code="DATABASE_ERROR", exit_code=EXIT_DATABASE)
    return None


def _alembic_error(exc: BaseException) -> CliError | None:
    try:
        from alembic.util.exc import CommandError
    except ImportError:
        return None
    if not isinstance(exc, CommandError):
        return None
    message = str(exc)
    hint = None
    if "not up to date" in message:
        hint = "Apply the pending revisions first: `farmorm db migrate`."
    elif "Can't locate revision" in message:
        hint = "`farmorm db history` lists the revisions; `farmorm db stamp REV` records one without running it."
    return CliError(message, code="MIGRATION_ERROR", hint=hint)


def explain(exc: BaseException, command: str = "") -> CliError:
    """The user-facing form of any exception a command let out."""
    if isinstance(exc, CliError):
        return exc
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        return missing_dependency(exc.name, command)
    if isinstance(exc, OrmError):
        return _from_orm_error(exc)
    for convert in (_alembic_error, _sqlalchemy_error):
        found = convert(exc)
        if found is not None:
            return found
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return CliError(f"{type(exc).__name__}: {exc}", code="CONNECTION_ERROR",
                        hint=DATABASE_HINTS["CONNECTION_ERROR"], exit_code=EXIT_DATABASE)
    return CliError(f"{type(exc).__name__}: {exc}", code="INTERNAL_ERROR",
                    hint="This is a bug in farmorm: run again with --verbose and report the traceback.",
                    exit_code=EXIT_INTERNAL)


def report(exc: BaseException, *, command: str, verbose: bool, stream: TextIO) -> int:
    """Print ``exc`` as the command's failure (with the traceback when ``verbose``); returns the exit code."""
    error = explain(exc, command)
    if verbose:
        stream.write(mask("".join(traceback.format_exception(exc))))
    stream.write(error.render() + "\n")
    if not verbose and error.exit_code in (EXIT_INTERNAL, EXIT_USER_CODE, EXIT_DATABASE):
        stream.write("(run again with --verbose for the traceback)\n")
    stream.flush()
    return error.exit_code


__all__ = ["CliError", "explain", "report", "mask", "missing_dependency", "EXTRAS", "EXIT_OK", "EXIT_FAILED",
           "EXIT_USAGE", "EXIT_DATABASE", "EXIT_DEPENDENCY", "EXIT_USER_CODE", "EXIT_INTERNAL"]
