"""SQLAlchemy ``AsyncEngine`` / ``AsyncConnection`` as runtimes of the three SQL drivers.

farmorm does not go through SQLAlchemy Core: it runs its own compiled SQL on the engine's pooled
driver connection (``AsyncConnection.get_raw_connection().driver_connection``: the asyncpg,
psycopg, aiomysql, asyncmy or aiosqlite connection) with the matching native driver code, so an app
that already has an engine needs no second pool. Kind ``sqlalchemy``, source ``engine`` or
``connection``; the dialect comes from ``engine.dialect.name`` (``dialect=`` overrides it, and is
required for a dialect farmorm does not know). Importing this module does not import SQLAlchemy;
``inspect`` only looks at classes when the application has imported ``sqlalchemy.ext.asyncio``.
The runtime itself (``runtime.py``) imports SQLAlchemy's objects from the engine it is given, and
each native driver's module only once an engine of that dialect is detected.
"""

from __future__ import annotations

import sys
from typing import Any

from farmorm.core.detect import Candidate, Detected

from .runtime import SUPPORTED, create, sa_dialect

name = "sqlalchemy"
dialect = None  # whatever SQL dialect the engine speaks
needs_dialect = True  # an engine of an unknown dialect needs create_orm(..., dialect=...)
url_schemes: tuple[str, ...] = ()

#: SQLAlchemy dialect name -> farmorm dialect
DIALECTS = {"postgresql": "postgres", "mysql": "mysql", "mariadb": "mysql", "sqlite": "sqlite"}

def dialect_of(client: Any) -> str | None:
    """farmorm's dialect for an engine / connection, or None when farmorm does not know it."""
    try:
        return DIALECTS.get(getattr(sa_dialect(client), "name", ""))
    except Exception:  # noqa: BLE001 - detection never raises
        return None


def candidates(client: Any) -> list[Candidate]:
    """The verdict on ``client`` as a SQLAlchemy async engine or connection."""
    mod = sys.modules.get("sqlalchemy.ext.asyncio")
    if mod is None:
        return [Candidate("sqlalchemy", False, ("sqlalchemy is not imported",))]
    if isinstance(client, mod.AsyncEngine):
        return [Candidate("sqlalchemy", True, (), Detected("sqlalchemy", client, dialect_of(client), "engine"))]
    if isinstance(client, mod.AsyncConnection):
        return [Candidate("sqlalchemy", True, (), Detected("sqlalchemy", client, dialect_of(client), "connection"))]
    engine_mod = sys.modules.get("sqlalchemy.engine")
    if engine_mod is not None and isinstance(client, (engine_mod.Engine, engine_mod.Connection)):
        return [Candidate("sqlalchemy", False, ("a synchronous SQLAlchemy Engine or Connection; pass an AsyncEngine "
                                                "(create_async_engine) or an AsyncConnection",))]
    return [Candidate("sqlalchemy", False, ("not a SQLAlchemy AsyncEngine or AsyncConnection",))]


def inspect(client: Any) -> Candidate:
    """Is ``client`` a SQLAlchemy ``AsyncEngine`` or ``AsyncConnection``?"""
    return candidates(client)[0]


async def create_driver(schema: Any, detected: Detected, **options: Any) -> Any:
    """Build the native driver of the engine's dialect on the engine's own connections."""
    return await create(schema, detected, pgbouncer=bool(options.get("pgbouncer")),
                        command_timeout=options.get("command_timeout"))


def driver_factory() -> Any:
    """Entry point target (group ``farmorm.drivers``): this module is the driver plug-in."""
    return sys.modules[__name__]
