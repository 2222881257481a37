"""PostgreSQL (asyncpg) specifics: native errors triggered for real, capabilities, namespaces, clients."""

from __future__ import annotations

import anyio
import asyncpg
import pytest

from farmorm import (
    Capabilities,
    OrmError,
    belongs_to,
    create_orm,
    define_schema,
    detect_database_runtime,
    has_many,
    model,
    table_name,
)
from farmorm import fields as f
from farmorm.core.driver import NativeRelations, Returning, ReturningMode, TextMatching
from farmorm.setup import push_schema
from tests.conformance.auth import ADA_EMAIL, auth_schema, seed_auth


@pytest.fixture
async def orm(pg_url):
    """The auth schema, pushed and seeded, on a farmorm-owned pool."""
    orm = await create_orm(auth_schema, pg_url)
    await push_schema(auth_schema, orm)
    await seed_auth(orm)
    yield orm
    await orm.close()


async def raises(awaitable, code: str) -> OrmError:
    with pytest.raises(OrmError) as info:
        await awaitable
    err = info.value
    assert err.code == code, err
    assert err.backend_kind == "asyncpg" and err.dialect == "postgres"
    return err


def cause(err: OrmError, sqlstate: str) -> None:
    assert isinstance(err.__cause__, asyncpg.PostgresError)
    assert err.__cause__.sqlstate == sqlstate
    assert err.meta["original_code"] == sqlstate


# ------------------------------------------------------------------------------------ capabilities


async def test_capabilities_in_full(orm):
    assert orm.driver.capabilities == Capabilities(
        supports_numeric_ids=True,
        numeric_ids="generated",
        supports_json=True,
        supports_dates=True,
        supports_booleans=True,
        supports_transactions=True,
        supports_schema_namespaces=True,
        supports_transactional_ddl=True,
        supports_join=False,
        native_relation_loading="none",
        text_comparison="case-sensitive",
        text_matching=TextMatching("case-sensitive", "case-sensitive", "database-default"),
        upsert="native",
        returning=Returning(create=True, update=True, delete=True),
        returning_mode=ReturningMode(create="record", update="record", delete="record"),
        native_relations=NativeRelations(),
        batched_relation_loading=True,
        savepoints=True,
        datetime_precision="microsecond",
        bulk_insert=True,
    )
    assert (orm.driver.kind, orm.driver.dialect) == ("asyncpg", "postgres")


# ------------------------------------------------------------------------------------------ errors


async def test_23505_unique_field(orm):
    err = await raises(orm.user.create(data={"email": ADA_EMAIL, "name": "Again"}), "UNIQUE_CONSTRAINT_VIOLATION")
    cause(err, "23505")
    assert err.meta["constraint"] == "users_email_unique"  # the manifest's name, not PostgreSQL's users_email_key
    assert err.meta["target"] == ["email"]
    assert err.retryable is False


async def test_23505_compound_unique_uses_manifest_name_and_logical_fields(orm):
    ada = await orm.user.find_unique(where={"email": ADA_EMAIL})
    data = {"user_id": ada["id"], "provider": "github", "account_id": "gh_ada"}
    err = await raises(orm.account.create(data=data), "UNIQUE_CONSTRAINT_VIOLATION")
    cause(err, "23505")
    assert err.meta["constraint"] == auth_schema.models["account"].uniques[0].name
    assert err.meta["target"] == ["provider", "account_id"]


async def test_23503_foreign_key_on_insert(orm):
    data = {"user_id": "nobody", "token": "t-x", "expires_at": __import__("datetime").datetime.now().astimezone()}
    err = await raises(orm.session.create(data=data), "FOREIGN_KEY_VIOLATION")
    cause(err, "23503")
    assert err.meta["constraint"] == "sessions_user_id_fkey"
    assert err.meta["target"] == ["user_id"]


async def test_23503_foreign_key_on_deleting_a_referenced_row(orm):
    err = await raises(orm.organization.delete(where={"slug": "acme"}), "FOREIGN_KEY_VIOLATION")
    cause(err, "23503")
    assert err.meta["constraint"] == "members_organization_id_fkey"
    assert err.meta["target"] == ["organization_id"]


def _people(*, nullable_name: bool, tiers: list[str]):
    name = f.string().map("display_name")
    return define_schema(
        person=model(
            table="people",
            fields={
                "id": f.id(),
                "name": name.nullable() if nullable_name else name,
                "tier": f.enumeration(tiers).default(tiers[0]),
            },
        )
    )


