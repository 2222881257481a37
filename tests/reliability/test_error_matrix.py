"""E. Error normalization and atomicity (RELIABILITY.md T24-T26).

T24: each native error of the §6 table is triggered for real on every SQL backend (and the
unique index on Mongo) and must arrive as the normalized ``code``, with the native code kept in
``meta["original_code"]`` and the native exception as ``__cause__``, the model/field named where
the database says which. Inside a transaction the state afterwards is the same everywhere: the
transaction is aborted (``TRANSACTION_ABORTED`` on the next statement, nothing committed).
T25: ``create_many`` with one bad row is all-or-nothing, also when farmorm splits it into chunks.
T26: 50 concurrent upserts of one key leave one row and never leak a unique violation.
"""

from __future__ import annotations

import sqlite3
from typing import Any, Awaitable

import anyio
import pytest

from farmorm import OrmError, define_schema, model
from farmorm import fields as f
from farmorm.core.errors import (
    CHECK_VIOLATION,
    FOREIGN_KEY_VIOLATION,
    LOCK_TIMEOUT,
    MISSING_COLUMN,
    MISSING_TABLE,
    NOT_NULL_VIOLATION,
    QUERY_TIMEOUT,
    TRANSACTION_ABORTED,
    UNIQUE_CONSTRAINT_VIOLATION,
)

from ._support_dei import ALL, SQL, Admin, backend_params, fresh_orm, raw, real_mongo, sqlite_path

pytestmark = pytest.mark.timeout(120)


def _parent() -> Any:
    return model(
        table="parent",
        fields={"id": f.id(), "name": f.string().unique(), "code": f.string(), "region": f.string()},
        constraints={"unique": [["code", "region"]]},
    )


def _child(note: Any, *, extra: bool = False) -> Any:
    fields: dict[str, Any] = {"id": f.id(), "parent_id": f.string().references("parent.id"),
                              "qty": f.integer(), "note": note}
    if extra:
        fields["extra"] = f.string().nullable()  # never pushed: MISSING_COLUMN
    return model(table="child", fields=fields)


#: what the database holds: child.note NOT NULL
PUSHED = define_schema(parent=_parent(), child=_child(f.string()))
#: what the app believes: child.note nullable, so farmorm lets a NULL through to the database
LOOSE = define_schema(parent=_parent(), child=_child(f.string().nullable()))
#: schema drift: a column and a table the database does not have
DRIFT = define_schema(parent=_parent(), child=_child(f.string().nullable(), extra=True),
                      ghost=model(table="ghost", fields={"id": f.id(), "x": f.string()}))

#: the native code each backend reports (meta["original_code"]), from RELIABILITY.md §6
NATIVE: dict[str, dict[str, Any]] = {
    "postgres": {"pk": "23505", "unique": "23505", "fk_child": "23503", "fk_parent": "23503",
                 "not_null": "23502", "check": "23514", "table": "42P01", "column": "42703",
                 "lock": "55P03", "timeout": "57014", "aborted": "25P02"},
    "mysql": {"pk": 1062, "unique": 1062, "fk_child": 1452, "fk_parent": 1451, "not_null": 1048,
              "check": 4025, "table": 1146, "column": 1054, "lock": 1205, "timeout": 1969, "aborted": 1062},
    "sqlite": {"pk": "SQLITE_CONSTRAINT_PRIMARYKEY", "unique": "SQLITE_CONSTRAINT_UNIQUE",
               "fk_child": "SQLITE_CONSTRAINT_FOREIGNKEY", "fk_parent": "SQLITE_CONSTRAINT_FOREIGNKEY",
               "not_null": "SQLITE_CONSTRAINT_NOTNULL", "check": "SQLITE_CONSTRAINT_CHECK",
               "table": "SQLITE_ERROR", "column": "SQLITE_ERROR", "lock": "SQLITE_BUSY",
               "timeout": "SQLITE_INTERRUPT", "aborted": "SQLITE_CONSTRAINT_UNIQUE"},
}


