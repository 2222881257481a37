"""MySQL / MariaDB specifics: native errors triggered for real, capabilities, values, client kinds."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any, AsyncIterator

import anyio
import pytest

from farmorm import create_orm, define_schema, model, table_name
from farmorm import fields as f
from farmorm import errors
from farmorm.core.driver import Capabilities, NativeRelations, Returning, ReturningMode, TextMatching
from farmorm.runtime import engine_of
from farmorm.setup import push_schema
from farmorm.testing.databases import TestDatabase, _mysql_args, server_url

from .conftest import require

UTC = dt.timezone.utc

schema = define_schema(
    user=model(table="users", fields={
        "id": f.id(), "email": f.string().unique(), "name": f.string(), "bio": f.string().nullable(),
        "seen_at": f.datetime().nullable(),
    }),
    team=model(table="teams", fields={"id": f.id(), "name": f.string()}),
    member=model(
        table="members",
        fields={"id": f.id(), "user_id": f.string().references("user.id"),
                "team_id": f.string().references("team.id"), "role": f.string().default("dev")},
        constraints={"unique": [["user_id", "team_id"]], "indexes": [["role"]]},
    ),
    note=model(table="notes", fields={
        "id": f.id(type="integer", generated="increment"), "tag": f.string().unique(), "body": f.string(),
    }),
    tick=model(table="ticks", fields={"id": f.id(type="integer", generated="increment")}),
    #: manual integer ids (negative ones too), a unique string, a decimal and JSON: the kinds an
    #: insert's rows are built from, or read back for
    item=model(table="items", fields={
        "id": f.id(type="integer"), "code": f.string().unique(), "price": f.decimal(10, 2).nullable(),
        "data": f.json().nullable(), "on": f.boolean().default(True), "at": f.datetime().nullable(),
    }),
)


@pytest.fixture
def mysql() -> None:
    require("mysql")


@pytest.fixture
async def my_db(mysql: None) -> AsyncIterator[TestDatabase]:
    db = TestDatabase("mysql")
    await db.create()
    try:
        yield db
    finally:
        await db.drop()


@pytest.fixture
async def orm(my_db: TestDatabase) -> AsyncIterator[Any]:
    o = await create_orm(schema, my_db.url)
    await push_schema(schema, o)
    try:
        yield o
    finally:
        await o.close()


async def raw(orm: Any, sql: str) -> Any:
    """Run raw SQL on one of the ORM's connections, errors mapped as for any ORM call."""
    async with engine_of(orm).scope(write=True) as conn:
        return await conn.execute(sql, (), "rows")


def cause_code(err: BaseException) -> int:
    import pymysql

    assert isinstance(err.__cause__, pymysql.err.MySQLError)
    return int(err.__cause__.args[0])


async def seed(orm: Any) -> dict[str, Any]:
    ada = await orm.user.create(data={"email": "ada@example.com", "name": "Ada"})
    team = await orm.team.create(data={"name": "core"})
    member = await orm.member.create(data={"user_id": ada["id"], "team_id": team["id"]})
    return {"ada": ada, "team": team, "member": member}


# ------------------------------------------------------------------------------ capabilities


async def test_full_capabilities(orm):
    assert orm.driver.kind == "aiomysql" and orm.driver.dialect == "mysql"
    assert orm.driver.capabilities == Capabilities(
        supports_numeric_ids=True, numeric_ids="generated", supports_json=True, supports_dates=True,
        supports_booleans=True, supports_transactions=True, supports_schema_namespaces=False,
        supports_transactional_ddl=False, supports_join=False, native_relation_loading="none",
        text_comparison="case-sensitive",
        text_matching=TextMatching("case-sensitive", "case-sensitive", "case-sensitive"),
        upsert="native", returning=Returning(create=True, update=True, delete=True),
        returning_mode=ReturningMode(create="record", update="record", delete="record"),
        native_relations=NativeRelations(), batched_relation_loading=True, savepoints=True,
        datetime_precision="microsecond", bulk_insert=True,
    )


async def test_namespaced_tables_are_refused(my_db):
    ns = define_schema(event=model(table=table_name("events", schema="audit"), fields={"id": f.id()}))
    with pytest.raises(errors.UnsupportedError) as info:
        await create_orm(ns, my_db.url)
    assert str(info.value) == (
        "The SQL mysql runtime does not support schema-qualified tables. "
        "Use a PostgreSQL runtime for table_name(..., schema=...)."
    )