async def test_23502_not_null_reports_the_logical_field(pg_url):
    # the table says NOT NULL, the app's schema (newer, looser) lets None through to the database
    await push_schema(_people(nullable_name=False, tiers=["free"]), pg_url)
    loose = _people(nullable_name=True, tiers=["free"])
    async with await create_orm(loose, pg_url) as orm:
        err = await raises(orm.person.create(data={"name": None}), "NOT_NULL_VIOLATION")
    cause(err, "23502")
    assert err.meta["target"] == ["name"]


async def test_23514_check_reports_constraint_and_field(pg_url):
    await push_schema(_people(nullable_name=False, tiers=["free", "pro"]), pg_url)
    wider = _people(nullable_name=False, tiers=["free", "pro", "gold"])
    async with await create_orm(wider, pg_url) as orm:
        err = await raises(orm.person.create(data={"name": "x", "tier": "gold"}), "CHECK_VIOLATION")
    cause(err, "23514")
    assert err.meta["constraint"] == "people_tier_check"
    assert err.meta["target"] == ["tier"]


async def test_42P01_missing_table(pg_url):
    async with await create_orm(auth_schema, pg_url) as orm:  # never pushed
        err = await raises(orm.user.count(), "MISSING_TABLE")
    cause(err, "42P01")


namespaced = define_schema(
    tenant=model(table=table_name("tenants", schema="auth"), fields={"id": f.id(), "name": f.string().unique()},
                 relations={"events": has_many("event", foreign_key="tenant_id")}),
    event=model(
        table=table_name("audit_events", schema="auth"),
        fields={
            "id": f.id(type="integer", generated="increment"),
            "tenant_id": f.string().references("tenant.id").map("tenant_id"),
            "action": f.string(),
        },
        relations={"tenant": belongs_to("tenant", foreign_key="tenant_id")},
        constraints={"indexes": [["tenant_id", "action"]]},
    ),
)


@pytest.mark.parametrize("in_transaction", [False, True])
async def test_3F000_missing_namespace(pg_url, in_transaction):
    async with await create_orm(namespaced, pg_url) as orm:  # schema "auth" never created
        if in_transaction:
            async def work(tx):
                return await tx.tenant.count()
            err = await raises(orm.transaction(work), "MISSING_SCHEMA")
        else:
            err = await raises(orm.tenant.count(), "MISSING_SCHEMA")
    assert err.meta["schema"] == "auth"
    assert isinstance(err.__cause__, asyncpg.UndefinedTableError)


async def test_3D000_missing_database(postgres):
    from farmorm.testing.databases import _with_database, server_url

    url = _with_database(server_url("postgres"), "farmorm_no_such_database")
    err = await raises(create_orm(auth_schema, url), "MISSING_SCHEMA")
    assert isinstance(err.__cause__, asyncpg.InvalidCatalogNameError)


async def test_40001_serialization_failure(orm):
    both_read = anyio.Event()
    readers = 0
    errors: list[OrmError] = []

    async def txn(tag: str) -> None:
        nonlocal readers

        async def work(tx):
            nonlocal readers
            n = await tx.organization.count()
            readers += 1
            if readers == 2:
                both_read.set()
            await both_read.wait()
            await tx.organization.create(data={"name": f"org-{n}-{tag}", "slug": f"slug-{tag}"})

        try:
            await orm.transaction(work, isolation="serializable")
        except OrmError as exc:
            errors.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(txn, "a")
        tg.start_soon(txn, "b")
    assert [e.code for e in errors] == ["TRANSACTION_CONFLICT"]
    assert errors[0].retryable is True
    cause(errors[0], "40001")


async def test_40001_is_retried_with_retries(orm):
    gate = anyio.Event()
    attempts: list[str] = []

    async def txn(tag: str) -> None:
        async def work(tx):
            attempts.append(tag)
            await tx.organization.count()
            if len(attempts) >= 2:
                gate.set()
            await gate.wait()
            await tx.organization.create(data={"name": f"n-{tag}-{len(attempts)}", "slug": f"s-{tag}-{len(attempts)}"})

        await orm.transaction(work, isolation="serializable", retries=3)

    async with anyio.create_task_group() as tg:
        tg.start_soon(txn, "a")
        tg.start_soon(txn, "b")
    assert len(attempts) == 3
    assert await orm.organization.count() == 4


async def test_40P01_deadlock(orm):
    first_locks = anyio.Event()
    second_locks = anyio.Event()
    errors: list[OrmError] = []

    async def txn(mine: str, other: str, locked: anyio.Event, wait_for: anyio.Event) -> None:
        async def work(tx):
            await tx.organization.update(where={"slug": mine}, data={"name": f"{mine}!"})
            locked.set()
            await wait_for.wait()
            await tx.organization.update(where={"slug": other}, data={"name": f"{other}?"})

        try:
            await orm.transaction(work)
        except OrmError as exc:
            errors.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(txn, "acme", "farming-labs", first_locks, second_locks)
        tg.start_soon(txn, "farming-labs", "acme", second_locks, first_locks)
    assert [e.code for e in errors] == ["DEADLOCK"]
    assert errors[0].retryable is True
    cause(errors[0], "40P01")