async def expect(call: Awaitable[Any], code: str) -> OrmError:
    with pytest.raises(OrmError) as info:
        await call
    err = info.value
    assert err.code == code, f"expected {code}, got {err.code}: {err}"
    assert err.__cause__ is not None and not isinstance(err.__cause__, OrmError) or code == TRANSACTION_ABORTED
    return err


async def add_check(orm: Any, backend: str) -> None:
    """A real CHECK (qty >= 0) on child: ALTER on pg/mysql, a table rebuild on SQLite (empty table)."""
    if backend == "sqlite":
        (sql,), = [r for r in await raw(orm, "SELECT sql FROM sqlite_master WHERE name = 'child'")]
        body = sql.rstrip().rstrip(")")
        await raw(orm, "DROP TABLE child", "count")
        await raw(orm, body + ",\n  CONSTRAINT child_qty_nonneg CHECK (qty >= 0)\n)", "count")
    else:
        await raw(orm, "ALTER TABLE child ADD CONSTRAINT child_qty_nonneg CHECK (qty >= 0)", "count")


CASES = ["pk", "unique", "compound_unique", "fk_child", "fk_parent", "not_null", "check", "table", "column"]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("backend", backend_params(*SQL))
async def test_t24_constraint_and_missing_object_matrix(backend: str, case: str) -> None:
    async with fresh_orm(backend, LOOSE, push=PUSHED) as (orm, url):
        await add_check(orm, backend)
        p = await orm.parent.create(data={"name": "p1", "code": "c", "region": "eu"})
        await orm.child.create(data={"parent_id": p["id"], "qty": 1, "note": "n"})
        drift = None
        try:
            if case in ("table", "column"):
                from farmorm import create_orm

                drift = await create_orm(DRIFT, url)

            def bad(client: Any) -> Awaitable[Any]:
                c = client
                if case == "pk":
                    return c.parent.create(data={"id": p["id"], "name": "p2", "code": "d", "region": "eu"})
                if case == "unique":
                    return c.parent.create(data={"name": "p1", "code": "d", "region": "eu"})
                if case == "compound_unique":
                    return c.parent.create(data={"name": "p3", "code": "c", "region": "eu"})
                if case == "fk_child":
                    return c.child.create(data={"parent_id": "no-such-parent", "qty": 1, "note": "n"})
                if case == "fk_parent":
                    return c.parent.delete(where={"id": p["id"]})
                if case == "not_null":
                    return c.child.create(data={"parent_id": p["id"], "qty": 1, "note": None})
                if case == "check":
                    return c.child.create(data={"parent_id": p["id"], "qty": -1, "note": "n"})
                if case == "table":
                    return c.ghost.find_many()
                return c.child.find_many(where={"qty": 1})  # case == "column": selects child.extra

            code = {"pk": UNIQUE_CONSTRAINT_VIOLATION, "unique": UNIQUE_CONSTRAINT_VIOLATION,
                    "compound_unique": UNIQUE_CONSTRAINT_VIOLATION, "fk_child": FOREIGN_KEY_VIOLATION,
                    "fk_parent": FOREIGN_KEY_VIOLATION, "not_null": NOT_NULL_VIOLATION,
                    "check": CHECK_VIOLATION, "table": MISSING_TABLE, "column": MISSING_COLUMN}[case]
            client = drift if drift is not None else orm

            # outside a transaction
            err = await expect(bad(client), code)
            native = NATIVE[backend].get("unique" if case == "compound_unique" else case)
            if backend == "sqlite" and case in ("table", "column"):
                assert isinstance(err.__cause__, sqlite3.OperationalError)
            else:
                assert err.meta["original_code"] == native, (err.meta, err.__cause__)
            assert err.retryable is False
            assert err.backend_kind == orm.driver.kind and err.dialect == backend
            # the message and meta name the model / field wherever the database says which
            if case == "unique":
                assert err.meta["target"] == ["name"] and err.meta["model"] == "parent"
            if case == "compound_unique":
                assert err.meta["target"] == ["code", "region"]
            if case == "not_null":
                assert err.meta["target"] == ["note"]
            if case == "fk_child" and backend != "sqlite":  # SQLite's message names no constraint
                assert err.meta["target"] == ["parent_id"]
            if case == "check" and backend != "sqlite":
                assert err.meta["constraint"] == "child_qty_nonneg"
            if case == "column":
                assert err.meta["column"] == "extra"
                assert (err.meta["model"], err.meta["field"]) == ("child", "extra")
                assert "extra" in str(err)
            if case == "table":
                assert "ghost" in str(err)

            # inside a transaction: an earlier write, the failing statement, then one more
            before = await orm.parent.count()
            with pytest.raises(OrmError) as info:
                async with client.transaction() as tx:
                    await tx.parent.create(data={"name": "in-tx", "code": "t", "region": "t"})
                    with pytest.raises(OrmError) as inner:
                        await bad(tx)
                    assert inner.value.code == code
                    await tx.parent.count()  # the transaction is aborted: refused
            assert info.value.code == TRANSACTION_ABORTED, info.value
            assert info.value.retryable is False
            if backend == "postgres":
                assert info.value.meta["original_code"] == "25P02"
            assert await orm.parent.count() == before  # "in-tx" was not committed

            # the same, but the app swallows the error and leaves the block normally: the commit
            # is refused rather than keeping half of the transaction
            with pytest.raises(OrmError) as info:
                async with client.transaction() as tx:
                    await tx.parent.create(data={"name": "in-tx-2", "code": "t2", "region": "t"})
                    try:
                        await bad(tx)
                    except OrmError:
                        pass
            assert info.value.code == TRANSACTION_ABORTED
            assert await orm.parent.count() == before

            # a savepoint fences the failure: the outer transaction goes on and commits
            async with client.transaction() as tx:
                await tx.parent.create(data={"name": "kept", "code": "k", "region": "k"})
                with pytest.raises(OrmError):
                    async with tx.transaction() as sp:
                        await bad(sp)
                assert await tx.parent.count(where={"name": "kept"}) == 1
            assert await orm.parent.count() == before + 1
        finally:
            if drift is not None:
                await drift.close()