# ------------------------------------------------------------------------------------ values


async def test_emoji_round_trip(orm):
    text = "héllo 🐍🚀 𝔘𝔫𝔦𝔠𝔬𝔡𝔢"
    row = await orm.user.create(data={"email": "e@example.com", "name": text, "bio": "☕" * 1000})
    again = await orm.user.find_unique(where={"id": row["id"]})
    assert again["name"] == text and again["bio"] == "☕" * 1000
    assert await orm.user.count(where={"name": {"contains": "🐍"}}) == 1


async def test_microseconds_survive(orm):
    when = dt.datetime(2026, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)
    row = await orm.user.create(data={"email": "t@example.com", "name": "T", "seen_at": when})
    assert row["seen_at"] == when and row["seen_at"].tzinfo is not None
    other = dt.datetime(2026, 3, 4, 7, 6, 7, 123456, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert await orm.user.count(where={"seen_at": other}) == 1  # same instant, other zone


async def test_strict_mode_refuses_a_too_long_value(orm):
    import pymysql

    from farmorm.core.errors import ValueTooLong

    with pytest.raises(ValueTooLong) as info:
        await orm.note.create(data={"tag": "x" * 192, "body": "b"})  # VARCHAR(191): no truncation
    assert info.value.code == "VALUE_TOO_LONG"
    assert info.value.meta["original_code"] == 1406
    assert isinstance(info.value.__cause__, pymysql.err.DataError)
    assert await orm.note.count() == 0


async def test_like_wildcards_and_backslashes_are_literal(orm):
    for name in ("50% off", "a_b", "back\\slash", "plain"):
        await orm.user.create(data={"email": f"{len(name)}-{name}@x", "name": name})
    assert [r["name"] for r in await orm.user.find_many(where={"name": {"contains": "%"}})] == ["50% off"]
    assert [r["name"] for r in await orm.user.find_many(where={"name": {"contains": "_"}})] == ["a_b"]
    assert [r["name"] for r in await orm.user.find_many(where={"name": {"ends_with": "\\slash"}})] == ["back\\slash"]


async def test_create_reads_nothing_back_when_it_wrote_every_column(orm):
    """Strict mode stores the values as sent: the record is the values written plus the generated
    id (the OK packet's insert id), from one INSERT without RETURNING, on MariaDB and MySQL 8."""
    log: list[str] = []
    orm.on_query(lambda e: log.append(e.statement))
    made = await orm.note.create(data={"tag": "t", "body": "b"})
    assert log == ["INSERT INTO `notes` (`tag`, `body`) VALUES (%s, %s)"]
    assert made == await orm.note.find_unique(where={"id": made["id"]}) == {"id": made["id"], "tag": "t", "body": "b"}
    first = await orm.tick.create(data={})
    assert log[-1] == "INSERT INTO `ticks` () VALUES ()"
    assert await orm.tick.create(data={}) == {"id": first["id"] + 1}
    at = dt.datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=dt.timezone(dt.timedelta(hours=5)))
    log.clear()
    rows = await orm.item.create_many(data=[
        {"id": -7, "code": "neg", "data": {"b": [1, 2.5], "a": None}, "at": at, "on": False},
        {"id": 8, "code": "pos"},
    ], select={"id": True, "code": True, "data": True, "on": True, "at": True})
    assert [s.split()[0] for s in log] == ["INSERT"] and " RETURNING " not in log[0]
    read = await orm.item.find_many(select={"id": True, "code": True, "data": True, "on": True, "at": True},
                                    order_by={"id": "asc"})
    assert rows == read
    assert rows[0]["at"] == at and rows[0]["at"].tzinfo == UTC and rows[0]["on"] is False


async def test_create_reads_back_what_the_server_may_store_otherwise(orm):
    """A decimal rounds to its scale, an omitted column takes the table's default, and text past a
    VARCHAR whose excess is spaces is trimmed with only a note: those rows are read back."""
    log: list[str] = []
    orm.on_query(lambda e: log.append(e.statement))
    made = await orm.item.create(data={"id": 1, "code": "a", "price": "1.5"})
    assert " RETURNING " in log[-1] and str(made["price"]) == "1.50"
    made = await orm.note.create(data={"tag": "x" * 191 + "   ", "body": "b"})  # unique: VARCHAR(191)
    assert " RETURNING " in log[-1]
    assert made["tag"] == "x" * 191 == (await orm.note.find_unique(where={"id": made["id"]}))["tag"]
    made = await orm.note.create(data={"tag": "y" * 191, "body": " padded "})
    assert " RETURNING " not in log[-1] and made["body"] == " padded "
    at = dt.datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
    made = await orm.item.create(data={"id": 2, "code": "z" * 191 + " ", "on": False, "at": at},
                                 select={"id": True, "code": True, "on": True, "at": True})
    assert " RETURNING " in log[-1]  # the echoed bool and datetime are decoded from the rows read back
    assert made == {"id": 2, "code": "z" * 191, "on": False, "at": at} and made["on"] is False


