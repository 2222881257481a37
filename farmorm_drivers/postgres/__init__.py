"""PostgreSQL on asyncpg: accepts an ``asyncpg.Pool``, an ``asyncpg.Connection`` or ``postgresql://`` URLs.

Importing this module does not import asyncpg; ``inspect`` only looks at classes of modules the
application has already imported. From a URL farmorm creates a pool, and closes it on ``orm.close()``.
"""

from __future__ import annotations

import sys
from typing import Any

from farmorm.detect import Candidate, Detected

name = "postgres"
dialect = "postgres"
url_schemes = ("postgresql", "postgres", "postgresql+asyncpg")

#: create_orm options passed on to ``asyncpg.create_pool`` for URLs
POOL_OPTIONS = ("min_size", "max_size", "max_queries", "max_inactive_connection_lifetime",
                "command_timeout", "statement_cache_size", "timeout", "server_settings", "ssl")


def inspect(client: Any) -> Candidate:
    """Is ``client`` an asyncpg pool or connection (or a postgres URL)?"""
    if isinstance(client, str):
        scheme = client.split(":", 1)[0].lower()
        if scheme in url_schemes:
            return Candidate("asyncpg", True, (), Detected("asyncpg", client, "postgres", "url"))
        return Candidate("asyncpg", False, (f'URL scheme "{scheme}" is not postgresql',))
    mod = sys.modules.get("asyncpg")
    if mod is None:
        return Candidate("asyncpg", False, ("asyncpg is not imported",))
    if isinstance(client, mod.Pool):
        return Candidate("asyncpg", True, (), Detected("asyncpg", client, "postgres", "pool"))
    if isinstance(client, mod.Connection):
        return Candidate("asyncpg", True, (), Detected("asyncpg", client, "postgres", "connection"))
    return Candidate("asyncpg", False, ("not an asyncpg.Pool or asyncpg.Connection",))


def dsn(url: str) -> str:
    """The URL asyncpg understands (``postgresql+asyncpg://`` -> ``postgresql://``)."""
    scheme, rest = url.split(":", 1)
    return ("postgresql" if scheme.lower() == "postgresql+asyncpg" else scheme) + ":" + rest


async def create_driver(schema: Any, detected: Detected, **options: Any) -> Any:
    """Build the driver; creates (and will close) a pool when given a URL."""
    import asyncpg

    from .driver import PostgresDriver

    if detected.source == "url":
        kwargs = {k: v for k, v in options.items() if k in POOL_OPTIONS and v is not None}
        kwargs.setdefault("min_size", 1)  # connections open on demand; a test database stays cheap
        try:
            pool = await asyncpg.create_pool(dsn(detected.client), **kwargs)
        except Exception as exc:
            from .errors import map_error

            mapped = map_error(schema, exc)
            if mapped is None:
                raise
            raise mapped from exc
        return PostgresDriver(schema, detected.client, target=pool, is_pool=True, owned=True)
    client = detected.client
    is_pool = isinstance(client, asyncpg.Pool)
    return PostgresDriver(schema, client, target=client, is_pool=is_pool, owned=False)


def driver_factory() -> Any:
    """Entry point target (group ``farmorm.drivers``): this module is the driver plug-in."""
    return sys.modules[__name__]
