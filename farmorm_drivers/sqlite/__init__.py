"""SQLite on aiosqlite: accepts an ``aiosqlite.Connection`` or ``sqlite:///path`` URLs.

Importing this module does not import aiosqlite; ``detect`` only looks at classes of modules
the application has already imported.
"""

from __future__ import annotations

import sys
from typing import Any

from farmorm.detect import Candidate, Detected

name = "sqlite"
dialect = "sqlite"
url_schemes = ("sqlite", "sqlite+aiosqlite")


def inspect(client: Any) -> Candidate:
    """Is ``client`` an aiosqlite connection (or a sqlite URL)?"""
    if isinstance(client, str):
        scheme = client.split(":", 1)[0].lower()
        if scheme in url_schemes:
            return Candidate("aiosqlite", True, (), Detected("aiosqlite", client, "sqlite", "url"))
        return Candidate("aiosqlite", False, (f'URL scheme "{scheme}" is not sqlite',))
    mod = sys.modules.get("aiosqlite")
    if mod is None:
        return Candidate("aiosqlite", False, ("aiosqlite is not imported",))
    if isinstance(client, mod.Connection):
        return Candidate("aiosqlite", True, (), Detected("aiosqlite", client, "sqlite", "connection"))
    return Candidate("aiosqlite", False, ("not an aiosqlite.Connection",))


def _path(url: str) -> str:
    rest = url.split(":", 1)[1]
    if not rest.startswith("//"):
        raise ValueError(f"Invalid SQLite URL {url!r}: use sqlite:///relative.db, sqlite:////abs.db or sqlite:///:memory:")
    path = rest[2:]
    if path.startswith("/"):
        path = path[1:]  # sqlite:///app.db -> app.db ; sqlite:////abs.db -> /abs.db
    return path or ":memory:"


async def create_driver(schema: Any, detected: Detected, **options: Any) -> Any:
    """Build the driver; opens (and will close) a connection when given a URL."""
    import sqlite3

    import aiosqlite

    from farmorm.errors import CONNECTION_ERROR, native_error

    from .driver import SqliteDriver

    if detected.source == "url":
        try:
            conn = await aiosqlite.connect(_path(detected.client), isolation_level=None)
        except sqlite3.Error as exc:  # e.g. "unable to open database file"
            raise native_error(CONNECTION_ERROR, exc, backend_kind="aiosqlite", dialect="sqlite",
                               meta={"url": detected.client}) from exc
        return await SqliteDriver.open(schema, conn, client=detected.client, owned=True)
    return await SqliteDriver.open(schema, detected.client, client=detected.client, owned=False)


def driver_factory() -> Any:
    """Entry point target (group ``farmorm.drivers``): this module is the driver plug-in."""
    return sys.modules[__name__]