async def test_update_by_another_where_is_an_update_and_a_read_by_a_key(orm):
    """No transaction and no locked find: a unique key in the where (or set by the update) names
    the record for the re-read; any other where has the UPDATE report the integer id itself
    (LAST_INSERT_ID(id), unsigned on the wire: negative ids too)."""
    await orm.item.create_many(data=[{"id": -7, "code": "neg"}, {"id": 3, "code": "three"}])
    log: list[str] = []
    orm.on_query(lambda e: log.append(e.statement))
    at = dt.datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)
    changed = await orm.item.update(where={"code": "neg"}, data={"price": "2", "data": "text", "at": at})
    assert [s.split()[0] for s in log] == ["UPDATE", "SELECT"] and "`code` IN" in log[1]
    if orm._driver.compiler.packed_rereads:  # MariaDB: the row comes back as one JSON_ARRAY
        assert log[1].startswith("SELECT JSON_ARRAY(")
    assert changed is not None and changed["id"] == -7 and str(changed["price"]) == "2.00"
    assert changed["data"] == "text" and changed["at"] == at and changed["at"].tzinfo is UTC
    assert changed == await orm.item.find_unique(where={"id": -7})
    log.clear()
    changed = await orm.item.update(where={"id": {"lt": 0}}, data={"price": "3"})
    assert [s.split()[0] for s in log] == ["UPDATE", "SELECT"] and "LAST_INSERT_ID" in log[0]
    assert changed is not None and (changed["id"], str(changed["price"])) == (-7, "3.00")
    log.clear()
    assert await orm.item.update(where={"code": "none"}, data={"price": "2"}) is None
    assert await orm.item.update(where={"id": {"gt": 100}}, data={"price": "2"}) is None
    assert [s.split()[0] for s in log] == ["UPDATE", "UPDATE"]
    moved = await orm.item.update(where={"code": "three"}, data={"code": "thirty"})  # read by the new code
    assert moved is not None and (moved["id"], moved["code"]) == (3, "thirty")
    assert await orm.item.update(where={"on": True, "price": None}, data={"code": "renamed"},
                                 select={"id": True, "code": True}) == {"id": 3, "code": "renamed"}


async def test_delete_returning_is_one_statement_on_mariadb_and_a_program_without_it(orm):
    log: list[str] = []
    orm.on_query(lambda e: log.append(e.statement))
    await orm.note.create_many(data=[{"tag": "a", "body": "1"}, {"tag": "b", "body": "2"}])
    log.clear()
    assert await orm.note.delete(where={"tag": "a"}, select={"body": True}) == {"body": "1"}
    assert [s.split()[0] for s in log] == ["DELETE"] and " RETURNING " in log[0]
    # MySQL 8 has no RETURNING: the same call reads FOR UPDATE, then deletes by id, in one transaction
    compiler = orm._driver.compiler
    compiler.delete_returning = False
    orm.plan_cache.clear()
    log.clear()
    try:
        assert await orm.note.delete(where={"tag": "b"}, select={"body": True}) == {"body": "2"}
        assert await orm.note.delete(where={"tag": "b"}, select={"body": True}) is None
    finally:
        compiler.delete_returning = True
    assert [s.split()[0] for s in log[:4]] == ["BEGIN", "SELECT", "DELETE", "COMMIT"]
    assert await orm.note.count() == 0


async def test_create_many_generated_ids_come_back_in_input_order(orm):
    rows = await orm.note.create_many(data=[{"tag": f"t{i}", "body": str(i)} for i in (3, 1, 2)],
                                      select={"body": True})
    assert rows == [{"body": "3"}, {"body": "1"}, {"body": "2"}]


async def test_push_schema_is_idempotent(orm):
    await push_schema(schema, orm)  # CREATE INDEX again: 1061 is tolerated
    assert await orm.member.count() == 0


# ---------------------------------------------------------------------------- native errors


