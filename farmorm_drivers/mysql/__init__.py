"""MySQL / MariaDB on aiomysql or asyncmy.

Accepts an ``aiomysql.Pool`` / ``aiomysql.Connection`` (kind ``aiomysql``), an ``asyncmy.Pool`` /
``asyncmy.Connection`` (kind ``asyncmy``), or a URL: ``mysql://`` / ``mysql+aiomysql://`` /
``mariadb://`` open an aiomysql pool, ``mysql+asyncmy://`` / ``mariadb+asyncmy://`` an asyncmy
pool (farmorm then owns and closes it). Both libraries share pymysql's API shape (cursors,
``%s`` placeholders, numeric error codes in ``args[0]``), so one driver serves both.

Importing this module imports neither library; ``inspect`` only looks at classes of modules the
application has already imported.
"""

from __future__ import annotations

import sys
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from farmorm.core.detect import Candidate, Detected

name = "mysql"
dialect = "mysql"
url_schemes = ("mysql", "mysql+aiomysql", "mariadb", "mariadb+aiomysql", "mysql+asyncmy", "mariadb+asyncmy")
ASYNCMY_SCHEMES = ("mysql+asyncmy", "mariadb+asyncmy")


def _library(kind: str, client: Any) -> Candidate:
    mod = sys.modules.get(kind)
    if mod is None:
        return Candidate(kind, False, (f"{kind} is not imported",))
    if isinstance(client, mod.Pool):
        return Candidate(kind, True, (), Detected(kind, client, "mysql", "pool"))
    if isinstance(client, mod.Connection):
        return Candidate(kind, True, (), Detected(kind, client, "mysql", "connection"))
    return Candidate(kind, False, (f"not an {kind}.Pool or {kind}.Connection",))


def candidates(client: Any) -> list[Candidate]:
    """One verdict per runtime this driver serves (aiomysql, asyncmy), for the inspection report."""
    if isinstance(client, str):
        scheme = client.split(":", 1)[0].lower()
        if scheme in url_schemes:
            kind = "asyncmy" if scheme in ASYNCMY_SCHEMES else "aiomysql"
            return [Candidate(kind, True, (), Detected(kind, client, "mysql", "url"))]
        return [Candidate("aiomysql", False, (f'URL scheme "{scheme}" is not mysql',))]
    return [_library("aiomysql", client), _library("asyncmy", client)]


def inspect(client: Any) -> Candidate:
    """Is ``client`` an aiomysql / asyncmy pool or connection (or a mysql URL)?"""
    found = candidates(client)
    return next((c for c in found if c.matched), found[0])


def connect_args(url: str, kind: str = "aiomysql") -> dict[str, Any]:
    """aiomysql / asyncmy connection arguments for ``url`` (query options such as ``?maxsize=5`` pass through)."""
    import importlib

    CLIENT: Any = importlib.import_module("asyncmy.constants" if kind == "asyncmy" else "pymysql.constants").CLIENT

    parts = urlsplit(url)
    args: dict[str, Any] = {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 3306,
        "user": unquote(parts.username or "root"),
        "password": unquote(parts.password or ""),
        "charset": "utf8mb4",
        "autocommit": True,
        # UPDATE reports matched rows, not changed rows, like every other backend
        "client_flag": CLIENT.FOUND_ROWS,
    }
    db = unquote(parts.path.lstrip("/"))
    if db:
        args["db"] = db
    for key, value in parse_qsl(parts.query):
        args[POOL_ALIASES.get(key, key)] = int(value) if value.isdigit() else value
    return args


#: farmorm's pool option names (as asyncpg and psycopg spell them) -> aiomysql / asyncmy's
POOL_ALIASES = {"min_size": "minsize", "max_size": "maxsize"}


async def create_driver(schema: Any, detected: Detected, **options: Any) -> Any:
    """Build the driver; creates (and will close) a pool when given a URL."""
    from .driver import MysqlDriver
    from .errors import map_error

    kind = detected.kind
    if detected.source == "url":
        if kind == "asyncmy":
            import asyncmy as library
        else:
            import aiomysql as library  # type: ignore[no-redef]
        try:
            args = connect_args(detected.client, kind)
            for ours, theirs in POOL_ALIASES.items():  # create_orm(..., max_size=20) as on PostgreSQL
                if options.get(ours) is not None:
                    args[theirs] = options[ours]
            pool = await library.create_pool(**args)
        except Exception as exc:
            mapped = map_error(exc, schema, kind)
            if mapped is None:
                raise
            raise mapped from exc
        try:
            return await MysqlDriver.open(schema, pool, handle_client=detected.client, owned=True, pooled=True,
                                          kind=kind, command_timeout=options.get("command_timeout"))
        except BaseException:
            pool.close()
            await pool.wait_closed()
            raise
    pooled = detected.source == "pool"
    return await MysqlDriver.open(schema, detected.client, handle_client=detected.client, owned=False, pooled=pooled,
                                  kind=kind, command_timeout=options.get("command_timeout"))


def driver_factory() -> Any:
    """Entry point target (group ``farmorm.drivers``): this module is the driver plug-in."""
    return sys.modules[__name__]
