"""PostgreSQL on asyncpg or psycopg 3.

Accepts an ``asyncpg.Pool`` / ``asyncpg.Connection`` (kind ``asyncpg``), a
``psycopg_pool.AsyncConnectionPool`` / ``psycopg.AsyncConnection`` (kind ``psycopg``), or a URL:
``postgresql://`` opens an asyncpg pool, ``postgresql+psycopg://`` a psycopg pool; farmorm closes
a pool it opened on ``orm.close()``. Importing this module imports neither library; ``inspect``
only looks at classes of modules the application has already imported.
"""

from __future__ import annotations

from inspect import signature
import sys
from typing import Any, Callable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from farmorm.core.detect import Candidate, Detected

name = "postgres"
dialect = "postgres"
url_schemes = ("postgresql", "postgres", "postgresql+asyncpg", "postgresql+psycopg")
PSYCOPG_SCHEMES = ("postgresql+psycopg",)

#: create_orm options passed on to ``asyncpg.create_pool`` for URLs
POOL_OPTIONS = ("min_size", "max_size", "max_queries", "max_inactive_connection_lifetime",
                "command_timeout", "statement_cache_size", "timeout", "server_settings", "ssl")


def _flag(value: str) -> bool:
    low = value.strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def _threshold(value: str) -> int | None:
    return None if value.strip().lower() in ("none", "null", "") else int(value)


#: farmorm's options a URL may carry in its query (``?pgbouncer=true&max_size=20``): taken out of
#: the URL before asyncpg / psycopg see it (asyncpg would send them to the server as settings)
URL_OPTIONS: dict[str, Callable[[str], Any]] = {
    "pgbouncer": _flag, "min_size": int, "max_size": int, "timeout": float, "command_timeout": float,
    "statement_cache_size": int, "max_queries": int, "max_inactive_connection_lifetime": float,
    "prepare_threshold": _threshold, "max_idle": float, "max_lifetime": float, "max_waiting": int,
}


def split_url(url: str) -> tuple[str, dict[str, Any]]:
    """``url`` without farmorm's query options, and those options parsed (ValueError names a bad one)."""
    parts = urlsplit(url)
    if not parts.query:
        return url, {}
    kept: list[tuple[str, str]] = []
    found: dict[str, Any] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        parse = URL_OPTIONS.get(key)
        if parse is None:
            kept.append((key, value))
            continue
        try:
            found[key] = parse(value)
        except ValueError:
            raise ValueError(f"Invalid URL option {key}={value!r} in the PostgreSQL URL: expected "
                             f"{'true or false' if parse is _flag else 'a number'}.") from None
    return urlunsplit(parts._replace(query=urlencode(kept))), found