async def test_1062_compound_unique_names_constraint_and_fields(orm):
    s = await seed(orm)
    with pytest.raises(errors.UniqueConstraintViolation) as info:
        await orm.member.create(data={"user_id": s["ada"]["id"], "team_id": s["team"]["id"]})
    err = info.value
    assert cause_code(err) == 1062 and not err.retryable
    assert err.meta["constraint"] == "members_user_id_team_id_unique"
    assert list(err.meta["target"]) == ["user_id", "team_id"]


async def test_1062_single_unique_field(orm):
    await seed(orm)
    with pytest.raises(errors.UniqueConstraintViolation) as info:
        await orm.user.create(data={"email": "ada@example.com", "name": "again"})
    assert cause_code(info.value) == 1062
    assert list(info.value.meta["target"]) == ["email"]


async def test_1452_child_without_parent(orm):
    s = await seed(orm)
    with pytest.raises(errors.ForeignKeyViolation) as info:
        await orm.member.create(data={"user_id": "nobody", "team_id": s["team"]["id"]})
    assert cause_code(info.value) == 1452
    assert list(info.value.meta["target"]) == ["user_id"]


async def test_1451_parent_still_referenced(orm):
    s = await seed(orm)
    with pytest.raises(errors.ForeignKeyViolation) as info:
        await orm.user.delete(where={"id": s["ada"]["id"]})
    assert cause_code(info.value) == 1451
    assert await orm.user.count() == 1


async def test_1048_not_null(orm):
    with pytest.raises(errors.NotNullViolation) as info:
        await raw(orm, "INSERT INTO users (id, email, name) VALUES ('u1', 'n@x', NULL)")
    assert cause_code(info.value) == 1048
    assert list(info.value.meta["target"]) == ["name"]


async def test_1364_missing_value_without_default(orm):
    with pytest.raises(errors.NotNullViolation) as info:
        await raw(orm, "INSERT INTO users (id, email) VALUES ('u1', 'n@x')")
    assert cause_code(info.value) == 1364


async def test_check_violation(orm):
    await raw(orm, "CREATE TABLE checked (n INT, CONSTRAINT positive CHECK (n > 0))")
    with pytest.raises(errors.CheckViolation) as info:
        await raw(orm, "INSERT INTO checked (n) VALUES (-1)")
    assert cause_code(info.value) in (3819, 4025)
    assert info.value.meta["constraint"] == "positive"


async def test_1146_missing_table(my_db):
    o = await create_orm(schema, my_db.url)  # nothing pushed
    try:
        with pytest.raises(errors.MissingTable) as info:
            await o.user.find_many()
        assert cause_code(info.value) == 1146
    finally:
        await o.close()


async def test_1049_missing_database(mysql):
    url = server_url("mysql").rstrip("/") + "/farmorm_no_such_database_x"
    with pytest.raises(errors.MissingSchema) as info:
        await create_orm(schema, url)
    assert cause_code(info.value) == 1049


async def test_connection_error(mysql):
    with pytest.raises(errors.OrmConnectionError):
        await create_orm(schema, "mysql://root@127.0.0.1:1/x")


async def test_1213_deadlock(orm):
    a = await orm.user.create(data={"email": "a@x", "name": "A"})
    b = await orm.user.create(data={"email": "b@x", "name": "B"})
    both_locked = anyio.Event()
    locked: list[int] = []
    outcomes: list[BaseException | None] = []

    async def worker(first: str, second: str) -> None:
        try:
            async with orm.transaction() as tx:
                await tx.user.update(where={"id": first}, data={"name": "x"})
                locked.append(1)
                if len(locked) == 2:
                    both_locked.set()
                await both_locked.wait()
                await tx.user.update(where={"id": second}, data={"name": "y"})
            outcomes.append(None)
        except errors.OrmError as exc:
            outcomes.append(exc)

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            tg.start_soon(worker, a["id"], b["id"])
            tg.start_soon(worker, b["id"], a["id"])
    failures = [o for o in outcomes if o is not None]
    assert len(failures) == 1 and isinstance(failures[0], errors.Deadlock)
    assert failures[0].retryable and cause_code(failures[0]) == 1213


