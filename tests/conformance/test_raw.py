"""orm.raw / tx.raw: bound parameters only, schema names spliced safely, events, errors, rollback."""

from __future__ import annotations

import logging

import pytest

from farmorm import (
    OrmError, QueryValidationError, UniqueConstraintViolation, UnsupportedError, define_schema, fields as f,
    model,
)

schema = define_schema(
    user=model(
        table="raw_users",
        fields={"id": f.id(), "email": f.string().unique().map("email_address"), "name": f.string(),
                "age": f.integer().nullable()},
    ),
)

SQL = ("sqlite", "postgres", "mysql")


@pytest.fixture
async def orm(make_orm):
    orm = await make_orm(schema)
    await orm.user.create_many(data=[{"email": "ada@x", "name": "Ada", "age": 36},
                                     {"email": "grace@x", "name": "Grace", "age": 85}])
    return orm


async def test_fetch_binds_values_and_splices_schema_names(orm, backend) -> None:
    if backend not in SQL:
        pytest.skip("SQL backends; MongoDB has raw.command / raw.aggregate")
    rows = await orm.raw.fetch(
        "SELECT {user.name} AS name, {user.email} AS email FROM {user} WHERE {user.age} > $1 ORDER BY {user.name}", 40)
    assert rows == [{"name": "Grace", "email": "grace@x"}]
    # one value, two uses; a $1 or a {name} inside a literal is text
    rows = await orm.raw.fetch("SELECT '$1 {user}' AS lit, {user.name} AS n FROM {user} "
                               "WHERE {user.age} > $1 AND {user.age} < $1 + 100 ORDER BY n", 30)
    assert rows == [{"lit": "$1 {user}", "n": "Ada"}, {"lit": "$1 {user}", "n": "Grace"}]
    # a literal % survives drivers that interpolate %s
    assert await orm.raw.fetch("SELECT '100%' AS p, {user.name} AS n FROM {user} WHERE {user.email} = $1",
                               "ada@x") == [{"p": "100%", "n": "Ada"}]
    assert await orm.raw.fetch("SELECT {user.name} AS n FROM {user} WHERE {user.age} > $1", 99) == []
    # user text stays a value: an injection attempt matches nothing
    assert await orm.raw.fetch("SELECT {user.name} AS n FROM {user} WHERE {user.name} = $1", "x' OR '1'='1") == []


async def test_execute_returns_the_row_count(orm, backend) -> None:
    if backend not in SQL:
        pytest.skip("SQL backends")
    assert await orm.raw.execute("UPDATE {user} SET {user.age} = {user.age} + $1 WHERE {user.age} IS NOT NULL", 1) == 2
    assert (await orm.user.find_unique(where={"email": "ada@x"}))["age"] == 37
    assert await orm.raw.execute("DELETE FROM {user} WHERE {user.email} = $1", "nobody") == 0


async def test_tx_raw_rolls_back_with_the_transaction(orm, backend) -> None:
    if backend not in SQL:
        pytest.skip("raw SQL; transactions")

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with orm.transaction() as tx:
            await tx.raw.execute("UPDATE {user} SET {user.name} = $1 WHERE {user.email} = $2", "Lost", "ada@x")
            assert (await tx.raw.fetch("SELECT {user.name} AS n FROM {user} WHERE {user.email} = $1",
                                       "ada@x")) == [{"n": "Lost"}]  # the transaction sees its own write
            assert (await tx.user.find_unique(where={"email": "ada@x"}))["name"] == "Lost"
            raise Boom
    assert (await orm.user.find_unique(where={"email": "ada@x"}))["name"] == "Ada"

    async def body(tx):
        await tx.raw.execute("DELETE FROM {user} WHERE {user.email} = $1", "grace@x")
        raise Boom

    with pytest.raises(Boom):
        await orm.transaction(body)
    assert await orm.user.count() == 2
    async with orm.transaction() as tx:  # and commits with it
        await tx.raw.execute("DELETE FROM {user} WHERE {user.email} = $1", "grace@x")
    assert await orm.user.count() == 1


async def test_native_errors_are_mapped(orm, backend) -> None:
    if backend not in SQL:
        pytest.skip("raw SQL")
    with pytest.raises(UniqueConstraintViolation) as e:
        await orm.raw.execute("UPDATE {user} SET {user.email} = $1", "same@x")
    assert e.value.code == "UNIQUE_CONSTRAINT_VIOLATION"
    with pytest.raises(OrmError) as e:
        await orm.raw.fetch("SELECT nope FROM {user}")
    assert e.value.code and e.value.__cause__ is not None