async def test_connection_error_when_the_server_drops_the_connection(pg_url):
    conn = await asyncpg.connect(pg_url)
    try:
        await push_schema(auth_schema, conn)
        orm = await create_orm(auth_schema, conn)
        admin = await asyncpg.connect(pg_url)
        try:
            await admin.execute("SELECT pg_terminate_backend($1)", conn.get_server_pid())
        finally:
            await admin.close()
        with anyio.fail_after(5):  # let the client see the socket close
            while not conn.is_closed():
                await anyio.sleep(0.01)
        err = await raises(orm.user.count(), "CONNECTION_ERROR")
        assert isinstance(err.__cause__, (asyncpg.PostgresConnectionError, asyncpg.InterfaceError,
                                          asyncpg.AdminShutdownError, ConnectionError))
        err = await raises(orm.user.count(), "CONNECTION_ERROR")  # and stays mapped once closed
        assert isinstance(err.__cause__, asyncpg.InterfaceError)
    finally:
        await conn.close()


async def test_connection_error_for_an_unreachable_server(postgres):
    err = await raises(create_orm(auth_schema, "postgresql://postgres@127.0.0.1:1/postgres"), "CONNECTION_ERROR")
    assert isinstance(err.__cause__, OSError)


async def test_bad_isolation_level_is_a_validation_error(orm):
    async def work(tx):
        return 1

    with pytest.raises(OrmError) as info:
        await orm.transaction(work, isolation="chaos")
    assert info.value.code == "VALIDATION_ERROR"


@pytest.mark.parametrize("level,sql", [
    ("read_committed", "READ COMMITTED"), ("repeatable read", "REPEATABLE READ"), ("serializable", "SERIALIZABLE"),
])
async def test_isolation_levels(orm, level, sql):
    log: list[str] = []
    orm.on_query(lambda e: log.append(e.statement))

    async def work(tx):
        return await tx.user.count()

    assert await orm.transaction(work, isolation=level) == 2
    assert log[0] == f"BEGIN ISOLATION LEVEL {sql}"


# ------------------------------------------------------------------------------------- namespaces


async def test_namespaced_models_end_to_end(pg_url):
    orm = await create_orm(namespaced, pg_url)
    try:
        await push_schema(namespaced, orm)
        await push_schema(namespaced, orm)  # idempotent
        t = await orm.tenant.create(data={"name": "acme"})
        e1 = await orm.event.create(data={"tenant_id": t["id"], "action": "login"})
        e2 = await orm.event.create(data={"tenant_id": t["id"], "action": "logout"})
        assert isinstance(e1["id"], int) and e2["id"] == e1["id"] + 1
        got = await orm.tenant.find_unique(where={"name": "acme"}, include={"events": True})
        assert [e["action"] for e in sorted(got["events"], key=lambda e: e["id"])] == ["login", "logout"]
        assert await orm.event.count(where={"tenant": {"is": {"name": "acme"}}}) == 2
        assert await orm.event.delete_many(where={"action": "login"}) == 1
    finally:
        await orm.close()
    conn = await asyncpg.connect(pg_url)
    try:
        tables = {r["table_name"] for r in await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'auth'")}
        assert tables == {"tenants", "audit_events"}
        index = namespaced.models["event"].indexes[0].name
        assert await conn.fetchval("SELECT count(*) FROM pg_indexes WHERE schemaname = 'auth' AND indexname = $1",
                                   index) == 1
        identity = await conn.fetchval(
            "SELECT is_identity FROM information_schema.columns WHERE table_schema = 'auth' "
            "AND table_name = 'audit_events' AND column_name = 'id'")
        assert identity == "YES"
    finally:
        await conn.close()


async def test_push_creates_manifest_named_constraints_and_indexes(orm):
    conn = orm.driver.client
    assert isinstance(conn, str)  # a URL: inspect through a separate connection
    raw = await asyncpg.connect(conn)
    try:
        names = {r["indexname"] for r in await raw.fetch("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")}
    finally:
        await raw.close()
    for m in auth_schema.models.values():
        for c in (*m.uniques, *m.indexes):
            assert c.name in names


# ---------------------------------------------------------------------------------------- clients


async def test_pool_client_is_used_and_not_closed(pg_url):
    pool = await asyncpg.create_pool(pg_url, min_size=1, max_size=4)
    try:
        assert detect_database_runtime(pool).source == "pool"
        orm = await create_orm(auth_schema, pool)
        assert orm.driver.client is pool and orm.driver.kind == "asyncpg"
        await push_schema(auth_schema, orm)
        await seed_auth(orm)
        assert await orm.user.count() == 2
        await orm.close()
        assert not pool._closed
        assert await pool.fetchval("SELECT count(*) FROM users") == 2
    finally:
        await pool.close()


async def test_connection_client_is_serialized_and_not_closed(pg_url):
    conn = await asyncpg.connect(pg_url)
    try:
        assert detect_database_runtime(conn).source == "connection"
        orm = await create_orm(auth_schema, conn)
        assert orm.driver.client is conn
        await push_schema(auth_schema, orm)
        await seed_auth(orm)
        counts: list[int] = []

        async def count() -> None:
            counts.append(await orm.user.count())

        async def in_tx() -> None:
            async def work(tx):
                await tx.user.update(where={"email": ADA_EMAIL}, data={"name": "Ada L."})
                await anyio.sleep(0.01)
            await orm.transaction(work)

        async with anyio.create_task_group() as tg:  # concurrent use of one connection takes turns
            for _ in range(5):
                tg.start_soon(count)
            tg.start_soon(in_tx)
        assert counts == [2] * 5
        await orm.close()
        assert not conn.is_closed()
        assert await conn.fetchval("SELECT name FROM users WHERE email = $1", ADA_EMAIL) == "Ada L."
    finally:
        await conn.close()


@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "postgresql+asyncpg"])
async def test_url_client_opens_and_closes_its_pool(pg_url, scheme):
    url = scheme + pg_url[len("postgresql"):]
    assert detect_database_runtime(url).source == "url"
    orm = await create_orm(auth_schema, url)
    assert orm.driver.client == url
    await push_schema(auth_schema, orm)
    assert await orm.user.count() == 0
    pool = orm._driver.target
    await orm.close()
    assert pool._closed