async def test_1205_lock_wait_timeout(orm):
    a = await orm.user.create(data={"email": "a@x", "name": "A"})
    holding = anyio.Event()
    done = anyio.Event()

    async def holder() -> None:
        async with orm.transaction() as tx:
            await tx.user.update(where={"id": a["id"]}, data={"name": "held"})
            holding.set()
            await done.wait()

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            tg.start_soon(holder)
            await holding.wait()
            try:
                with pytest.raises(errors.TransactionConflict) as info:
                    async with orm.transaction() as tx:
                        await raw(tx, "SET SESSION innodb_lock_wait_timeout = 1")
                        await tx.user.update(where={"id": a["id"]}, data={"name": "waiter"})
            finally:
                done.set()
    assert info.value.retryable and cause_code(info.value) == 1205
    assert (await orm.user.find_unique(where={"id": a["id"]}))["name"] == "held"


# ------------------------------------------------------------------------------ client kinds


async def test_app_pool_is_used_and_left_open(my_db):
    import aiomysql

    # an app pool with aiomysql's defaults: autocommit off, latin1-free default charset, no FOUND_ROWS
    pool = await aiomysql.create_pool(minsize=1, maxsize=1, **{**_mysql_args(my_db.url), "autocommit": False})
    try:
        o = await create_orm(schema, pool)
        assert o.driver.client is pool and o.driver.kind == "aiomysql"
        await push_schema(schema, o)
        await o.user.create(data={"email": "p@x", "name": "🐍"})
        await o.user.create(data={"email": "q@x", "name": "🐍"})
        # matched rows, not changed rows, although this pool lacks CLIENT.FOUND_ROWS
        assert await o.user.update_many(where={"name": "🐍"}, data={"name": "🐍"}) == 2
        await o.close()
        assert not pool.closed
        async with pool.acquire() as conn, conn.cursor() as cur:
            await cur.execute("SELECT @@SESSION.sql_mode, COUNT(*) FROM users")
            mode, count = await cur.fetchone()
        assert "STRICT_ALL_TABLES" not in mode and count == 2  # the app's settings are back
    finally:
        pool.close()
        await pool.wait_closed()


APP_SESSION = "SET SESSION time_zone = '+05:00', SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION'"


async def _session(conn: Any) -> tuple[Any, ...]:
    async with conn.cursor() as cur:
        await cur.execute("SELECT @@SESSION.sql_mode, @@SESSION.time_zone, @@SESSION.autocommit, "
                          "@@SESSION.character_set_client, @@SESSION.sql_notes")
        row = await cur.fetchone()
    return (*row, conn.get_autocommit())


async def _app_insert_rolls_back(conn: Any, tag: str) -> None:
    """The app's own INSERT + rollback() on a connection farmorm used: the row must not stay."""
    async with conn.cursor() as cur:
        await cur.execute("INSERT INTO teams (id, name) VALUES (%s, %s)", (tag, "app"))
    await conn.rollback()
    async with conn.cursor() as cur:
        await cur.execute("SELECT COUNT(*) FROM teams WHERE id = %s", (tag,))
        assert (await cur.fetchone())[0] == 0, "the app's rolled-back INSERT was kept (autocommit left on)"
    await conn.rollback()


async def _use_every_connection(o: Any) -> None:
    """Two transactions that hold a connection each at the same time, then plain operations."""
    both = asyncio.Barrier(2)

    async def hold(tx: Any) -> None:
        await tx.team.create(data={"name": "orm"})
        await asyncio.wait_for(both.wait(), 30)  # passes only when both run at once

    await asyncio.gather(o.transaction(hold), o.transaction(hold))
    await asyncio.gather(o.user.create(data={"email": "a@x", "name": "a"}), o.team.count(), o.user.find_many())


@pytest.mark.parametrize("library", ["aiomysql", "asyncmy"])
async def test_an_app_pool_comes_back_as_the_app_configured_it(my_db, library):
    # issue 15.3: connections made with autocommit=False came back in autocommit with farmorm's
    # time_zone and sql_mode, so the app's own INSERT + rollback() kept the row
    from farmorm_drivers.mysql.driver import is_closed

    lib = pytest.importorskip(library)
    pool = await lib.create_pool(minsize=2, maxsize=2, **{**_mysql_args(my_db.url), "autocommit": False},
                                 charset="latin1", init_command=APP_SESSION)
    held: list[Any] = []

    async def take_all() -> list[Any]:
        held[:] = [await asyncio.wait_for(pool.acquire(), 10) for _ in range(2)]
        return list(held)

    async def give_back() -> None:
        while held:
            conn = held.pop()
            if not is_closed(conn):
                await conn.rollback()
            released = pool.release(conn)  # a future on aiomysql and asyncmy
            if released is not None:
                await released

    try:
        before = [await _session(c) for c in await take_all()]
        await give_back()
        assert before[0][:4] == ("NO_ENGINE_SUBSTITUTION", "+05:00", 0, "latin1")
        o = await create_orm(schema, pool)
        await push_schema(schema, o)
        await _use_every_connection(o)
        assert await o.team.count() == 2 and await o.user.count() == 1
        await o.close()
        conns = await take_all()
        assert [await _session(c) for c in conns] == before
        for i, c in enumerate(conns):
            await _app_insert_rolls_back(c, f"app-{i}")
    finally:
        await give_back()
        pool.close()
        await pool.wait_closed()