async def test_events_and_the_sql_logger_see_raw_statements(orm, backend, caplog) -> None:
    if backend not in SQL:
        pytest.skip("raw SQL")
    seen = []
    orm.on_query(lambda event: seen.append(event))
    with caplog.at_level(logging.DEBUG, logger="farmorm.sql"):
        await orm.raw.fetch("SELECT {user.name} AS n FROM {user} WHERE {user.age} > $1", 1)
    assert len(seen) == 1 and seen[0].operation == "SELECT" and seen[0].params_count == 1 and seen[0].rows == 2
    assert any("raw_users" in r.getMessage() for r in caplog.records if r.name == "farmorm.sql")


async def test_bad_raw_input_is_refused_before_io(orm, query_log, backend) -> None:
    if backend not in SQL:
        pytest.skip("raw SQL")
    log = query_log(orm)
    cases = [
        (orm.raw.fetch("SELECT $1, $2", 1),
         "Raw SQL uses placeholders $1..$2 but got 1 argument(s): pass one argument per placeholder number "
         "(values are always bound, never spliced into the text)."),
        (orm.raw.fetch("SELECT $2", 1, 2),
         "Raw SQL uses placeholders $1..$2 ($1 unused) but got 2 argument(s): pass one argument per placeholder "
         "number (values are always bound, never spliced into the text)."),
        (orm.raw.execute("SELECT 1", "extra"),
         "Raw SQL uses placeholders $1..$0 but got 1 argument(s): pass one argument per placeholder number "
         "(values are always bound, never spliced into the text)."),
        (orm.raw.fetch("SELECT * FROM {nope}"), 'Unknown model "nope" in raw SQL {nope}.'),
        (orm.raw.fetch("SELECT {user.nope} FROM {user}"), 'Unknown field "nope" on model "user".'),
        (orm.raw.fetch(""), "Raw SQL must be a non-empty str, got ''."),
    ]
    for call, message in cases:
        with pytest.raises(QueryValidationError) as e:
            await call
        assert e.value.message == message
    with pytest.raises(UnsupportedError):
        await orm.raw.command({"ping": 1})
    assert log == []


async def test_native_connection_is_the_scope_connection(orm, backend) -> None:
    if backend not in SQL:
        pytest.skip("SQL native connections")

    async def names(native):
        sql = "SELECT name FROM raw_users ORDER BY name"
        library = type(native).__module__.split(".")[0]
        if library == "aiosqlite":
            return [r[0] for r in await native.execute_fetchall(sql)]
        if library == "asyncpg":
            return [r[0] for r in await native.fetch(sql)]
        if library == "psycopg":
            cur = await native.execute(sql)
            return [r[0] for r in await cur.fetchall()]
        async with native.cursor() as cur:
            await cur.execute(sql)
            return [r[0] for r in await cur.fetchall()]

    async with orm.raw.connection() as native:
        assert await names(native) == ["Ada", "Grace"]
    async with orm.transaction() as tx:
        await tx.user.delete(where={"email": "ada@x"})
        async with tx.raw.connection() as native:
            assert await names(native) == ["Grace"]  # the transaction's own connection
    assert await orm.user.count() == 1


async def test_mongo_command_and_aggregate(orm, backend) -> None:
    if backend != "mongo":
        pytest.skip("MongoDB")
    assert (await orm.raw.command({"ping": 1}))["ok"] == 1.0
    rows = await orm.raw.aggregate("user", [{"$match": {"age": {"$gt": 40}}}, {"$project": {"_id": 0, "name": 1}}])
    assert rows == [{"name": "Grace"}]
    seen = []
    orm.on_query(lambda event: seen.append(event))
    await orm.raw.aggregate("user", [{"$count": "n"}])
    assert [e.statement for e in seen] == ["aggregate"]
    with pytest.raises(QueryValidationError):
        await orm.raw.aggregate("nope", [])
    with pytest.raises(QueryValidationError):
        await orm.raw.aggregate("user", {"$match": {}})
    with pytest.raises(UnsupportedError) as e:
        await orm.raw.fetch("SELECT 1")
    assert "orm.raw.fetch() runs on SQL databases" in e.value.message
    async with orm.raw.connection() as db:
        assert await db["raw_users"].count_documents({}) == 2
