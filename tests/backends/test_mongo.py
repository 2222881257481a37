"""MongoDB specifics: the exact commands nodes compile to, ids, clients, setup and error mapping.

Runs on mongomock (no server is needed); compile tests need no database at all.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import mongomock
import pytest
from bson.decimal128 import Decimal128
from bson.int64 import Int64
from pymongo.errors import AutoReconnect, BulkWriteError, DuplicateKeyError, OperationFailure

from farmorm import OrmError, create_orm, define_schema, detect_database_runtime, model
from farmorm import fields as f
from farmorm.core.errors import SchemaError, UnsupportedError
from farmorm.query import nodes as n
from farmorm.query.plan import LINK_COLUMN
from farmorm.setup import push_schema
from farmorm.testing.mongomock_async import AsyncMongomockClient, AsyncMongomockDatabase
from farmorm_drivers.mongo.compiler import NOTHING, MongoCompiler, P, Sub, fill
from farmorm_drivers.mongo.driver import MongoDriver
from farmorm_drivers.mongo.errors import map_mongo_error
from tests.conformance.auth import auth_schema, seed_auth

UTC = dt.timezone.utc
C = MongoCompiler(auth_schema)


def shape(node, params=None):
    return C.compile(node).shape(params)


# ------------------------------------------------------------------------------------- reads


def test_find_with_filter_projection_sort_skip_limit():
    node = n.Select("user", ("id", "email"), n.Compare("name", "eq", n.Param(0)),
                    (n.OrderItem("email", desc=True),), take=n.Param(1), skip=n.Param(2))
    assert shape(node, ["Ada", 5, 10]) == {
        "find": "users", "filter": {"name": {"$eq": "Ada"}},
        "projection": {"id": 1, "email": 1, "_id": 0},
        "sort": [("email", -1)], "skip": 10, "limit": 5,
    }


@pytest.mark.parametrize("cond, expected", [
    (n.Compare("name", "ne", n.Param(0)), {"name": {"$ne": "x", "$nin": [None]}}),
    (n.Compare("name", "gte", n.Param(0)), {"name": {"$gte": "x"}}),
    (n.IsNull("name"), {"name": None}),
    (n.IsNull("name", negated=True), {"name": {"$ne": None}}),
    (n.InList("name", n.Param(0)), {"name": {"$in": ["x"]}}),
    (n.InList("name", n.Param(0), negated=True), {"name": {"$nin": ["x", None]}}),
    (n.Const(True), {}),
    (n.Const(False), NOTHING),
    (n.Not(n.Compare("name", "eq", n.Param(0))), {"name": {"$ne": "x", "$nin": [None]}}),
    (n.Not(n.Compare("name", "gt", n.Param(0))), {"name": {"$lte": "x"}}),
    (n.Or((n.IsNull("name"), n.Compare("name", "eq", n.Param(0)))),
     {"$or": [{"name": None}, {"name": {"$eq": "x"}}]}),
    (n.Not(n.And((n.IsNull("name"), n.Compare("name", "lt", n.Param(0))))),
     {"$or": [{"name": {"$ne": None}}, {"name": {"$gte": "x"}}]}),
])
def test_conditions(cond, expected):
    params = [["x"]] if isinstance(cond, n.InList) else ["x"]
    assert shape(n.Count("user", cond), params)["filter"] == expected


def test_text_operators_are_escaped_regexes():
    for kind, insensitive, text, matches, misses in [
        ("contains", False, "a.b*", "xa.b*y", "xaXbby"),
        ("starts_with", True, "(Ad", "(ada", "x(ad"),
        ("ends_with", False, "$1", "pay $1", "pay $1\n"),
    ]:
        filt = shape(n.Count("user", n.Match("name", kind, n.Param(0), insensitive)), [text])["filter"]
        rx = filt["name"]
        assert isinstance(rx, re.Pattern)
        assert bool(rx.flags & re.IGNORECASE) is insensitive
        assert rx.search(matches) and not rx.search(misses)


def test_insensitive_equality_and_negated_match():
    eq = shape(n.Count("user", n.Compare("name", "eq", n.Param(0), insensitive=True)), ["ADA"])["filter"]
    assert eq["name"].pattern.startswith("^") and eq["name"].search("ada")
    neg = shape(n.Count("user", n.Not(n.Match("name", "contains", n.Param(0)))), ["a"])["filter"]
    assert set(neg["name"]) == {"$not", "$ne"} and neg["name"]["$ne"] is None


def test_json_equality_is_key_order_free():
    schema = define_schema(doc=model(table="docs", fields={"id": f.id(), "meta": f.json()}))
    node = n.Count("doc", n.JsonEquals("meta", n.Param(0)))
    filt = MongoCompiler(schema).compile(node).shape([{"b": 1, "a": {"d": 2, "c": 3}}])["filter"]
    assert list(filt["meta"]["$eq"]) == ["a", "b"] and list(filt["meta"]["$eq"]["a"]) == ["c", "d"]


def test_relation_filter_is_a_two_phase_id_query():
    node = n.Count("user", n.RelationFilter("sessions", "some", n.Compare("token", "eq", n.Param(0))))
    filt = C.compile(node).filter
    sub = filt["id"]["$in"]
    assert isinstance(sub, Sub) and sub.collection == "sessions" and sub.field == "user_id"
    assert fill(sub.filter, ["t"]) == {"token": {"$eq": "t"}}
    none = C.compile(n.Count("user", n.RelationFilter("sessions", "none"))).filter
    assert isinstance(none["id"]["$nin"], Sub)
    every = C.compile(n.Count("user", n.RelationFilter("sessions", "every", n.IsNull("token")))).filter
    assert every["id"]["$nin"].filter == {"$nor": [{"token": None}]}


def test_relation_levels():
    direct = C.compile(n.Select("session", ("token", "user_id"), link=n.Link("user_id", n.Param(0))))
    assert direct.shape([["u1", "u2"]])["filter"] == {"user_id": {"$in": ["u1", "u2"]}}
    rel = auth_schema.models["user"].relations["organizations"]
    m2m = C.compile(n.Select("organization", ("slug",), link=n.Link(
        rel.remote_field, n.Param(0), through=rel.through, from_field=rel.through_from,
        to_field=rel.through_to, per_parent=True)))
    assert m2m.columns == ("slug", LINK_COLUMN)
    assert m2m.through["collection"] == auth_schema.models[rel.through].table


def test_count_and_writes():
    assert shape(n.Count("user"))["count_documents"] == "users"
    ins = C.compile(n.Insert("user", ("id", "email"), 2, ("id",)))
    assert ins.op == "insert_many" and ins.rows == 2
    upd = C.compile(n.Update("user", ("name",), (n.Param(0),), n.Compare("email", "eq", n.Param(1)), True, ("id",)))
    assert upd.shape(["N", "e"]) == {
        "find_one_and_update": "users", "filter": {"email": {"$eq": "e"}},
        "projection": {"id": 1, "_id": 0}, "update": {"$set": {"name": "N"}},
    }
    assert C.compile(n.Update("user", ("name",), (n.Param(0),), None)).op == "update_many"
    assert C.compile(n.Delete("user", None, True)).op == "delete_one"
    assert C.compile(n.Delete("user", None)).op == "delete_many"
    ups = C.compile(n.Upsert("user", ("email", "name"), (n.Param(0), n.Param(1)), ("email",),
                             ("name",), (n.Param(2),), ("id",)))
    assert ups.shape(["e", "create", "update"])["filter"] == {"email": {"$eq": "e"}}  # never a bare value (T39)
    assert ups.shape(["e", "create", "update"])["update"] == {"$set": {"name": "update"},
                                                              "$setOnInsert": {"email": "e", "name": "create"}}


def test_value_encoding():
    schema = define_schema(v=model(table="vs", fields={
        "id": f.id(), "amount": f.decimal(), "big": f.bigint(), "at": f.datetime()}))
    ins = MongoCompiler(schema).compile(n.Insert("v", ("amount", "big", "at"), 1))
    doc = {k: slot.encode(v) for (k, slot), v in zip(ins.document.items(), [
        Decimal("12.50"), 2**62, dt.datetime(2026, 1, 2, 3, 4, 5, 678999, tzinfo=UTC)])}
    assert doc["amount"] == Decimal128("12.5") and isinstance(doc["big"], Int64)
    assert doc["at"] == dt.datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


# ----------------------------------------------------------------------------- runtime / ids


def _db():
    return AsyncMongomockDatabase(mongomock.MongoClient(tz_aware=True).get_database("app"))


async def test_string_id_mapped_to__id_is_stored_in__id():
    schema = define_schema(item=model(table="items", fields={"id": f.id().map("_id"), "name": f.string()}))
    db = _db()
    orm = await create_orm(schema, db)
    await push_schema(schema, orm)
    made = await orm.item.create(data={"name": "a"})
    raw = db.delegate["items"].find_one({})
    assert raw["_id"] == made["id"] and "id" not in raw
    assert (await orm.item.find_unique(where={"id": made["id"]}))["name"] == "a"
    names = set(db.delegate["items"].index_information())
    assert "items__id_pk_unique" not in names


async def test_push_schema_creates_named_indexes_idempotently():
    db = _db()
    orm = await create_orm(auth_schema, db)
    await push_schema(auth_schema, orm)
    await push_schema(auth_schema, orm)
    info = db.delegate["users"].index_information()
    assert info["users_id_pk_unique"]["unique"] and info["users_email_unique"]["unique"]


async def test_generated_integer_ids_are_refused():
    schema = define_schema(m=model(table="ms", fields={"id": f.id(type="integer", generated="increment")}))
    with pytest.raises(SchemaError, match=re.escape(
            'The Mongo runtime does not support generated integer ids for model "m". '
            "Use manual integer ids or string ids instead.")):
        await create_orm(schema, _db())


async def test_manual_integer_ids_work():
    schema = define_schema(m=model(table="ms", fields={"id": f.id(type="integer"), "n": f.string()}))
    orm = await create_orm(schema, _db())
    await push_schema(schema, orm)
    await orm.m.create(data={"id": 7, "n": "x"})
    assert (await orm.m.find_unique(where={"id": 7}))["n"] == "x"


async def test_namespaces_are_refused():
    from farmorm import table_name

    schema = define_schema(m=model(table=table_name("ms", schema="app"), fields={"id": f.id()}))
    with pytest.raises(UnsupportedError):
        await create_orm(schema, _db())


async def test_client_needs_database_name():
    client = AsyncMongomockClient()
    with pytest.raises(ValueError, match='requires a "database_name" option'):
        await create_orm(auth_schema, client)
    orm = await create_orm(auth_schema, client, database_name="app")
    assert orm.driver.client is client and orm.driver.dialect is None


def test_detection():
    db = _db()
    d = detect_database_runtime(db)
    assert (d.kind, d.source, d.dialect) == ("mongomock", "database", None)
    assert detect_database_runtime("mongodb://localhost/app").source == "url"


async def test_capabilities_on_mongomock():
    orm = await create_orm(auth_schema, _db())
    caps = orm.driver.capabilities
    assert caps.numeric_ids == "manual" and caps.supports_transactions is False
    assert caps.datetime_precision == "millisecond" and caps.upsert == "native"


async def test_transaction_without_support_runs_the_body():
    orm = await create_orm(auth_schema, _db())
    await push_schema(auth_schema, orm)
    await seed_auth(orm)

    async def body(tx):
        return await tx.user.count()

    assert await orm.transaction(body) == await orm.user.count()


async def test_query_events_name_the_command():
    orm = await create_orm(auth_schema, _db())
    await push_schema(auth_schema, orm)
    log = []
    orm.on_query(lambda e: log.append(e.statement))
    await orm.user.count()
    assert log == ["count_documents users"]


# ------------------------------------------------------------------------------------ errors


def _map(exc, collection="users"):
    return map_mongo_error(exc, auth_schema, "pymongo", collection)


def test_duplicate_key_maps_to_unique_with_target():
    exc = DuplicateKeyError("E11000 duplicate key error collection: app.users index: users_email_unique dup key",
                            11000, {"keyPattern": {"email": 1}, "keyValue": {"email": "a"}})
    err = _map(exc)
    assert err.code == "UNIQUE_CONSTRAINT_VIOLATION"
    assert err.meta["target"] == ["email"] and err.meta["constraint"] == "users_email_unique"
    assert str(err).startswith("Unique constraint violation in pymongo runtime: ")


def test_bulk_write_duplicate_maps_to_unique():
    exc = BulkWriteError({"writeErrors": [{"index": 1, "code": 11000, "errmsg": "E11000 duplicate key error",
                                           "keyPattern": {"email": 1}}], "nInserted": 1})
    assert _map(exc).code == "UNIQUE_CONSTRAINT_VIOLATION"


@pytest.mark.parametrize("exc, code, retryable", [
    (OperationFailure("ns not found", 26), "MISSING_TABLE", False),
    (OperationFailure("write conflict", 112, {"codeName": "WriteConflict"}), "TRANSACTION_CONFLICT", True),
    (OperationFailure("aborted", 251, {"errorLabels": ["TransientTransactionError"]}), "TRANSACTION_CONFLICT", True),
    (AutoReconnect("connection reset"), "CONNECTION_ERROR", False),
])
def test_error_codes(exc, code, retryable):
    err = _map(exc)
    assert isinstance(err, OrmError) and err.code == code and err.retryable is retryable


def test_unrelated_errors_are_not_mapped():
    assert _map(ValueError("x")) is None
    assert _map(OperationFailure("other", 2)) is None


async def test_unique_violation_on_mongomock_carries_the_index():
    orm = await create_orm(auth_schema, _db())
    await push_schema(auth_schema, orm)
    await seed_auth(orm)
    user = await orm.user.find_first()
    with pytest.raises(OrmError) as info:
        await orm.user.create(data={"email": user["email"], "name": "dup"})
    assert info.value.meta["target"] == ["email"]
    assert info.value.meta["constraint"] == "users_email_unique"


def test_driver_is_a_mongo_driver():
    assert MongoDriver.runtime_label == "Mongo"
    assert isinstance(P(0), P)


# -------------------------------------------------------- an unreachable server at create_orm


def _closed_port() -> int:
    import socket

    with socket.socket() as s:  # a port nothing listens on: bound, then let go
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("form", ["client", "database", "url"])
async def test_an_unreachable_server_fails_create_orm_instead_of_disabling_transactions(form):
    # issue 15.4: the replica-set probe swallowed the error and the ORM ran without transactions
    # (unit of work, outbox, history) for its whole life
    from pymongo import AsyncMongoClient

    address = f"mongodb://127.0.0.1:{_closed_port()}/app?serverSelectionTimeoutMS=200&connectTimeoutMS=200"
    client = None if form == "url" else AsyncMongoClient(address)
    target = {"client": client, "database": client and client.get_database("app"), "url": address}[form]
    try:
        with pytest.raises(OrmError) as info:
            await create_orm(auth_schema, target, database_name="app" if form == "client" else None)
    finally:
        if client is not None:
            await client.close()
    err = info.value
    assert err.code == "CONNECTION_ERROR" and err.backend_kind == "pymongo"
    assert "Connection error in pymongo runtime" in str(err)


async def test_a_server_without_the_hello_command_still_probes_with_ismaster():
    # an old server refuses "hello" (an OperationFailure, not a lost connection): isMaster answers
    calls = []

    class OldServer:
        codec_options = None

        async def command(self, name):
            calls.append(name)
            if name == "hello":
                raise OperationFailure("no such command: 'hello'", 59)
            return {"ismaster": True, "setName": "rs0"}

    from farmorm_drivers.mongo import _supports_transactions

    assert await _supports_transactions(OldServer(), "pymongo") is True
    assert calls == ["hello", "isMaster"]


# ------------------------------------------------------------------- mongomock-motor clients


async def test_a_mongomock_motor_database_is_a_client_kind():
    # issue 15.5: AsyncMongoMockClient()[db] failed ("Mongomock does not handle custom tzinfo yet"),
    # then push_schema ("object list can't be used in 'await' expression")
    mongomock_motor = pytest.importorskip("mongomock_motor")
    client = mongomock_motor.AsyncMongoMockClient()
    db = client["app"]
    d = detect_database_runtime(db)
    assert (d.kind, d.source, d.dialect) == ("mongomock", "database", None)
    orm = await create_orm(auth_schema, db)
    assert orm.driver.client is db and orm.driver.capabilities.supports_transactions is False
    await push_schema(auth_schema, orm)
    await push_schema(auth_schema, orm)  # idempotent
    await seed_auth(orm)
    made = await orm.user.create(data={"email": "m@x.dev", "name": "M"})
    assert made["created_at"].tzinfo is not None  # aware UTC, although the app's client is not tz_aware
    assert made["created_at"].utcoffset() == dt.timedelta(0)
    # the app sees farmorm's writes through its own client, and the indexes farmorm made
    assert (await db["users"].find_one({"email": "m@x.dev"}))["name"] == "M"
    assert "users_email_unique" in await db["users"].index_information()
    with pytest.raises(OrmError) as dup:
        await orm.user.create(data={"email": "m@x.dev", "name": "again"})
    assert dup.value.code == "UNIQUE_CONSTRAINT_VIOLATION"
    await orm.close()


async def test_a_mongomock_motor_client_needs_a_database_name():
    mongomock_motor = pytest.importorskip("mongomock_motor")
    client = mongomock_motor.AsyncMongoMockClient()
    assert detect_database_runtime(client).kind == "mongomock"
    with pytest.raises(ValueError, match='requires a "database_name" option'):
        await create_orm(auth_schema, client)
    orm = await create_orm(auth_schema, client, database_name="app")
    await push_schema(auth_schema, orm)
    assert await orm.user.count() == 0
    assert orm.driver.client is client
