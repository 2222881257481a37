"""MongoDB: pymongo's ``AsyncMongoClient`` / ``AsyncDatabase``, Motor, mongomock (tests) and URLs.

Accepted clients (checked by class, only for libraries the application already imported):

- ``pymongo.AsyncMongoClient`` (source ``client``; needs ``database_name=``) and ``AsyncDatabase``
  (source ``database``) — the first choice; Motor reached end of life on 2026-05-14;
- Motor's ``AsyncIOMotorClient`` / ``AsyncIOMotorDatabase`` for older apps;
- the ``farmorm_drivers.mongo.mongomock_async`` wrappers (imported as ``farmorm.testing.mongomock_async``), raw ``mongomock.MongoClient`` / ``Database`` and
  mongomock-motor's ``AsyncMongoMockClient`` / its databases (the usual test double of Motor apps):
  kind ``mongomock``, farmorm runs on the mongomock database underneath, through its own adapter;
- URLs: ``mongodb://host/db`` / ``mongodb+srv://…/db`` (farmorm opens and closes an
  ``AsyncMongoClient``), ``mongomock://store/db`` (an in-memory server, for tests).
"""

from __future__ import annotations

import sys
from typing import Any
from urllib.parse import urlsplit

from farmorm.core.detect import Candidate, Detected

name = "mongo"
dialect = "mongo"  # the detected runtime's dialect is None: Mongo is not a SQL dialect
url_schemes = ("mongodb", "mongodb+srv", "mongomock")

MISSING_DATABASE = (
    'MongoClient auto-creation requires a "database_name" option so the helper can resolve the target database.'
)


def _classes() -> list[tuple[str, str, type]]:
    """(kind, source, class) for every supported class whose library is already imported."""
    out: list[tuple[str, str, type]] = []
    mod = sys.modules.get("pymongo.asynchronous.database")
    if mod is not None:
        out.append(("pymongo", "database", mod.AsyncDatabase))
    mod = sys.modules.get("pymongo.asynchronous.mongo_client")
    if mod is not None:
        out.append(("pymongo", "client", mod.AsyncMongoClient))
    mod = sys.modules.get("mongomock_motor")
    if mod is not None:  # before Motor: its classes pass for Motor's (isinstance answers True)
        out.append(("mongomock", "database", mod.AsyncMongoMockDatabase))
        out.append(("mongomock", "client", mod.AsyncMongoMockClient))
    mod = sys.modules.get("motor.motor_asyncio")
    if mod is not None:
        out.append(("motor", "database", mod.AsyncIOMotorDatabase))
        out.append(("motor", "client", mod.AsyncIOMotorClient))
    mod = sys.modules.get("farmorm_drivers.mongo.mongomock_async")
    if mod is not None:
        out.append(("mongomock", "database", mod.AsyncMongomockDatabase))
        out.append(("mongomock", "client", mod.AsyncMongomockClient))
    mod = sys.modules.get("mongomock")
    if mod is not None:
        out.append(("mongomock", "database", mod.Database))
        out.append(("mongomock", "client", mod.MongoClient))
    return out


def inspect(client: Any) -> Candidate:
    """Is ``client`` a Mongo async client / database (or a mongodb URL)?"""
    if isinstance(client, str):
        scheme = client.split(":", 1)[0].lower()
        if scheme in url_schemes:
            kind = "mongomock" if scheme == "mongomock" else "pymongo"
            return Candidate(kind, True, (), Detected(kind, client, None, "url"))
        return Candidate("mongo", False, (f'URL scheme "{scheme}" is not mongodb',))
    for kind, source, cls in _classes():
        if isinstance(client, cls):
            return Candidate(kind, True, (), Detected(kind, client, None, source))
    pymongo = sys.modules.get("pymongo")
    if pymongo is not None and isinstance(client, (pymongo.MongoClient, pymongo.database.Database)):
        return Candidate("pymongo", False, ("a synchronous pymongo client; pass an AsyncMongoClient or AsyncDatabase",))
    if not any(m in sys.modules for m in ("pymongo", "motor", "mongomock")):
        return Candidate("mongo", False, ("pymongo is not imported",))
    return Candidate("mongo", False, ("not an AsyncMongoClient, AsyncDatabase or Motor client/database",))


