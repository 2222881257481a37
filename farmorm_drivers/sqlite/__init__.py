"""SQLite on aiosqlite: accepts an ``aiosqlite.Connection`` or ``sqlite:///path`` URLs.

Importing this module does not import aiosqlite; ``detect`` only looks at classes of modules
the application has already imported.
"""

from __future__ import annotations

import sys
from typing import Any

from farmorm.core.detect import Candidate, Detected

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

    from farmorm.core.errors import CONNECTION_ERROR, native_error

    from .driver import SqliteDriver

    if detected.source == "url":
        try:
            conn = await _connect(aiosqlite, _path(detected.client))
        except sqlite3.Error as exc:  # e.g. "unable to open database file"
            raise native_error(CONNECTION_ERROR, exc, backend_kind="aiosqlite", dialect="sqlite",
                               meta={"url": detected.client}) from exc
        try:
            return await SqliteDriver.open(schema, conn, client=detected.client, owned=True)
        except BaseException:
            import asyncio

            closing = asyncio.ensure_future(conn.close())  # cancelled in PRAGMA: still close it
            await asyncio.wait({closing})
            raise
    return await SqliteDriver.open(schema, detected.client, client=detected.client, owned=False)


async def _connect(aiosqlite: Any, path: str) -> Any:
    """``aiosqlite.connect``, safe to cancel: a cancel while its thread opens the file would leave
    the thread and the connection behind (aiosqlite #259); let the open finish, then close it."""
    import asyncio

    async def open_() -> Any:
        pending = aiosqlite.connect(path, isolation_level=None)
        # farmorm owns this connection: its worker thread must not keep the interpreter alive when
        # the app forgets orm.close() (aiosqlite's thread is non-daemon: the process hangs at exit)
        thread = getattr(pending, "_thread", None)
        if thread is not None and not thread.is_alive():
            thread.daemon = True
        return await pending

    opening = asyncio.ensure_future(open_())
    try:
        return await asyncio.shield(opening)
    except asyncio.CancelledError:
        while not opening.done():
            try:
                await asyncio.wait({opening})
            except asyncio.CancelledError:
                continue
        if not opening.cancelled() and opening.exception() is None:
            conn = opening.result()
            while True:
                closing = asyncio.ensure_future(conn.close())
                try:
                    await asyncio.shield(closing)
                    break
                except asyncio.CancelledError:
                    await asyncio.wait({closing})
                    break
        raise


def driver_factory() -> Any:
    """Entry point target (group ``farmorm.drivers``): this module is the driver plug-in."""
    return sys.modules[__name__]