@pytest.mark.parametrize("backend", backend_params("mongo"))
async def test_t24_mongo_unique_index(backend: str) -> None:
    """Mongo (mongomock here): the unique index gives 11000; NOT NULL / CHECK need a $jsonSchema
    validator and MISSING_TABLE strict mode, which farmorm does not create (documented)."""
    async with fresh_orm(backend, LOOSE) as (orm, _url):
        await orm.parent.create(data={"name": "p1", "code": "c", "region": "eu"})
        err = await expect(orm.parent.create(data={"name": "p1", "code": "d", "region": "eu"}),
                           UNIQUE_CONSTRAINT_VIOLATION)
        assert err.meta["original_code"] == 11000 and err.meta["target"] == ["name"]


# ------------------------------------------------------------------------------------ timeouts


@pytest.mark.parametrize("backend", backend_params("postgres", "mysql"))
async def test_t24_lock_timeout_is_mapped_and_aborts_the_transaction(backend: str) -> None:
    async with fresh_orm(backend, LOOSE, push=PUSHED) as (orm, url):
        p = await orm.parent.create(data={"name": "p1", "code": "c", "region": "eu"})
        async with Admin(backend, url) as admin:
            # the admin holds the row
            if True:
                await admin.execute("BEGIN")
                await admin.execute("UPDATE parent SET name = 'held' WHERE id = " +
                                    ("$1" if backend == "postgres" else "%s"), p["id"])
            try:
                with pytest.raises(OrmError) as info:
                    async with orm.transaction() as tx:
                        await tx.parent.create(data={"name": "y", "code": "y", "region": "y"})
                        await _short_lock_wait(tx, backend)
                        with pytest.raises(OrmError) as lock:
                            await tx.parent.update(where={"id": p["id"]}, data={"name": "waiter"})
                        assert lock.value.code == LOCK_TIMEOUT, lock.value
                        assert lock.value.retryable is True
                        if backend == "postgres":
                            assert lock.value.meta["original_code"] == "55P03"
                        elif backend == "mysql":
                            assert lock.value.meta["original_code"] == 1205
                        await tx.parent.count()
                assert info.value.code == TRANSACTION_ABORTED
            finally:
                await admin.execute("ROLLBACK")
        assert await orm.parent.count(where={"name": "y"}) == 0  # never committed
        assert (await orm.parent.find_unique(where={"id": p["id"]}))["name"] == "p1"