def pool_settings(detected: Detected, options: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The URL for the client library and farmorm's options: create_orm's, then the URL's query.

    ``pgbouncer=True`` (PgBouncer in transaction mode, or any pooler that moves a session between
    server connections) turns off every named prepared statement: asyncpg's statement cache
    (``statement_cache_size=0``) and psycopg's automatic preparing (``prepare_threshold=None``)."""
    url, from_url = split_url(detected.client)
    merged = {**from_url, **{k: v for k, v in options.items() if v is not None}}
    if merged.get("pgbouncer"):
        if merged.get("statement_cache_size"):
            raise ValueError(
                f"pgbouncer=true needs statement_cache_size=0 (got {merged['statement_cache_size']}): a "
                "transaction-mode pooler cannot keep named prepared statements.")
        if merged.get("prepare_threshold") is not None:
            raise ValueError(
                f"pgbouncer=true needs prepare_threshold=None (got {merged['prepare_threshold']}): a "
                "transaction-mode pooler cannot keep named prepared statements.")
        merged["statement_cache_size"] = 0
        merged["prepare_threshold"] = None
    return url, merged


def _asyncpg(client: Any) -> Candidate:
    mod = sys.modules.get("asyncpg")
    if mod is None:
        return Candidate("asyncpg", False, ("asyncpg is not imported",))
    if isinstance(client, mod.Pool):
        return Candidate("asyncpg", True, (), Detected("asyncpg", client, "postgres", "pool"))
    if isinstance(client, mod.Connection):
        return Candidate("asyncpg", True, (), Detected("asyncpg", client, "postgres", "connection"))
    return Candidate("asyncpg", False, ("not an asyncpg.Pool or asyncpg.Connection",))


def _psycopg(client: Any) -> Candidate:
    pool_mod, mod = sys.modules.get("psycopg_pool"), sys.modules.get("psycopg")
    if mod is None and pool_mod is None:
        return Candidate("psycopg", False, ("psycopg is not imported",))
    if pool_mod is not None and isinstance(client, pool_mod.AsyncConnectionPool):
        return Candidate("psycopg", True, (), Detected("psycopg", client, "postgres", "pool"))
    if mod is not None and isinstance(client, mod.AsyncConnection):
        return Candidate("psycopg", True, (), Detected("psycopg", client, "postgres", "connection"))
    if (mod is not None and isinstance(client, mod.Connection)) or \
            (pool_mod is not None and isinstance(client, pool_mod.ConnectionPool)):
        return Candidate("psycopg", False, ("a synchronous psycopg connection or pool; pass psycopg.AsyncConnection "
                                            "or psycopg_pool.AsyncConnectionPool",))
    return Candidate("psycopg", False, ("not a psycopg.AsyncConnection or psycopg_pool.AsyncConnectionPool",))


def candidates(client: Any) -> list[Candidate]:
    """One verdict per runtime this driver serves (asyncpg, psycopg), for the inspection report."""
    if isinstance(client, str):
        scheme = client.split(":", 1)[0].lower()
        if scheme in url_schemes:
            kind = "psycopg" if scheme in PSYCOPG_SCHEMES else "asyncpg"
            return [Candidate(kind, True, (), Detected(kind, client, "postgres", "url"))]
        return [Candidate("asyncpg", False, (f'URL scheme "{scheme}" is not postgresql',))]
    return [_asyncpg(client), _psycopg(client)]


def inspect(client: Any) -> Candidate:
    """Is ``client`` an asyncpg / psycopg pool or connection (or a postgres URL)?"""
    found = candidates(client)
    return next((c for c in found if c.matched), found[0])


def dsn(url: str) -> str:
    """The URL asyncpg understands (``postgresql+asyncpg://`` -> ``postgresql://``)."""
    scheme, rest = url.split(":", 1)
    return ("postgresql" if scheme.lower() == "postgresql+asyncpg" else scheme) + ":" + rest


async def create_driver(schema: Any, detected: Detected, **options: Any) -> Any:
    """Build the driver; creates (and will close) a pool when given a URL."""
    from .driver import PostgresDriver
    from .errors import map_error

    if detected.kind == "psycopg":
        return await _create_psycopg(schema, detected, **options)
    import asyncpg

    pgbouncer = bool(options.get("pgbouncer"))
    if detected.source == "url":
        url, settings = pool_settings(detected, options)
        kwargs = {k: v for k, v in settings.items() if k in POOL_OPTIONS and v is not None}
        kwargs.setdefault("min_size", 1)  # connections open on demand; a test database stays cheap
        kwargs.setdefault("connection_class", resetting_connection_class())  # DISCARD TEMP on release too
        if "reset" in signature(asyncpg.create_pool).parameters:  # asyncpg 0.30+
            kwargs.setdefault("reset", reset_if_touched)  # the session reset only after the app's own SQL
        try:
            pool = await asyncpg.create_pool(dsn(url), **kwargs)
        except Exception as exc:
            mapped = map_error(schema, exc)
            if mapped is None:
                raise
            raise mapped from exc
        return PostgresDriver(schema, detected.client, target=pool, is_pool=True, owned=True,
                              pgbouncer=bool(settings.get("pgbouncer")))
    client = detected.client
    is_pool = isinstance(client, asyncpg.Pool)
    return PostgresDriver(schema, client, target=client, is_pool=is_pool, owned=False, pgbouncer=pgbouncer)


async def _create_psycopg(schema: Any, detected: Detected, **options: Any) -> Any:
    from .driver import PostgresDriver
    from .errors import map_error
    from .psycopg_runtime import PsycopgConnection, PsycopgDialect, PsycopgPool, ensure_autocommit, open_pool

    common: dict[str, Any] = {"kind": "psycopg", "dialect": PsycopgDialect(), "pgbouncer": bool(options.get("pgbouncer"))}
    if detected.source == "url":
        url, settings = pool_settings(detected, options)
        common["pgbouncer"] = bool(settings.get("pgbouncer"))
        try:
            target = await open_pool(url, **settings)
        except Exception as exc:
            mapped = map_error(schema, exc, "psycopg")
            if mapped is None:
                raise
            raise mapped from exc
        return PostgresDriver(schema, detected.client, target=target, is_pool=True, owned=True, **common)
    if detected.source == "pool":
        return PostgresDriver(schema, detected.client, target=PsycopgPool(detected.client), is_pool=True,
                              owned=False, **common)
    await ensure_autocommit(detected.client)  # an app connection: statements autocommit outside transactions
    return PostgresDriver(schema, detected.client, target=PsycopgConnection(detected.client), is_pool=False,
                          owned=False, **common)


_RESETTING: Any = None


def resetting_connection_class() -> Any:
    """An ``asyncpg.Connection`` whose release-time reset also runs ``DISCARD TEMP``: asyncpg's
    own reset (ROLLBACK, advisory unlock, CLOSE ALL, UNLISTEN, RESET ALL) keeps temporary tables,
    so one made on a pooled connection would reach the next caller. Same round trip.

    ``farmorm_touch()`` marks the connection as used by the app's own SQL (``orm.raw``, reached
    through the pool's proxy): ``reset_if_touched`` then runs that reset on its next release."""
    global _RESETTING
    if _RESETTING is None:
        import asyncpg

        class FarmormConnection(asyncpg.Connection):  # type: ignore[misc]
            __slots__ = ("_farmorm_reset", "_farmorm_touched")

            def get_reset_query(self) -> str:
                query: str | None = getattr(self, "_farmorm_reset", None)
                if query is None:
                    base = super().get_reset_query()
                    query = f"{base}\nDISCARD TEMP;" if base else "DISCARD TEMP;"
                    self._farmorm_reset = query
                return query

            def farmorm_touch(self) -> None:
                self._farmorm_touched = True

        _RESETTING = FarmormConnection
    return _RESETTING


async def reset_if_touched(conn: Any) -> None:
    """asyncpg's ``reset=`` for the pools farmorm opens. Before calling it asyncpg has rolled back
    any open transaction (``Connection._reset``); the rest of its reset (advisory unlock, CLOSE ALL,
    UNLISTEN, RESET ALL, and our DISCARD TEMP) undoes session state, which farmorm's own statements
    never leave (transaction-scoped settings and locks only; a stream's cursor closes with its
    transaction). So that round trip runs only after the app's own SQL ran on the connection
    (``orm.raw``, ``orm.raw.connection()``), or after a statement or operation failed or was
    cancelled on it (the reset's simple query also settles the protocol after a cancellation):
    one statement fewer per successful operation. An app's own pool is never reconfigured: it
    keeps asyncpg's reset on every release."""
    if getattr(conn, "_farmorm_touched", False):
        conn._farmorm_touched = False
        query = conn.get_reset_query()
        if query:
            await conn.execute(query)


def driver_factory() -> Any:
    """Entry point target (group ``farmorm.drivers``): this module is the driver plug-in."""
    return sys.modules[__name__]