def _codec(db: Any) -> Any:
    """The database handle with tz-aware datetimes (UTC: ``tz_aware=True`` without a ``tzinfo``),
    keeping the app's other codec options (UUID representation, type registry, document class)."""
    with_options = getattr(db, "with_options", None)
    opts = getattr(db, "codec_options", None)
    if with_options is None or opts is None or getattr(opts, "tz_aware", False):
        return db
    return with_options(codec_options=opts.with_options(tz_aware=True))


def _is_connection_failure(exc: BaseException) -> bool:
    from pymongo.errors import ConnectionFailure

    return isinstance(exc, ConnectionFailure)


async def _supports_transactions(db: Any, kind: str) -> bool:
    """Replica sets and sharded clusters run transactions; a standalone server does not.

    An unreachable server is CONNECTION_ERROR, never "no transactions": farmorm would otherwise run
    without atomicity for the client's whole life (unit of work, outbox and history included)."""
    from farmorm.core.errors import CONNECTION_ERROR, native_error

    hello: Any = None
    for command in ("hello", "isMaster"):  # isMaster: servers older than 4.4.2
        try:
            hello = await db.command(command)
            break
        except Exception as exc:
            if _is_connection_failure(exc):
                raise native_error(
                    CONNECTION_ERROR, exc, backend_kind=kind, dialect=None,
                    meta={"stage": "create_orm", "reason": "unreachable"},
                ) from exc
    if hello is None:
        return False
    return bool(hello.get("setName") or hello.get("msg") == "isdbgrid")


def _mock_database(client: Any, source: str, database_name: str | None) -> Any:
    """farmorm's async adapter on the mongomock database behind ``client`` (a raw mongomock client
    or database, farmorm's adapter, or mongomock-motor's client or database), tz-aware."""
    from bson.codec_options import CodecOptions

    from . import mongomock_async as mm

    if source == "client":
        if not database_name:
            raise ValueError(MISSING_DATABASE)
        client = client.get_database(database_name)
    if isinstance(client, mm.AsyncMongomockDatabase):
        return client
    raw = getattr(client, "delegate", client)  # mongomock-motor's database wraps a mongomock one
    if not getattr(raw.codec_options, "tz_aware", False):  # mongomock refuses a custom tzinfo
        raw = raw.with_options(codec_options=CodecOptions(tz_aware=True))
    return mm.AsyncMongomockDatabase(raw)


async def create_driver(schema: Any, detected: Detected, *, database_name: str | None = None,
                        **options: Any) -> Any:
    """Build the driver; opens (and will close) a client when given a ``mongodb://`` URL."""
    from farmorm.core.errors import CONNECTION_ERROR, OrmError, native_error

    from .driver import MongoDriver

    client = detected.client
    source = detected.source
    owner = None
    if source == "url":
        parts = urlsplit(client)
        dbname = parts.path.lstrip("/") or database_name
        if not dbname:
            raise ValueError(MISSING_DATABASE)
        if detected.kind == "mongomock":
            from .mongomock_async import open_url

            db: Any = open_url(client, dbname)
            return MongoDriver(schema, db, kind="mongomock", client=client, transactions=False)
        from pymongo import AsyncMongoClient

        try:
            owner = AsyncMongoClient(client, tz_aware=True, **options)
            db = owner.get_database(dbname)
            transactions = await _supports_transactions(db, "pymongo")
        except Exception as exc:
            if owner is not None:
                await owner.close()
            if isinstance(exc, OrmError):
                raise
            raise native_error(CONNECTION_ERROR, exc, backend_kind="pymongo", dialect=None,
                               meta={"url": client}) from exc
        return MongoDriver(schema, _codec(db), kind="pymongo", client=client, owner=owner,
                           transactions=transactions)
    if detected.kind == "mongomock":
        db = _mock_database(client, source, database_name)
        return MongoDriver(schema, db, kind="mongomock", client=client, transactions=False)
    if source == "client":
        if not database_name:
            raise ValueError(MISSING_DATABASE)
        db = client.get_database(database_name)
    else:
        db = client
    db = _codec(db)
    return MongoDriver(schema, db, kind=detected.kind, client=client,
                       transactions=await _supports_transactions(db, detected.kind))


def driver_factory() -> Any:
    """Entry point target (group ``farmorm.drivers``): this module is the driver plug-in."""
    return sys.modules[__name__]
