"""MySQL / MariaDB on aiomysql: accepts an ``aiomysql.Pool``, an ``aiomysql.Connection`` or a
``mysql://`` / ``mysql+aiomysql://`` / ``mariadb://`` URL (farmorm then owns and closes the pool).

Importing this module does not import aiomysql; ``inspect`` only looks at classes of modules the
application has already imported.
"""

from __future__ import annotations

import sys
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from farmorm.detect import Candidate, Detected

name = "mysql"
dialect = "mysql"
url_schemes = ("mysql", "mysql+aiomysql", "mariadb", "mariadb+aiomysql")


def inspect(client: Any) -> Candidate:
    """Is ``client`` an aiomysql pool or connection (or a mysql URL)?"""
    if isinstance(client, str):
        scheme = client.split(":", 1)[0].lower()
        if scheme in url_schemes:
            return Candidate("aiomysql", True, (), Detected("aiomysql", client, "mysql", "url"))
        return Candidate("aiomysql", False, (f'URL scheme "{scheme}" is not mysql',))
    mod = sys.modules.get("aiomysql")
    if mod is None:
        return Candidate("aiomysql", False, ("aiomysql is not imported",))
    if isinstance(client, mod.Pool):
        return Candidate("aiomysql", True, (), Detected("aiomysql", client, "mysql", "pool"))
    if isinstance(client, mod.Connection):
        return Candidate("aiomysql", True, (), Detected("aiomysql", client, "mysql", "connection"))
    return Candidate("aiomysql", False, ("not an aiomysql.Pool or aiomysql.Connection",))


def connect_args(url: str) -> dict[str, Any]:
    """aiomysql connection arguments for ``url`` (query options such as ``?maxsize=5`` pass through)."""
    from pymysql.constants import CLIENT

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
        args[key] = int(value) if value.isdigit() else value
    return args


async def create_driver(schema: Any, detected: Detected, **options: Any) -> Any:
    """Build the driver; creates (and will close) a pool when given a URL."""
    import aiomysql

    from .driver import MysqlDriver
    from .errors import map_error

    if detected.source == "url":
        try:
            pool = await aiomysql.create_pool(**connect_args(detected.client))
        except Exception as exc:
            mapped = map_error(exc, schema, "aiomysql")
            if mapped is None:
                raise
            raise mapped from exc
        try:
            return await MysqlDriver.open(schema, pool, handle_client=detected.client, owned=True, pooled=True)
        except BaseException:
            pool.close()
            await pool.wait_closed()
            raise
    pooled = detected.source == "pool"
    return await MysqlDriver.open(schema, detected.client, handle_client=detected.client, owned=False, pooled=pooled)


def driver_factory() -> Any:
    """Entry point target (group ``farmorm.drivers``): this module is the driver plug-in."""
    return sys.modules[__name__]
