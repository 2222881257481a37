"""F. Schema changes, prepared statements, migrations (RELIABILITY.md T27-T29).

T27: DDL under a warm pool. asyncpg caches prepared statements per connection; after
``ALTER COLUMN ... TYPE`` a cached plan "must not change result type". Outside a transaction
asyncpg re-prepares transparently; inside one the transaction is already aborted, so farmorm
raises ``SCHEMA_CHANGED`` (retryable) and ``orm.transaction(fn, retries=n)`` re-runs it. MySQL
reports a table rebuilt under an open snapshot as 1412 (also ``SCHEMA_CHANGED``). SQLite
re-prepares by itself (smoke test).
T28: pgbouncer transaction pooling: ``statement_cache_size=0`` is farmorm's documented mode; the
pgbouncer run itself needs ``FARMORM_PGBOUNCER_URL`` (not installed on this machine).
T29: a failing migration step and two concurrent ``farmorm db migrate`` runners.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import anyio
import pytest

from farmorm import Orm, OrmError, define_schema, model
from farmorm import fields as f
from farmorm.core.errors import SCHEMA_CHANGED

from ..cli.conftest import cli, write_project
from ._support_dei import Admin
from .harness import raw, requires, within

T = define_schema(
    item=model(table="t", fields={"id": f.id(), "k": f.string().unique(), "b": f.integer()}),
    other=model(table="o", fields={"id": f.id(), "x": f.integer()}),
)
POOL = 4


async def _admin(rig: Any) -> Admin:
    """A raw connection to the test database itself (for DDL), closed when the test ends."""
    admin = Admin(rig.backend, await rig.database_url())
    await admin.__aenter__()
    rig.proxies.append(_Closer(admin))  # the rig closes its proxies at teardown
    return admin


class _Closer:
    def __init__(self, admin: Admin) -> None:
        self.admin = admin

    async def close(self) -> None:
        await self.admin.__aexit__(None, None, None)


async def _warm(orm: Orm) -> None:
    """Use every pool connection for a find and an upsert (4 transactions held at once; SQLite
    has one connection, so it only runs the shapes)."""
    if orm.driver.dialect == "sqlite":
        for i in range(POOL):
            await orm.item.upsert(where={"k": f"k{i}"}, create={"k": f"k{i}", "b": i}, update={"b": i})
            await orm.item.find_many(where={"b": {"gte": 0}})
        return
    arrived = anyio.Event()
    count = 0

    async def one(i: int) -> None:
        nonlocal count

        async def fn(tx: Orm) -> None:
            nonlocal count
            await tx.item.find_many(where={"b": {"gte": 0}})
            await tx.item.upsert(where={"k": f"k{i}"}, create={"k": f"k{i}", "b": i}, update={"b": i})
            count += 1
            if count == POOL:
                arrived.set()
            with anyio.fail_after(10):
                await arrived.wait()

        await orm.transaction(fn)

    async with anyio.create_task_group() as tg:
        for i in range(POOL):
            tg.start_soon(one, i)
    # and the same shapes outside a transaction on each connection
    for i in range(POOL * 2):
        await orm.item.find_many(where={"b": {"gte": 0}})
        await orm.item.upsert(where={"k": f"k{i % POOL}"}, create={"k": f"k{i % POOL}", "b": i}, update={"b": i})


async def test_t27_postgres_live_schema_change_with_a_warm_pool(rig: Any, backend: str) -> None:
    if backend != "postgres":
        pytest.skip(f"{backend}: asyncpg's statement cache is the PostgreSQL case (smoke tests below)")
    orm = await rig.orm(T, seed=False, pool=POOL)
    await _warm(orm)
    admin = await _admin(rig)
    await admin.execute("ALTER TABLE t ALTER COLUMN b TYPE bigint")
    await admin.execute("ALTER TABLE t ADD COLUMN c text")
    index = (await admin.fetch("SELECT indexname FROM pg_indexes WHERE tablename = 't' AND indexdef LIKE '%UNIQUE%(k)%'"))[0][0]
    await admin.execute(f'ALTER TABLE t DROP CONSTRAINT "{index}"')
    await admin.execute("CREATE UNIQUE INDEX t_k_again ON t (k)")

    # inside a transaction: the first statement on a stale connection is SCHEMA_CHANGED, retryable
    seen: list[OrmError] = []
    attempts: list[int] = []

    async def fn(tx: Orm) -> list[dict[str, Any]]:
        attempts.append(1)
        try:
            return await tx.item.find_many(where={"b": {"gte": 0}})
        except OrmError as exc:
            seen.append(exc)
            raise

    async with within(30, "transactions after ALTER"):
        # hold every connection at once so each one meets the change in a transaction
        arrived: list[int] = []
        gate = anyio.Event()

        async def in_tx() -> None:
            async def body(tx: Orm) -> None:
                try:
                    await tx.item.find_many(where={"b": {"gte": 0}})
                finally:
                    arrived.append(1)
                    if len(arrived) >= POOL:
                        gate.set()
                    with anyio.fail_after(10):
                        await gate.wait()
            try:
                await orm.transaction(body)
            except OrmError as exc:
                seen.append(exc)

        async with anyio.create_task_group() as tg:
            for _ in range(POOL):
                tg.start_soon(in_tx)
    codes = {e.code for e in seen}
    assert codes <= {SCHEMA_CHANGED}, seen
    if seen:
        assert all(e.retryable for e in seen)
        assert any("cached" in str(e).lower() or "result type" in str(e).lower() for e in seen)
    # a retried transaction always succeeds
    await admin.execute("ALTER TABLE t ALTER COLUMN b TYPE integer")  # change it again
    results = []
    for _ in range(POOL):
        results.append(await orm.transaction(fn, retries=2))
    assert all(len(r) == POOL for r in results)
    assert len(attempts) <= POOL * 2
    # outside a transaction every pool connection simply works (asyncpg re-prepares)
    await admin.execute("ALTER TABLE t ALTER COLUMN b TYPE bigint")
    for i in range(POOL * 3):
        assert len(await orm.item.find_many(where={"b": {"gte": 0}})) == POOL
        row = await orm.item.upsert(where={"k": f"k{i % POOL}"}, create={"k": f"k{i % POOL}", "b": 1}, update={"b": 7})
        assert row["b"] == 7
    assert await orm.item.count() == POOL


async def test_t27_schema_changed_is_raised_in_a_transaction_and_retried(rig: Any, backend: str) -> None:
    """The deterministic version: one connection (pool 1), warmed, altered, then used in a transaction."""
    if backend != "postgres":
        pytest.skip(f"{backend}: asyncpg statement cache case")
    orm = await rig.orm(T, seed=False, pool=1)
    await orm.item.create(data={"k": "a", "b": 1})
    await orm.transaction(lambda tx: tx.item.find_many(where={"b": {"gte": 0}}))
    admin = await _admin(rig)
    await admin.execute("ALTER TABLE t ALTER COLUMN b TYPE bigint")
    with pytest.raises(OrmError) as info:
        await orm.transaction(lambda tx: tx.item.find_many(where={"b": {"gte": 0}}))
    assert info.value.code == SCHEMA_CHANGED and info.value.retryable
    assert info.value.meta["original_code"] == "0A000"
    await orm.transaction(lambda tx: tx.item.find_many(where={"b": {"gte": 0}}))  # re-prepared and cached
    await admin.execute("ALTER TABLE t ALTER COLUMN b TYPE integer")
    attempts: list[int] = []

    async def fn(tx: Orm) -> list[dict[str, Any]]:
        attempts.append(1)
        return await tx.item.find_many(where={"b": {"gte": 0}})

    assert [r["k"] for r in await orm.transaction(fn, retries=1)] == ["a"]
    assert len(attempts) == 2  # failed once on the stale plan, then re-ran


async def test_t27_without_a_statement_cache_no_schema_changed(rig: Any, backend: str) -> None:
    """statement_cache_size=0 (the pgbouncer mode, T28) never holds a stale plan."""
    if backend != "postgres":
        pytest.skip(f"{backend}: asyncpg statement cache case")
    orm = await rig.orm(T, seed=False, pool=1, statement_cache_size=0)
    await orm.item.create(data={"k": "a", "b": 1})
    await orm.transaction(lambda tx: tx.item.find_many(where={"b": {"gte": 0}}))
    admin = await _admin(rig)
    await admin.execute("ALTER TABLE t ALTER COLUMN b TYPE bigint")
    rows = await orm.transaction(lambda tx: tx.item.find_many(where={"b": {"gte": 0}}))
    assert [r["b"] for r in rows] == [1]


async def test_t27_mysql_table_rebuilt_under_a_snapshot_is_schema_changed(rig: Any, backend: str) -> None:
    if backend != "mysql":
        pytest.skip(f"{backend}: InnoDB's 1412 case")
    orm = await rig.orm(T, seed=False, pool=2)
    await orm.item.create(data={"k": "a", "b": 1})
    await orm.other.create(data={"x": 1})
    admin = await _admin(rig)
    attempts: list[int] = []
    rebuilt = False

    async def fn(tx: Orm) -> int:
        nonlocal rebuilt
        attempts.append(1)
        await raw(tx, "SELECT COUNT(*) FROM o")  # opens the read view
        if not rebuilt:
            await admin.execute("ALTER TABLE t FORCE")  # rebuild t after the snapshot was taken
            rebuilt = True
        return await tx.item.count()

    with pytest.raises(OrmError) as info:
        await orm.transaction(fn, isolation="repeatable_read")
    assert info.value.code == SCHEMA_CHANGED and info.value.meta["original_code"] == 1412
    assert info.value.retryable
    rebuilt = False
    attempts.clear()
    assert await orm.transaction(fn, isolation="repeatable_read", retries=2) == 1
    assert len(attempts) == 2


async def test_t27_smoke_add_column_and_recreate_index(rig: Any, backend: str) -> None:
    """MySQL and SQLite (and Mongo's index) keep working after DDL under a warm client."""
    requires(backend, "sql")
    if backend == "postgres":
        pytest.skip("postgres: the full case above")
    orm = await rig.orm(T, seed=False, pool=POOL)
    await _warm(orm)
    admin = await _admin(rig)
    if backend == "mysql":
        await admin.execute("ALTER TABLE t ADD COLUMN c TEXT")
        await admin.execute("ALTER TABLE t MODIFY COLUMN b BIGINT NOT NULL")
    else:
        await admin.execute("ALTER TABLE t ADD COLUMN c TEXT")
    for i in range(POOL * 3):
        assert len(await orm.item.find_many(where={"b": {"gte": 0}})) == POOL
        row = await orm.item.upsert(where={"k": f"k{i % POOL}"}, create={"k": f"k{i % POOL}", "b": 1}, update={"b": 9})
        assert row["b"] == 9
    assert await orm.transaction(lambda tx: tx.item.count()) == POOL


# ----------------------------------------------------------------------------------------- T28


async def test_t28_pgbouncer_transaction_pooling(rig: Any, backend: str) -> None:
    if backend != "postgres":
        pytest.skip(f"{backend}: pgbouncer is PostgreSQL's")
    url = os.environ.get("FARMORM_PGBOUNCER_URL")
    if not url:
        pytest.skip("pgbouncer is not installed here: set FARMORM_PGBOUNCER_URL (pool_mode=transaction) to run T28")
    from farmorm import create_orm
    from farmorm.setup import push_schema

    orm = await create_orm(T, url, statement_cache_size=0, max_size=8)
    try:
        await push_schema(T, orm)
        errors: list[BaseException] = []

        async def worker(i: int) -> None:
            for j in range(50):
                try:
                    await orm.item.upsert(where={"k": f"w{i}-{j % 5}"}, create={"k": f"w{i}-{j % 5}", "b": j},
                                          update={"b": j})
                    await orm.transaction(lambda tx: tx.item.find_many(where={"b": {"gte": 0}}, take=5))
                except Exception as exc:  # noqa: BLE001 - asserted below
                    errors.append(exc)

        async with anyio.create_task_group() as tg:
            for i in range(16):
                tg.start_soon(worker, i)
        assert errors == []
    finally:
        await orm.close()


# ----------------------------------------------------------------------------------------- T29

FAILING = '''
"""three steps, the second fails over duplicate data"""
import sqlalchemy as sa
from alembic import op

revision = "t29steps"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("step1", sa.Text(), nullable=True))
    op.create_index("users_login_count_uq", "users", ["login_count"], unique=True)
    op.add_column("users", sa.Column("step3", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("users", "step3")
    op.drop_index("users_login_count_uq", table_name="users")
    op.drop_column("users", "step1")
'''

SIMPLE = '''
"""one step"""
import sqlalchemy as sa
from alembic import op

revision = "t29simple"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("step1", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("users", "step1")
'''


async def _columns(backend: str, url: str) -> set[str]:
    from ..cli.test_migrations import _rows

    if backend == "sqlite":
        return {r[1] for r in await _rows(url, "PRAGMA table_info(users)")}
    if backend == "postgres":
        return {r[0] for r in await _rows(url, "SELECT column_name FROM information_schema.columns WHERE table_name = 'users'")}
    return {r[0] for r in await _rows(url, "SELECT column_name FROM information_schema.columns WHERE table_name = 'users' "
                                           "AND table_schema = DATABASE()")}


async def _versions(url: str) -> list[str]:
    from ..cli.test_migrations import _rows

    try:
        return [r[0] for r in await _rows(url, "SELECT version_num FROM alembic_version")]
    except Exception as exc:  # noqa: BLE001 - no version table: nothing was recorded
        if "alembic_version" in str(exc):
            return []
        raise


def _project(root: Path, revision: str) -> None:
    write_project(root)
    cli(root, "db", "init")
    versions = root / "migrations" / "versions"
    versions.mkdir(parents=True, exist_ok=True)
    (versions / "t29.py").write_text(textwrap.dedent(revision), encoding="utf-8")


@pytest.mark.timeout(180)
async def test_t29_a_failing_step_rolls_back_or_resumes(rig: Any, backend: str, tmp_path: Path) -> None:
    requires(backend, "sql")
    pytest.importorskip("alembic")
    url = await rig.database_url()
    _project(tmp_path, FAILING)
    cli(tmp_path, "push", "--url", url)
    cli(tmp_path, "db", "seed", "--url", url)  # two users, both login_count 0: the unique index fails
    failed = cli(tmp_path, "db", "migrate", "--url", url, check=None)
    assert failed.returncode != 0
    assert "Traceback (most recent call last)" not in failed.stdout
    columns = await _columns(backend, url)
    assert "step3" not in columns
    if backend == "mysql":
        # DDL commits implicitly: step 1 stayed; the version was not recorded
        assert "step1" in columns and await _versions(url) == []
    else:
        # transactional DDL: nothing of the migration is left
        assert "step1" not in columns, f"{backend}: a failed migration left step 1 applied"
        assert await _versions(url) == []


@pytest.mark.timeout(180)
async def test_t29_concurrent_migration_runners_apply_once(rig: Any, backend: str, tmp_path: Path) -> None:
    requires(backend, "sql")
    pytest.importorskip("alembic")
    url = await rig.database_url()
    _project(tmp_path, SIMPLE)
    cli(tmp_path, "push", "--url", url)
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(SCHEMA_V2="0", COLUMNS="200")
    procs = [subprocess.Popen([sys.executable, "-m", "farmorm", "db", "migrate", "--url", url], cwd=tmp_path, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    codes = [p.returncode for p in procs]
    assert "step1" in await _columns(backend, url)
    assert await _versions(url) == ["t29simple"]  # applied exactly once
    assert 0 in codes, outs
    # a second run is a no-op
    assert "up to date" in cli(tmp_path, "db", "migrate", "--url", url).stdout.lower()
