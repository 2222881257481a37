"""Runtime detection over every client kind: kind, dialect and source; the inspection report;
detection never imports a library the application did not import; undeterminable dialects.

Client objects are built without connecting (pool constructors that connect lazily, or the bare
class for connection types): detection only looks at classes.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import Any

import pytest

from farmorm import (
    create_orm,
    define_schema,
    detect_database_runtime,
    inspect_database_runtime,
    model,
    require_database_runtime,
)
from farmorm import fields as f
from farmorm.setup import push_schema

SCHEMA = define_schema(probe=model(table="probe", fields={"id": f.id()}))
PG = "postgresql://postgres@127.0.0.1:5432/postgres"


def bare(cls: type) -> Any:
    """An instance of ``cls`` that never ran ``__init__`` (no socket, no thread)."""
    return cls.__new__(cls)


def _clients() -> list[tuple[str, Any, str, str | None, str]]:
    """(label, client, kind, dialect, source) for every supported client kind."""
    import aiomysql
    import aiosqlite
    import asyncmy
    import asyncpg
    import psycopg
    import psycopg_pool
    from pymongo import AsyncMongoClient
    from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

    out: list[tuple[str, Any, str, str | None, str]] = [
        ("asyncpg.Pool", bare(asyncpg.Pool), "asyncpg", "postgres", "pool"),
        ("asyncpg.Connection", bare(asyncpg.Connection), "asyncpg", "postgres", "connection"),
        ("psycopg_pool.AsyncConnectionPool", bare(psycopg_pool.AsyncConnectionPool), "psycopg",
         "postgres", "pool"),
        ("psycopg.AsyncConnection", bare(psycopg.AsyncConnection), "psycopg", "postgres", "connection"),
        ("aiomysql.Pool", bare(aiomysql.Pool), "aiomysql", "mysql", "pool"),
        ("aiomysql.Connection", bare(aiomysql.Connection), "aiomysql", "mysql", "connection"),
        ("asyncmy.Pool", bare(asyncmy.Pool), "asyncmy", "mysql", "pool"),
        ("asyncmy.Connection", bare(asyncmy.Connection), "asyncmy", "mysql", "connection"),
        ("aiosqlite.Connection", bare(aiosqlite.Connection), "aiosqlite", "sqlite", "connection"),
        ("AsyncMongoClient", AsyncMongoClient("mongodb://127.0.0.1:1", connect=False), "pymongo", None, "client"),
        ("AsyncDatabase", AsyncMongoClient("mongodb://127.0.0.1:1", connect=False)["app"], "pymongo", None,
         "database"),
    ]
    for url, dialect in (("sqlite+aiosqlite:///:memory:", "sqlite"), ("postgresql+asyncpg://u@h/db", "postgres"),
                         ("postgresql+psycopg://u@h/db", "postgres"), ("mysql+aiomysql://u@h/db", "mysql"),
                         ("mysql+asyncmy://u@h/db", "mysql")):
        engine = create_async_engine(url)
        out.append((f"AsyncEngine {url.split(':')[0]}", engine, "sqlalchemy", dialect, "engine"))
        out.append((f"AsyncConnection {url.split(':')[0]}", AsyncConnection(engine), "sqlalchemy", dialect,
                    "connection"))
    for url, kind, dialect in (
        ("sqlite:///app.db", "aiosqlite", "sqlite"), (PG, "asyncpg", "postgres"),
        ("postgresql+psycopg://u@h/db", "psycopg", "postgres"), ("mysql://root@h/db", "aiomysql", "mysql"),
        ("mysql+asyncmy://root@h/db", "asyncmy", "mysql"), ("mongodb://h/db", "pymongo", None),
    ):
        out.append((f"URL {url.split(':')[0]}", url, kind, dialect, "url"))
    return out


CASES = _clients()


@pytest.mark.parametrize(("label", "client", "kind", "dialect", "source"), CASES, ids=[c[0] for c in CASES])
def test_every_client_kind_is_detected(label: str, client: Any, kind: str, dialect: str | None, source: str) -> None:
    found = detect_database_runtime(client)
    assert found is not None, label
    assert (found.kind, found.dialect, found.source) == (kind, dialect, source)
    assert found.client is client
    assert require_database_runtime(client) == found
    report = inspect_database_runtime(client)
    suffix = f" ({dialect})" if dialect else ""
    assert report.summary == f"Detected {kind}{suffix} runtime from {source}."
    assert report.hint is None


def test_the_report_lists_every_runtime_kind_with_reasons() -> None:
    class NotADatabase:
        pass

    report = inspect_database_runtime(NotADatabase())
    assert report.runtime is None
    kinds = [c.kind for c in report.candidates]
    for kind in ("aiosqlite", "asyncpg", "psycopg", "aiomysql", "asyncmy", "sqlalchemy"):
        assert kind in kinds, kinds
    assert all(not c.matched and c.reasons for c in report.candidates)
    reasons = {c.kind: c.reasons for c in report.candidates}
    assert reasons["psycopg"] == ("not a psycopg.AsyncConnection or psycopg_pool.AsyncConnectionPool",)
    assert reasons["asyncmy"] == ("not an asyncmy.Pool or asyncmy.Connection",)
    assert reasons["sqlalchemy"] == ("not a SQLAlchemy AsyncEngine or AsyncConnection",)
    assert report.summary == 'Could not detect a supported runtime from constructor "NotADatabase".'
    assert report.hint == ("Pass a URL or a client farmorm supports (a pool, connection, engine or database of a "
                           "library your app has imported: see docs/clients.md). First failing check: not an "
                           "aiosqlite.Connection.")
    assert "override" not in report.hint  # issue 15.14: create_orm has no "runtime" override to pass


def test_synchronous_clients_get_a_reason_naming_the_async_class() -> None:
    import psycopg_pool
    from sqlalchemy import create_engine

    report = inspect_database_runtime(create_engine("sqlite://"))
    assert report.runtime is None
    reasons = {c.kind: c.reasons for c in report.candidates}
    assert "pass an AsyncEngine" in reasons["sqlalchemy"][0]
    report = inspect_database_runtime(psycopg_pool.ConnectionPool(PG, open=False))
    assert "pass psycopg.AsyncConnection" in {c.kind: c.reasons for c in report.candidates}["psycopg"][0]


async def test_an_engine_of_an_unknown_dialect_needs_an_explicit_dialect() -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine("sqlite+aiosqlite:///:memory:")
    engine.sync_engine.dialect.name = "exotic"  # a dialect farmorm cannot name
    try:
        found = detect_database_runtime(engine)
        assert found is not None and (found.kind, found.dialect, found.source) == ("sqlalchemy", None, "engine")
        with pytest.raises(ValueError) as err:
            await create_orm(SCHEMA, engine)
        assert str(err.value) == ("Could not determine the database dialect for the detected sqlalchemy runtime. "
                                  'Pass a "dialect" option explicitly.')
        orm = await create_orm(SCHEMA, engine, dialect="sqlite")  # the override makes it usable
        try:
            assert (orm.driver.kind, orm.driver.dialect, orm.driver.client) == ("sqlalchemy", "sqlite", engine)
            await push_schema(SCHEMA, orm)
            assert await orm.probe.count() == 0
        finally:
            await orm.close()
    finally:
        await engine.dispose()


async def test_an_engine_on_an_unsupported_dbapi_driver_is_refused() -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    from farmorm import UnsupportedError

    engine = create_async_engine("sqlite+aiosqlite:///:memory:")
    engine.sync_engine.dialect.driver = "pysqlcipher"
    try:
        with pytest.raises(UnsupportedError, match='uses the "pysqlcipher" driver for sqlite; farmorm runs on aiosqlite'):
            await create_orm(SCHEMA, engine)
    finally:
        await engine.dispose()


def test_detection_never_imports_a_client_library() -> None:
    """A fresh interpreter that imports only farmorm: detecting objects and URLs imports no driver library."""
    script = textwrap.dedent("""
        import sys
        import farmorm.core.detect as detect
        from farmorm import detect_database_runtime, inspect_database_runtime

        class AppClient:
            pass

        report = inspect_database_runtime(AppClient())
        assert report.runtime is None, report
        assert len(report.candidates) >= 6, report.candidates
        for url in ("postgresql://h/db", "postgresql+psycopg://h/db", "mysql://h/db", "mysql+asyncmy://h/db",
                    "sqlite:///:memory:", "mongodb://h/db"):
            assert detect_database_runtime(url) is not None, url
        assert detect.drivers()  # every driver module was loaded
        loaded = sorted(m for m in ("asyncpg", "aiomysql", "pymysql", "psycopg", "psycopg_pool", "asyncmy",
                                    "aiosqlite", "sqlalchemy", "pymongo", "motor", "mongomock") if m in sys.modules)
        print(loaded)
        assert not loaded, loaded
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