@pytest.mark.parametrize("library", ["aiomysql", "asyncmy"])
async def test_an_app_connection_comes_back_as_the_app_configured_it(my_db, library):
    lib = pytest.importorskip(library)
    conn = await lib.connect(**{**_mysql_args(my_db.url), "autocommit": False}, init_command=APP_SESSION)
    try:
        before = await _session(conn)
        await conn.rollback()
        o = await create_orm(schema, conn)
        await push_schema(schema, o)
        async with o.transaction() as tx:
            await tx.team.create(data={"name": "t"})
        assert await o.team.count() == 1
        await o.close()
        assert await _session(conn) == before
        await _app_insert_rolls_back(conn, "app")
    finally:
        conn.close()


async def test_app_connection_is_used_and_left_open(my_db):
    import aiomysql

    conn = await aiomysql.connect(**_mysql_args(my_db.url))
    try:
        o = await create_orm(schema, conn)
        assert o.driver.client is conn
        await push_schema(schema, o)
        async with o.transaction() as tx:
            await tx.team.create(data={"name": "t"})
        assert await o.team.count() == 1
        await o.close()
        assert not conn.closed
    finally:
        conn.close()


async def test_url_pool_is_owned_and_closed(my_db):
    o = await create_orm(schema, my_db.url)
    assert o.driver.client == my_db.url
    pool = o._driver.client
    await o.close()
    assert pool.closed


def _set_options(conn: Any) -> Any:
    async def count() -> int:
        async with conn.cursor() as cur:
            await cur.execute("SHOW SESSION STATUS LIKE 'Com_set_option'")
            return int((await cur.fetchone())[1])
    return count()


@pytest.mark.parametrize("configured", [True, False])
async def test_a_pool_configured_as_farmorm_runs_costs_no_statement_per_checkout(my_db, configured):
    import aiomysql

    from farmorm_drivers.mysql.driver import SQL_MODE

    setup = f"SET SESSION sql_mode = '{SQL_MODE}', SESSION time_zone = '+00:00'" if configured else None
    pool = await aiomysql.create_pool(minsize=1, maxsize=1, **{**_mysql_args(my_db.url), "autocommit": True},
                                      charset="utf8mb4", init_command=setup)
    try:
        o = await create_orm(schema, pool)
        await push_schema(schema, o)
        async with pool.acquire() as conn:
            before = await _set_options(conn)
        for i in range(5):
            await o.team.create(data={"name": f"t{i}"})
        async with pool.acquire() as conn:
            after = await _set_options(conn)
        await o.close()
        # SET statements farmorm sent: none on a pool set up its way, a swap and a restore per
        # operation otherwise (the counting SHOW statements send none)
        assert after - before == (0 if configured else 10)
    finally:
        pool.close()
        await pool.wait_closed()


@pytest.mark.parametrize("library", ["aiomysql", "asyncmy"])
async def test_an_acquire_skips_its_deadline_only_while_a_connection_is_free(my_db, library):
    """``acquire_is_immediate``: with a free connection in farmorm's aiomysql / asyncmy pool,
    taking it awaits nothing, so the engine arms no timer; with none free, the acquire waits
    (deadline armed)."""
    pytest.importorskip(library)
    url = my_db.url if library == "aiomysql" else "mysql+asyncmy://" + my_db.url.split("://", 1)[1]
    orm = await create_orm(schema, url, max_size=1)
    try:
        driver = orm._driver
        assert driver.handle.kind == library
        await raw(orm, "SELECT 1")  # the pool's one connection exists and is free again
        assert driver.acquire_is_immediate()
        async with driver.connection():
            assert not driver.acquire_is_immediate()
        assert driver.acquire_is_immediate()
    finally:
        await orm.close()