# ------------------------------------------------------------------------------------ statements


async def test_in_list_is_one_array_parameter_and_one_plan(orm):
    log: list[tuple[str, int]] = []
    orm.on_query(lambda e: log.append((e.statement, e.params_count)))
    before = len(orm.plan_cache)
    one = await orm.user.find_many(where={"email": {"in": [ADA_EMAIL]}})
    many = await orm.user.find_many(where={"email": {"in": [ADA_EMAIL] + [f"x{i}@y" for i in range(499)]}})
    none = await orm.user.find_many(where={"email": {"not_in": [f"x{i}@y" for i in range(500)]}})
    assert len(one) == len(many) == 1 and len(none) == 2
    assert len(orm.plan_cache) == before + 2  # in and not_in: one shape each whatever the length
    (s1, n1), (s2, n2), (s3, _) = log
    assert s1 == s2 and "= ANY($1)" in s1 and n1 == n2 == 1
    assert "NOT (" in s3 and "= ANY($1)" in s3


async def test_per_parent_window_binds_skip_and_take(orm):
    users = await orm.user.find_many(
        order_by={"email": "asc"},
        select={"email": True, "sessions": {"select": {"token": True}, "order_by": {"token": "asc"}, "skip": 1, "take": 1}},
    )
    assert [[s["token"] for s in u["sessions"]] for u in users] == [["session-2"], []]


async def test_commit_after_a_caught_error_is_refused_not_silently_rolled_back(postgres):
    """PostgreSQL answers COMMIT of an aborted transaction with ROLLBACK; farmorm raises instead."""
    from farmorm import UniqueConstraintViolation, create_orm, define_schema, model
    from farmorm.core.errors import TransactionAborted
    from farmorm import fields as f
    from farmorm.setup import push_schema
    from farmorm.testing.databases import TestDatabase

    s = define_schema(item=model(table="items", fields={"id": f.id(), "name": f.string().unique()}))
    db = TestDatabase("postgres")
    orm = await create_orm(s, await db.create())
    try:
        await push_schema(s, orm)
        await orm.item.create(data={"name": "a"})
        with pytest.raises(TransactionAborted) as info:
            async with orm.transaction() as tx:
                await tx.item.create(data={"name": "b"})
                with pytest.raises(UniqueConstraintViolation):
                    await tx.item.create(data={"name": "a"})
        assert info.value.retryable is False
        assert "rolled it back instead of committing" in str(info.value)
        assert await orm.item.count() == 1  # "b" was not committed, and the caller knows it
    finally:
        await orm.close()
        await db.drop()