async def _short_lock_wait(tx: Any, backend: str) -> None:
    if backend == "postgres":
        await raw(tx, "SET LOCAL lock_timeout = '200ms'", "count")
    elif backend == "mysql":
        await raw(tx, "SET SESSION innodb_lock_wait_timeout = 1", "count")


@pytest.mark.parametrize("backend", backend_params("sqlite"))
async def test_t24_sqlite_busy_outside_a_transaction_is_lock_timeout(backend: str) -> None:
    """SQLite's busy_timeout ran out while another connection held the write lock: LOCK_TIMEOUT
    (native SQLITE_BUSY), never a text-only "database is locked"."""
    import aiosqlite

    from farmorm import create_orm

    async with fresh_orm(backend, LOOSE, push=PUSHED) as (orm, url):
        conn = await aiosqlite.connect(sqlite_path(url), isolation_level=None, timeout=0.2)
        short = await create_orm(LOOSE, conn)
        try:
            async with Admin(backend, url) as admin:
                await admin.execute("BEGIN IMMEDIATE")
                try:
                    err = await expect(short.parent.create(data={"name": "z", "code": "z", "region": "z"}),
                                       LOCK_TIMEOUT)
                    assert err.meta["original_code"] == "SQLITE_BUSY" and err.retryable
                finally:
                    await admin.execute("ROLLBACK")
            assert await short.parent.create(data={"name": "z", "code": "z", "region": "z"})
        finally:
            await short.close()
            await conn.close()


@pytest.mark.parametrize("backend", backend_params(*SQL))
async def test_t24_query_timeout_is_mapped(backend: str) -> None:
    """statement_timeout (57014), MariaDB max_statement_time (1969), sqlite3 interrupt() (SQLITE_INTERRUPT)."""
    async with fresh_orm(backend, LOOSE, push=PUSHED) as (orm, url):
        p = await orm.parent.create(data={"name": "p1", "code": "c", "region": "eu"})
        if backend == "sqlite":
            slow = ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000000) "
                    "SELECT count(*) FROM c")

            async def interrupt_soon() -> None:
                await anyio.sleep(0.2)
                await orm._driver.conn.interrupt()

            with anyio.fail_after(30):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(interrupt_soon)
                    with pytest.raises(OrmError) as info:
                        await raw(orm, slow)
            assert info.value.code == QUERY_TIMEOUT
            assert info.value.meta["original_code"] == "SQLITE_INTERRUPT"
            assert await orm.parent.count() == 1  # the connection is usable afterwards
            return
        async with Admin(backend, url) as admin:
            await admin.execute("BEGIN")
            await admin.execute("UPDATE parent SET name = 'held' WHERE id = " +
                                ("$1" if backend == "postgres" else "%s"), p["id"])
            try:
                with pytest.raises(OrmError) as info:
                    async with orm.transaction() as tx:
                        if backend == "postgres":
                            await raw(tx, "SET LOCAL statement_timeout = '300ms'", "count")
                        else:
                            await raw(tx, "SET SESSION max_statement_time = 0.3", "count")
                        await tx.parent.update(where={"id": p["id"]}, data={"name": "waiter"})
                assert info.value.code == QUERY_TIMEOUT, info.value
                assert info.value.meta["original_code"] == NATIVE[backend]["timeout"]
                assert info.value.retryable is False
            finally:
                await admin.execute("ROLLBACK")
        if backend == "mysql":  # the session setting must not leak to the next checkout
            await orm.transaction(lambda tx: raw(tx, "SET SESSION max_statement_time = 0", "count"))
        assert (await orm.parent.find_unique(where={"id": p["id"]}))["name"] == "p1"


# ----------------------------------------------------------------------------------------- T25

BULK = define_schema(item=model(table="items", fields={"id": f.id(), "key": f.string().unique(), "n": f.integer()}))


@pytest.mark.parametrize("chunked", [False, True], ids=["one-statement", "chunked"])
@pytest.mark.parametrize("backend", backend_params(*ALL))
async def test_t25_bulk_create_with_one_bad_row_is_all_or_nothing(backend: str, chunked: bool,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    statements: list[str] = []
    async with fresh_orm(backend, BULK) as (orm, _url):
        if chunked:  # 3 columns x 33 rows per INSERT: 1000 rows become 31 statements in one transaction
            monkeypatch.setattr(orm._driver, "max_bind_params", 100)  # the driver's declared limit
        orm.on_query(lambda e: statements.append(e.statement))
        # mongomock matches in Python: a smaller batch keeps the default run fast
        size = 300 if backend == "mongo" and not real_mongo() else 1000
        rows = [{"key": f"k{i}", "n": i} for i in range(size)]
        rows[size // 2] = {"key": "k10", "n": size // 2}  # duplicates row 10
        err = await expect(orm.item.create_many(data=rows), UNIQUE_CONSTRAINT_VIOLATION)
        assert err.meta["target"] == ["key"]
        inserts = [s for s in statements if "insert" in s.lower()]
        if chunked and backend != "mongo":
            assert len(inserts) >= 4  # the failing row is in a later chunk than the first
        if backend == "mongo" and orm.driver.capabilities.supports_transactions is False:
            # mongomock has no transactions: ordered insert_many keeps rows before the bad one, a
            # prefix of the input (documented in docs/mongo.md); a replica set uses a transaction
            kept = await orm.item.find_many(select={"key": True})
            assert len(kept) <= size // 2
            assert {r["key"] for r in kept} == {f"k{i}" for i in range(len(kept))}
        else:
            assert await orm.item.count() == 0
        # inside an app transaction the failed batch is fenced by a savepoint
        if orm.driver.capabilities.supports_transactions:
            async with orm.transaction() as tx:
                await tx.item.create(data={"key": "before", "n": -1})
                with pytest.raises(OrmError):
                    async with tx.transaction() as sp:
                        await sp.item.create_many(data=rows)
            assert await orm.item.count(where={"key": "before"}) == 1
            assert await orm.item.count(where={"key": "k0"}) == 0
        ok = await orm.item.create_many(data=[{"key": f"ok{i}", "n": i} for i in range(size)])
        assert len(ok) == size and await orm.item.count(where={"key": {"starts_with": "ok"}}) == size


# ----------------------------------------------------------------------------------------- T26

KV = define_schema(kv=model(table="kv", fields={"id": f.id(), "key": f.string().unique(), "value": f.integer()}))


@pytest.mark.parametrize("backend", backend_params(*ALL))
async def test_t26_concurrent_upsert_on_one_key(backend: str) -> None:
    async with fresh_orm(backend, KV) as (orm, _url):
        leaked: list[BaseException] = []
        results: list[dict[str, Any]] = []

        async def upsert(i: int) -> None:
            try:
                results.append(await orm.kv.upsert(where={"key": "k"}, create={"key": "k", "value": i},
                                                   update={"value": i}))
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                leaked.append(exc)

        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                for i in range(50):
                    tg.start_soon(upsert, i)
        assert leaked == []
        rows = await orm.kv.find_many()
        assert len(rows) == 1 and rows[0]["value"] in range(50)
        assert {r["id"] for r in results} == {rows[0]["id"]}

        # get-or-create: upsert with an empty update returns the existing row to every caller
        ids: list[str] = []

        async def get_or_create(i: int) -> None:
            try:
                ids.append((await orm.kv.upsert(where={"key": "g"}, create={"key": "g", "value": i}, update={}))["id"])
            except Exception as exc:  # noqa: BLE001
                leaked.append(exc)

        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                for i in range(50):
                    tg.start_soon(get_or_create, i)
        assert leaked == []
        assert len(ids) == 50 and len(set(ids)) == 1
        assert await orm.kv.count(where={"key": "g"}) == 1
